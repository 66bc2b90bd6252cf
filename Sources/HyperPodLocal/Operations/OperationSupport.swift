import AWSJSONProtocol
import HTTP1
import HyperPodStore
import HyperPodDomain
import JSON
import SageMakerShapes

extension AWSRequestContext {
    /// The caller's partition of state (spec R27).
    var partition: ClusterStore.Partition { .init(account: identity.accountID, region: identity.region) }
}

/// The AWS errors of the cluster operations, with the spec's texts.
enum ClusterErrors {
    /// 400 `ResourceNotFound` `Could not find cluster '<arn>'`, echoing an ARN as passed and turning a name into the
    /// ARN it would have (spec R32).
    static func notFound(_ nameOrARN: String, context: AWSRequestContext) -> AWSError {
        let arn = nameOrARN.hasPrefix("arn:") ? nameOrARN
            : Identifiers.clusterARN(partition: context.identity.partition, region: context.identity.region,
                                     account: context.identity.accountID, clusterID: nameOrARN)
        return AWSError.resourceNotFound("Could not find cluster '\(arn)'")
    }

    /// 400 `ResourceNotFound` `Could not find node '<id>' in cluster '<cluster-arn>'` (spec R94).
    static func nodeNotFound(_ id: String, cluster arn: String) -> AWSError {
        AWSError.resourceNotFound("Could not find node '\(id)' in cluster '\(arn)'")
    }

    /// 400 `ValidationException` for a call on a cluster whose stored record cannot be decoded (a database edited by
    /// hand, or a bug): it names the damage and the way out. Emulator decision (issue #14): a 400, not a 500, so SDKs
    /// do not retry a call that cannot succeed.
    static func damaged(_ record: DamagedClusterRecord) -> AWSError {
        AWSError.validation("hyperpod-local cannot read the stored record of cluster '\(record.arn)' (\(record.reason)); "
                            + "DescribeCluster shows what is left of it and DeleteCluster removes it.")
    }

    /// The `FailureMessage` DescribeCluster gives a cluster whose stored record cannot be decoded.
    static func damagedFailureMessage(_ record: DamagedClusterRecord) -> String {
        "hyperpod-local cannot read the stored record of this cluster (\(record.reason)); DeleteCluster removes it."
    }
}

extension ClusterService {
    /// The cluster `nameOrARN` names in the caller's partition, or `ResourceNotFound` (spec R31, R32).
    /// - Throws: `ResourceNotFound`; `ValidationException` naming the damage for a record that cannot be decoded
    ///   (`ClusterErrors.damaged`).
    func resolveCluster(_ nameOrARN: String, context: AWSRequestContext, db: StoreTransaction) throws -> ClusterLifecycle {
        try resolveClusterAllowingDamage(nameOrARN, context: context, db: db).mapError(ClusterErrors.damaged).get()
    }

    /// `resolveCluster`, with a damaged record as a value instead of an error: DescribeCluster answers with what its
    /// row says, DeleteCluster removes it (issue #14: one bad record is reported, never a 500).
    /// - Throws: `ResourceNotFound`; SQLite errors.
    func resolveClusterAllowingDamage(
        _ nameOrARN: String, context: AWSRequestContext, db: StoreTransaction
    ) throws -> Result<ClusterLifecycle, DamagedClusterRecord> {
        let arn = try resolveClusterARN(nameOrARN, context: context, db: db)
        do {
            guard let lifecycle = try ClusterStore.load(arn, db: db) else { throw ClusterErrors.notFound(nameOrARN, context: context) }
            return .success(lifecycle)
        } catch let damaged as DamagedClusterRecord {
            return .failure(damaged)
        }
    }
}

/// Opaque, stable `NextToken`s (spec R95): base64url of the last returned key, bound to the operation and to a digest
/// of the partition, cluster and filter/sort parameters. A token that does not decode or belongs to other parameters
/// is `Invalid NextToken value.`
struct PageToken {
    static let invalid = AWSError.validation("Invalid NextToken value.")

    static func make(operation: String, binding: String, key: [String]) -> String {
        let object: JSONObject = ["o": .string(operation), "b": .string(digest(binding)), "k": .array(key.map(JSONValue.string))]
        return base64URL(JSONWriter.encode(.object(object)))
    }

    /// The key a token resumes after; nil for no token or `""` (the first page). The token is not secret (anyone can
    /// build one), so its key must have exactly `keyCount` strings, or it is refused.
    /// - Throws: `invalid`.
    static func key(_ token: String?, operation: String, binding: String, keyCount: Int = 2) throws -> [String]? {
        guard let token, !token.isEmpty else { return nil }
        guard let bytes = decodeBase64URL(token), let object = try? JSONParser.parse(bytes).objectValue,
              object["o"] == .string(operation), object["b"] == .string(digest(binding)),
              let elements = object["k"]?.arrayValue, elements.count == keyCount else { throw invalid }
        let key = elements.compactMap(\.stringValue)
        guard key.count == keyCount else { throw invalid }
        return key
    }

    /// One page of `items` (spec R95): sorted by `key` (text order, ties by its second part; numbers zero-padded with
    /// `sortKey`), resuming after the key of `token`, at most `limit` items, with the token of the next page when items
    /// remain (`""` otherwise: R11).
    /// - Throws: `invalid` for a token that is not this listing's.
    static func page<Item>(
        _ items: [Item], key: (Item) -> [String], descending: Bool, token: String?, operation: String, binding: String,
        limit: Int
    ) throws -> (items: [Item], nextToken: String) {
        let after = try self.key(token, operation: operation, binding: binding)
        func less(_ a: [String], _ b: [String]) -> Bool { a.lexicographicallyPrecedes(b) }
        var keyed = items.map { (key: key($0), item: $0) }.sorted { less($0.key, $1.key) }
        if descending { keyed.reverse() }
        if let after { keyed.removeAll { descending ? !less($0.key, after) : !less(after, $0.key) } }
        let page = keyed.prefix(limit)
        let next = keyed.count > limit ? make(operation: operation, binding: binding, key: page.last!.key) : ""
        return (page.map(\.item), next)
    }

    /// Where a keyset page (R95) resumes: the key `token` carries, as the store's typed keyset; nil on a first page.
    /// `firstIsTime`: the first sort key is epoch milliseconds, which the token carries zero-padded (`sortKey`).
    /// - Throws: `invalid` for a token that is not this listing's.
    static func keyset(_ token: String?, operation: String, binding: String, firstIsTime: Bool) throws -> ClusterStore.Keyset? {
        guard let key = try key(token, operation: operation, binding: binding) else { return nil }
        guard key.count == 2 else { throw invalid }
        if firstIsTime {
            guard let ms = Int64(key[0]) else { throw invalid }
            return ClusterStore.Keyset(first: .milliseconds(ms), second: key[1])
        }
        return ClusterStore.Keyset(first: .text(key[0]), second: key[1])
    }

    private static func digest(_ text: String) -> String {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in text.utf8 { hash = (hash ^ UInt64(byte)) &* 0x0000_0100_0000_01b3 }
        return String(hash, radix: 36)
    }

    static func base64URL(_ bytes: [UInt8]) -> String { Base64.encode(bytes, alphabet: .url) }

    static func decodeBase64URL(_ text: String) -> [UInt8]? {
        text.utf8.contains(UInt8(ascii: "=")) ? nil : Base64.decode(text, alphabet: .url)
    }
}
