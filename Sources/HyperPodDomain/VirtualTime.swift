/// An instant on the emulator's virtual clock (spec R38): epoch milliseconds. The domain never reads a clock; the
/// application layer hands it instants from its `VirtualClock`.
public struct VirtualTime: Sendable, Hashable, Comparable, CustomStringConvertible {
    /// Milliseconds since 1970-01-01T00:00:00Z on the virtual clock.
    public var milliseconds: Int64

    public init(milliseconds: Int64) {
        self.milliseconds = milliseconds
    }

    /// From epoch seconds (fraction kept to the millisecond, rounded down).
    public init(epochSeconds: Double) {
        self.milliseconds = Int64((epochSeconds * 1000).rounded(.down))
    }

    /// Epoch seconds, as responses carry them (spec R12).
    public var epochSeconds: Double { Double(milliseconds) / 1000 }

    /// This instant plus `seconds` of virtual time (rounded to the millisecond).
    public func adding(seconds: Double) -> VirtualTime {
        VirtualTime(milliseconds: milliseconds + Int64((seconds * 1000).rounded()))
    }

    public static func < (a: VirtualTime, b: VirtualTime) -> Bool { a.milliseconds < b.milliseconds }

    public var description: String { String(format3: epochSeconds) }
}

extension String {
    /// Seconds with exactly three decimals (spec R12), without Foundation.
    init(format3 seconds: Double) {
        let ms = Int64((seconds * 1000).rounded())
        let whole = ms / 1000, fraction = abs(ms % 1000)
        let digits = String(fraction)
        self = "\(ms < 0 && whole == 0 ? "-" : "")\(whole).\(String(repeating: "0", count: 3 - digits.count))\(digits)"
    }
}
