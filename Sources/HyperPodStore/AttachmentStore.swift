import GRDB
import HyperPodDomain

/// The volume and network-interface attachments of cluster nodes (spec R327–R333), a row each in `node_attachments`,
/// inside the caller's transaction; they go with their cluster.
public enum AttachmentStore {
    /// The attachment of a resource in a partition, nil when there is none (rows of instances that are gone included:
    /// the caller decides, R331).
    public static func attachment(
        _ kind: NodeAttachmentRecord.Kind, _ resourceID: String, in partition: ClusterStore.Partition, db transaction: StoreTransaction
    ) throws -> NodeAttachmentRecord? {
        try Row.fetchOne(transaction.database.cachedStatement(sql: """
            SELECT * FROM node_attachments WHERE account = ? AND region = ? AND kind = ? AND resource_id = ?
            """), arguments: [partition.account, partition.region, kind.rawValue, resourceID]).map(decode)
    }

    /// The attachments of one kind on an instance.
    public static func attachments(
        _ kind: NodeAttachmentRecord.Kind, onInstance instanceID: String, db transaction: StoreTransaction
    ) throws -> [NodeAttachmentRecord] {
        try Row.fetchAll(transaction.database.cachedStatement(sql: "SELECT * FROM node_attachments WHERE instance_id = ? AND kind = ?"),
                         arguments: [instanceID, kind.rawValue]).map(decode)
    }

    /// Every attachment of a cluster (the admin state route).
    public static func attachments(ofCluster arn: String, db transaction: StoreTransaction) throws -> [NodeAttachmentRecord] {
        try Row.fetchAll(transaction.database.cachedStatement(sql: "SELECT * FROM node_attachments WHERE cluster_arn = ? ORDER BY attach_time_ms, resource_id"),
                         arguments: [arn]).map(decode)
    }

    /// Inserts or replaces the attachment of its resource.
    public static func save(_ a: NodeAttachmentRecord, in partition: ClusterStore.Partition, db transaction: StoreTransaction) throws {
        try transaction.database.cachedStatement(sql: """
            INSERT OR REPLACE INTO node_attachments (account, region, kind, resource_id, cluster_arn, node_logical_id, instance_id,
                device_name, attachment_id, status, attach_time_ms, settles_at_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            """).execute(arguments: [partition.account, partition.region, a.kind.rawValue, a.resourceID, a.clusterARN, a.nodeLogicalID,
                                     a.instanceID, a.deviceName, a.attachmentID, a.status.rawValue, a.attachTime.milliseconds,
                                     a.settlesAt?.milliseconds])
    }

    /// Removes the attachment of a resource.
    public static func remove(_ kind: NodeAttachmentRecord.Kind, _ resourceID: String, in partition: ClusterStore.Partition,
                              db transaction: StoreTransaction) throws {
        try transaction.database.cachedStatement(sql: "DELETE FROM node_attachments WHERE account = ? AND region = ? AND kind = ? AND resource_id = ?")
            .execute(arguments: [partition.account, partition.region, kind.rawValue, resourceID])
    }

    /// The earliest instant after `now` at which an attachment settles (RA11's settle advances to it, R346).
    public static func nextSettle(after now: VirtualTime, db transaction: StoreTransaction) throws -> VirtualTime? {
        try Int64.fetchOne(transaction.database.cachedStatement(sql: "SELECT MIN(settles_at_ms) FROM node_attachments WHERE settles_at_ms > ?"),
                           arguments: [now.milliseconds]).map(VirtualTime.init(milliseconds:))
    }

    static func decode(_ row: Row) throws -> NodeAttachmentRecord {
        guard let kind = NodeAttachmentRecord.Kind(rawValue: row["kind"]), let status = NodeAttachmentRecord.Status(rawValue: row["status"])
        else { throw StoreError.corrupt("attachment \(row["resource_id"] as String)") }
        return NodeAttachmentRecord(
            kind: kind, resourceID: row["resource_id"], clusterARN: row["cluster_arn"], nodeLogicalID: row["node_logical_id"],
            instanceID: row["instance_id"], deviceName: row["device_name"], attachmentID: row["attachment_id"], status: status,
            attachTime: VirtualTime(milliseconds: row["attach_time_ms"]),
            settlesAt: (row["settles_at_ms"] as Int64?).map(VirtualTime.init(milliseconds:)))
    }
}
