import GRDB
import HyperPodDomain
import JSON
import SageMakerShapes

/// The cluster operations (spec R303–R309), a row each in `cluster_operations`, inside the caller's transaction. They
/// go with their cluster (R309: `ON DELETE CASCADE`). The details live in a JSON document; type, status and creation
/// time are columns, for the listing's filters and order.
public enum ClusterOperationStore {
    /// Inserts or replaces an operation.
    public static func save(_ operation: ClusterOperationRecord, db transaction: StoreTransaction) throws {
        try transaction.database.cachedStatement(sql: """
            INSERT INTO cluster_operations (operation_id, cluster_arn, type, status, created_at_ms, document) VALUES (?, ?, ?, ?, ?, ?)
            ON CONFLICT(operation_id) DO UPDATE SET status = excluded.status, document = excluded.document
            """).execute(arguments: [operation.operationID, operation.clusterARN, operation.kind.rawValue, operation.status.rawValue,
                                     operation.creationTime.milliseconds, encodeDocument(operation)])
    }

    /// The `InProgress` operations of a cluster, oldest first.
    /// - Throws: `StoreError` for a row that cannot be decoded; SQLite errors.
    public static func inProgress(of clusterARN: String, db transaction: StoreTransaction) throws -> [ClusterOperationRecord] {
        try Row.fetchAll(transaction.database.cachedStatement(sql: """
            SELECT * FROM cluster_operations WHERE cluster_arn = ? AND status = 'InProgress' ORDER BY created_at_ms, operation_id
            """), arguments: [clusterARN]).map(decode)
    }

    /// The groups of a cluster with an `InProgress` Scaling detail (`ActiveOperations`, R306).
    public static func groupsScaling(in clusterARN: String, db transaction: StoreTransaction) throws -> Set<String> {
        var groups: Set<String> = []
        for operation in try inProgress(of: clusterARN, db: transaction) where operation.kind == .scaling {
            for detail in operation.scalingDetails where detail.status == .inProgress { groups.insert(detail.instanceGroupName) }
        }
        return groups
    }

    /// One operation of a cluster, nil when there is none.
    public static func operation(_ id: String, of clusterARN: String, db transaction: StoreTransaction) throws -> ClusterOperationRecord? {
        try Row.fetchOne(transaction.database.cachedStatement(sql: "SELECT * FROM cluster_operations WHERE operation_id = ? AND cluster_arn = ?"),
                         arguments: [id, clusterARN]).map(decode)
    }

    /// What ListClusterOperations filters on (R308); times are epoch milliseconds, both bounds strict.
    public struct Filter: Sendable {
        public var status: String?
        public var type: String?
        public var createdAfter: Int64?
        public var createdBefore: Int64?

        public init(status: String?, type: String?, createdAfter: Int64?, createdBefore: Int64?) {
            self.status = status
            self.type = type
            self.createdAfter = createdAfter
            self.createdBefore = createdBefore
        }
    }

    /// Every operation of a cluster matching `filter`, by creation time then id, ascending.
    public static func list(of clusterARN: String, filter: Filter, db transaction: StoreTransaction) throws -> [ClusterOperationRecord] {
        var sql = "SELECT * FROM cluster_operations WHERE cluster_arn = ?"
        var arguments: StatementArguments = [clusterARN]
        if let status = filter.status { sql += " AND status = ?"; arguments += [status] }
        if let type = filter.type { sql += " AND type = ?"; arguments += [type] }
        if let after = filter.createdAfter { sql += " AND created_at_ms > ?"; arguments += [after] }
        if let before = filter.createdBefore { sql += " AND created_at_ms < ?"; arguments += [before] }
        sql += " ORDER BY created_at_ms, operation_id"
        return try Row.fetchAll(transaction.database, sql: sql, arguments: arguments).map(decode)
    }

    /// Removes the operations R309 has purged at `now` (finished, created more than 14 virtual days before).
    public static func purge(of clusterARN: String, at now: VirtualTime, db transaction: StoreTransaction) throws {
        let cutoff = now.adding(seconds: -ClusterOperationRecord.retentionSeconds).milliseconds
        try transaction.database.cachedStatement(sql: """
            DELETE FROM cluster_operations WHERE cluster_arn = ? AND status != 'InProgress' AND created_at_ms < ?
            """).execute(arguments: [clusterARN, cutoff])
    }

    // MARK: Codec

    static func encodeDocument(_ o: ClusterOperationRecord) -> String {
        func counts(_ c: ClusterOperationRecord.Counts) -> JSONValue {
            var object: JSONObject = ["t": .integer(Int64(c.targetCount))]
            if let current = c.currentCount { object["c"] = .integer(Int64(current)) }
            if let min = c.minCount { object["m"] = .integer(Int64(min)) }
            return .object(object)
        }
        let object: JSONObject = [
            "details": .array(o.scalingDetails.map { d in
                .object(["g": .string(d.instanceGroupName), "s": .string(d.status.rawValue), "o": counts(d.original), "d": counts(d.desired)])
            }),
            "dhc": .array(o.deepHealthCheckConfigurations.map(\.jsonValue)),
            "nodes": .array(o.checkedNodes.map(JSONValue.string)),
            "dhcStatus": .string(o.deepHealthCheckStatus.rawValue),
        ]
        return String(decoding: JSONWriter.encode(.object(object)), as: UTF8.self)
    }

    static func decode(_ row: Row) throws -> ClusterOperationRecord {
        let id: String = row["operation_id"]
        guard let kind = ClusterOperationRecord.Kind(rawValue: row["type"]),
              let object = try JSONParser.parse(Array((row["document"] as String).utf8)).objectValue
        else { throw StoreError.corrupt("operation \(id)") }
        func counts(_ value: JSONValue?) throws -> ClusterOperationRecord.Counts {
            guard let c = value?.objectValue, let target = c["t"]?.intValue else { throw StoreError.corrupt("operation \(id)") }
            return .init(currentCount: c["c"]?.intValue, targetCount: target, minCount: c["m"]?.intValue)
        }
        let details = try (object["details"]?.arrayValue ?? []).map { value -> ClusterOperationRecord.ScalingDetail in
            guard let d = value.objectValue, let group = d["g"]?.stringValue,
                  let status = d["s"]?.stringValue.flatMap(ClusterOperationRecord.Status.init(rawValue:))
            else { throw StoreError.corrupt("operation \(id)") }
            return .init(instanceGroupName: group, status: status, original: try counts(d["o"]), desired: try counts(d["d"]))
        }
        return ClusterOperationRecord(
            operationID: id, clusterARN: row["cluster_arn"], kind: kind, creationTime: VirtualTime(milliseconds: row["created_at_ms"]),
            scalingDetails: details,
            deepHealthCheckConfigurations: try (object["dhc"]?.arrayValue ?? []).map { try InstanceGroupHealthCheckConfiguration(json: $0) },
            checkedNodes: object["nodes"]?.arrayValue?.compactMap(\.stringValue) ?? [],
            deepHealthCheckStatus: object["dhcStatus"]?.stringValue.flatMap(ClusterOperationRecord.Status.init(rawValue:)) ?? .inProgress)
    }
}
