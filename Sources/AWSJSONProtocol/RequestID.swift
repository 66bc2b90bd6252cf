import Synchronization

/// Request ids: lowercase UUID v4 (spec R5), unique for the life of the process.
///
/// Each id is SplitMix64 of a per-process random seed plus a counter, for each half: SplitMix64's finaliser is a
/// bijection, so distinct counters give distinct ids, without a `getrandom` system call per request.
public enum RequestID {
    private static let hex = Array("0123456789abcdef".utf8)
    private static let seeds: (UInt64, UInt64) = {
        var generator = SystemRandomNumberGenerator()
        return (generator.next(), generator.next())
    }()
    private static let counter = Atomic<UInt64>(0)

    /// A new `xxxxxxxx-xxxx-4xxx-yxxx-xxxxxxxxxxxx` id.
    public static func make() -> String {
        let n = counter.add(1, ordering: .relaxed).newValue
        let high = splitMix64(seeds.0 &+ n), low = splitMix64(seeds.1 &+ n)
        return String(unsafeUninitializedCapacity: 36) { out in
            var j = 0
            for i in 0..<16 {  // byte i: of `high` for the first 8, of `low` after; no array of bytes in between
                var byte = UInt8(truncatingIfNeeded: (i < 8 ? high : low) >> (8 * (i % 8)))
                if i == 6 { byte = (byte & 0x0F) | 0x40 }  // version 4
                if i == 8 { byte = (byte & 0x3F) | 0x80 }  // RFC 4122 variant
                if i == 4 || i == 6 || i == 8 || i == 10 { out[j] = UInt8(ascii: "-"); j += 1 }
                out[j] = hex[Int(byte >> 4)]
                out[j + 1] = hex[Int(byte & 0x0F)]
                j += 2
            }
            return 36
        }
    }

    @inline(__always)
    static func splitMix64(_ x: UInt64) -> UInt64 {
        var z = x &+ 0x9E37_79B9_7F4A_7C15
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
