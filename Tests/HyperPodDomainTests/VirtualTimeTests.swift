import HyperPodDomain
import Testing

/// `VirtualTime.iso8601`: the instants people read in messages (the clock refusing to go backwards), in UTC.
struct VirtualTimeTests {
    @Test(arguments: [
        (Int64(0), "1970-01-01T00:00:00.000Z"),
        (951_782_400_000, "2000-02-29T00:00:00.000Z"),          // a leap day of a century leap year
        (1_796_594_754_180, "2026-12-06T22:05:54.180Z"),
        (4_107_542_399_999, "2100-02-28T23:59:59.999Z"),        // 2100 is not a leap year
        (4_107_542_400_000, "2100-03-01T00:00:00.000Z"),
        (VirtualTime.max.milliseconds, "9999-12-31T23:59:59.000Z"),
    ])
    func iso8601_IsUTCToTheMillisecond(_ milliseconds: Int64, _ text: String) {
        #expect(VirtualTime(milliseconds: milliseconds).iso8601 == text)
    }
}
