import GRDB
import JSON

/// Settings the admin API keeps per partition (spec §14a): capacity pool sizes (RA4), quota values (RA5). Each is a
/// JSON value under a name, read and written inside the caller's transaction.
public enum PartitionSettings {
    /// Capacity pool sizes: `{"<instance type>": {"<zone>" or "*": <instances>}}` (RA4).
    public static let capacity = "capacity"
    /// Quota values by R84 name: `{"<quota name>": <limit>}` (RA5).
    public static let quotas = "quotas"
    /// `restrictedInstanceGroupsOnCreate`: `"reject"` (default) or `"allow"` (RA8, R64).
    public static let restrictedInstanceGroupsOnCreate = "restrictedInstanceGroupsOnCreate"
    /// RA21: volumes attached per node (1–25, default 25).
    public static let volumeAttachmentLimit = "volumeAttachmentLimit"
    /// RA21: the partition's HyperPod AMI releases (absent: `1.0.0` of both architectures, R334).
    public static let amiReleases = "amiReleases"
    /// RA20: the extension catalogue, in the admin API's form (absent: the default catalogue, R310).
    public static let extensionCatalogue = "extensionCatalogue"
    /// RA21: network interfaces attached per node (at least 1, default 8).
    public static let networkInterfaceLimit = "networkInterfaceLimit"
    /// RA8 (R284): DeleteCluster with live task governance policies, `"block"` (default) or `"cascade"`.
    public static let governanceOnClusterDelete = "governanceOnClusterDelete"

    /// The stored value, nil when the partition never set it.
    public static func value(_ name: String, in partition: ClusterStore.Partition, db transaction: StoreTransaction) throws -> JSONValue? {
        let db = transaction.database
        guard let text = try String.fetchOne(
            db.cachedStatement(sql: "SELECT value FROM partition_settings WHERE account = ? AND region = ? AND name = ?"),
            arguments: [partition.account, partition.region, name]
        ) else { return nil }
        return try JSONParser.parse(text)
    }

    /// Stores a value (nil removes it: the configured default applies again).
    public static func set(_ name: String, _ value: JSONValue?, in partition: ClusterStore.Partition, db transaction: StoreTransaction) throws {
        let db = transaction.database
        guard let value else {
            try db.cachedStatement(sql: "DELETE FROM partition_settings WHERE account = ? AND region = ? AND name = ?").execute(
                           arguments: [partition.account, partition.region, name])
            return
        }
        try db.execute(
            sql: """
                INSERT INTO partition_settings (account, region, name, value) VALUES (?, ?, ?, ?)
                ON CONFLICT(account, region, name) DO UPDATE SET value = excluded.value
                """,
            arguments: [partition.account, partition.region, name, String(decoding: JSONWriter.encode(value), as: UTF8.self)]
        )
    }

    /// Pool sizes as stored: `[type: [zone or "*": instances]]`.
    public static func decodePools(_ value: JSONValue?) -> [String: [String: Int]] {
        var pools: [String: [String: Int]] = [:]
        for (type, zones) in value?.objectValue?.members ?? [] {
            var sizes: [String: Int] = [:]
            for (zone, size) in zones.objectValue?.members ?? [] { if let n = size.intValue { sizes[zone] = n } }
            pools[type] = sizes
        }
        return pools
    }

    public static func encodePools(_ pools: [String: [String: Int]]) -> JSONValue {
        var object = JSONObject()
        for type in pools.keys.sorted() {
            var zones = JSONObject()
            for zone in pools[type]!.keys.sorted() { zones[zone] = .integer(Int64(pools[type]![zone]!)) }
            object[type] = .object(zones)
        }
        return .object(object)
    }
}
