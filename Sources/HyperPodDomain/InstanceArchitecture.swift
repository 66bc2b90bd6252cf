import SageMakerShapes

/// The processor architecture of a HyperPod instance type (spec R345): the Graviton families `c6g`, `c7g`, `c8g`,
/// `m6g`, `m7g`, `m8g` are `arm64`, every other type `x86_64`. Groups get the HyperPod AMI of their architecture.
/// Source: emulator decision (R345).
public enum InstanceArchitecture: String, Sendable, Equatable {
    case arm64
    case x86_64

    /// The architecture of `type` (`ml.<family>.<size>`).
    public init(_ type: ClusterInstanceType) {
        let family = type.rawValue.split(separator: ".").dropFirst().first ?? ""
        self = ["c6g", "c7g", "c8g", "m6g", "m7g", "m8g"].contains(family) ? .arm64 : .x86_64
    }

    /// Whether `type` runs two threads per core: not the arm64 types, not `ml.c8a.16xlarge` / `ml.m8a.16xlarge`
    /// (spec R345).
    public static func supportsTwoThreadsPerCore(_ type: ClusterInstanceType) -> Bool {
        InstanceArchitecture(type) == .x86_64 && type.rawValue != "ml.c8a.16xlarge" && type.rawValue != "ml.m8a.16xlarge"
    }
}
