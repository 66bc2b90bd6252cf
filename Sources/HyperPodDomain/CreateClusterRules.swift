import SageMakerShapes

/// The business checks of `CreateCluster` that need no stored state (spec R50–R64, in the order of R49: R64 first,
/// then R50 … R63). Each answers a `ValidationException` with one message, no count prefix (spec R23).
public enum CreateClusterRules {
    /// The first failing check's message, nil when the request passes them all.
    public static func firstViolation(_ r: CreateClusterRequest, allowRestrictedGroups: Bool = false) -> String? {
        let groups = r.instanceGroups ?? []
        let restricted = r.restrictedInstanceGroups ?? []
        let isEKS = r.orchestrator?.eks != nil
        let isContinuous = r.nodeProvisioningMode == .continuous
        let slurmGroups = groups.filter { $0.slurmConfig != nil }
        let apiDrivenSlurm = !isEKS && (r.orchestrator?.slurm != nil || !slurmGroups.isEmpty)

        // R64
        if !restricted.isEmpty && !allowRestrictedGroups {
            return "Found RestrictedInstanceGroups in the cluster input. Please remove RestrictedInstanceGroups from the request and try again."
        }
        // R50
        if groups.isEmpty && restricted.isEmpty {
            return "At least one of InstanceGroups or RestrictedInstanceGroups must be specified."
        }
        var names: Set<String> = []
        for name in groups.map(\.instanceGroupName) + restricted.map(\.instanceGroupName) where !names.insert(name).inserted {
            return "Duplicate instance group name \(name)."
        }
        // R51
        for g in groups where (g.instanceType == nil) == (g.instanceRequirements == nil) {
            return "Exactly one of InstanceType or InstanceRequirements must be specified for instance group \(g.instanceGroupName)."
        }
        if groups.contains(where: { $0.instanceRequirements != nil }) && !isContinuous {
            return "InstanceRequirements requires NodeProvisioningMode to be set to Continuous."
        }
        // R53
        if let orchestrator = r.orchestrator, (orchestrator.eks == nil) == (orchestrator.slurm == nil) {
            return "Orchestrator must specify exactly one of Eks or Slurm."
        }
        // R54
        if isEKS {
            if r.vpcConfig == nil { return "VpcConfig is required for clusters with an Eks orchestrator." }
            for g in groups where g.lifeCycleConfig == nil {
                return "LifeCycleConfig is required for instance group \(g.instanceGroupName)."
            }
        }
        // R55
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
        // R58
        if isEKS && !slurmGroups.isEmpty { return "SlurmConfig is only supported for Slurm clusters." }
        if !isEKS && groups.contains(where: { $0.kubernetesConfig != nil }) {
            return "KubernetesConfig is only supported for clusters with an Eks orchestrator."
        }
        // R59
        for g in groups {
            let storage = g.instanceStorageConfigs ?? []
            var lustre = 0, zfs = 0, roots = 0, secondaries = 0
            for config in storage {
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
            if (lustre + zfs) > 0 && r.vpcConfig == nil { return "FSx configurations are only supported for Custom VPC" }
            if lustre > 1 || zfs > 1 {
                return "At most one FsxLustreConfig and one FsxOpenZfsConfig may be specified for instance group \(g.instanceGroupName)."
            }
            if roots > 1 || secondaries > 1 {
                return "At most one root and one secondary EbsVolumeConfig may be specified for instance group \(g.instanceGroupName)."
            }
        }
        // R60
        if !isEKS && r.vpcConfig == nil && groups.contains(where: { $0.overrideVpcConfig != nil }) {
            return "OverrideVpcConfig requires a cluster-level VpcConfig for Slurm clusters."
        }
        for g in groups {
            if let capacity = g.capacityRequirements, (capacity.spot == nil) == (capacity.onDemand == nil) {
                return "CapacityRequirements must specify exactly one of Spot or OnDemand."
            }
        }
        // R61
        if isContinuous && apiDrivenSlurm && r.orchestrator?.slurm?.slurmConfigStrategy != nil {
            return "SlurmConfigStrategy is not supported for clusters with NodeProvisioningMode set to Continuous."
        }
        if isContinuous && !isEKS && r.orchestrator?.slurm != nil && slurmGroups.count != groups.count {
            return "SlurmConfig must be specified for every instance group when any instance group specifies it."
        }
        // R62
        for g in groups {
            guard let minimum = g.minInstanceCount else { continue }
            if !isContinuous { return "MinInstanceCount is only supported for clusters with NodeProvisioningMode set to Continuous." }
            if minimum > g.instanceCount {
                return "MinInstanceCount (\(minimum)) must be less than or equal to InstanceCount (\(g.instanceCount)) for instance group \(g.instanceGroupName)."
            }
        }
        // R63: on the resulting configuration (NodeRecovery omitted counts as Automatic, R90).
        if r.autoScaling?.mode == .enable {
            if !isEKS { return "AutoScaling is only supported for clusters with an Eks orchestrator." }
            if !isContinuous { return "AutoScaling requires NodeProvisioningMode to be set to Continuous." }
            if (r.nodeRecovery ?? .automatic) != .automatic { return "AutoScaling requires NodeRecovery to be set to Automatic." }
            if r.clusterRole == nil { return "ClusterRole is required when AutoScaling Mode is Enable." }
        }
        return nil
    }
}
