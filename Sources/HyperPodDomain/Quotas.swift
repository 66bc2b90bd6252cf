import SageMakerShapes

/// Account-level quotas of spec R84, checked on every scale-up; the first exceeded (in `Quota` order) answers
/// `ResourceLimitExceeded`. A request whose delta is ≤ 0 never fails a quota.
public enum Quotas {
    /// Prefix of the quota key of plan-backed groups' instances (spec R223): no per-type quota applies to them.
    public static let reservedPrefix = "reserved:"

    /// A quota by its AWS name, with its unit.
    public enum Quota: Sendable, Equatable {
        case instancesOfType(String)
        /// `<type> for training plan usage` (spec R205, RA15): instances of a `ReservedCapacityInstanceType` in plans.
        case trainingPlanInstances(String)
        case instancesPerCluster
        case totalInstances
        case clusters
        case ebsVolumeSize
        /// Live compute quotas of one cluster (spec R259).
        case computeQuotasPerCluster

        public var name: String {
            switch self {
            case .instancesOfType(let type): "\(type) for cluster usage"
            case .trainingPlanInstances(let type): "\(type) for training plan usage"
            case .instancesPerCluster: "Maximum number instances allowed per SageMaker HyperPod cluster"
            case .totalInstances: "Total number of instances allowed across SageMaker HyperPod clusters"
            case .clusters: "Number of SageMaker HyperPod clusters"
            case .ebsVolumeSize: "Maximum size of EBS volume in GB for a SageMaker HyperPod cluster instance"
            case .computeQuotasPerCluster: "Compute quotas per SageMaker HyperPod cluster"
            }
        }

        public var unit: String {
            switch self {
            case .clusters: "Clusters"
            case .computeQuotasPerCluster: "Compute quotas"
            case .ebsVolumeSize: "GB"
            default: "Instances"
            }
        }

        /// The quotas that are not per instance type.
        public static let fixed: [Quota] = [.instancesPerCluster, .totalInstances, .clusters, .ebsVolumeSize, .computeQuotasPerCluster]

        /// The quota named `name` (R84): one of `fixed`, or `<instance type> for cluster usage`.
        public init?(name: String) {
            if let quota = Self.fixed.first(where: { $0.name == name }) {
                self = quota
            } else if name.hasSuffix(" for cluster usage"), ClusterInstanceType(rawValue: String(name.dropLast(" for cluster usage".count))) != nil {
                self = .instancesOfType(String(name.dropLast(" for cluster usage".count)))
            } else if name.hasSuffix(" for training plan usage"),
                      ReservedCapacityInstanceType(rawValue: String(name.dropLast(" for training plan usage".count))) != nil {
                self = .trainingPlanInstances(String(name.dropLast(" for training plan usage".count)))
            } else {
                return nil
            }
        }

        /// The default limit (spec R84).
        public var defaultLimit: Int {
            switch self {
            case .instancesOfType: 100
            case .trainingPlanInstances: 256
            case .instancesPerCluster: 2500
            case .totalInstances: 5000
            case .clusters: 100
            case .ebsVolumeSize: 16384
            case .computeQuotasPerCluster: 100
            }
        }
    }

    /// A quota that a request would exceed.
    public struct Violation: Error, Sendable, Equatable {
        public let quota: Quota
        public let limit: Int
        public let usage: Int
        public let delta: Int

        public init(quota: Quota, limit: Int, usage: Int, delta: Int) {
            self.quota = quota
            self.limit = limit
            self.usage = usage
            self.delta = delta
        }

        /// The spec's text (R84).
        public var message: String {
            let u = quota.unit
            return "The account-level service limit '\(quota.name)' is \(limit) \(u), with current utilization of \(usage) \(u) "
                + "and a request delta of \(delta) \(u). Please use AWS Service Quotas to request an increase for this quota. "
                + "If AWS Service Quotas is not available, contact AWS support to request an increase for this quota."
        }
    }

    /// The per-cluster quota alone (spec R323: the only one a move into another cluster checks): a cluster whose
    /// TargetCounts total `clusterTotal` grows by `delta`.
    /// - Returns: the violation, nil when the quota holds or `delta` ≤ 0.
    public static func perClusterViolation(clusterTotal: Int, delta: Int, limits: [String: Int] = [:]) -> Violation? {
        let limit = limits[Quota.instancesPerCluster.name] ?? Quota.instancesPerCluster.defaultLimit
        guard delta > 0, clusterTotal + delta > limit else { return nil }
        return Violation(quota: .instancesPerCluster, limit: limit, usage: clusterTotal, delta: delta)
    }

    /// What a partition already uses: TargetCount by instance type over its clusters that are not `Deleting`, and
    /// how many such clusters there are.
    public struct Usage: Sendable, Equatable {
        public var instancesByType: [String: Int]
        public var clusters: Int

        public init(instancesByType: [String: Int] = [:], clusters: Int = 0) {
            self.instancesByType = instancesByType
            self.clusters = clusters
        }

        public var totalInstances: Int { instancesByType.values.reduce(0, +) }
    }

    /// Checks a change of one cluster's groups, in the spec's order.
    /// - Parameters:
    ///   - before: the cluster's TargetCount by type before the request (empty for a new cluster).
    ///   - after: the same after it, types in request order.
    ///   - newCluster: the request creates a cluster (the cluster-count quota applies).
    ///   - ebsVolumeSizes: every `VolumeSizeInGB` the request sets.
    ///   - limits: overrides of the default limits, by quota name.
    /// - Returns: the first quota exceeded, nil when none is.
    public static func firstViolation(
        usage: Usage, before: [(String, Int)], after: [(String, Int)], newCluster: Bool, ebsVolumeSizes: [Int],
        limits: [String: Int] = [:]
    ) -> Violation? {
        func limit(_ quota: Quota) -> Int { limits[quota.name] ?? quota.defaultLimit }
        func total(_ counts: [(String, Int)], type: String? = nil) -> Int {
            counts.filter { type == nil || $0.0 == type }.reduce(0) { $0 + $1.1 }
        }
        var seen: Set<String> = []
        for (type, _) in after where !type.hasPrefix(reservedPrefix) && seen.insert(type).inserted {
            let delta = total(after, type: type) - total(before, type: type)
            let used = usage.instancesByType[type, default: 0]
            let quota = Quota.instancesOfType(type)
            if delta > 0 && used + delta > limit(quota) {
                return Violation(quota: quota, limit: limit(quota), usage: used, delta: delta)
            }
        }
        let clusterDelta = total(after) - total(before)
        if clusterDelta > 0 && total(before) + clusterDelta > limit(.instancesPerCluster) {
            return Violation(quota: .instancesPerCluster, limit: limit(.instancesPerCluster), usage: total(before), delta: clusterDelta)
        }
        if clusterDelta > 0 && usage.totalInstances + clusterDelta > limit(.totalInstances) {
            return Violation(quota: .totalInstances, limit: limit(.totalInstances), usage: usage.totalInstances, delta: clusterDelta)
        }
        if newCluster && usage.clusters + 1 > limit(.clusters) {
            return Violation(quota: .clusters, limit: limit(.clusters), usage: usage.clusters, delta: 1)
        }
        for size in ebsVolumeSizes where size > limit(.ebsVolumeSize) {
            return Violation(quota: .ebsVolumeSize, limit: limit(.ebsVolumeSize), usage: 0, delta: size)
        }
        return nil
    }
}
