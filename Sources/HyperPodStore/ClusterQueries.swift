import GRDB
import HyperPodDomain
import JSON
import SageMakerShapes

/// Reads over many clusters or nodes, and the client tokens of BatchAddClusterNodes, inside the caller's transaction.
extension ClusterStore {
    /// Instances held in a partition, by type and zone (`""` for no zone): a slot holds one from launch until it is
    /// removed (R116).
    public static func instancesHeld(in partition: Partition, db: StoreTransaction) throws -> [String: [String: Int]] {
        var held: [String: [String: Int]] = [:]
        for row in try Row.fetchAll(db.database.cachedStatement(sql: """
            SELECT n.instance_type, n.zone, COUNT(*) FROM cluster_nodes n
            JOIN clusters c ON c.arn = n.cluster_arn
            WHERE c.account = ? AND c.region = ? AND n.instance_id IS NOT NULL AND n.instance_type IS NOT NULL
                AND n.reserved_capacity_arn IS NULL
            GROUP BY n.instance_type, n.zone
            """), arguments: [partition.account, partition.region]) {
            held[row[0] as String, default: [:]][(row[1] as String?) ?? "", default: 0] += row[2] as Int
        }
        return held
    }

    /// The clusters with a node holding a unit of RC `arn` (spec R226), in creation order.
    public static func clusters(holdingUnitsOf arn: String, db: StoreTransaction) throws -> [String] {
        try String.fetchAll(db.database.cachedStatement(sql: """
            SELECT DISTINCT n.cluster_arn FROM cluster_nodes n JOIN clusters c ON c.arn = n.cluster_arn
            WHERE n.reserved_capacity_arn = ? ORDER BY c.created_at_ms, c.arn
            """), arguments: [arn])
    }

    /// How many clusters, over every partition, have one of these statuses.
    /// Whether some cluster node currently holds instance `instanceID` (an attachment ends with its instance, R331).
    public static func instanceExists(_ instanceID: String, db: StoreTransaction) throws -> Bool {
        try Bool.fetchOne(db.database.cachedStatement(sql: "SELECT EXISTS (SELECT 1 FROM cluster_nodes WHERE instance_id = ?)"),
                          arguments: [instanceID]) ?? false
    }

    public static func count(withStatus statuses: [ClusterStatus], db: StoreTransaction) throws -> Int {
        let marks = statuses.map { _ in "?" }.joined(separator: ", ")
        return try Int.fetchOne(db.database, sql: "SELECT COUNT(*) FROM clusters WHERE status IN (\(marks))",
                                arguments: StatementArguments(statuses.map(\.rawValue))) ?? 0
    }

    /// The ARNs of the clusters, over every partition, in this status.
    public static func arns(withStatus status: ClusterStatus, db: StoreTransaction) throws -> [String] {
        try String.fetchAll(db.database.cachedStatement(sql: "SELECT arn FROM clusters WHERE status = ? ORDER BY arn"), arguments: [status.rawValue])
    }

    // MARK: Keyset pages (R95)

    /// Where a keyset page resumes: after the row whose sort key is (`first`, `second`) in the page's order.
    public struct Keyset: Sendable, Equatable {
        /// The first sort column's value: text (a name), or epoch milliseconds (a time).
        public enum First: Sendable, Equatable {
            case text(String)
            case milliseconds(Int64)
        }

        public var first: First
        /// The tie-breaker: a cluster's ARN, or a node's instance id (else its logical id).
        public var second: String

        public init(first: First, second: String) {
            self.first = first
            self.second = second
        }
    }

    /// A cluster as ListClusters shows it, without its document.
    public struct ClusterListing: Sendable {
        public var arn: String
        public var name: String
        public var status: String
        public var createdAt: VirtualTime
        /// The groups' TrainingPlanArns (R92), in group order.
        public var trainingPlanARNs: [String]
    }

    /// Up to `limit` clusters of a partition in (`CreationTime` | name, ARN) order after `after`, by keyset on the
    /// creation or name index: a page reads only its rows.
    public static func clusterPage(
        in partition: Partition, byName: Bool, descending: Bool, after: Keyset?, limit: Int, db: StoreTransaction
    ) throws -> [ClusterListing] {
        let first = byName ? "name" : "created_at_ms"
        var sql = "SELECT arn, name, status, created_at_ms, training_plan_arns FROM clusters WHERE account = ? AND region = ?"
        var arguments: [any DatabaseValueConvertible] = [partition.account, partition.region]
        keysetTail(&sql, &arguments, first: first, second: "arn", descending: descending, after: after, limit: limit)
        return try Row.fetchAll(db.database.cachedStatement(sql: sql), arguments: StatementArguments(arguments)).map { row in
            let plans = try (row[4] as String?).map { try JSONParser.parse($0).arrayValue?.compactMap(\.stringValue) ?? [] } ?? []
            return ClusterListing(arn: row[0], name: row[1], status: row[2], createdAt: VirtualTime(milliseconds: row[3]),
                                  trainingPlanARNs: plans)
        }
    }

    /// What a node page keeps (ListClusterNodes' filters, R93).
    public struct NodeFilter: Sendable {
        /// Slots without an instance too (`IncludeNodeLogicalIds`).
        public var includeSlotsWithoutInstance = false
        /// Case-insensitive substring of the group name.
        public var groupNameContains: String?
        /// Launched strictly after / before, epoch milliseconds (fractions kept: the comparison is exact).
        public var launchedAfter: Double?
        public var launchedBefore: Double?

        public init(includeSlotsWithoutInstance: Bool = false, groupNameContains: String? = nil, launchedAfter: Double? = nil,
                    launchedBefore: Double? = nil) {
            self.includeSlotsWithoutInstance = includeSlotsWithoutInstance
            self.groupNameContains = groupNameContains
            self.launchedAfter = launchedAfter
            self.launchedBefore = launchedBefore
        }
    }

    /// Up to `limit` node slots of a cluster in (launch time | group name, instance id or logical id) order after
    /// `after`, by keyset on the node indexes: a page costs its own rows at any offset.
    public static func nodePage(
        of arn: String, filter: NodeFilter, byName: Bool, descending: Bool, after: Keyset?, limit: Int, db: StoreTransaction
    ) throws -> [NodeRecord] {
        var sql = "SELECT \(nodeColumns) FROM cluster_nodes WHERE cluster_arn = ?"
        var arguments: [any DatabaseValueConvertible] = [arn]
        if !filter.includeSlotsWithoutInstance { sql += " AND instance_id IS NOT NULL" }
        if let fragment = filter.groupNameContains {
            sql += " AND instr(lower(group_name), ?) > 0"
            arguments.append(fragment.lowercased())
        }
        if let after = filter.launchedAfter { sql += " AND launch_at_ms > ?"; arguments.append(after) }
        if let before = filter.launchedBefore { sql += " AND launch_at_ms < ?"; arguments.append(before) }
        keysetTail(&sql, &arguments, first: byName ? "group_name" : "launch_at_ms", second: "node_key",
                   descending: descending, after: after, limit: limit)
        return try decodeNodes(db.database.cachedStatement(sql: sql), arguments: StatementArguments(arguments))
    }

    /// Appends the condition that resumes after `after` (none on a first page), then `ORDER BY … LIMIT ?`.
    static func keysetTail(
        _ sql: inout String, _ arguments: inout [any DatabaseValueConvertible], first: String, second: String,
        descending: Bool, after: Keyset?, limit: Int
    ) {
        if let after {
            sql += " AND (\(first), \(second)) \(descending ? "<" : ">") (?, ?)"
            switch after.first {
            case .text(let text): arguments.append(text)
            case .milliseconds(let ms): arguments.append(ms)
            }
            arguments.append(after.second)
        }
        let direction = descending ? "DESC" : "ASC"
        sql += " ORDER BY \(first) \(direction), \(second) \(direction) LIMIT ?"
        arguments.append(limit)
    }

    // MARK: BatchAddClusterNodes client tokens (R100)

    /// A stored answer of a BatchAddClusterNodes call with a `ClientToken`.
    public struct ClientTokenRecord: Sendable {
        /// The request's `NodesToAdd`, as JSON text.
        public var parameters: String
        /// The answer, as JSON text.
        public var response: String
        public var createdAt: VirtualTime

        public init(parameters: String, response: String, createdAt: VirtualTime) {
            self.parameters = parameters
            self.response = response
            self.createdAt = createdAt
        }
    }

    public static func clientToken(_ token: String, cluster arn: String, db: StoreTransaction) throws -> ClientTokenRecord? {
        try Row.fetchOne(db.database.cachedStatement(sql: "SELECT parameters, response, created_at_ms FROM client_tokens WHERE cluster_arn = ? AND token = ?"),
                         arguments: [arn, token]).map {
            ClientTokenRecord(parameters: $0[0], response: $0[1], createdAt: VirtualTime(milliseconds: $0[2]))
        }
    }

    /// The newest record of `token` kept with any cluster of a partition (a token that is the caller's, not one
    /// cluster's: MoveClusterNodes, R326).
    public static func clientToken(_ token: String, in partition: Partition, db: StoreTransaction) throws -> ClientTokenRecord? {
        try Row.fetchOne(db.database.cachedStatement(sql: """
            SELECT t.parameters, t.response, t.created_at_ms FROM client_tokens t JOIN clusters c ON c.arn = t.cluster_arn
            WHERE c.account = ? AND c.region = ? AND t.token = ? ORDER BY t.created_at_ms DESC LIMIT 1
            """), arguments: [partition.account, partition.region, token]).map {
            ClientTokenRecord(parameters: $0[0], response: $0[1], createdAt: VirtualTime(milliseconds: $0[2]))
        }
    }

    public static func saveClientToken(_ token: String, cluster arn: String, record: ClientTokenRecord, db: StoreTransaction) throws {
        try db.database.execute(
            sql: """
                INSERT INTO client_tokens (cluster_arn, token, parameters, response, created_at_ms) VALUES (?, ?, ?, ?, ?)
                ON CONFLICT(cluster_arn, token) DO UPDATE SET parameters = excluded.parameters,
                    response = excluded.response, created_at_ms = excluded.created_at_ms
                """,
            arguments: [arn, token, record.parameters, record.response, record.createdAt.milliseconds])
    }
}
