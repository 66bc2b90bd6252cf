import GRDB
import HyperPodDomain
import JSON

/// What the server keeps beside the clusters, inside the caller's transaction: the clock (R38), the id generator's
/// state under `--seed` (R30), the injected faults (RA7), resets (RA2) and the counts of the metrics route (RA10).
public enum ServerStore {
    /// The persisted clock, nil on a new database.
    /// - Returns: nil also for a mode this build does not know.
    public static func clock(db: StoreTransaction) throws -> ClockState? {
        guard let row = try Row.fetchOne(db.database.cachedStatement(sql: "SELECT * FROM clock_state WHERE id = 1")),
              let mode = ClockMode(rawValue: row["mode"]) else { return nil }
        return ClockState(mode: mode, timeScale: row["time_scale"],
                          anchorVirtual: VirtualTime(milliseconds: row["anchor_virtual_ms"]), anchorWallMilliseconds: row["anchor_wall_ms"])
    }

    /// Persists the clock.
    public static func saveClock(_ clock: ClockState, db: StoreTransaction) throws {
        try db.database.execute(
            sql: """
                INSERT INTO clock_state (id, mode, time_scale, anchor_virtual_ms, anchor_wall_ms) VALUES (1, ?, ?, ?, ?)
                ON CONFLICT(id) DO UPDATE SET mode = excluded.mode, time_scale = excluded.time_scale,
                    anchor_virtual_ms = excluded.anchor_virtual_ms, anchor_wall_ms = excluded.anchor_wall_ms
                """,
            arguments: [clock.mode.rawValue, clock.timeScale, clock.anchorVirtual.milliseconds, clock.anchorWallMilliseconds]
        )
    }

    // MARK: Id generator (R30)

    /// The saved state of the generator of `seed`, nil when that seed never ran on this database.
    public static func generatorState(seed: UInt64, db: StoreTransaction) throws -> UInt64? {
        try Int64.fetchOne(db.database.cachedStatement(sql: "SELECT state FROM id_generators WHERE seed = ?"),
                           arguments: [Int64(bitPattern: seed)]).map { UInt64(bitPattern: $0) }
    }

    /// Saves the generator state of `seed` (it commits with the ids it made).
    public static func saveGeneratorState(_ state: UInt64, seed: UInt64, db: StoreTransaction) throws {
        try db.database.cachedStatement(sql: """
            INSERT INTO id_generators (seed, state) VALUES (?, ?) ON CONFLICT(seed) DO UPDATE SET state = excluded.state
            """).execute(arguments: [Int64(bitPattern: seed), Int64(bitPattern: state)])
    }

    // MARK: Faults (RA7)

    /// A stored fault: its id and its body as the admin API received it.
    public struct StoredFault: Sendable {
        public var id: String
        public var body: JSONObject
    }

    /// Every fault, in the order they were added.
    /// - Throws: `StoreError` for a body that is not a JSON object.
    public static func faults(db: StoreTransaction) throws -> [StoredFault] {
        try Row.fetchAll(db.database.cachedStatement(sql: "SELECT id, body FROM faults ORDER BY seq")).map { row in
            guard let body = try JSONParser.parse(row["body"] as String).objectValue else { throw StoreError.corrupt("fault \(row["id"] as String)") }
            return StoredFault(id: row["id"], body: body)
        }
    }

    public static func addFault(id: String, body: JSONObject, db: StoreTransaction) throws {
        try db.database.cachedStatement(sql: "INSERT INTO faults (id, body) VALUES (?, ?)").execute(arguments: [id, encode(body)])
    }

    /// Replaces a fault's body, keeping its place in the order.
    public static func updateFault(id: String, body: JSONObject, db: StoreTransaction) throws {
        try db.database.cachedStatement(sql: "UPDATE faults SET body = ? WHERE id = ?").execute(arguments: [encode(body), id])
    }

    public static func removeFault(id: String, db: StoreTransaction) throws {
        try db.database.cachedStatement(sql: "DELETE FROM faults WHERE id = ?").execute(arguments: [id])
    }

    public static func removeAllFaults(db: StoreTransaction) throws {
        try db.database.cachedStatement(sql: "DELETE FROM faults").execute()
    }

    // MARK: Reset (RA2) and counts (RA10)

    /// Empties one partition (its clusters with their nodes, events, tags and transitions, and its settings), or,
    /// with nil, everything (faults too). The clock, the id generators and the used identifiers stay.
    public static func reset(_ partition: ClusterStore.Partition?, db: StoreTransaction) throws {
        if let partition {
            let arns = try String.fetchAll(db.database.cachedStatement(sql: "SELECT arn FROM clusters WHERE account = ? AND region = ?"),
                                           arguments: [partition.account, partition.region])
            for arn in arns {
                try ClusterStore.remove(arn, db: db)
                try TransitionStore.cancel(resourceARN: arn, db: db)
            }
            try db.database.cachedStatement(sql: "DELETE FROM partition_settings WHERE account = ? AND region = ?").execute(
                                    arguments: [partition.account, partition.region])
            try TrainingPlanStore.reset(partition, db: db)
            try GovernanceStore.reset(partition, db: db)
        } else {
            try db.database.execute(sql: """
                DELETE FROM clusters; DELETE FROM scheduled_transitions; DELETE FROM partition_settings; DELETE FROM faults;
                DELETE FROM training_plans; DELETE FROM training_plan_offerings; DELETE FROM governance_policies;
                """)
        }
    }

    /// What the metrics route counts, over every partition.
    public struct Counts: Sendable {
        /// Clusters by `ClusterStatus`, in status order.
        public var clustersByStatus: [(status: String, count: Int)]
        /// Node slots by instance status, in status order.
        public var nodesByStatus: [(status: String, count: Int)]
        /// Transitions not yet fired (set-aside ones included).
        public var pendingTransitions: Int

        public init(clustersByStatus: [(status: String, count: Int)], nodesByStatus: [(status: String, count: Int)], pendingTransitions: Int) {
            self.clustersByStatus = clustersByStatus
            self.nodesByStatus = nodesByStatus
            self.pendingTransitions = pendingTransitions
        }
    }

    public static func counts(db: StoreTransaction) throws -> Counts {
        func grouped(_ table: String) throws -> [(status: String, count: Int)] {
            try Row.fetchAll(db.database, sql: "SELECT status, COUNT(*) FROM \(table) GROUP BY status ORDER BY status")
                .map { (status: $0[0] as String, count: $0[1] as Int) }
        }
        return Counts(clustersByStatus: try grouped("clusters"), nodesByStatus: try grouped("cluster_nodes"),
                      pendingTransitions: try Int.fetchOne(db.database.cachedStatement(sql: "SELECT COUNT(*) FROM scheduled_transitions")) ?? 0)
    }

    static func encode(_ object: JSONObject) -> String {
        String(decoding: JSONWriter.encode(.object(object)), as: UTF8.self)
    }
}
