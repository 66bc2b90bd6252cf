import AWSJSONProtocol
import HyperPodStore
import HyperPodDomain
import JSON
import SageMakerShapes

extension ClusterService {
    /// `DescribeCluster` (spec R90, R91), by name or ARN.
    /// - Throws: `ResourceNotFound` (R32).
    func describeCluster(_ input: DescribeClusterRequest, context: AWSRequestContext) throws -> DescribeClusterResponse {
        let key = "\(context.partition.account)|\(context.partition.region)|\(input.clusterName)"
        let onQueue = onStateQueue
        if onQueue {
            processDue()
            if let cached = describeCache[key] { return cached }
        }
        // Off the queue (`readQueue`) the read is a snapshot: its answer is cached only if no change came in between.
        let epoch = cacheEpoch
        let response = try read { db, now in
            switch try resolveClusterAllowingDamage(input.clusterName, context: context, db: db) {
            case .success(let lifecycle):
                Self.describe(lifecycle, scalingGroups: try ClusterOperationStore.groupsScaling(in: lifecycle.cluster.arn, db: db),
                              images: try imageCatalogue(in: context.partition, db: db),
                              planStatuses: try planStatuses(of: lifecycle.cluster, at: now, db: db))
            case .failure(let damaged): Self.describe(damaged)
            }
        }
        if onQueue { describeCache[key] = response }
        cacheDescribe(response, key: key, readSince: epoch)
        return response
    }

    /// A cached DescribeCluster answer for a decoded call, from any thread (the event loop); nil on a miss, or when a
    /// transition is due (the answer may be stale then).
    func cachedDescribe(_ call: AWSCall) -> [UInt8]? {
        guard let name = call.input["ClusterName"]?.stringValue else { return nil }
        return cachedDescribe(key: "\(call.context.partition.account)|\(call.context.partition.region)|\(name)")
    }

    /// What DescribeCluster says of a cluster whose stored record cannot be decoded (issue #14): the state its row
    /// still holds (ARN, name, status, creation time), no groups, and a `FailureMessage` naming the damage.
    static func describe(_ damaged: DamagedClusterRecord) -> DescribeClusterResponse {
        DescribeClusterResponse(
            clusterArn: damaged.arn, clusterName: damaged.name, clusterStatus: ClusterStatus(rawValue: damaged.status) ?? .failed,
            creationTime: damaged.creationTime.epochSeconds, failureMessage: ClusterErrors.damagedFailureMessage(damaged), instanceGroups: [])
    }

    /// DescribeCluster's answer for a cluster. `scalingGroups`: the groups with an `InProgress` Scaling operation
    /// detail, which show `ActiveOperations` `{"Scaling": 1}` (R45 as R306 refines it: exactly while the detail is).
    /// `planStatuses`: each plan-backed group's `TrainingPlanStatus` by lower-cased plan ARN (R228).
    static func describe(_ lifecycle: ClusterLifecycle, scalingGroups: Set<String>, images: ImageCatalogue,
                         planStatuses: [String: String] = [:]) -> DescribeClusterResponse {
        let c = lifecycle.cluster
        let request = c.request
        var groups: [ClusterInstanceGroupDetails] = []
        var restricted: [ClusterRestrictedInstanceGroupDetails] = []
        for group in c.groups {
            let spec = group.spec
            let current = lifecycle.currentCount(of: group.name)
            if let r = group.restrictedSpec {
                restricted.append(ClusterRestrictedInstanceGroupDetails(
                    currentCount: current, targetCount: group.targetCount, instanceGroupName: group.name,
                    instanceType: r.instanceType, executionRole: r.executionRole, threadsPerCore: r.threadsPerCore ?? 1,
                    instanceStorageConfigs: spec.instanceStorageConfigs, onStartDeepHealthChecks: spec.onStartDeepHealthChecks,
                    status: group.status, trainingPlanArn: r.trainingPlanArn,
                    trainingPlanStatus: r.trainingPlanArn.flatMap { planStatuses[$0.lowercased()] }, overrideVpcConfig: r.overrideVpcConfig,
                    scheduledUpdateConfig: spec.scheduledUpdateConfig,
                    environmentConfig: r.environmentConfig.map { EnvironmentConfigDetails(fSxLustreConfig: $0.fSxLustreConfig) }
                ))
                continue
            }
            let currentImage = group.currentImage(region: c.region)
            let desiredImage = group.desiredImage(region: c.region)
            let run = c.softwareUpdate
            let targeted = run.map { $0.current == group.name || $0.queue.contains(group.name) } ?? false
            let targetState = lifecycle.nodes.filter {
                $0.groupName == group.name && $0.instanceID != nil && lifecycle.image(of: $0) == desiredImage
            }.count
            // R72: Desired* at once, Current* once reconciled.
            let kubernetes = (spec.kubernetesConfig ?? group.appliedKubernetesConfig).map { _ in
                ClusterKubernetesConfigDetails(
                    currentLabels: group.appliedKubernetesConfig?.labels, desiredLabels: spec.kubernetesConfig?.labels,
                    currentTaints: group.appliedKubernetesConfig?.taints, desiredTaints: spec.kubernetesConfig?.taints
                )
            }
            // R76: a flexible group's types and what runs of each.
            var requirements: ClusterInstanceRequirementDetails?
            var typeDetails: [ClusterInstanceTypeDetail]?
            if let desired = spec.instanceRequirements?.instanceTypes {
                let held = lifecycle.nodes.filter { $0.groupName == group.name && $0.isCurrent }.compactMap(\.instanceType)
                var currentTypes = desired.filter { held.contains($0.rawValue) }
                for type in held.compactMap(ClusterInstanceType.init(rawValue:)) where !currentTypes.contains(type) { currentTypes.append(type) }
                requirements = ClusterInstanceRequirementDetails(currentInstanceTypes: currentTypes, desiredInstanceTypes: desired)
                typeDetails = (currentTypes + desired.filter { !currentTypes.contains($0) }).map { type in
                    ClusterInstanceTypeDetail(instanceType: type, currentCount: held.filter { $0 == type.rawValue }.count,
                                              threadsPerCore: spec.threadsPerCore ?? 1)
                }
            }
            groups.append(ClusterInstanceGroupDetails(
                currentCount: current, targetCount: group.targetCount,
                minCount: spec.minInstanceCount, instanceGroupName: group.name, instanceType: spec.instanceType,
                instanceRequirements: requirements, instanceTypeDetails: typeDetails,
                lifeCycleConfig: spec.lifeCycleConfig, executionRole: spec.executionRole,
                threadsPerCore: spec.threadsPerCore ?? 1, instanceStorageConfigs: spec.instanceStorageConfigs,
                onStartDeepHealthChecks: spec.onStartDeepHealthChecks, status: group.status, trainingPlanArn: spec.trainingPlanArn,
                trainingPlanStatus: spec.trainingPlanArn.flatMap { planStatuses[$0.lowercased()] },  // R228
                overrideVpcConfig: spec.overrideVpcConfig, scheduledUpdateConfig: spec.scheduledUpdateConfig,
                autoPatchConfig: spec.autoPatchConfig.map { AutoPatchRules.details($0, run: group.autoPatch) },  // R338, R339
                currentImageId: currentImage, desiredImageId: desiredImage,
                // R337: the release versions of HyperPod AMIs (omitted for custom ones) and the group's status.
                currentImageReleaseVersion: images.release(ofImage: currentImage)?.version,
                desiredImageReleaseVersion: images.release(ofImage: desiredImage)?.version,
                imageVersionStatus: images.status(ofImage: currentImage),
                activeOperations: c.isContinuous && scalingGroups.contains(group.name) ? ["Scaling": 1] : nil,
                kubernetesConfig: kubernetes, capacityRequirements: spec.capacityRequirements,
                // R91: nodes on DesiredImageId, from the first software update on.
                targetStateCount: group.softwareUpdateStatus == nil ? nil : targetState,
                softwareUpdateStatus: group.softwareUpdateStatus,
                activeSoftwareUpdateConfig: targeted ? run?.deployment : nil,
                slurmConfig: spec.slurmConfig.map { ClusterSlurmConfigDetails(nodeType: $0.nodeType, partitionNames: $0.partitionNames) },
                networkInterface: spec.networkInterface.map { ClusterNetworkInterfaceDetails(interfaceType: $0.interfaceType) }
            ))
        }
        return DescribeClusterResponse(
            clusterArn: c.arn, clusterName: c.name, clusterStatus: c.status, creationTime: c.creationTime.epochSeconds,
            failureMessage: c.failureMessage, instanceGroups: groups, restrictedInstanceGroups: restricted.isEmpty ? nil : restricted,
            restrictedInstanceGroupsConfig: Self.sharedEnvironment(of: c),
            vpcConfig: request.vpcConfig, orchestrator: request.orchestrator, tieredStorageConfig: c.appliedTieredStorageConfig,
            nodeRecovery: request.nodeRecovery ?? .automatic, nodeProvisioningMode: request.nodeProvisioningMode,
            clusterRole: request.clusterRole, autoScaling: request.autoScaling.map {
                ClusterAutoScalingConfigOutput(mode: $0.mode, autoScalerType: $0.autoScalerType ?? .karpenter,
                                               status: c.autoScalingStatus ?? .inService, failureMessage: "")
            }
        )
    }

    /// R341: `RestrictedInstanceGroupsConfig.SharedEnvironmentConfig` once set: the applied (Current) and requested
    /// (Desired) FSx configuration and deletion policy. With `DeleteIfNotUsed` in effect and no restricted group left,
    /// the FSx configurations are gone (omitted) until a restricted group is added again.
    static func sharedEnvironment(of c: ClusterRecord) -> ClusterRestrictedInstanceGroupsConfigOutput? {
        let desired = c.request.restrictedInstanceGroupsConfig?.sharedEnvironmentConfig, current = c.appliedSharedEnvironment
        guard desired != nil || current != nil else { return nil }
        let unused = !c.groups.contains { $0.restrictedSpec != nil && $0.status != .deleting }
        let deleted = unused && (current ?? desired)?.fSxLustreDeletionPolicy == .deleteIfNotUsed
        return ClusterRestrictedInstanceGroupsConfigOutput(sharedEnvironmentConfig: ClusterSharedEnvironmentConfigDetails(
            currentFSxLustreConfig: deleted ? nil : current?.fSxLustreConfig, desiredFSxLustreConfig: deleted ? nil : desired?.fSxLustreConfig,
            currentFSxLustreDeletionPolicy: current?.fSxLustreDeletionPolicy, desiredFSxLustreDeletionPolicy: desired?.fSxLustreDeletionPolicy))
    }

    /// `TrainingPlanStatus` of a cluster's plan-backed groups by lower-cased plan ARN (R228): the plan's status.
    func planStatuses(of cluster: ClusterRecord, at now: VirtualTime, db: StoreTransaction) throws -> [String: String] {
        var statuses: [String: String] = [:]
        let partition = ClusterStore.Partition(account: cluster.account, region: cluster.region)
        for key in Set(cluster.groups.compactMap(\.planKey)) {
            if let status = try trainingPlanStatus(of: key, partition: partition, at: now, db: db) { statuses[key] = status }
        }
        return statuses
    }
}
