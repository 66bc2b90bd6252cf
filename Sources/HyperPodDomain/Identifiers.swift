/// Identifiers of clusters and nodes (spec R30, R33, R34), drawn from a random generator the caller passes in, so
/// `--seed N` makes every id reproducible for the same sequence of requests.
public enum Identifiers {
    private static let lowerAlphanumerics = Array("abcdefghijklmnopqrstuvwxyz0123456789")
    private static let hex = Array("0123456789abcdef")

    /// A cluster id: 12 characters `[a-z0-9]` (spec R30).
    public static func clusterID<G: RandomNumberGenerator>(using generator: inout G) -> String {
        String((0..<12).map { _ in lowerAlphanumerics[Int(generator.next(upperBound: UInt64(lowerAlphanumerics.count)))] })
    }

    /// An EC2 instance id: `i-` + 17 lowercase hex digits (spec R33).
    public static func instanceID<G: RandomNumberGenerator>(using generator: inout G) -> String {
        "i-" + String((0..<17).map { _ in hex[Int(generator.next(upperBound: UInt64(16)))] })
    }

    /// A NodeLogicalId or EventId: lowercase UUID v4 (spec R34).
    public static func uuid<G: RandomNumberGenerator>(using generator: inout G) -> String {
        var bytes = (0..<16).map { _ in UInt8(truncatingIfNeeded: generator.next()) }
        bytes[6] = (bytes[6] & 0x0F) | 0x40
        bytes[8] = (bytes[8] & 0x3F) | 0x80
        var out = ""
        for (i, byte) in bytes.enumerated() {
            if i == 4 || i == 6 || i == 8 || i == 10 { out.append("-") }
            out.append(hex[Int(byte >> 4)])
            out.append(hex[Int(byte & 0x0F)])
        }
        return out
    }

    /// `arn:<partition>:sagemaker:<region>:<account>:cluster/<id>` (spec R26, R30): never the name.
    public static func clusterARN(partition: String, region: String, account: String, clusterID: String) -> String {
        "arn:\(partition):sagemaker:\(region):\(account):cluster/\(clusterID)"
    }

    /// The parts of a cluster ARN, nil when `text` is not one.
    public static func parseClusterARN(_ text: String) -> (partition: String, region: String, account: String, clusterID: String)? {
        let parts = text.split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count == 6, parts[0] == "arn", parts[2] == "sagemaker", parts[5].hasPrefix("cluster/") else { return nil }
        let id = parts[5].dropFirst("cluster/".count)
        guard !id.isEmpty else { return nil }
        return (String(parts[1]), String(parts[3]), String(parts[4]), String(id))
    }
}

/// A small, fast, seedable generator (SplitMix64): `--seed N` gives the same ids for the same requests. Unseeded, it
/// starts from the system's random source.
public struct SeededGenerator: RandomNumberGenerator, Sendable {
    private var stateValue: UInt64

    public init(seed: UInt64) {
        stateValue = seed
    }

    public init() {
        var system = SystemRandomNumberGenerator()
        stateValue = system.next()
    }

    /// Resumes a generator whose `state` was saved: it continues the same sequence.
    public init(resuming state: UInt64) {
        stateValue = state
    }

    /// The whole state: `init(resuming:)` with it continues where this generator is.
    public var state: UInt64 { stateValue }

    public mutating func next() -> UInt64 {
        stateValue &+= 0x9E37_79B9_7F4A_7C15
        var z = stateValue
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
