import GRDB
import HyperPodDomain
import Logging
import Testing
@testable import HyperPodLocal

struct ClusterServiceTests {
    func makeService() throws -> ClusterService {
        try ClusterService(
            database: try EmulatorDatabase(path: nil), clockMode: .manual, timeScale: 1, timing: TimingProfile(.fast),
            seed: 1, wall: ManualWallClock(), logger: Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() })
        )
    }

    @Test func aTransitionThatKeepsFailing_StopsTheClockInsteadOfSpinning() throws {
        let service = try makeService()
        let now = service.clock.now()
        try service.database.writer.write { db in
            try db.execute(sql: """
                INSERT INTO clusters (arn, account, region, cluster_id, name, status, generation, created_at_ms, document)
                VALUES ('arn:x', '000000000000', 'us-east-1', 'abcdef012345', 'broken', 'Creating', 1, ?, 'not json')
                """, arguments: [now.milliseconds])
            try TransitionScheduler.schedule(
                [NewTransition(resourceARN: "arn:x", generation: 1, event: LifecycleEvent.setupComplete.encoded, dueAt: now.adding(seconds: 1))],
                in: db)
        }
        service.start()
        #expect(throws: ClusterService.StuckTransition.self) {
            try service.queue.sync { try service.advance(bySeconds: 10) }
        }
        #expect(service.clock.now() == now.adding(seconds: 1))  // stopped at the failing transition
        #expect(try service.scheduler.pending().count == 1)     // which stays pending
    }
}
