import GRDB
import HyperPodDomain
import JSON
import SageMakerShapes
import Synchronization

/// Reads and writes clusters, their node slots and tags, inside the caller's transaction. The cluster's request is
/// kept as the model's shape, so DescribeCluster echoes what was set.
public enum ClusterStore {
    /// The partition a request acts in (spec R27).
    public struct Partition: Sendable, Hashable {
        public var account: String
        public var region: String

        public init(account: String, region: String) {
            self.account = account
            self.region = region
        }
    }

    /// A stored cluster row, enough to list and sort without loading the document.
    public struct ClusterRow: Sendable {
        public var arn: String
        public var name: String
        public var status: String
        public var createdAt: VirtualTime
    }

    // MARK: Clusters

    /// The ARN of the cluster `nameOrARN` names in `partition` (spec R31), nil when there is none.
    public static func resolve(_ nameOrARN: String, in partition: Partition, db transaction: StoreTransaction) throws -> String? {
        let db = transaction.database
        if nameOrARN.hasPrefix("arn:") {
            return try String.fetchOne(db.cachedStatement(sql: "SELECT arn FROM clusters WHERE arn = ? AND account = ? AND region = ?"),
                                       arguments: [nameOrARN, partition.account, partition.region])
        }
        return try String.fetchOne(db.cachedStatement(sql: "SELECT arn FROM clusters WHERE account = ? AND region = ? AND name = ?"),
                                   arguments: [partition.account, partition.region, nameOrARN])
    }

    /// Loads a cluster with all its node slots.
    /// - Throws: `DamagedClusterRecord` when its stored document or a node row cannot be decoded; SQLite errors.
    public static func load(_ arn: String, db transaction: StoreTransaction) throws -> ClusterLifecycle? {
        let db = transaction.database
        guard let row = try Row.fetchOne(db.cachedStatement(sql: "SELECT * FROM clusters WHERE arn = ?"), arguments: [arn]) else { return nil }
        return try DamagedClusterRecord.guarding(row) {
            let cluster = try decodeCluster(row)
            let nodes = try decodeNodes(db.cachedStatement(sql: "SELECT \(nodeColumns) FROM cluster_nodes WHERE cluster_arn = ? ORDER BY rowid"),
                                        arguments: [arn])
            return ClusterLifecycle(cluster: cluster, nodes: nodes)
        }
    }

    /// Loads a cluster record without its node slots (listing, quotas: no need to read every node).
    /// - Throws: `DamagedClusterRecord` when its stored document cannot be decoded; SQLite errors.
    public static func loadRecord(_ arn: String, db transaction: StoreTransaction) throws -> ClusterRecord? {
        let db = transaction.database
        guard let row = try Row.fetchOne(db.cachedStatement(sql: "SELECT * FROM clusters WHERE arn = ?"), arguments: [arn]) else { return nil }
        return try DamagedClusterRecord.guarding(row) { try decodeCluster(row) }
    }

    /// Inserts or replaces a cluster and its node slots. With `previous` (the state it was loaded as), only the node
    /// rows that changed are written: a batch of a 6,758-node group touches its batch, not the whole group. Updated
    /// rows keep their rowid, which keeps slots in creation order.
    public static func save(_ lifecycle: ClusterLifecycle, previous: ClusterLifecycle? = nil, db transaction: StoreTransaction) throws {
        let db = transaction.database
        let c = lifecycle.cluster
        let document = encodeClusterDocument(c)
        try db.cachedStatement(
            sql: """
                INSERT INTO clusters (arn, account, region, cluster_id, name, status, generation, created_at_ms, document,
                    eks_cluster_arn, target_counts, training_plan_arns)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                ON CONFLICT(arn) DO UPDATE SET status = excluded.status, generation = excluded.generation,
                    document = excluded.document, eks_cluster_arn = excluded.eks_cluster_arn, target_counts = excluded.target_counts,
                    training_plan_arns = excluded.training_plan_arns
                """
        ).execute(
            arguments: [c.arn, c.account, c.region, c.clusterID, c.name, c.status.rawValue, c.generation,
                        c.creationTime.milliseconds, document, c.request.orchestrator?.eks?.clusterArn,
                        encodeTargetCounts(c), encodeTrainingPlanARNs(c)]
        )
        // The next load of this text (the transition this change schedules, the next call) needs no parse. The
        // document codec keeps every field (DocumentCodecRoundTripTests), so the record is what decoding would give.
        remember(c, key: memoKey(arn: c.arn, status: c.status.rawValue, generation: c.generation, created: c.creationTime.milliseconds,
                                 clusterID: c.clusterID, account: c.account, region: c.region, document: document))
        var unchanged: Set<String> = []
        if let previous {
            let before = Dictionary(previous.nodes.map { ($0.logicalID, $0) }, uniquingKeysWith: { a, _ in a })
            let after = Set(lifecycle.nodes.map(\.logicalID))
            let delete = try db.cachedStatement(sql: "DELETE FROM cluster_nodes WHERE cluster_arn = ? AND node_logical_id = ?")
            for id in before.keys where !after.contains(id) { try delete.execute(arguments: [c.arn, id]) }
            for node in lifecycle.nodes where before[node.logicalID] == node { unchanged.insert(node.logicalID) }
        } else {
            try db.cachedStatement(sql: "DELETE FROM cluster_nodes WHERE cluster_arn = ?").execute(arguments: [c.arn])
        }
        // One prepared statement for every node row (statements are cached per connection: preparing one per row
        // was a third of a large cluster's launch).
        let upsert = try db.cachedStatement(
            sql: """
                    INSERT INTO cluster_nodes (cluster_arn, node_logical_id, instance_id, group_name, status,
                        launch_at_ms, private_ip, instance_type, zone, document, account, region, reserved_capacity_arn)
                        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                    ON CONFLICT(cluster_arn, node_logical_id) DO UPDATE SET instance_id = excluded.instance_id,
                        group_name = excluded.group_name, status = excluded.status, launch_at_ms = excluded.launch_at_ms,
                        private_ip = excluded.private_ip, instance_type = excluded.instance_type, zone = excluded.zone,
                        document = excluded.document, reserved_capacity_arn = excluded.reserved_capacity_arn
                    """)
        for node in lifecycle.nodes where !unchanged.contains(node.logicalID) {
            try upsert.execute(
                arguments: [c.arn, node.logicalID, node.instanceID, node.groupName, node.status.rawValue,
                            (node.launchTime ?? node.slotCreated).milliseconds, node.privateIP.map { Int64($0) },
                            node.instanceType, node.zone, encodeNodeDocument(node), c.account, c.region, node.reservedCapacityARN]
            )
        }
    }

    /// Removes a cluster with its nodes and tags (spec C14).
    public static func remove(_ arn: String, db transaction: StoreTransaction) throws {
        let db = transaction.database
        try db.cachedStatement(sql: "DELETE FROM clusters WHERE arn = ?").execute(arguments: [arn])
    }

    /// Every cluster of a partition.
    public static func rows(in partition: Partition, db transaction: StoreTransaction) throws -> [ClusterRow] {
        let db = transaction.database
        return try Row.fetchAll(db.cachedStatement(sql: "SELECT arn, name, status, created_at_ms FROM clusters WHERE account = ? AND region = ?"),
                         arguments: [partition.account, partition.region]).map {
            ClusterRow(arn: $0["arn"], name: $0["name"], status: $0["status"], createdAt: VirtualTime(milliseconds: $0["created_at_ms"]))
        }
    }

    /// TargetCount by charged instance type over the groups that are not `Deleting` (spec R84), as a JSON object: kept
    /// in its own column so the quota check reads one small value per cluster rather than each cluster's document.
    static func encodeTargetCounts(_ c: ClusterRecord) -> String {
        var counts: [String: Int] = [:]
        for group in c.groups where group.status != .deleting { counts[group.spec.quotaInstanceType, default: 0] += group.targetCount }
        return String(decoding: JSONWriter.encode(counts.jsonValue), as: UTF8.self)
    }

    /// The `TrainingPlanArn`s of a cluster's groups, in group order (ListClusters' `TrainingPlanArns`, R92), as a JSON
    /// array; nil when no group has one.
    static func encodeTrainingPlanARNs(_ c: ClusterRecord) -> String? {
        var seen: Set<String> = []
        let plans = c.groups.compactMap(\.spec.trainingPlanArn).filter { seen.insert($0).inserted }  // distinct (R228)
        return plans.isEmpty ? nil : String(decoding: JSONWriter.encode(.array(plans.map(JSONValue.string))), as: UTF8.self)
    }

    /// TargetCount by charged instance type of each of a partition's clusters that are not `Deleting` (`Failed` ones
    /// included), groups that are not `Deleting` only (spec R84).
    public static func targetCounts(in partition: Partition, db transaction: StoreTransaction) throws -> [[String: Int]] {
        let db = transaction.database
        return try String.fetchAll(db.cachedStatement(sql: "SELECT target_counts FROM clusters WHERE account = ? AND region = ? AND status != ?"),
                            arguments: [partition.account, partition.region, ClusterStatus.deleting.rawValue]).map { text in
            var counts: [String: Int] = [:]
            for (type, count) in try JSONParser.parse(text).objectValue?.members ?? [] { counts[type] = count.intValue ?? 0 }
            return counts
        }
    }

    /// TargetCount by charged instance type over a partition's clusters that are not `Deleting`, and how many such
    /// clusters there are (spec R84).
    public static func quotaUsage(in partition: Partition, db: StoreTransaction) throws -> Quotas.Usage {
        quotaUsage(of: try targetCounts(in: partition, db: db))
    }

    /// The quota usage of the clusters whose `targetCounts` these are.
    public static func quotaUsage(of perCluster: [[String: Int]]) -> Quotas.Usage {
        var usage = Quotas.Usage(clusters: perCluster.count)
        for counts in perCluster {
            for (type, count) in counts { usage.instancesByType[type, default: 0] += count }
        }
        return usage
    }

    /// Whether a cluster of the partition is bound to the EKS cluster `eksClusterARN` (spec R56).
    public static func isBound(eksClusterARN: String, in partition: Partition, db transaction: StoreTransaction) throws -> Bool {
        let db = transaction.database
        return try Bool.fetchOne(db.cachedStatement(sql: "SELECT EXISTS (SELECT 1 FROM clusters WHERE account = ? AND region = ? AND eks_cluster_arn = ?)"),
                          arguments: [partition.account, partition.region, eksClusterARN]) ?? false
    }

    /// Private addresses in use in a partition between `low` and `high`, inclusive (spec R35: unique while in use),
    /// read from the address index alone.
    public static func usedAddresses(in partition: Partition, from low: UInt32, through high: UInt32, db transaction: StoreTransaction) throws -> Set<UInt32> {
        let db = transaction.database
        return Set(try Int64.fetchAll(db.cachedStatement(sql: """
            SELECT private_ip FROM cluster_nodes WHERE account = ? AND region = ? AND private_ip BETWEEN ? AND ?
            """), arguments: [partition.account, partition.region, Int64(low), Int64(high)]).map { UInt32(truncatingIfNeeded: $0) })
    }

    /// How many private addresses between `low` and `high` (inclusive) are in use in a partition: a count over the
    /// address index, so a full block is passed over without reading it.
    public static func addressesInUse(in partition: Partition, from low: UInt32, through high: UInt32, db transaction: StoreTransaction) throws -> Int {
        let db = transaction.database
        return try Int.fetchOne(db.cachedStatement(sql: """
            SELECT COUNT(*) FROM cluster_nodes WHERE account = ? AND region = ? AND private_ip BETWEEN ? AND ?
            """), arguments: [partition.account, partition.region, Int64(low), Int64(high)]) ?? 0
    }

    /// Records an identifier as used; false when it was used before (spec R30: ids are never reused).
    public static func claimIdentifier(kind: String, _ value: String, db transaction: StoreTransaction) throws -> Bool {
        let db = transaction.database
        try db.cachedStatement(sql: "INSERT OR IGNORE INTO used_identifiers (kind, value) VALUES (?, ?)").execute(arguments: [kind, value])
        return db.changesCount == 1
    }

    // MARK: Tags (spec R114)

    /// Tags of a cluster in first-added order.
    public static func tags(of arn: String, db transaction: StoreTransaction) throws -> [Tag] {
        let db = transaction.database
        return try Row.fetchAll(db.cachedStatement(sql: "SELECT key, value FROM tags WHERE cluster_arn = ? ORDER BY position"), arguments: [arn]).map {
            Tag(key: $0["key"], value: $0["value"])
        }
    }

    /// Adds or overwrites tags (an overwritten key keeps its position).
    public static func addTags(_ tags: [Tag], to arn: String, db transaction: StoreTransaction) throws {
        let db = transaction.database
        for tag in tags {
            let next = try Int64.fetchOne(db.cachedStatement(sql: "SELECT COALESCE(MAX(position), 0) + 1 FROM tags WHERE cluster_arn = ?"), arguments: [arn]) ?? 1
            try db.cachedStatement(sql: """
                INSERT INTO tags (cluster_arn, key, value, position) VALUES (?, ?, ?, ?)
                ON CONFLICT(cluster_arn, key) DO UPDATE SET value = excluded.value
                """).execute(arguments: [arn, tag.key, tag.value, next])
        }
    }

    public static func deleteTags(_ keys: [String], from arn: String, db transaction: StoreTransaction) throws {
        let db = transaction.database
        for key in keys { try db.cachedStatement(sql: "DELETE FROM tags WHERE cluster_arn = ? AND key = ?").execute(arguments: [arn, key]) }
    }

    // MARK: Events (spec R111)

    /// A stored event with its recording order.
    public struct StoredEvent: Sendable {
        public var sequence: Int64
        public var id: String
        public var time: VirtualTime
        public var record: ClusterEventRecord
        /// The cluster operation the event was recorded while working on (spec R306), nil for other events.
        public var operationID: String?
    }

    /// Records an event of a cluster at `time` (virtual), with the operation it belongs to (R306).
    public static func addEvent(
        _ event: ClusterEventRecord, id: String, cluster arn: String, at time: VirtualTime, operationID: String? = nil,
        db transaction: StoreTransaction
    ) throws {
        let db = transaction.database
        try db.cachedStatement(
            sql: """
                INSERT INTO cluster_events (event_id, cluster_arn, event_time_ms, resource_type, level, description, group_name,
                    instance_id, metadata, operation_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                """
        ).execute(
            arguments: [id, arn, time.milliseconds, event.resourceType.rawValue, event.level.rawValue, event.description,
                        event.instanceGroupName, event.instanceID,
                        event.metadata.map { String(decoding: JSONWriter.encode($0.jsonValue), as: UTF8.self) }, operationID]
        )
    }

    /// The partitions that hold at least one cluster, ordered by account, then region (the dashboard's overview).
    public static func partitionsWithClusters(db transaction: StoreTransaction) throws -> [Partition] {
        try Row.fetchAll(transaction.database.cachedStatement(sql: "SELECT DISTINCT account, region FROM clusters ORDER BY account, region"))
            .map { Partition(account: $0["account"], region: $0["region"]) }
    }

    /// Every event of a cluster, in recording order.
    public static func events(of arn: String, db transaction: StoreTransaction) throws -> [StoredEvent] {
        let db = transaction.database
        return try Row.fetchAll(db.cachedStatement(sql: "SELECT * FROM cluster_events WHERE cluster_arn = ? ORDER BY seq"), arguments: [arn]).map(decodeEvent)
    }

    /// One event of a cluster by id, nil when there is none.
    public static func event(_ id: String, of arn: String, db transaction: StoreTransaction) throws -> StoredEvent? {
        let db = transaction.database
        return try Row.fetchOne(db.cachedStatement(sql: "SELECT * FROM cluster_events WHERE cluster_arn = ? AND event_id = ?"), arguments: [arn, id]).map(decodeEvent)
    }

    static func decodeEvent(_ row: Row) throws -> StoredEvent {
        guard let type = ClusterEventResourceType(rawValue: row["resource_type"]), let level = ClusterEventLevel(rawValue: row["level"])
        else { throw StoreError.corrupt("event \(row["event_id"] as String)") }
        let metadata: EventMetadata? = try (row["metadata"] as String?).map { try EventMetadata(json: try JSONParser.parse($0)) }
        return StoredEvent(
            sequence: row["seq"], id: row["event_id"], time: VirtualTime(milliseconds: row["event_time_ms"]),
            record: ClusterEventRecord(resourceType: type, level: level, description: row["description"],
                                       instanceGroupName: row["group_name"], instanceID: row["instance_id"], metadata: metadata),
            operationID: row["operation_id"]
        )
    }

    // MARK: Documents

    static func encodeClusterDocument(_ c: ClusterRecord) -> String {
        var object: JSONObject = ["request": c.request.jsonValue, "groups": .array(c.groups.map(encodeGroup))]
        if let failure = c.failureMessage { object["failureMessage"] = .string(failure) }
        if let status = c.autoScalingStatus { object["autoScalingStatus"] = .string(status.rawValue) }
        if let tiered = c.appliedTieredStorageConfig { object["appliedTieredStorageConfig"] = tiered.jsonValue }
        if let database = c.appliedAccountingDatabase { object["appliedAccountingDatabase"] = database.jsonValue }
        if let shared = c.appliedSharedEnvironment { object["appliedSharedEnvironment"] = shared.jsonValue }
        if let token = c.pendingConfigToken { object["pendingConfigToken"] = .integer(Int64(token)) }
        object["configTokens"] = .integer(Int64(c.configTokens))
        object["timerTokens"] = .integer(Int64(c.timerTokens))
        if let rollback = c.rollback {
            object["rollback"] = .object([
                "request": rollback.request.jsonValue, "groups": .array(rollback.groups.map(encodeGroup)),
                "newSlots": .array(rollback.newSlots.map(JSONValue.string)),
            ])
        }
        if let run = c.softwareUpdate {
            var encoded: JSONObject = [
                "queue": .array(run.queue.map(JSONValue.string)), "targetImage": .string(run.targetImage),
                "previousImage": .string(run.previousImage), "patched": .array(run.patched.map(JSONValue.string)),
                "phase": .string(run.phase.rawValue), "batches": .integer(Int64(run.batches)),
            ]
            if let current = run.current { encoded["current"] = .string(current) }
            if let deployment = run.deployment { encoded["deployment"] = deployment.jsonValue }
            object["softwareUpdate"] = .object(encoded)
        }
        return String(decoding: JSONWriter.encode(.object(object)), as: UTF8.self)
    }

    static func encodeGroup(_ g: InstanceGroupRecord) -> JSONValue {
        var object: JSONObject = [
            "spec": g.spec.jsonValue, "status": .string(g.status.rawValue), "targetCount": .integer(Int64(g.targetCount)),
            "minCountToken": .integer(Int64(g.minCountToken)), "retryToken": .integer(Int64(g.retryToken)),
            "batchInFlight": .bool(g.batchInFlight),
        ]
        if let restricted = g.restrictedSpec { object["restrictedSpec"] = restricted.jsonValue }
        if let last = g.lastInService {
            var counts: JSONObject = ["targetCount": .integer(Int64(last.targetCount))]
            if let minimum = last.minCount { counts["minCount"] = .integer(Int64(minimum)) }
            object["lastInService"] = .object(counts)
        }
        if let delay = g.retryDelay { object["retryDelay"] = .double(delay) }
        if let applied = g.appliedKubernetesConfig { object["appliedKubernetesConfig"] = applied.jsonValue }
        if let operation = g.operation { object["operation"] = .string(operation.rawValue) }
        if let image = g.currentImageID { object["currentImageID"] = .string(image) }
        if let image = g.desiredImageID { object["desiredImageID"] = .string(image) }
        if let status = g.softwareUpdateStatus { object["softwareUpdateStatus"] = .string(status.rawValue) }
        object["scheduleToken"] = .integer(Int64(g.scheduleToken))
        if g.incomingMoves != 0 { object["incomingMoves"] = .integer(Int64(g.incomingMoves)) }
        if g.awaitingPlanWindow { object["awaitingPlanWindow"] = .bool(true) }
        if let run = g.autoPatch {
            object["autoPatch"] = .object([
                "targetVersion": .string(run.targetVersion), "targetImage": .string(run.targetImage),
                "nextPatchDate": .integer(run.nextPatchDate.milliseconds), "desiredPatchDate": .integer(run.desiredPatchDate.milliseconds),
                "token": .integer(Int64(run.token)), "started": .bool(run.started), "windowEnded": .bool(run.windowEnded),
                "postponed": .bool(run.postponed), "patched": .array(run.patched.map(JSONValue.string)),
                "inFlight": .array(run.inFlight.map(JSONValue.string)), "skipped": .array(run.skipped.map(JSONValue.string)),
            ])
        }
        return .object(object)
    }

    static func decodeGroup(_ value: JSONValue, cluster arn: String) throws -> InstanceGroupRecord {
        guard let g = value.objectValue, let spec = g["spec"], let statusText = g["status"]?.stringValue,
              let status = InstanceGroupStatus(rawValue: statusText), let target = g["targetCount"]?.intValue
        else { throw StoreError.corrupt("group of \(arn)") }
        var group = InstanceGroupRecord(spec: try ClusterInstanceGroupSpecification(json: spec), status: status, targetCount: target)
        if let restricted = g["restrictedSpec"] { group.restrictedSpec = try ClusterRestrictedInstanceGroupSpecification(json: restricted) }
        if let last = g["lastInService"]?.objectValue, let target = last["targetCount"]?.intValue {
            group.lastInService = .init(targetCount: target, minCount: last["minCount"]?.intValue)
        }
        group.operation = g["operation"]?.stringValue.flatMap(GroupOperation.init(rawValue:))
        group.scheduleToken = g["scheduleToken"]?.intValue ?? 0
        group.incomingMoves = g["incomingMoves"]?.intValue ?? 0
        group.awaitingPlanWindow = g["awaitingPlanWindow"] == .bool(true)
        if let run = g["autoPatch"]?.objectValue {
            guard let version = run["targetVersion"]?.stringValue, let image = run["targetImage"]?.stringValue,
                  case .integer(let next)? = run["nextPatchDate"], case .integer(let desired)? = run["desiredPatchDate"],
                  let token = run["token"]?.intValue else { throw StoreError.corrupt("auto-patch of a group of \(arn)") }
            var decoded = AutoPatchRun(targetVersion: version, targetImage: image, nextPatchDate: VirtualTime(milliseconds: next), token: token)
            decoded.desiredPatchDate = VirtualTime(milliseconds: desired)
            decoded.started = run["started"] == .bool(true)
            decoded.windowEnded = run["windowEnded"] == .bool(true)
            decoded.postponed = run["postponed"] == .bool(true)
            decoded.patched = run["patched"]?.arrayValue?.compactMap(\.stringValue) ?? []
            decoded.inFlight = run["inFlight"]?.arrayValue?.compactMap(\.stringValue) ?? []
            decoded.skipped = run["skipped"]?.arrayValue?.compactMap(\.stringValue) ?? []
            group.autoPatch = decoded
        }
        group.currentImageID = g["currentImageID"]?.stringValue
        group.desiredImageID = g["desiredImageID"]?.stringValue
        group.softwareUpdateStatus = g["softwareUpdateStatus"]?.stringValue.flatMap(SoftwareUpdateStatus.init(rawValue:))
        group.minCountToken = g["minCountToken"]?.intValue ?? 0
        group.retryToken = g["retryToken"]?.intValue ?? 0
        group.batchInFlight = g["batchInFlight"] == .bool(true)
        switch g["retryDelay"] {
        case .double(let d)?: group.retryDelay = d
        case .integer(let i)?: group.retryDelay = Double(i)
        default: break
        }
        if let applied = g["appliedKubernetesConfig"] {
            group.appliedKubernetesConfig = try ClusterKubernetesConfig(json: applied)
        } else if g["minCountToken"] == nil {  // written before UpdateCluster existed: labels were applied as set
            group.appliedKubernetesConfig = group.spec.kubernetesConfig
        }
        return group
    }

    /// Decoded cluster records by the exact stored text they were decoded from (`memoKey`): a cluster is loaded
    /// again by every call and fired transition that concerns it, and its document is unchanged between most of them.
    /// The memo is content-addressed — the same row text always decodes to the same record — so it needs no
    /// invalidation (a rolled-back write leaves text that either matches an entry or not). Bounded: cleared when full.
    private static let decodedClusters = Mutex<[String: ClusterRecord]>([:])
    private static let decodedClustersLimit = 256

    static func decodeCluster(_ row: Row) throws -> ClusterRecord {
        let arn: String = row["arn"], document: String = row["document"], status: String = row["status"]
        let generation: Int64 = row["generation"], created: Int64 = row["created_at_ms"]
        let clusterID: String = row["cluster_id"], account: String = row["account"], region: String = row["region"]
        let key = memoKey(arn: arn, status: status, generation: generation, created: created, clusterID: clusterID, account: account,
                          region: region, document: document)
        if let record = decodedClusters.withLock({ $0[key] }) { return record }
        let record = try decodeClusterDocument(row)
        remember(record, key: key)
        return record
    }

    /// The memo key of a `clusters` row: every column `decodeClusterDocument` reads.
    static func memoKey(arn: String, status: String, generation: Int64, created: Int64, clusterID: String, account: String,
                        region: String, document: String) -> String {
        "\(arn)\u{1}\(status)\u{1}\(generation)\u{1}\(created)\u{1}\(clusterID)\u{1}\(account)\u{1}\(region)\u{1}\(document)"
    }

    private static func remember(_ record: ClusterRecord, key: String) {
        decodedClusters.withLock { memo in
            if memo.count >= decodedClustersLimit { memo.removeAll(keepingCapacity: true) }
            memo[key] = record
        }
    }

    /// `decodeCluster` without the memo: parses the row's document.
    static func decodeClusterDocument(_ row: Row) throws -> ClusterRecord {
        let arn: String = row["arn"]
        let document = try JSONParser.parse(Array((row["document"] as String).utf8))
        guard let object = document.objectValue, let request = object["request"],
              let status = ClusterStatus(rawValue: row["status"]) else { throw StoreError.corrupt("cluster \(arn)") }
        let groups = try (object["groups"]?.arrayValue ?? []).map { try decodeGroup($0, cluster: arn) }
        var cluster = ClusterRecord(
            arn: arn, clusterID: row["cluster_id"], account: row["account"], region: row["region"], status: status,
            creationTime: VirtualTime(milliseconds: row["created_at_ms"]), generation: row["generation"],
            request: try CreateClusterRequest(json: request), groups: groups, failureMessage: object["failureMessage"]?.stringValue
        )
        cluster.autoScalingStatus = object["autoScalingStatus"]?.stringValue.flatMap(ClusterAutoScalingStatus.init(rawValue:))
        cluster.appliedTieredStorageConfig = try object["appliedTieredStorageConfig"].map { try ClusterTieredStorageConfig(json: $0) }
        cluster.appliedAccountingDatabase = try object["appliedAccountingDatabase"].map { try ClusterAccountingDatabase(json: $0) }
        cluster.appliedSharedEnvironment = try object["appliedSharedEnvironment"].map { try ClusterSharedEnvironmentConfig(json: $0) }
        cluster.pendingConfigToken = object["pendingConfigToken"]?.intValue
        cluster.configTokens = object["configTokens"]?.intValue ?? 0
        cluster.timerTokens = object["timerTokens"]?.intValue
            ?? groups.map { max($0.minCountToken, $0.retryToken, $0.scheduleToken) }.max() ?? 0
        if let rollback = object["rollback"]?.objectValue, let previous = rollback["request"] {
            cluster.rollback = UpdateRollback(
                request: try CreateClusterRequest(json: previous),
                groups: try (rollback["groups"]?.arrayValue ?? []).map { try decodeGroup($0, cluster: arn) },
                newSlots: rollback["newSlots"]?.arrayValue?.compactMap(\.stringValue) ?? []
            )
        }
        if let run = object["softwareUpdate"]?.objectValue, let target = run["targetImage"]?.stringValue,
           let previous = run["previousImage"]?.stringValue,
           let phase = run["phase"]?.stringValue.flatMap(SoftwareUpdateRun.Phase.init(rawValue:)) {
            cluster.softwareUpdate = SoftwareUpdateRun(
                queue: run["queue"]?.arrayValue?.compactMap(\.stringValue) ?? [], current: run["current"]?.stringValue,
                targetImage: target, previousImage: previous,
                deployment: try run["deployment"].map { try DeploymentConfiguration(json: $0) },
                patched: run["patched"]?.arrayValue?.compactMap(\.stringValue) ?? [], phase: phase, batches: run["batches"]?.intValue ?? 0
            )
        }
        return cluster
    }

    static func encodeNodeDocument(_ n: NodeRecord) -> String {
        var object: JSONObject = ["message": .string(n.message), "slotCreated": .integer(n.slotCreated.milliseconds),
                                  "reachedRunning": .bool(n.reachedRunning)]
        if let launch = n.launchTime { object["launchTime"] = .integer(launch.milliseconds) }
        if let zone = n.zone { object["zone"] = .string(zone) }
        if let lcc = n.lifeCycleConfig { object["lifeCycleConfig"] = lcc.jsonValue }
        if let zones = n.allowedZones { object["allowedZones"] = .array(zones.map(JSONValue.string)) }
        if let types = n.allowedTypes { object["allowedTypes"] = .array(types.map(JSONValue.string)) }
        if n.rebooting { object["rebooting"] = .bool(true) }
        if let image = n.imageID { object["imageID"] = .string(image) }
        if let time = n.lastSoftwareUpdateTime { object["lastSoftwareUpdateTime"] = .integer(time.milliseconds) }
        if let subnet = n.subnet { object["subnet"] = .string(subnet) }
        if let rc = n.reservedCapacityARN { object["reservedCapacityArn"] = .string(rc) }
        if let server = n.ultraServerID { object["ultraServerId"] = .string(server) }
        if let type = n.ultraServerType { object["ultraServerType"] = .string(type) }
        if let target = n.moveTarget {
            object["moveTarget"] = .object(["clusterArn": .string(target.clusterARN), "clusterName": .string(target.clusterName),
                                            "instanceGroupName": .string(target.instanceGroupName)])
        }
        return String(decoding: JSONWriter.encode(.object(object)), as: UTF8.self)
    }

    /// The columns `decodeNode` reads, in its order (by position: a lookup by name costs a case-insensitive search).
    static let nodeColumns = "node_logical_id, instance_id, group_name, status, private_ip, instance_type, document"

    /// The nodes a statement selecting `nodeColumns` finds, decoded straight from SQLite's row (a cursor: no copy of
    /// each row first).
    static func decodeNodes(_ statement: Statement, arguments: StatementArguments) throws -> [NodeRecord] {
        var nodes: [NodeRecord] = []
        let cursor = try Row.fetchCursor(statement, arguments: arguments)
        while let row = try cursor.next() { nodes.append(try decodeNode(row)) }
        return nodes
    }

    /// A node from a row of `nodeColumns`.
    static func decodeNode(_ row: Row) throws -> NodeRecord {
        let logicalID: String = row[0]
        guard let object = try JSONParser.parse(Array((row[6] as String).utf8)).objectValue,
              let status = ClusterInstanceStatus(rawValue: row[3]),
              case .integer(let slotCreated)? = object["slotCreated"] else { throw StoreError.corrupt("node \(logicalID)") }
        var launch: VirtualTime? = nil
        if case .integer(let ms)? = object["launchTime"] { launch = VirtualTime(milliseconds: ms) }
        let ip: Int64? = row[4]
        var node = NodeRecord(
            logicalID: logicalID, instanceID: row[1], groupName: row[2], status: status,
            message: object["message"]?.stringValue ?? "", slotCreated: VirtualTime(milliseconds: slotCreated), launchTime: launch,
            privateIP: ip.map { UInt32(truncatingIfNeeded: $0) }, zone: object["zone"]?.stringValue,
            reachedRunning: object["reachedRunning"] == .bool(true), instanceType: row[5],
            lifeCycleConfig: try object["lifeCycleConfig"].map { try ClusterLifeCycleConfig(json: $0) }
        )
        node.allowedZones = object["allowedZones"]?.arrayValue?.compactMap(\.stringValue)
        node.allowedTypes = object["allowedTypes"]?.arrayValue?.compactMap(\.stringValue)
        node.rebooting = object["rebooting"] == .bool(true)
        node.imageID = object["imageID"]?.stringValue
        if case .integer(let ms)? = object["lastSoftwareUpdateTime"] { node.lastSoftwareUpdateTime = VirtualTime(milliseconds: ms) }
        node.subnet = object["subnet"]?.stringValue
        node.reservedCapacityARN = object["reservedCapacityArn"]?.stringValue
        node.ultraServerID = object["ultraServerId"]?.stringValue
        node.ultraServerType = object["ultraServerType"]?.stringValue
        if let target = object["moveTarget"]?.objectValue, let arn = target["clusterArn"]?.stringValue,
           let name = target["clusterName"]?.stringValue, let group = target["instanceGroupName"]?.stringValue {
            node.moveTarget = NodeMoveTarget(clusterARN: arn, clusterName: name, instanceGroupName: group)
        }
        return node
    }
}

/// Stored data that cannot be read back: a bug (or a database edited by hand).
public struct StoreError: Error, CustomStringConvertible {
    public let description: String
    public static func corrupt(_ what: String) -> StoreError { StoreError(description: "stored \(what) cannot be decoded") }
}

/// A stored cluster whose document (or one of its node rows) cannot be decoded: a database edited by hand, or a bug.
/// It carries what the `clusters` row's own columns still say, so the service can answer with the state it has
/// (DescribeCluster) and remove the record (DeleteCluster) instead of failing every call on it (issue #14).
public struct DamagedClusterRecord: Error, CustomStringConvertible, Sendable {
    public let arn: String
    public let name: String
    /// The stored `status` column, as text (it may itself be what is damaged).
    public let status: String
    /// `created_at_ms`, virtual time.
    public let creationTime: VirtualTime
    /// What failed to decode.
    public let reason: String

    public var description: String { "stored cluster \(arn) cannot be decoded: \(reason)" }

    /// `decode()`, with any decoding error turned into a `DamagedClusterRecord` of `row` (a `clusters` row).
    /// SQLite's own errors pass through: they are not damage to this record.
    static func guarding<T>(_ row: Row, _ decode: () throws -> T) throws -> T {
        do {
            return try decode()
        } catch let error as DatabaseError {
            throw error
        } catch {
            throw DamagedClusterRecord(arn: row["arn"], name: row["name"], status: row["status"],
                                       creationTime: VirtualTime(milliseconds: row["created_at_ms"]), reason: String(describing: error))
        }
    }
}
