import AWSJSONProtocol
import GRDB
import HyperPodDomain
import SageMakerShapes

extension ClusterService {
    /// `CreateCluster` (spec §6): business checks, then the cluster `Creating` with its groups; setup completes after
    /// T_setup (spec R67, C1). Checks not yet implemented here: R53–R63 (orchestrator, EKS/Slurm specifics, FSx, EBS,
    /// MinInstanceCount, AutoScaling); quota limits are the defaults (no `--quota` yet).
    /// - Throws: `ValidationException` (R50, R51, R64), `ResourceInUse` (R66), `ResourceLimitExceeded` (R84).
    func createCluster(_ input: CreateClusterRequest, context: AWSRequestContext) throws -> CreateClusterResponse {
        try perform { db, now in
            // R64: restricted instance groups are refused at create.
            if !(input.restrictedInstanceGroups ?? []).isEmpty {
                throw AWSError.validation("Found RestrictedInstanceGroups in the cluster input. Please remove RestrictedInstanceGroups from the request and try again.")
            }
            // R50.
            let groups = input.instanceGroups ?? []
            if groups.isEmpty {
                throw AWSError.validation("At least one of InstanceGroups or RestrictedInstanceGroups must be specified.")
            }
            var seen: Set<String> = []
            for group in groups where !seen.insert(group.instanceGroupName).inserted {
                throw AWSError.validation("Duplicate instance group name \(group.instanceGroupName).")
            }
            // R51.
            for group in groups where (group.instanceType == nil) == (group.instanceRequirements == nil) {
                throw AWSError.validation("Exactly one of InstanceType or InstanceRequirements must be specified for instance group \(group.instanceGroupName).")
            }
            if groups.contains(where: { $0.instanceRequirements != nil }) && input.nodeProvisioningMode != .continuous {
                throw AWSError.validation("InstanceRequirements requires NodeProvisioningMode to be set to Continuous.")
            }
            // R66: a name in use in the partition, also by a Deleting or Failed cluster.
            if try ClusterStore.resolve(input.clusterName, in: context.partition, db: db) != nil {
                throw AWSError(code: "ResourceInUse", message: "Cluster \(input.clusterName) already exists.")
            }
            // R84: quotas, after every business check.
            if let violation = Quotas.firstViolation(
                usage: try quotaUsage(in: context.partition, db: db), before: [],
                after: groups.map { (Self.chargedType($0), $0.instanceCount) }, newCluster: true,
                ebsVolumeSizes: groups.flatMap { ($0.instanceStorageConfigs ?? []).compactMap {
                    if case .ebsVolumeConfig(let ebs) = $0 { ebs.volumeSizeInGB } else { nil }
                } }
            ) {
                throw AWSError(code: "ResourceLimitExceeded", message: violation.message)
            }
            // R30: a new 12-character id, never reused.
            var clusterID: String
            repeat {
                clusterID = generator.withLock { Identifiers.clusterID(using: &$0) }
            } while try !ClusterStore.claimIdentifier(kind: "cluster-id", "\(context.identity.accountID)/\(clusterID)", db: db)
            let arn = Identifiers.clusterARN(partition: context.identity.partition, region: context.identity.region,
                                             account: context.identity.accountID, clusterID: clusterID)
            let (lifecycle, effects) = ClusterLifecycle.create(
                request: input, arn: arn, clusterID: clusterID, account: context.identity.accountID,
                region: context.identity.region, at: now, timing: timing
            )
            let timers = try apply(effects, to: lifecycle, at: now, db: db)
            try TransitionScheduler.schedule(timers, in: db)
            try ClusterStore.addTags(input.tags ?? [], to: arn, db: db)
            return CreateClusterResponse(clusterArn: arn)
        }
    }

    /// The instance type a group's count is charged to (spec R84: a flexible group to its first type).
    static func chargedType(_ group: ClusterInstanceGroupSpecification) -> String {
        group.instanceType?.rawValue ?? group.instanceRequirements?.instanceTypes.first?.rawValue ?? "unknown"
    }

    /// TargetCount by type over the partition's clusters that are not `Deleting` (`Failed` ones included), and how
    /// many such clusters there are (spec R84).
    func quotaUsage(in partition: ClusterStore.Partition, db: Database) throws -> Quotas.Usage {
        var usage = Quotas.Usage()
        for row in try ClusterStore.rows(in: partition, db: db) where row.status != ClusterStatus.deleting.rawValue {
            guard let lifecycle = try ClusterStore.load(row.arn, db: db) else { continue }
            usage.clusters += 1
            for group in lifecycle.cluster.groups {
                usage.instancesByType[Self.chargedType(group.spec), default: 0] += group.targetCount
            }
        }
        return usage
    }
}
