import Testing
@testable import HyperPodDomain

struct TimingProfileTests {
    @Test func profiles_HaveTheSpecsDurations() {
        let fast = TimingProfile(.fast), instant = TimingProfile(.instant), realistic = TimingProfile(.realistic)
        #expect(fast[.setup] == 2 && fast[.launch] == 1 && fast[.retry] == 2 && fast[.minInstanceTimeout] == 10800)
        #expect(instant[.setup] == 0 && instant[.retry] == 60 && instant[.minInstanceTimeout] == 10800)
        #expect(realistic[.launch] == 12 * 60 && realistic[.deepHealthCheck] == 30 * 60 && realistic[.patch] == 20 * 60)
        #expect(Set(TimingProfile.Key.allCases.map(\.rawValue)) == [
            "T_setup", "T_launch", "T_dhc", "T_config", "T_term", "T_delete", "T_reboot", "T_patch", "T_rollback", "T_retry", "T_min",
            "T_payment", "T_plan_drain", "T_policy", "T_gov_retain",
        ])
        // R231: payments take 0 / 1 s / 2 min; the drain lead is 30 min in every profile.
        #expect(instant[.payment] == 0 && fast[.payment] == 1 && realistic[.payment] == 120)
        #expect(instant[.planDrain] == 1800 && fast[.planDrain] == 1800 && realistic[.planDrain] == 1800)
    }

    @Test func overrides_ParseAndApply() throws {
        var profile = TimingProfile(.fast)
        let (key, seconds) = try #require(TimingProfile.parseOverride("T_launch=7.5"))
        profile.override(key, seconds: seconds)
        #expect(profile[.launch] == 7.5)
        #expect(TimingProfile.parseOverride("setup=3")?.0 == .setup)
        #expect(TimingProfile.parseOverride("T_nope=1") == nil)
        #expect(TimingProfile.parseOverride("T_launch=-1") == nil)
        #expect(TimingProfile.parseOverride("T_launch") == nil)
    }

    @Test func virtualTime_PrintsThreeDecimals() {
        #expect(VirtualTime(milliseconds: 1_764_547_200_100).description == "1764547200.100")
        #expect(VirtualTime(epochSeconds: 12.3456).milliseconds == 12_345)
        #expect(VirtualTime(milliseconds: 1000).adding(seconds: 1.5).milliseconds == 2500)
    }
}

struct VirtualTimeSaturationTests {
    @Test func arithmetic_SaturatesInsteadOfTrapping() {
        let now = VirtualTime(milliseconds: 1_764_547_200_000)
        #expect(now.adding(seconds: 9.3e15) == VirtualTime.max)
        #expect(now.adding(seconds: 1e300) == VirtualTime.max)
        #expect(now.adding(seconds: -1e300) == VirtualTime(milliseconds: 0))
        #expect(now.adding(seconds: .nan) == VirtualTime(milliseconds: 0))
        #expect(VirtualTime(epochSeconds: 1e300) == VirtualTime.max)
        #expect(VirtualTime(epochSeconds: -5) == VirtualTime(milliseconds: 0))
    }
}
