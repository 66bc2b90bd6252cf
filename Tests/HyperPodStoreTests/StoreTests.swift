import GRDB
import HyperPodDomain
import JSON
import SageMakerShapes
import Testing
#if canImport(Glibc)
import Glibc
#endif
@testable import HyperPodStore

struct ClusterStoreTests {
    /// Cluster `arn:c` with one group `g` whose nodes are `nodes` (logical ids; instance ids `i-<id>`), all `Pending`.
    static func cluster(nodes: [String], at t0: VirtualTime) throws -> ClusterLifecycle {
        let request = try CreateClusterRequest(json: try JSONParser.parse(#"{"ClusterName":"c","InstanceGroups":[{"InstanceGroupName":"g","InstanceType":"ml.c5.xlarge","InstanceCount":\#(nodes.count),"ExecutionRole":"arn:aws:iam::111122223333:role/r"}]}"#))
        var (lifecycle, _) = ClusterLifecycle.create(request: request, arn: "arn:c", clusterID: "abcdef012345", account: "000000000000",
                                                     region: "us-east-1", at: t0, timing: TimingProfile(.fast))
        lifecycle.nodes = nodes.map {
            NodeRecord(logicalID: $0, instanceID: "i-\($0)", groupName: "g", status: .pending, slotCreated: t0, launchTime: t0, privateIP: 1, zone: nil)
        }
        return lifecycle
    }

    @Test func savingChangedNodes_KeepsCreationOrder_AndRemovesGoneOnes() throws {
        let db = try EmulatorDatabase(path: nil)
        let lifecycle = try Self.cluster(nodes: ["n1", "n2", "n3"], at: VirtualTime(milliseconds: 1_000))
        try db.write { try ClusterStore.save(lifecycle, db: $0) }
        var next = lifecycle
        next.nodes[0].status = .running       // changed: first in creation order
        next.nodes.remove(at: 1)              // gone
        try db.write { try ClusterStore.save(next, previous: lifecycle, db: $0) }
        let loaded = try #require(try db.read { try ClusterStore.load("arn:c", db: $0) })
        #expect(loaded.nodes.map(\.logicalID) == ["n1", "n3"])
        #expect(loaded.nodes.map(\.status) == [.running, .pending])
    }

    /// A cluster whose document (or a node row) no longer decodes is reported as a `DamagedClusterRecord` carrying what
    /// its row still says, not as an anonymous error (issue #14).
    @Test func aDamagedDocument_IsReportedWithWhatItsRowSays() throws {
        let db = try EmulatorDatabase(path: nil)
        let t0 = VirtualTime(milliseconds: 7_000)
        let lifecycle = try Self.cluster(nodes: ["n1"], at: t0)
        try db.write { try ClusterStore.save(lifecycle, db: $0) }
        try db.write { try $0.database.execute(sql: "UPDATE cluster_nodes SET document = 'x' WHERE cluster_arn = 'arn:c'") }
        let damagedNode = try #require(throws: DamagedClusterRecord.self) { _ = try db.read { try ClusterStore.load("arn:c", db: $0) } }
        #expect(!damagedNode.reason.isEmpty && damagedNode.status == "Creating" && damagedNode.creationTime == t0 && damagedNode.name == "c")
        try db.write { try $0.database.execute(sql: "UPDATE clusters SET document = '[]' WHERE arn = 'arn:c'") }
        let error = try #require(throws: DamagedClusterRecord.self) { _ = try db.read { try ClusterStore.loadRecord("arn:c", db: $0) } }
        #expect(error.arn == "arn:c" && error.description.contains("cannot be decoded"))
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
        let usage = try queue.read { try ClusterStore.quotaUsage(in: partition, db: StoreTransaction(database: $0)) }
        #expect(usage == Quotas.Usage(instancesByType: ["ml.c5.xlarge": 2], clusters: 1))
        #expect(try queue.read { try ClusterStore.isBound(eksClusterARN: "arn:aws:eks:us-east-1:111122223333:cluster/e", in: partition, db: StoreTransaction(database: $0)) })
        #expect(try queue.read { try ClusterStore.usedAddresses(in: partition, from: address, through: address + 10, db: StoreTransaction(database: $0)) } == [address])
        #expect(try queue.read { try ClusterStore.usedAddresses(in: other, from: address, through: address + 10, db: StoreTransaction(database: $0)) }.isEmpty)
        #expect(try queue.read { try ClusterStore.load("arn:old", db: StoreTransaction(database: $0)) }?.nodes.map(\.instanceID) == ["i-1"])
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
        let pending = try queue.read { try TransitionStore.pending(db: StoreTransaction(database: $0)) }
        #expect(pending.count == 1)
        #expect(pending[0].dueAt == VirtualTime(milliseconds: 5000) && pending[0].fireAt == VirtualTime(milliseconds: 5000))
        #expect(pending[0].attempts == 0 && pending[0].lastError == nil && !pending[0].isSetAside)
    }
}

/// A database at every earlier schema version (v1 rows, migrated to that version) upgrades to the newest with its data:
/// the cluster, its node, a tag and a pending transition written in that version's columns read back through today's
/// API (issue #14: migrations are frozen and each runs on real data).
struct UpgradeFromEveryVersionTests {
    static let t0 = VirtualTime(milliseconds: 1_000)

    /// The rows of one cluster as the v1 columns hold them (later columns keep their defaults or are backfilled).
    func writeV1Rows(_ db: Database) throws {
        let request = try CreateClusterRequest(json: try JSONParser.parse(#"""
            {"ClusterName":"old","InstanceGroups":[{"InstanceGroupName":"g","InstanceType":"ml.c5.xlarge","InstanceCount":1,
             "ExecutionRole":"arn:aws:iam::111122223333:role/r"}]}
            """#))
        let (lifecycle, _) = ClusterLifecycle.create(request: request, arn: "arn:old", clusterID: "abcdef012345", account: "111122223333",
                                                     region: "us-east-1", at: Self.t0, timing: TimingProfile(.fast))
        let c = lifecycle.cluster
        try db.execute(sql: """
            INSERT INTO clusters (arn, account, region, cluster_id, name, status, generation, created_at_ms, document)
            VALUES (?, ?, ?, ?, ?, 'InService', ?, ?, ?)
            """, arguments: [c.arn, c.account, c.region, c.clusterID, c.name, c.generation, Self.t0.milliseconds,
                             ClusterStore.encodeClusterDocument(c)])
        let node = NodeRecord(logicalID: "n1", instanceID: "i-1", groupName: "g", status: .running, slotCreated: Self.t0,
                              launchTime: Self.t0, privateIP: 7, zone: nil)
        try db.execute(sql: """
            INSERT INTO cluster_nodes (cluster_arn, node_logical_id, instance_id, group_name, status, launch_at_ms, private_ip, document)
            VALUES ('arn:old', 'n1', 'i-1', 'g', 'Running', ?, 7, ?)
            """, arguments: [Self.t0.milliseconds, ClusterStore.encodeNodeDocument(node)])
        try db.execute(sql: "INSERT INTO tags (cluster_arn, key, value, position) VALUES ('arn:old', 'team', 'ml', 1)")
        try db.execute(sql: """
            INSERT INTO scheduled_transitions (resource_arn, generation, event, due_at_ms) VALUES ('arn:old', ?, 'setupComplete', 9000)
            """, arguments: [c.generation])
    }

    @Test func everyEarlierVersion_UpgradesWithItsData() throws {
        let migrator = EmulatorDatabase.migrator
        let earlier = migrator.migrations.dropLast()
        #expect(earlier.count >= 6)
        for version in earlier {
            let queue = try DatabaseQueue()
            try migrator.migrate(queue, upTo: migrator.migrations[0])
            try queue.write { try writeV1Rows($0) }
            try migrator.migrate(queue, upTo: version)
            try migrator.migrate(queue)
            let store = { (body: (StoreTransaction) throws -> Bool) in try queue.read { try body(StoreTransaction(database: $0)) } }
            let partition = ClusterStore.Partition(account: "111122223333", region: "us-east-1")
            #expect(try store { try ClusterStore.load("arn:old", db: $0)?.nodes.map(\.instanceID) == ["i-1"] }, "from \(version)")
            #expect(try store { try ClusterStore.tags(of: "arn:old", db: $0) == [Tag(key: "team", value: "ml")] }, "from \(version)")
            #expect(try store { try ClusterStore.quotaUsage(in: partition, db: $0) == Quotas.Usage(instancesByType: ["ml.c5.xlarge": 1], clusters: 1) },
                    "from \(version)")
            #expect(try store { try ClusterStore.usedAddresses(in: partition, from: 0, through: 100, db: $0) == [7] }, "from \(version)")
            #expect(try store { try TransitionStore.pending(db: $0).map(\.fireAt) == [VirtualTime(milliseconds: 9000)] }, "from \(version)")
        }
    }
}

/// The hand-written document codec keeps every field of every stored shape: a cluster with every optional member of
/// its record, groups, rollback and software-update run set, and a node with every field set, read back equal.
struct DocumentCodecRoundTripTests {
    static let t0 = VirtualTime(milliseconds: 1_764_547_200_123)

    func request(_ name: String) throws -> CreateClusterRequest {
        try CreateClusterRequest(json: try JSONParser.parse(#"""
            {"ClusterName":"\#(name)","NodeProvisioningMode":"Continuous","NodeRecovery":"Automatic",
             "Orchestrator":{"Eks":{"ClusterArn":"arn:aws:eks:us-east-1:111122223333:cluster/e"}},
             "VpcConfig":{"SecurityGroupIds":["sg-0123abcd"],"Subnets":["subnet-0123abcd"]},
             "TieredStorageConfig":{"Mode":"Enable","InstanceMemoryAllocationPercentage":20},
             "Tags":[{"Key":"team","Value":"ml"}],
             "InstanceGroups":[{"InstanceGroupName":"g","InstanceType":"ml.p5.48xlarge","InstanceCount":4,"MinInstanceCount":2,
               "ExecutionRole":"arn:aws:iam::111122223333:role/r","ThreadsPerCore":2,
               "LifeCycleConfig":{"SourceS3Uri":"s3://sagemaker-b/lcc/","OnCreate":"on_create.sh"},
               "InstanceStorageConfigs":[{"EbsVolumeConfig":{"VolumeSizeInGB":500}}],
               "OnStartDeepHealthChecks":["InstanceStress"],
               "TrainingPlanArn":"arn:aws:sagemaker:us-east-1:111122223333:training-plan/p",
               "ScheduledUpdateConfig":{"ScheduleExpression":"cron(0 3 ? * SUN *)"},
               "KubernetesConfig":{"Labels":{"a":"b"},"Taints":[{"Key":"k","Value":"v","Effect":"NoSchedule"}]}}]}
            """#))
    }

    @Test func everyFieldOfACluster_ItsGroups_AndItsNodes_SurvivesTheStore() throws {
        let base = try request("full")
        let spec = base.instanceGroups![0]
        var group = InstanceGroupRecord(spec: spec, status: .updating, targetCount: 4)
        group.lastInService = .init(targetCount: 3, minCount: 1)
        group.minCountToken = 5
        group.retryDelay = 2.5
        group.retryToken = 6
        group.batchInFlight = true
        group.appliedKubernetesConfig = spec.kubernetesConfig
        group.operation = .scaling
        group.currentImageID = "ami-0123456789abcdef0"
        group.desiredImageID = "ami-0fedcba9876543210"
        group.softwareUpdateStatus = .inProgress
        group.scheduleToken = 7
        group.awaitingPlanWindow = true
        var cluster = ClusterRecord(
            arn: "arn:full", clusterID: "abcdef012345", account: "111122223333", region: "us-east-1", status: .updating,
            creationTime: Self.t0, generation: 42, request: base, groups: [group], failureMessage: "earlier failure")
        cluster.autoScalingStatus = .inService
        cluster.appliedTieredStorageConfig = base.tieredStorageConfig
        cluster.appliedAccountingDatabase = ClusterAccountingDatabase(endpoint: "db.example", port: 3307, name: "acct",
                                                                      secretArn: "arn:aws:secretsmanager:us-east-1:111122223333:secret:s")
        cluster.pendingConfigToken = 3
        cluster.configTokens = 4
        cluster.timerTokens = 9
        var previous = group
        previous.targetCount = 3
        previous.operation = nil
        cluster.rollback = UpdateRollback(request: try request("full"), groups: [previous], newSlots: ["n4"])
        cluster.softwareUpdate = SoftwareUpdateRun(
            queue: ["g2"], current: "g", targetImage: "ami-0fedcba9876543210", previousImage: "ami-0123456789abcdef0",
            deployment: try DeploymentConfiguration(json: try JSONParser.parse(#"""
                {"RollingUpdatePolicy":{"MaximumBatchSize":{"Type":"INSTANCE_COUNT","Value":1}},"WaitIntervalInSeconds":60,
                 "AutoRollbackConfiguration":[{"AlarmName":"alarm"}]}
                """#)),
            patched: ["n1"], phase: .baking, batches: 2)
        var node = NodeRecord(logicalID: "n1", instanceID: "i-0123456789abcdef0", groupName: "g", status: .systemUpdating,
                              message: "patching", slotCreated: Self.t0, launchTime: Self.t0.adding(seconds: 3), privateIP: 0x0A01_0004,
                              zone: "us-east-1a", reachedRunning: true, instanceType: "ml.p5.48xlarge",
                              lifeCycleConfig: spec.lifeCycleConfig)
        node.allowedZones = ["us-east-1a", "us-east-1b"]
        node.allowedTypes = ["ml.p5.48xlarge"]
        node.rebooting = true
        node.imageID = "ami-0123456789abcdef0"
        node.lastSoftwareUpdateTime = Self.t0.adding(seconds: 60)
        node.reservedCapacityARN = "arn:aws:sagemaker:us-east-1:111122223333:reserved-capacity/p-rc1"
        node.ultraServerID = "us-0123456789abcdef0"
        node.ultraServerType = "ml.u-p6e-gb200x36"
        let waiting = NodeRecord(logicalID: "n2", instanceID: nil, groupName: "g", status: .pending, slotCreated: Self.t0,
                                 launchTime: nil, privateIP: nil, zone: nil)
        let lifecycle = ClusterLifecycle(cluster: cluster, nodes: [node, waiting])

        let db = try EmulatorDatabase(path: nil)
        try db.write { try ClusterStore.save(lifecycle, db: $0) }
        let loaded = try #require(try db.read { try ClusterStore.load("arn:full", db: $0) })
        #expect(loaded.cluster == lifecycle.cluster)
        #expect(loaded.nodes == lifecycle.nodes)
        // The units the node holds are counted per RC and UltraServer (R212), and no on-demand pool counts them (R203).
        let holdings = try db.read { try TrainingPlanStore.holdings(in: .init(account: "111122223333", region: "us-east-1"), db: $0) }
        #expect(holdings.byReservedCapacity["arn:aws:sagemaker:us-east-1:111122223333:reserved-capacity/p-rc1"]?.inUse == 1)
        #expect(holdings.byUltraServer["us-0123456789abcdef0"]?.inUse == 1)
        #expect(try db.read { try ClusterStore.instancesHeld(in: .init(account: "111122223333", region: "us-east-1"), db: $0) }.isEmpty)
    }

    @Test func aTrainingPlan_WithItsExtensionsUltraServersAndTags_SurvivesTheStore() throws {
        var rc = ReservedCapacityRecord(
            arn: "arn:aws:sagemaker:us-east-1:111122223333:reserved-capacity/p-rc1", type: .ultraServer, ultraServerType: "ml.u-p6e-gb200x36",
            ultraServerCount: 1, instanceType: "ml.p6e-gb200.36xlarge", totalInstanceCount: 9, zone: "us-east-1b", startTime: Self.t0,
            endTime: Self.t0.adding(seconds: 86_400), ultraServers: [UltraServerRecord(id: "us-0123456789abcdef0", instances: 9, spares: 2)])
        rc.endTime = Self.t0.adding(seconds: 2 * 86_400)
        var plan = TrainingPlanRecord(
            arn: "arn:aws:sagemaker:us-east-1:111122223333:training-plan/p", name: "P", account: "111122223333", region: "us-east-1",
            creationTime: Self.t0, targetResources: ["hyperpod-cluster", "training-job"], upfrontFee: "2160.00", currencyCode: "USD",
            reservedCapacities: [rc], offeringID: "tpo-" + String(repeating: "a", count: 64), tags: [Tag(key: "team", value: "ml")])
        plan.payment = .failed
        plan.statusMessage = "Payment for training plan P failed."
        plan.extensions = [TrainingPlanExtensionRecord(
            offeringID: "tpeo-x", extendedAt: Self.t0, startDate: Self.t0.adding(seconds: 86_400), endDate: Self.t0.adding(seconds: 2 * 86_400),
            zone: "us-east-1b", durationHours: 24, upfrontFee: "2160.00", currencyCode: "USD", payment: .completed, reservedCapacityIndex: 0,
            instances: 9)]
        let offering = TrainingPlanOfferingRecord(
            id: "tpo-b", kind: .published, targetResources: ["hyperpod-cluster"], requestedStartTimeAfter: Self.t0, upfrontFee: "1.00",
            currencyCode: "USD", reservedCapacities: [.init(type: .instance, instanceType: "ml.p5.48xlarge", instanceCount: 3, zone: "us-east-1a",
                                                            startTime: Self.t0, endTime: Self.t0.adding(seconds: 60))])
        let partition = ClusterStore.Partition(account: "111122223333", region: "us-east-1")
        let db = try EmulatorDatabase(path: nil)
        try db.write {
            try TrainingPlanStore.save(plan, db: $0)
            try TrainingPlanStore.record(offering, in: partition, db: $0)
            try TrainingPlanStore.markTaken("tpo-b", db: $0)
        }
        #expect(try db.read { try TrainingPlanStore.plan("arn:aws:sagemaker:us-east-1:111122223333:training-plan/p", db: $0) } == plan)
        var taken = offering
        taken.taken = true
        #expect(try db.read { try TrainingPlanStore.offering("tpo-b", in: partition, db: $0) } == taken)
        #expect(try db.read { try TrainingPlanStore.takenIDs(in: partition, db: $0) } == ["tpo-b"])
        try db.write { try ServerStore.reset(partition, db: $0) }  // RA2: gone with the partition
        #expect(try db.read { try TrainingPlanStore.plans(in: partition, db: $0) }.isEmpty)
    }
}
