import Foundation
import GRDB
import HyperPodDomain
import Synchronization
import HyperPodStore
import Testing
@testable import HyperPodLocal

/// The persisted scheduler driven by a manual virtual clock (spec R39; architecture §3.2).
struct TransitionSchedulerTests {
    /// Records what fired, and schedules follow-ups written in the event text (`name>next@+seconds`).
    final class Recorder: Sendable {
        let fired = Mutex<[(String, VirtualTime)]>([])
        let staleGenerationBelow = Mutex<Int64>(0)

        func applier() -> TransitionScheduler.Applier {
            { transition, _ in
                if transition.generation < self.staleGenerationBelow.withLock({ $0 }) { return [] }  // stale: no-op
                let parts = transition.event.split(separator: ">")
                self.fired.withLock { $0.append((String(parts[0]), transition.dueAt)) }
                guard parts.count == 2, let at = parts[1].split(separator: "@").last, let seconds = Double(at.dropFirst()) else { return [] }
                let next = String(parts[1].split(separator: "@").first!)
                return [NewTransition(resourceARN: transition.resourceARN, generation: transition.generation, event: next,
                                      dueAt: transition.dueAt.adding(seconds: seconds))]
            }
        }

        var events: [String] { fired.withLock { $0.map(\.0) } }
    }

    static let t0 = VirtualTime(milliseconds: 1_764_547_200_000)

    func schedule(_ db: EmulatorDatabase, _ items: [(String, Double)], arn: String = "arn:c", generation: Int64 = 1) throws {
        try db.write { d in
            try TransitionStore.schedule(items.map {
                NewTransition(resourceARN: arn, generation: generation, event: $0.0, dueAt: Self.t0.adding(seconds: $0.1))
            }, db: d)
        }
    }

    @Test func transitions_FireAtTheirDueTimeAndNotBefore_InDueOrder() throws {
        let db = try EmulatorDatabase(path: nil)
        let recorder = Recorder()
        let scheduler = TransitionScheduler(database: db, apply: recorder.applier())
        try schedule(db, [("c", 3), ("a", 1), ("b", 2), ("a2", 1)])
        #expect(try scheduler.runDue(until: Self.t0.adding(seconds: 0.999)).fired == 0)
        #expect(try scheduler.runDue(until: Self.t0.adding(seconds: 1)).fired == 2)
        #expect(recorder.events == ["a", "a2"])  // ties: creation order
        #expect(try scheduler.nextDue() == Self.t0.adding(seconds: 2))
        #expect(try scheduler.runDue(until: Self.t0.adding(seconds: 10)).fired == 2)
        #expect(recorder.events == ["a", "a2", "b", "c"])
        #expect(try scheduler.nextDue() == nil)
    }

    @Test func followUps_DueBeforeNow_FireInTheSameCall_AtTheirOwnDueTime() throws {
        let db = try EmulatorDatabase(path: nil)
        let recorder = Recorder()
        let scheduler = TransitionScheduler(database: db, apply: recorder.applier())
        try schedule(db, [("setup>launch@+0", 2)])  // a zero-duration follow-up (instant profile)
        try schedule(db, [("other>late@+5", 2.5)])
        #expect(try scheduler.runDue(until: Self.t0.adding(seconds: 3)).fired == 3)
        let fired = recorder.fired.withLock { $0 }
        #expect(fired.map(\.0) == ["setup", "launch", "other"])
        #expect(fired[1].1 == Self.t0.adding(seconds: 2))  // the follow-up's timestamp is its due time
        #expect(try scheduler.pending().map(\.event) == ["late"])
        #expect(try scheduler.pending().first?.dueAt == Self.t0.adding(seconds: 7.5))
    }

    @Test func cancel_RemovesAResourcesPendingTransitions_AndStaleOnesAreNoOps() throws {
        let db = try EmulatorDatabase(path: nil)
        let recorder = Recorder()
        let scheduler = TransitionScheduler(database: db, apply: recorder.applier())
        try schedule(db, [("x", 1)], arn: "arn:a")
        try schedule(db, [("y", 1)], arn: "arn:b", generation: 1)
        try db.write { try TransitionStore.cancel(resourceARN: "arn:a", db: $0) }
        recorder.staleGenerationBelow.withLock { $0 = 2 }  // arn:b moved on to generation 2
        #expect(try scheduler.runDue(until: Self.t0.adding(seconds: 5)).fired == 1)
        #expect(recorder.events.isEmpty)
    }

    @Test func aThrowingApplier_LeavesTheTransitionPendingForARetry_AndTheNextOneFires() throws {
        struct Boom: Error, CustomStringConvertible { var description: String { "boom" } }
        let db = try EmulatorDatabase(path: nil)
        let scheduler = TransitionScheduler(database: db, apply: { transition, _ in
            if transition.event == "x" { throw Boom() }
            return []
        })
        try schedule(db, [("x", 1), ("y", 1)])
        let report = try scheduler.runDue(until: Self.t0.adding(seconds: 1))
        #expect(report.fired == 1)  // y, after x failed
        #expect(report.failures.map(\.attempt) == [1] && report.failures[0].error == "boom")
        #expect(report.failures[0].retryAt == Self.t0.adding(seconds: 2))
        let pending = try scheduler.pending()
        #expect(pending.map(\.event) == ["x"] && pending[0].attempts == 1 && pending[0].lastError == "boom")
        #expect(try scheduler.nextDue() == Self.t0.adding(seconds: 2))
    }

    @Test func restart_OnTheSameFile_FiresOverdueTransitionsAndResumesTheClock() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("scheduler-\(UUID().uuidString).sqlite").path
        defer { for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: path + suffix) } }
        let wall = ManualWallClock()
        do {
            let db = try EmulatorDatabase(path: path)
            let clock = VirtualClock.starting(mode: .manual, wall: wall)
            try clock.set(to: Self.t0)
            try schedule(db, [("launch>running@+1", 2), ("delete", 30)])
            let recorder = Recorder()
            #expect(try TransitionScheduler(database: db, apply: recorder.applier()).runDue(until: clock.now()).fired == 0)
            try clock.advance(seconds: 1)
            try db.write { try ServerStore.saveClock(clock.snapshot(), db: $0) }
        }  // the process "dies" here
        wall.advance(seconds: 500)
        let db = try EmulatorDatabase(path: path)
        let saved = try #require(try db.read { try ServerStore.clock(db: $0) })
        let clock = VirtualClock(state: saved, wall: wall)
        #expect(clock.now() == Self.t0.adding(seconds: 1))  // manual: resumes where it stopped
        let recorder = Recorder()
        let scheduler = TransitionScheduler(database: db, apply: recorder.applier())
        try clock.advance(seconds: 2)
        #expect(try scheduler.runDue(until: clock.now()).fired == 2)
        #expect(recorder.fired.withLock { $0.map(\.1) } == [Self.t0.adding(seconds: 2), Self.t0.adding(seconds: 3)])
        #expect(try scheduler.pending().map(\.event) == ["delete"])
        #expect(try db.integrityCheck() == ["ok"])
    }
}
