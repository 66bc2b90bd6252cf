import AWSJSONProtocol
import GRDB
import HyperPodDomain
import Logging
import JSON
import SageMakerShapes
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
            try TransitionScheduler.schedule(
                [NewTransition(resourceARN: "arn:x", generation: 1, event: LifecycleEvent.setupComplete.encoded, dueAt: now.adding(seconds: 1))],
                in: db)
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

    /// R39: a transition due now fires before a call. A snapshot read cannot fire it, so it hands the call to the queue
    /// (`Deferred`), which does.
    @Test func aReadOffTheQueue_DefersWhenATransitionIsDue() throws {
        let service = try makeService()
        service.start()
        try create(service, "c")
        let describe = DescribeClusterRequest(clusterName: "c")
        #expect(try service.readQueue.sync { try service.describeCluster(describe, context: context) }.clusterStatus == .creating)
        try service.clock.advance(seconds: 3600)  // the clock alone: setup is now overdue, nothing fired it
        #expect(throws: AWSJSONRouter.Deferred.self) {
            try service.readQueue.sync { try service.describeCluster(describe, context: context) }
        }
        #expect(try service.queue.sync { try service.describeCluster(describe, context: context) }.clusterStatus == .inService)
        #expect(try service.readQueue.sync { try service.describeCluster(describe, context: context) }.clusterStatus == .inService)
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

struct ClusterStoreTests {
    @Test func savingChangedNodes_KeepsCreationOrder_AndRemovesGoneOnes() throws {
        let db = try EmulatorDatabase(path: nil)
        let t0 = VirtualTime(milliseconds: 1_000)
        let request = try CreateClusterRequest(json: try JSONParser.parse(#"{"ClusterName":"c","InstanceGroups":[{"InstanceGroupName":"g","InstanceType":"ml.c5.xlarge","InstanceCount":3,"ExecutionRole":"arn:aws:iam::111122223333:role/r"}]}"#))
        var (lifecycle, _) = ClusterLifecycle.create(request: request, arn: "arn:c", clusterID: "abcdef012345", account: "000000000000",
                                                     region: "us-east-1", at: t0, timing: TimingProfile(.fast))
        lifecycle.nodes = ["n1", "n2", "n3"].map {
            NodeRecord(logicalID: $0, instanceID: "i-\($0)", groupName: "g", status: .pending, slotCreated: t0, launchTime: t0, privateIP: 1, zone: nil)
        }
        try db.writer.write { try ClusterStore.save(lifecycle, db: $0) }
        var next = lifecycle
        next.nodes[0].status = .running       // changed: first in creation order
        next.nodes.remove(at: 1)              // gone
        try db.writer.write { try ClusterStore.save(next, previous: lifecycle, db: $0) }
        let loaded = try #require(try db.writer.read { try ClusterStore.load("arn:c", db: $0) })
        #expect(loaded.nodes.map(\.logicalID) == ["n1", "n3"])
        #expect(loaded.nodes.map(\.status) == [.running, .pending])
    }
}

struct MigrationTests {
    /// A database written before v5 (no quota, EKS, node partition or training plan columns) opens with those filled
    /// in from the stored documents, so quotas (R84), EKS bindings (R56), address uniqueness (R35) and ListClusters
    /// (R92) see clusters made before.
    @Test func v5_v6_FillTheNewColumnsFromExistingClusters() throws {
        let queue = try DatabaseQueue()
        try EmulatorDatabase.migrator.migrate(queue, upTo: "v4: BatchAddClusterNodes client tokens, faults")
        let t0 = VirtualTime(milliseconds: 1_000)
        let request = try CreateClusterRequest(json: try JSONParser.parse(#"""
            {"ClusterName":"old","Orchestrator":{"Eks":{"ClusterArn":"arn:aws:eks:us-east-1:111122223333:cluster/e"}},
             "InstanceGroups":[{"InstanceGroupName":"g","InstanceType":"ml.c5.xlarge","InstanceCount":2,"ExecutionRole":"arn:aws:iam::111122223333:role/r",
               "TrainingPlanArn":"arn:aws:sagemaker:us-east-1:111122223333:training-plan/p"}]}
            """#))
        let (lifecycle, _) = ClusterLifecycle.create(request: request, arn: "arn:old", clusterID: "abcdef012345", account: "111122223333",
                                                     region: "us-east-1", at: t0, timing: TimingProfile(.fast))
        let address = Placement.block(ofSubnet: nil) + 4
        try queue.write { db in
            let c = lifecycle.cluster
            try db.execute(sql: """
                INSERT INTO clusters (arn, account, region, cluster_id, name, status, generation, created_at_ms, document)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
                """, arguments: [c.arn, c.account, c.region, c.clusterID, c.name, "InService", c.generation, t0.milliseconds,
                                 ClusterStore.encodeClusterDocument(c)])
            let node = NodeRecord(logicalID: "n1", instanceID: "i-1", groupName: "g", status: .running, slotCreated: t0, launchTime: t0,
                                  privateIP: address, zone: "us-east-1a")
            try db.execute(sql: """
                INSERT INTO cluster_nodes (cluster_arn, node_logical_id, instance_id, group_name, status, launch_at_ms, private_ip, document)
                VALUES (?, 'n1', 'i-1', 'g', 'Running', ?, ?, ?)
                """, arguments: [c.arn, t0.milliseconds, Int64(address), ClusterStore.encodeNodeDocument(node)])
        }
        try EmulatorDatabase.migrator.migrate(queue)
        let partition = ClusterStore.Partition(account: "111122223333", region: "us-east-1")
        let other = ClusterStore.Partition(account: "444455556666", region: "us-east-1")
        let usage = try queue.read { try ClusterStore.quotaUsage(in: partition, db: $0) }
        #expect(usage == Quotas.Usage(instancesByType: ["ml.c5.xlarge": 2], clusters: 1))
        #expect(try queue.read { try ClusterStore.isBound(eksClusterARN: "arn:aws:eks:us-east-1:111122223333:cluster/e", in: partition, db: $0) })
        #expect(try queue.read { try ClusterStore.usedAddresses(in: partition, from: address, through: address + 10, db: $0) } == [address])
        #expect(try queue.read { try ClusterStore.usedAddresses(in: other, from: address, through: address + 10, db: $0) }.isEmpty)
        #expect(try queue.read { try ClusterStore.load("arn:old", db: $0) }?.nodes.map(\.instanceID) == ["i-1"])
        // v6: ListClusters' TrainingPlanArns without the document.
        #expect(try queue.read { try String.fetchOne($0, sql: "SELECT training_plan_arns FROM clusters") }
                == #"["arn:aws:sagemaker:us-east-1:111122223333:training-plan/p"]"#)
    }
}

/// The database file belongs to one server, is refused when a newer build wrote it, and ids under `--seed` continue
/// across restarts (issue #14, faults 2–4).
struct DatabaseOwnershipTests {
    func temporaryPath() -> String {
        "/tmp/hyperpod-local-test-\(UInt64.random(in: 0...UInt64.max)).sqlite"
    }

    func removeFiles(_ path: String) {
        for suffix in ["", "-wal", "-shm", ".lock"] { unlink(path + suffix) }
    }

    @Test func aSecondOpenOfTheSameFile_IsRefusedNamingTheOwnersPid() throws {
        let path = temporaryPath()
        defer { removeFiles(path) }
        let first = try EmulatorDatabase(path: path)
        do {
            _ = try EmulatorDatabase(path: path)
            Issue.record("a second open succeeded")
        } catch {
            #expect("\(error)" == "database \(path) is in use by another hyperpod-local (pid \(getpid())); stop it, or give this one another --db (or --in-memory)")
        }
        _ = first
    }

    @Test func theLockIsReleasedWithTheDatabase() throws {
        let path = temporaryPath()
        defer { removeFiles(path) }
        do { _ = try EmulatorDatabase(path: path) }
        _ = try EmulatorDatabase(path: path)  // the first is gone: no refusal
    }

    @Test func aDatabaseWrittenByANewerSchema_IsRefusedNamingBothVersions() throws {
        let path = temporaryPath()
        defer { removeFiles(path) }
        do {
            let database = try EmulatorDatabase(path: path)
            try database.writer.write { try $0.execute(sql: "INSERT INTO grdb_migrations (identifier) VALUES ('v99: from the future')") }
        }
        do {
            _ = try EmulatorDatabase(path: path)
            Issue.record("a newer database was opened")
        } catch {
            #expect("\(error)" == "database \(path) was written by a newer hyperpod-local (schema version 99; this one knows schema versions up to \(EmulatorDatabase.knownSchemaVersion)); start a newer hyperpod-local on it, or use another --db")
        }
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
            try service.database.writer.write { try service.persistGenerator($0) }
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

/// v7 keeps the transitions a database had pending: each may fire at its due time, with no failed attempt.
struct MigrationV7Tests {
    @Test func pendingTransitionsOfAV6Database_KeepTheirDueTimes() throws {
        let queue = try DatabaseQueue()
        try EmulatorDatabase.migrator.migrate(queue, upTo: "v6: training plan ARNs on clusters (ListClusters reads no documents)")
        try queue.write { db in
            try db.execute(sql: "INSERT INTO scheduled_transitions (resource_arn, generation, event, due_at_ms) VALUES ('arn:a', 1, 'setupComplete', 5000)")
        }
        try EmulatorDatabase.migrator.migrate(queue)
        let pending = try queue.read { try TransitionScheduler.pending(in: $0) }
        #expect(pending.count == 1)
        #expect(pending[0].dueAt == VirtualTime(milliseconds: 5000) && pending[0].fireAt == VirtualTime(milliseconds: 5000))
        #expect(pending[0].attempts == 0 && pending[0].lastError == nil && !pending[0].isSetAside)
    }
}
