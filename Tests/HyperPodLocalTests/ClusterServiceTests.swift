import AWSJSONProtocol
import GRDB
import HyperPodDomain
import Logging
import JSON
import SageMakerShapes
import HyperPodStore
import Testing
#if canImport(Glibc)
import Glibc
#endif
@testable import HyperPodLocal

struct ClusterServiceTests {
    func makeService() throws -> ClusterService {
        try ClusterService(
            database: try EmulatorDatabase(path: nil), clockMode: .manual, timeScale: 1, timing: TimingProfile(.fast),
            seed: 1, wall: ManualWallClock(), logger: Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() })
        )
    }

    /// A cluster whose stored document no longer decodes, with a transition due in 1 s: firing it throws every time.
    func plantBrokenCluster(_ service: ClusterService, at now: VirtualTime) throws {
        try service.database.writer.write { db in
            try db.execute(sql: """
                INSERT INTO clusters (arn, account, region, cluster_id, name, status, generation, created_at_ms, document)
                VALUES ('arn:x', '000000000000', 'us-east-1', 'abcdef012345', 'broken', 'Creating', 1, ?, 'not json')
                """, arguments: [now.milliseconds])
        }
        try service.database.write { db in
            try TransitionStore.schedule(
                [NewTransition(resourceARN: "arn:x", generation: 1, event: LifecycleEvent.setupComplete.encoded, dueAt: now.adding(seconds: 1))],
                db: db)
        }
    }

    /// Failure isolation (docs/behaviour.md#r39): a transition that throws is retried with backoff (1, 2, 4, 8 s of
    /// virtual time), then set aside after 5 attempts, recording each attempt and the error; the clock moves on, and the
    /// other clusters' transitions fire in order meanwhile.
    @Test func aTransitionThatKeepsFailing_IsRetriedWithBackoffThenSetAside_AndTheOthersFire() throws {
        let service = try makeService()
        let now = service.clock.now()
        try plantBrokenCluster(service, at: now)
        service.start()
        let request = try CreateClusterRequest(json: try JSONParser.parse(#"{"ClusterName":"healthy","InstanceGroups":[{"InstanceGroupName":"g","InstanceType":"ml.c5.xlarge","InstanceCount":1,"ExecutionRole":"arn:aws:iam::111122223333:role/r"}]}"#))
        let context = AWSRequestContext(requestID: "r", operation: "CreateCluster",
                                        identity: AWSIdentity(accountID: "000000000000", region: "us-east-1"))
        _ = try service.queue.sync { try service.createCluster(request, context: context) }

        try service.queue.sync { try service.advance(bySeconds: 1) }  // first attempt fails at +1 s
        var broken = try #require(try service.scheduler.pending().first { $0.resourceARN == "arn:x" })
        #expect(broken.attempts == 1 && broken.fireAt == now.adding(seconds: 2) && broken.dueAt == now.adding(seconds: 1))
        #expect(broken.lastError?.isEmpty == false)

        try service.queue.sync { try service.advance(bySeconds: 100) }
        #expect(service.clock.now() == now.adding(seconds: 101))  // the clock went on
        broken = try #require(try service.scheduler.pending().first { $0.resourceARN == "arn:x" })
        #expect(broken.attempts == TransitionScheduler.maxAttempts && broken.isSetAside)  // 5 attempts: +1, +2, +4, +8, +16 s
        let describe = DescribeClusterRequest(clusterName: "healthy")
        #expect(try service.queue.sync { try service.describeCluster(describe, context: context) }.clusterStatus == .inService)

        let report = try service.queue.sync { try service.settleTimers(maxSeconds: 60) }
        #expect(report.setAside.map(\.resourceARN) == ["arn:x"])
        #expect(!report.settled)  // the broken cluster is still Creating
    }

    @Test func retryDelays_DoubleFromOneSecond_AndStopAtSixty() {
        #expect((1...9).map(TransitionScheduler.retryDelay(afterAttempt:)) == [1, 2, 4, 8, 16, 32, 60, 60, 60])
    }
}

/// Read-only calls off the state queue (`readQueue`): the same answers as on the queue, never a state the queue
/// would not show.
struct ConcurrentReadTests {
    let context = AWSRequestContext(requestID: "r", operation: "DescribeCluster",
                                    identity: AWSIdentity(accountID: "000000000000", region: "us-east-1"))

    func makeService() throws -> ClusterService {
        try ClusterService(
            database: try EmulatorDatabase(path: nil), clockMode: .manual, timeScale: 1, timing: TimingProfile(.fast),
            seed: 1, wall: ManualWallClock(), logger: Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() })
        )
    }

    func create(_ service: ClusterService, _ name: String) throws {
        let request = try CreateClusterRequest(json: try JSONParser.parse(#"{"ClusterName":""# + name
            + #"","InstanceGroups":[{"InstanceGroupName":"g","InstanceType":"ml.c5.xlarge","InstanceCount":1,"ExecutionRole":"arn:aws:iam::111122223333:role/r"}]}"#))
        _ = try service.queue.sync { try service.createCluster(request, context: context) }
    }

    /// R39: a transition due now fires before a call. A snapshot read cannot fire it, so it hands the read to the state
    /// queue, which fires it first: the read off the queue already sees the cluster InService.
    @Test func aReadOffTheQueue_SeesWhatADueTransitionDoes() throws {
        let service = try makeService()
        service.start()
        try create(service, "c")
        let describe = DescribeClusterRequest(clusterName: "c")
        #expect(try service.readQueue.sync { try service.describeCluster(describe, context: context) }.clusterStatus == .creating)
        try service.clock.advance(seconds: 3600)  // the clock alone: setup is now overdue, nothing fired it
        #expect(try service.readQueue.sync { try service.describeCluster(describe, context: context) }.clusterStatus == .inService)
        #expect(try service.scheduler.pending().isEmpty || service.scheduler.nextDue()! > service.clock.now())
    }

    /// An answer read off the queue is cached for the event loop only if no change was committed since its read began.
    @Test func anAnswerReadBeforeAChange_IsNotCachedAfterIt() throws {
        let service = try makeService()
        service.start()
        try create(service, "c")
        let key = "000000000000|us-east-1|c"
        let epoch = service.cacheEpoch
        let before = try service.readQueue.sync { try service.describeCluster(DescribeClusterRequest(clusterName: "c"), context: context) }
        #expect(service.cachedDescribe(key: key) != nil)  // cached: nothing changed meanwhile
        try create(service, "d")                          // a change: clears the cache
        #expect(service.cachedDescribe(key: key) == nil)
        service.cacheDescribe(before, key: key, readSince: epoch)  // a read that began before the change, finishing late
        #expect(service.cachedDescribe(key: key) == nil)
    }
}

/// `--seed` continues its id sequence across restarts on the same database (issue #14, fault 2).
struct SeededRestartTests {
    func temporaryPath() -> String {
        "/tmp/hyperpod-local-test-\(UInt64.random(in: 0...UInt64.max)).sqlite"
    }

    func removeFiles(_ path: String) {
        for suffix in ["", "-wal", "-shm", ".lock"] { unlink(path + suffix) }
    }

    @Test func underTheSameSeed_ARestartContinuesTheIdSequence() throws {
        let path = temporaryPath()
        defer { removeFiles(path) }
        let logger = Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() })
        func ids(_ service: ClusterService, count: Int) -> [String] {
            service.generator.withLock { g in (0..<count).map { _ in Identifiers.uuid(using: &g) } }
        }
        let firstRun: [String]
        do {
            let service = try ClusterService(database: try EmulatorDatabase(path: path), clockMode: .manual, timeScale: 1,
                                             timing: TimingProfile(.fast), seed: 7, wall: ManualWallClock(), logger: logger)
            firstRun = ids(service, count: 3)
            try service.database.write { try service.persistGenerator($0) }
        }
        let fresh = SeededGenerator(seed: 7)
        var expected = fresh
        #expect(firstRun == (0..<3).map { _ in Identifiers.uuid(using: &expected) })  // reproducible from the seed
        let service = try ClusterService(database: try EmulatorDatabase(path: path), clockMode: .manual, timeScale: 1,
                                         timing: TimingProfile(.fast), seed: 7, wall: ManualWallClock(), logger: logger)
        let secondRun = ids(service, count: 3)
        #expect(Set(secondRun).isDisjoint(with: firstRun))
        #expect(secondRun == (0..<3).map { _ in Identifiers.uuid(using: &expected) })  // the same sequence, continued
    }
}


/// Domain rejections become AWS errors in one place, each operation keeping the code AWS uses for it.
struct RejectionCodesTests {
    @Test func updateOperations_AnswerAStateConflictWithConflictException() {
        #expect(RejectionCodes.conflictOrValidation.error(.conflict("busy")) == AWSError(code: "ConflictException", message: "busy"))
        #expect(RejectionCodes.conflictOrValidation.error(.validation("bad")) == AWSError(code: "ValidationException", message: "bad"))
    }

    @Test func nodeOperations_AnswerBothWithValidationException() {
        #expect(RejectionCodes.validationOnly.error(.conflict("busy")) == AWSError(code: "ValidationException", message: "busy"))
        #expect(RejectionCodes.validationOnly.error(.validation("bad")) == AWSError(code: "ValidationException", message: "bad"))
    }

    @Test func modeledErrorFactories_UseTheModelsCodesAndMessageMember() {
        #expect(AWSError.conflict("x").code == "ConflictException" && AWSError.conflict("x").messageMemberName == "Message")
        #expect(AWSError.resourceNotFound("x").code == "ResourceNotFound")
        #expect(AWSError.resourceInUse("x").code == "ResourceInUse")
        #expect(AWSError.resourceLimitExceeded("x").code == "ResourceLimitExceeded")
        #expect(AWSError.validation("x").messageMemberName == "message")
    }
}
