import SageMakerShapes

/// The business checks of `CreateCluster` that need no stored state (spec R50–R64, in the order of R49: R64 first,
/// then R50 … R63). Each answers a `ValidationException` with one message, no count prefix (spec R23).
public enum CreateClusterRules {
    /// R341: `RestrictedInstanceGroupsConfig` needs a restricted group in the resulting configuration.
    public static let sharedEnvironmentWithoutRestrictedGroups = "RestrictedInstanceGroupsConfig requires at least one restricted instance group."

    /// The first failing check's message, nil when the request passes them all.
    public static func firstViolation(_ r: CreateClusterRequest, allowRestrictedGroups: Bool = false) -> String? {
        let groups = r.instanceGroups ?? []
        let restricted = r.restrictedInstanceGroups ?? []
        let isEKS = r.orchestrator?.eks != nil
        let isContinuous = r.nodeProvisioningMode == .continuous
        let slurmGroups = groups.filter { $0.slurmConfig != nil }
        let apiDrivenSlurm = !isEKS && (r.orchestrator?.slurm != nil || !slurmGroups.isEmpty)

        // R64 (R341: RestrictedInstanceGroupsConfig with it)
        if (!restricted.isEmpty || r.restrictedInstanceGroupsConfig != nil) && !allowRestrictedGroups {
            return "Found RestrictedInstanceGroups in the cluster input. Please remove RestrictedInstanceGroups from the request and try again."
        }
        // R50
        if groups.isEmpty && restricted.isEmpty {
            return "At least one of InstanceGroups or RestrictedInstanceGroups must be specified."
        }
        if r.restrictedInstanceGroupsConfig != nil && restricted.isEmpty {  // R341
            return sharedEnvironmentWithoutRestrictedGroups
        }
        var names: Set<String> = []
        for name in groups.map(\.instanceGroupName) + restricted.map(\.instanceGroupName) where !names.insert(name).inserted {
            return "Duplicate instance group name \(name)."
        }
        if let message = r51(groups, continuous: isContinuous) { return message }
        // R53
        if let orchestrator = r.orchestrator, (orchestrator.eks == nil) == (orchestrator.slurm == nil) {
            return "Orchestrator must specify exactly one of Eks or Slurm."
        }
        // R54
        if isEKS {
            if r.vpcConfig == nil { return "VpcConfig is required for clusters with an Eks orchestrator." }
        }
        if let message = r54(groups, eks: isEKS) ?? r55(groups) { return message }
        // R57 (R56 needs the stored state: checked by the operation)
        if apiDrivenSlurm {
            if slurmGroups.isEmpty { return "InstanceGroups must have a SlurmConfig with Controller node type" }
            if slurmGroups.count != groups.count {
                return "SlurmConfig must be specified for every instance group when any instance group specifies it."
            }
            if slurmGroups.filter({ $0.slurmConfig?.nodeType == .controller }).count != 1 {
                return "Cluster must have exactly one InstanceGroup with Controller node type"
            }
            if slurmGroups.filter({ $0.slurmConfig?.nodeType == .login }).count > 1 {
                return "Cluster must have at most one InstanceGroup with Login node type"
            }
            for g in slurmGroups where g.slurmConfig?.nodeType != .compute && !(g.slurmConfig?.partitionNames ?? []).isEmpty {
                return "Partitions can only be assigned to Compute node types"
            }
        }
        if let message = r58(groups, eks: isEKS) ?? r59(groups, vpc: r.vpcConfig != nil) ?? r60(groups, eks: isEKS, vpc: r.vpcConfig != nil) {
            return message
        }
        // R342
        if r.orchestrator?.slurm?.accountingDatabase != nil && !isContinuous {
            return "AccountingDatabase is only supported for clusters with NodeProvisioningMode set to Continuous."
        }
        // R61
        if isContinuous && apiDrivenSlurm && r.orchestrator?.slurm?.slurmConfigStrategy != nil {
            return "SlurmConfigStrategy is not supported for clusters with NodeProvisioningMode set to Continuous."
        }
        if let message = r61(groups, continuousSlurm: isContinuous && !isEKS && r.orchestrator?.slurm != nil) ?? r62(groups, continuous: isContinuous) {
            return message
        }
        // R63: on the resulting configuration (NodeRecovery omitted counts as Automatic, R90).
        if r.autoScaling?.mode == .enable {
            if !isEKS { return "AutoScaling is only supported for clusters with an Eks orchestrator." }
            if !isContinuous { return "AutoScaling requires NodeProvisioningMode to be set to Continuous." }
            if (r.nodeRecovery ?? .automatic) != .automatic { return "AutoScaling requires NodeRecovery to be set to Automatic." }
            if r.clusterRole == nil { return "ClusterRole is required when AutoScaling Mode is Enable." }
        }
        // R110
        for g in groups {
            if let expression = g.scheduledUpdateConfig?.scheduleExpression, CronSchedule(expression) == nil {
                return CronSchedule.invalidMessage(expression)
            }
        }
        return nil
    }

    // MARK: Group rules (also UpdateCluster, spec R83)

    /// R51: exactly one of `InstanceType` / `InstanceRequirements`; flexible groups need Continuous.
    public static func r51(_ groups: [ClusterInstanceGroupSpecification], continuous: Bool) -> String? {
        for g in groups where (g.instanceType == nil) == (g.instanceRequirements == nil) {
            return "Exactly one of InstanceType or InstanceRequirements must be specified for instance group \(g.instanceGroupName)."
        }
        if groups.contains(where: { $0.instanceRequirements != nil }) && !continuous {
            return "InstanceRequirements requires NodeProvisioningMode to be set to Continuous."
        }
        return r345(groups)
    }

    /// R345, checked with R51: a flexible group's types share one architecture; `ThreadsPerCore` 2 only on types that
    /// run two threads per core.
    public static func r345(_ groups: [ClusterInstanceGroupSpecification]) -> String? {
        for g in groups {
            let types = g.instanceType.map { [$0] } ?? g.instanceRequirements?.instanceTypes ?? []
            if Set(types.map(InstanceArchitecture.init)).count > 1 {
                return "InstanceRequirements.InstanceTypes of instance group \(g.instanceGroupName) mix arm64 and x86_64 instance types."
            }
            if g.threadsPerCore == 2, let type = types.first(where: { !InstanceArchitecture.supportsTwoThreadsPerCore($0) }) {
                return "ThreadsPerCore 2 is not supported for instance type \(type.rawValue) in instance group \(g.instanceGroupName)."
            }
        }
        return nil
    }

    /// R54: on EKS clusters every instance group has a `LifeCycleConfig`.
    public static func r54(_ groups: [ClusterInstanceGroupSpecification], eks: Bool) -> String? {
        guard eks else { return nil }
        for g in groups where g.lifeCycleConfig == nil { return "LifeCycleConfig is required for instance group \(g.instanceGroupName)." }
        return nil
    }

    /// R55: a `LifeCycleConfig` is complete and not contradictory.
    public static func r55(_ groups: [ClusterInstanceGroupSpecification]) -> String? {
        for g in groups {
            guard let lcc = g.lifeCycleConfig else { continue }
            if lcc.sourceS3Uri == nil && lcc.onCreate == nil && lcc.onInitComplete == nil {
                return "LifeCycleConfig for instance group \(g.instanceGroupName) is provided but contains no configuration."
            }
            if lcc.onCreate != nil && lcc.onInitComplete != nil {
                return "OnCreate and OnInitComplete in LifeCycleConfig are mutually exclusive for instance group \(g.instanceGroupName)."
            }
            if lcc.sourceS3Uri == nil {
                return "LifeCycleConfig for instance group \(g.instanceGroupName) is incomplete: SourceS3Uri is required when OnCreate or OnInitComplete is specified."
            }
        }
        return nil
    }

    /// R58: `SlurmConfig` only on Slurm clusters, `KubernetesConfig` only on EKS ones.
    public static func r58(_ groups: [ClusterInstanceGroupSpecification], eks: Bool) -> String? {
        if eks && groups.contains(where: { $0.slurmConfig != nil }) { return "SlurmConfig is only supported for Slurm clusters." }
        if !eks && groups.contains(where: { $0.kubernetesConfig != nil }) {
            return "KubernetesConfig is only supported for clusters with an Eks orchestrator."
        }
        return nil
    }

    /// R59: FSx needs a cluster `VpcConfig`; at most one FSx entry of each kind and one root and one secondary EBS
    /// entry per group, each well formed.
    public static func r59(_ groups: [ClusterInstanceGroupSpecification], vpc: Bool) -> String? {
        for g in groups {
            var lustre = 0, zfs = 0, roots = 0, secondaries = 0
            for config in g.instanceStorageConfigs ?? [] {
                switch config {
                case .fsxLustreConfig: lustre += 1
                case .fsxOpenZfsConfig: zfs += 1
                case .ebsVolumeConfig(let ebs):
                    if ebs.rootVolume == true {
                        roots += 1
                        if ebs.volumeSizeInGB != nil || ebs.volumeKmsKeyId == nil {
                            return "Root volume EbsVolumeConfig for instance group \(g.instanceGroupName) must specify VolumeKmsKeyId and must not specify VolumeSizeInGB."
                        }
                    } else {
                        secondaries += 1
                        if ebs.volumeSizeInGB == nil {
                            return "Secondary volume EbsVolumeConfig for instance group \(g.instanceGroupName) must specify VolumeSizeInGB."
                        }
                    }
                }
            }
            if (lustre + zfs) > 0 && !vpc { return "FSx configurations are only supported for Custom VPC" }
            if lustre > 1 || zfs > 1 {
                return "At most one FsxLustreConfig and one FsxOpenZfsConfig may be specified for instance group \(g.instanceGroupName)."
            }
            if roots > 1 || secondaries > 1 {
                return "At most one root and one secondary EbsVolumeConfig may be specified for instance group \(g.instanceGroupName)."
            }
        }
        return nil
    }

    /// R60: Slurm `OverrideVpcConfig` needs a cluster `VpcConfig`; `CapacityRequirements` sets exactly one of
    /// `Spot`/`OnDemand`.
    public static func r60(_ groups: [ClusterInstanceGroupSpecification], eks: Bool, vpc: Bool) -> String? {
        if !eks && !vpc && groups.contains(where: { $0.overrideVpcConfig != nil }) {
            return "OverrideVpcConfig requires a cluster-level VpcConfig for Slurm clusters."
        }
        for g in groups {
            if let capacity = g.capacityRequirements, (capacity.spot == nil) == (capacity.onDemand == nil) {
                return "CapacityRequirements must specify exactly one of Spot or OnDemand."
            }
        }
        return nil
    }

    /// R61: on Continuous Slurm clusters every group has a `SlurmConfig`.
    public static func r61(_ groups: [ClusterInstanceGroupSpecification], continuousSlurm: Bool) -> String? {
        if continuousSlurm && groups.contains(where: { $0.slurmConfig == nil }) {
            return "SlurmConfig must be specified for every instance group when any instance group specifies it."
        }
        return nil
    }

    /// R62: `MinInstanceCount` only on Continuous clusters, at most `InstanceCount`.
    public static func r62(_ groups: [ClusterInstanceGroupSpecification], continuous: Bool) -> String? {
        for g in groups {
            guard let minimum = g.minInstanceCount else { continue }
            if !continuous { return "MinInstanceCount is only supported for clusters with NodeProvisioningMode set to Continuous." }
            if minimum > g.instanceCount {
                return "MinInstanceCount (\(minimum)) must be less than or equal to InstanceCount (\(g.instanceCount)) for instance group \(g.instanceGroupName)."
            }
        }
        return nil
    }
}
