import AWSJSONProtocol
import HyperPodStore
import HyperPodDomain
import SageMakerShapes

extension ClusterService {
    /// `CreateCluster` (spec §6): business checks, then the cluster `Creating` with its groups; setup completes after
    /// T_setup (spec R67, C1). Quota values: `--quota`, overlaid by the partition's admin setting (RA5).
    /// - Throws: `ValidationException` (R50–R64), `ResourceInUse` (R66), `ResourceLimitExceeded` (R84).
    func createCluster(_ input: CreateClusterRequest, context: AWSRequestContext) throws -> CreateClusterResponse {
        try perform { db, now in
            // R64, R50 … R63 (spec R49 order).
            let allowRestricted = try PartitionSettings.value(
                PartitionSettings.restrictedInstanceGroupsOnCreate, in: context.partition, db: db) == .string("allow")  // RA8
            if let message = CreateClusterRules.firstViolation(input, allowRestrictedGroups: allowRestricted) {
                throw AWSError.validation(message)
            }
            let groups = input.instanceGroups ?? []
            // R335: each group's ImageReleaseVersion, against the partition's releases.
            let images = try imageCatalogue(in: context.partition, db: db)
            for group in groups { if let message = images.violation(group) { throw AWSError.validation(message) } }
            // R338: each group's AutoPatchConfig.
            for group in groups {
                if let message = AutoPatchRules.violation(group, eks: input.orchestrator?.eks != nil, images: images) {
                    throw AWSError.validation(message)
                }
            }
            // R56: one HyperPod cluster per EKS cluster in the partition, until its record is removed.
            if let eks = input.orchestrator?.eks?.clusterArn, try ClusterStore.isBound(eksClusterARN: eks, in: context.partition, db: db) {
                throw AWSError.validation("Specified cluster external resource id \(eks) already in use")
            }
            // R221: the groups on a training plan (instance groups, then restricted ones).
            let planned = groups + (input.restrictedInstanceGroups ?? []).map(ClusterInstanceGroupSpecification.init(restricted:))
            if let message = try planViolation(planned, vpc: input.vpcConfig, context: context, at: now, db: db) {
                throw AWSError.validation(message)
            }
            // R66: a name in use in the partition, also by a Deleting or Failed cluster.
            if try ClusterStore.resolve(input.clusterName, in: context.partition, db: db) != nil {
                throw AWSError.resourceInUse("Cluster \(input.clusterName) already exists.")
            }
            // R84: quotas, after every business check.
            if let violation = Quotas.firstViolation(
                usage: try ClusterStore.quotaUsage(in: context.partition, db: db), before: [],
                after: groups.map { ($0.quotaInstanceType, $0.instanceCount) }
                    + (input.restrictedInstanceGroups ?? []).map { ($0.instanceType.rawValue, $0.instanceCount) },
                newCluster: true, ebsVolumeSizes: Self.ebsVolumeSizes(groups.map { $0.instanceStorageConfigs }),
                limits: try quotaLimits(in: context.partition, db: db)
            ) {
                throw AWSError.resourceLimitExceeded(violation.message)
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
                region: context.identity.region, at: now, timing: timing, images: images
            )
            let timers = try apply(effects, to: lifecycle, at: now, db: db, records: .scaling)  // R303
            try TransitionStore.schedule(timers, db: db)
            try ClusterStore.addTags(input.tags ?? [], to: arn, db: db)
            return CreateClusterResponse(clusterArn: arn)
        }
    }

    /// Every `VolumeSizeInGB` in the groups' storage configurations (spec R84's EBS quota).
    static func ebsVolumeSizes(_ configs: [ClusterInstanceStorageConfigs?]) -> [Int] {
        configs.flatMap { ($0 ?? []).compactMap { if case .ebsVolumeConfig(let ebs) = $0 { ebs.volumeSizeInGB } else { nil } } }
    }
}
