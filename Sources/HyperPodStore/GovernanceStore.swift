import GRDB
import HyperPodDomain
import JSON
import SageMakerShapes

/// Task governance policies (spec R250–R287), a row each in `governance_policies` with every version and the tags in its
/// document, inside the caller's transaction. A policy outlives its cluster's record (R285).
public enum GovernanceStore {
    /// The policy of a kind with id `id` in a partition, nil when there is none.
    public static func policy(_ kind: GovernanceKind, id: String, in partition: ClusterStore.Partition,
                              db transaction: StoreTransaction) throws -> GovernancePolicyRecord? {
        try String.fetchOne(transaction.database.cachedStatement(sql: """
            SELECT document FROM governance_policies WHERE account = ? AND region = ? AND kind = ? AND id = ?
            """), arguments: [partition.account, partition.region, kind.rawValue, id]).map(decode)
    }

    /// The policy with ARN `arn`, nil when there is none.
    public static func policy(arn: String, db transaction: StoreTransaction) throws -> GovernancePolicyRecord? {
        try String.fetchOne(transaction.database.cachedStatement(sql: "SELECT document FROM governance_policies WHERE arn = ?"),
                            arguments: [arn]).map(decode)
    }

    /// A partition's policies of one kind, in creation order.
    public static func policies(_ kind: GovernanceKind, in partition: ClusterStore.Partition, db transaction: StoreTransaction) throws -> [GovernancePolicyRecord] {
        try String.fetchAll(transaction.database.cachedStatement(sql: """
            SELECT document FROM governance_policies WHERE account = ? AND region = ? AND kind = ? ORDER BY created_at_ms, arn
            """), arguments: [partition.account, partition.region, kind.rawValue]).map(decode)
    }

    /// The policies of a cluster (both kinds), in creation order (ties at one instant: the order they were created, the
    /// row order, which `save` keeps).
    public static func policies(ofCluster arn: String, db transaction: StoreTransaction) throws -> [GovernancePolicyRecord] {
        try String.fetchAll(transaction.database.cachedStatement(sql: """
            SELECT document FROM governance_policies WHERE cluster_arn = ? ORDER BY created_at_ms, rowid
            """), arguments: [arn]).map(decode)
    }

    /// Whether an id is already taken in a partition by a cluster or a policy of either kind (R251: unique across kinds).
    public static func idTaken(_ id: String, in partition: ClusterStore.Partition, db transaction: StoreTransaction) throws -> Bool {
        try Bool.fetchOne(transaction.database.cachedStatement(sql: """
            SELECT EXISTS (SELECT 1 FROM governance_policies WHERE account = ? AND region = ? AND id = ?)
                OR EXISTS (SELECT 1 FROM clusters WHERE account = ? AND region = ? AND cluster_id = ?)
            """), arguments: [partition.account, partition.region, id, partition.account, partition.region, id]) ?? false
    }

    /// Inserts or updates a policy (an update keeps its row, so the row order stays the creation order).
    public static func save(_ p: GovernancePolicyRecord, db transaction: StoreTransaction) throws {
        try transaction.database.cachedStatement(sql: """
            INSERT INTO governance_policies (arn, kind, id, account, region, cluster_arn, created_at_ms, document)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT(arn) DO UPDATE SET document = excluded.document
            """).execute(arguments: [p.arn, p.kind.rawValue, p.id, p.account, p.region, p.clusterARN, p.creationTime.milliseconds, encode(p)])
    }

    /// Removes a policy with its versions and tags (P10).
    public static func remove(arn: String, db transaction: StoreTransaction) throws {
        try transaction.database.cachedStatement(sql: "DELETE FROM governance_policies WHERE arn = ?").execute(arguments: [arn])
    }

    /// RA2: a partition's policies go, with their timers.
    static func reset(_ partition: ClusterStore.Partition, db transaction: StoreTransaction) throws {
        for arn in try String.fetchAll(transaction.database.cachedStatement(sql: "SELECT arn FROM governance_policies WHERE account = ? AND region = ?"),
                                       arguments: [partition.account, partition.region]) {
            try TransitionStore.cancel(resourceARN: arn, db: transaction)
        }
        try transaction.database.cachedStatement(sql: "DELETE FROM governance_policies WHERE account = ? AND region = ?")
            .execute(arguments: [partition.account, partition.region])
    }

    static func encode(_ p: GovernancePolicyRecord) -> String {
        var o: JSONObject = [
            "kind": .string(p.kind.rawValue), "id": .string(p.id), "arn": .string(p.arn), "name": .string(p.name),
            "account": .string(p.account), "region": .string(p.region), "clusterArn": .string(p.clusterARN),
            "clusterName": .string(p.clusterName), "status": .string(p.status.rawValue), "created": .integer(p.creationTime.milliseconds),
            "modified": .integer(p.lastModifiedTime.milliseconds), "token": .integer(Int64(p.token)),
            "versions": .array(p.versions.map { .object(["content": .object($0.content), "modified": .integer($0.lastModifiedTime.milliseconds)]) }),
            "tags": .array(p.tags.map { .object(["Key": .string($0.key), "Value": .string($0.value)]) }),
        ]
        if let reason = p.failureReason { o["failureReason"] = .string(reason) }
        if let pending = p.pending { o["pending"] = .string(pending.rawValue) }
        return String(decoding: JSONWriter.encode(.object(o)), as: UTF8.self)
    }

    static func decode(_ text: String) throws -> GovernancePolicyRecord {
        guard let o = try JSONParser.parse(text).objectValue, let kind = GovernanceKind(rawValue: o["kind"]?.stringValue ?? ""),
              let status = SchedulerResourceStatus(rawValue: o["status"]?.stringValue ?? ""), let id = o["id"]?.stringValue,
              let arn = o["arn"]?.stringValue, let name = o["name"]?.stringValue, let account = o["account"]?.stringValue,
              let region = o["region"]?.stringValue, let cluster = o["clusterArn"]?.stringValue, case .integer(let created)? = o["created"],
              case .integer(let modified)? = o["modified"], let versions = o["versions"]?.arrayValue, !versions.isEmpty else {
            throw StoreError.corrupt("task governance policy")
        }
        var p = GovernancePolicyRecord(
            kind: kind, id: id, arn: arn, name: name, account: account, region: region, clusterARN: cluster,
            clusterName: o["clusterName"]?.stringValue ?? "", content: [:], at: VirtualTime(milliseconds: created),
            tags: (o["tags"]?.arrayValue ?? []).compactMap { t in
                guard let k = t.objectValue?["Key"]?.stringValue, let v = t.objectValue?["Value"]?.stringValue else { return nil }
                return Tag(key: k, value: v)
            })
        p.versions = try versions.map { v in
            guard let content = v.objectValue?["content"]?.objectValue, case .integer(let ms)? = v.objectValue?["modified"] else {
                throw StoreError.corrupt("task governance policy version")
            }
            return GovernanceVersion(content: content, lastModifiedTime: VirtualTime(milliseconds: ms))
        }
        p.status = status
        p.lastModifiedTime = VirtualTime(milliseconds: modified)
        p.failureReason = o["failureReason"]?.stringValue
        p.pending = o["pending"]?.stringValue.flatMap(GovernanceOperation.init(rawValue:))
        p.token = o["token"]?.intValue ?? 0
        return p
    }
}
