import GRDB
import HyperPodDomain

/// The cluster extensions (spec R310–R319), a row each in `cluster_extensions`, inside the caller's transaction; they
/// go with their cluster (R317).
public enum ExtensionStore {
    /// Every extension row of a cluster (removed ones included until purged), by creation time then ARN.
    public static func extensions(of clusterARN: String, db transaction: StoreTransaction) throws -> [ClusterExtensionRecord] {
        try Row.fetchAll(transaction.database.cachedStatement(sql: """
            SELECT * FROM cluster_extensions WHERE cluster_arn = ? ORDER BY created_at_ms, extension_arn
            """), arguments: [clusterARN]).map(decode)
    }

    /// One extension row, nil when there is none.
    public static func extensionRecord(_ arn: String, db transaction: StoreTransaction) throws -> ClusterExtensionRecord? {
        try Row.fetchOne(transaction.database.cachedStatement(sql: "SELECT * FROM cluster_extensions WHERE extension_arn = ?"),
                         arguments: [arn]).map(decode)
    }

    /// The extensions whose step has ended by `now` but is still stored as running (`step_ends_at_ms <= now`).
    public static func endedSteps(by now: VirtualTime, db transaction: StoreTransaction) throws -> [ClusterExtensionRecord] {
        try Row.fetchAll(transaction.database.cachedStatement(sql: "SELECT * FROM cluster_extensions WHERE step_ends_at_ms <= ?"),
                         arguments: [now.milliseconds]).map(decode)
    }

    /// Inserts or replaces an extension.
    public static func save(_ e: ClusterExtensionRecord, db transaction: StoreTransaction) throws {
        try transaction.database.cachedStatement(sql: """
            INSERT OR REPLACE INTO cluster_extensions (extension_arn, cluster_arn, name, version, status, configuration, created_at_ms,
                modified_at_ms, step_ends_at_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
            """).execute(arguments: [e.extensionARN, e.clusterARN, e.name, e.version, e.status.rawValue, e.configuration,
                                     e.creationTime.milliseconds, e.lastModifiedTime.milliseconds, e.stepEndsAt?.milliseconds])
    }

    /// Removes an extension whose removal has ended.
    public static func remove(_ arn: String, db transaction: StoreTransaction) throws {
        try transaction.database.cachedStatement(sql: "DELETE FROM cluster_extensions WHERE extension_arn = ?").execute(arguments: [arn])
    }

    /// The earliest instant after `now` at which an extension step ends (settle advances to it, R346).
    public static func nextStepEnd(after now: VirtualTime, db transaction: StoreTransaction) throws -> VirtualTime? {
        try Int64.fetchOne(transaction.database.cachedStatement(sql: "SELECT MIN(step_ends_at_ms) FROM cluster_extensions WHERE step_ends_at_ms > ?"),
                           arguments: [now.milliseconds]).map(VirtualTime.init(milliseconds:))
    }

    static func decode(_ row: Row) throws -> ClusterExtensionRecord {
        guard let status = ClusterExtensionRecord.Status(rawValue: row["status"]) else {
            throw StoreError.corrupt("extension \(row["extension_arn"] as String)")
        }
        return ClusterExtensionRecord(
            extensionARN: row["extension_arn"], clusterARN: row["cluster_arn"], name: row["name"], version: row["version"], status: status,
            configuration: row["configuration"], creationTime: VirtualTime(milliseconds: row["created_at_ms"]),
            lastModifiedTime: VirtualTime(milliseconds: row["modified_at_ms"]),
            stepEndsAt: (row["step_ends_at_ms"] as Int64?).map(VirtualTime.init(milliseconds:)))
    }
}
