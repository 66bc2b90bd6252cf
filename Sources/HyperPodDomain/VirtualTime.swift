/// An instant on the emulator's virtual clock (spec R38): epoch milliseconds. The domain never reads a clock; the
/// application layer hands it instants from its `VirtualClock`.
public struct VirtualTime: Sendable, Hashable, Comparable, CustomStringConvertible {
    /// Milliseconds since 1970-01-01T00:00:00Z on the virtual clock.
    public var milliseconds: Int64

    public init(milliseconds: Int64) {
        self.milliseconds = milliseconds
    }

    /// The latest instant the virtual clock can show: 9999-12-31T23:59:59Z. Arithmetic saturates here (and at the
    /// epoch) instead of overflowing.
    public static let max = VirtualTime(milliseconds: 253_402_300_799_000)

    /// From epoch seconds (fraction kept to the millisecond, rounded down), clamped to `0 ... max`.
    public init(epochSeconds: Double) {
        self = Self.clamped(epochSeconds * 1000)
    }

    /// The instant `milliseconds` clamped to `0 ... max` (NaN → 0): never an overflow trap.
    public static func clamped(_ milliseconds: Double) -> VirtualTime {
        guard milliseconds.isFinite, milliseconds > 0 else {
            return VirtualTime(milliseconds: milliseconds == .infinity ? max.milliseconds : 0)
        }
        return VirtualTime(milliseconds: Int64(Swift.min(milliseconds.rounded(.down), Double(max.milliseconds))))
    }

    /// Epoch seconds, as responses carry them (spec R12).
    public var epochSeconds: Double { Double(milliseconds) / 1000 }

    /// This instant plus `seconds` of virtual time (rounded to the millisecond), saturating at `0 ... max`.
    public func adding(seconds: Double) -> VirtualTime {
        Self.clamped(Double(milliseconds) + (seconds * 1000).rounded())
    }

    public static func < (a: VirtualTime, b: VirtualTime) -> Bool { a.milliseconds < b.milliseconds }

    public var description: String { String(format3: epochSeconds) }

    /// ISO 8601 in UTC to the millisecond, `2026-12-06T21:34:30.000Z`, for messages a person reads (proleptic
    /// Gregorian, `CronSchedule.civil(fromDays:)`: no C library, no Foundation).
    public var iso8601: String {
        let days = milliseconds >= 0 ? milliseconds / 86_400_000 : (milliseconds - 86_399_999) / 86_400_000
        let ms = milliseconds - days * 86_400_000
        let (year, month, day) = CronSchedule.civil(fromDays: Int(days))
        func pad(_ value: some BinaryInteger, _ width: Int) -> String {
            let text = String(value)
            return String(repeating: "0", count: Swift.max(0, width - text.count)) + text
        }
        return "\(pad(year, 4))-\(pad(month, 2))-\(pad(day, 2))T\(pad(ms / 3_600_000, 2)):\(pad(ms / 60_000 % 60, 2)):"
            + "\(pad(ms / 1000 % 60, 2)).\(pad(ms % 1000, 3))Z"
    }
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
