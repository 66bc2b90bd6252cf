import Testing
@testable import HyperPodDomain

/// AWS cron expressions of `ScheduledUpdateConfig` (spec R110), evaluated in UTC on the virtual clock.
struct CronScheduleTests {
    /// 2026-11-30T00:00:00Z, a Monday.
    static let monday = VirtualTime(milliseconds: 1_795_996_800_000)

    static func at(_ days: Int, _ hours: Int, _ minutes: Int = 0) -> VirtualTime {
        VirtualTime(milliseconds: monday.milliseconds + Int64(((days * 24 + hours) * 60 + minutes) * 60_000))
    }

    @Test(arguments: [
        ("cron(0 3 * * ? *)", at(0, 0), at(0, 3)),                 // daily at 03:00
        ("cron(0 3 * * ? *)", at(0, 3), at(1, 3)),                 // strictly after
        ("cron(30 1 ? * SUN *)", at(0, 0), at(6, 1, 30)),          // Sundays (weekday names; SUN = 1)
        ("cron(30 1 ? * 1 *)", at(0, 0), at(6, 1, 30)),
        ("cron(0 */6 * * ? *)", at(0, 7), at(0, 12)),              // steps
        ("cron(0 9-17/4 ? * MON-FRI *)", at(0, 10), at(0, 13)),    // range with a step
        ("cron(15 0 1 JAN,JUL ? *)", at(0, 0), VirtualTime(milliseconds: 1_798_762_500_000)),  // 2027-01-01T00:15Z
        ("cron(0 0 29 FEB ? 2028)", at(0, 0), VirtualTime(milliseconds: 1_835_395_200_000)),   // a leap day
    ])
    func next_FindsTheFirstMatchAfter(_ example: (String, VirtualTime, VirtualTime)) throws {
        let schedule = try #require(CronSchedule(example.0))
        #expect(schedule.next(after: example.1) == example.2)
    }

    @Test(arguments: [
        "cron(0 3 * * * *)",       // neither day field is ?
        "cron(0 3 ? * ? *)",       // both are
        "cron(0 3 * *)",           // too few fields
        "cron(60 3 * * ? *)",      // minute out of range
        "cron(0 3 L * ? *)",       // L is not supported
        "cron(0 3 ? * 2#1 *)",     // # is not supported
        "rate(1 day)",
        "cron(0 3 * * ? 2027-2026)",
        "cron(0 3 * FOO ? *)",
    ])
    func invalidExpressions_AreRefused(_ expression: String) {
        #expect(CronSchedule(expression) == nil)
    }

    @Test func aScheduleWhoseYearsArePast_HasNoNextMatch() throws {
        #expect(try #require(CronSchedule("cron(0 0 1 1 ? 2020)")).next(after: Self.monday) == nil)
    }
}
