import HyperPodDomain
import Testing
@testable import HyperPodLocal

struct VirtualClockTests {
    @Test func manualClock_MovesOnlyWhenAdvanced() throws {
        let wall = ManualWallClock()
        let clock = VirtualClock.starting(mode: .manual, wall: wall)
        let start = clock.now()
        wall.advance(seconds: 3600)
        #expect(clock.now() == start)
        try clock.advance(seconds: 2.5)
        #expect(clock.now() == start.adding(seconds: 2.5))
    }

    @Test func realClock_FollowsTheWallTimesTheScale() throws {
        let wall = ManualWallClock()
        let clock = VirtualClock.starting(mode: .real, timeScale: 10, wall: wall)
        let start = clock.now()
        wall.advance(seconds: 1)
        #expect(clock.now() == start.adding(seconds: 10))
        try clock.setTimeScale(1)
        wall.advance(seconds: 1)
        #expect(clock.now() == start.adding(seconds: 11))
        try clock.advance(seconds: 100)
        #expect(clock.now() == start.adding(seconds: 111))
    }

    @Test func neverGoesBackwards() throws {
        let clock = VirtualClock.starting(mode: .manual, wall: ManualWallClock())
        let now = clock.now()
        #expect(throws: VirtualClock.Refusal.self) { try clock.set(to: now.adding(seconds: -1)) }
        #expect(throws: VirtualClock.Refusal.self) { try clock.advance(seconds: -1) }
        try clock.set(to: now.adding(seconds: 60))
        #expect(clock.now() == now.adding(seconds: 60))
    }

    @Test func timeScale_IsRefusedOnAManualClock() {
        let clock = VirtualClock.starting(mode: .manual, wall: ManualWallClock())
        #expect(throws: VirtualClock.Refusal.self) { try clock.setTimeScale(2) }
    }

    @Test func snapshot_ResumesAManualClockWhereItStopped() throws {
        let wall = ManualWallClock()
        let clock = VirtualClock.starting(mode: .manual, wall: wall)
        try clock.advance(seconds: 90)
        let saved = clock.snapshot()
        wall.advance(seconds: 1000)  // the server was down for a while
        let resumed = VirtualClock(state: saved, wall: wall)
        #expect(resumed.now() == clock.now())
    }

    @Test func snapshot_ResumesARealClockCountingTheTimeItWasStopped() throws {
        let wall = ManualWallClock()
        let clock = VirtualClock.starting(mode: .real, timeScale: 2, wall: wall)
        let saved = clock.snapshot()
        let before = clock.now()
        wall.advance(seconds: 30)
        let resumed = VirtualClock(state: saved, wall: wall)
        #expect(resumed.now() == before.adding(seconds: 60))
    }
}
