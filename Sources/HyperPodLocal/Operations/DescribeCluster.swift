import AWSJSONProtocol
import GRDB
import HyperPodDomain
import JSON
import SageMakerShapes

extension ClusterService {
    /// `DescribeCluster` (spec R90, R91), by name or ARN.
    /// - Throws: `ResourceNotFound` (R32).
    func describeCluster(_ input: DescribeClusterRequest, context: AWSRequestContext) throws -> DescribeClusterResponse {
        processDue()
        let key = "\(context.partition.account)|\(context.partition.region)|\(input.clusterName)"
        if let cached = describeCache[key] { return cached }
        let response = try read { db, _ in Self.describe(try resolveCluster(input.clusterName, context: context, db: db)) }
        cacheDescribe(response, key: key)
        return response
    }

    /// DescribeCluster from the cache only, on any thread (the event loop's fast path).
    /// - Throws: `AWSJSONRouter.Deferred` on a miss: the request then goes to the state queue.
    func describeClusterFromCache(_ input: JSONObject, context: AWSRequestContext) throws -> [UInt8] {
        guard let name = input["ClusterName"]?.stringValue,
              let cached = cachedDescribe(key: "\(context.partition.account)|\(context.partition.region)|\(name)") else {
            throw AWSJSONRouter.Deferred()
        }
        return cached
    }

    static func describe(_ lifecycle: ClusterLifecycle) -> DescribeClusterResponse {
        let c = lifecycle.cluster
        let request = c.request
        let image = PlatformImages.latest(region: c.region)
        let groups = c.groups.map { group -> ClusterInstanceGroupDetails in
            let spec = group.spec
            let groupImage = PlatformImages.image(for: spec.imageId, region: c.region)
            let kubernetes = spec.kubernetesConfig.map {
                ClusterKubernetesConfigDetails(currentLabels: $0.labels, desiredLabels: $0.labels, currentTaints: $0.taints, desiredTaints: $0.taints)
            }
            let scaling = c.isContinuous
                && (lifecycle.currentCount(of: group.name) != group.targetCount
                    || lifecycle.nodes.contains { $0.groupName == group.name && [.pending, .shuttingDown].contains($0.status) })
            return ClusterInstanceGroupDetails(
                currentCount: lifecycle.currentCount(of: group.name), targetCount: group.targetCount,
                minCount: spec.minInstanceCount, instanceGroupName: group.name, instanceType: spec.instanceType,
                lifeCycleConfig: spec.lifeCycleConfig, executionRole: spec.executionRole,
                threadsPerCore: spec.threadsPerCore ?? 1, instanceStorageConfigs: spec.instanceStorageConfigs,
                onStartDeepHealthChecks: spec.onStartDeepHealthChecks, status: group.status, trainingPlanArn: spec.trainingPlanArn,
                overrideVpcConfig: spec.overrideVpcConfig, scheduledUpdateConfig: spec.scheduledUpdateConfig,
                currentImageId: groupImage, desiredImageId: groupImage,
                imageVersionStatus: groupImage == image || spec.imageId != nil ? .upToDate : .updateAvailable,
                activeOperations: scaling ? ["Scaling": 1] : nil,
                kubernetesConfig: kubernetes, capacityRequirements: spec.capacityRequirements,
                slurmConfig: spec.slurmConfig.map { ClusterSlurmConfigDetails(nodeType: $0.nodeType, partitionNames: $0.partitionNames) },
                networkInterface: spec.networkInterface.map { ClusterNetworkInterfaceDetails(interfaceType: $0.interfaceType) }
            )
        }
        return DescribeClusterResponse(
            clusterArn: c.arn, clusterName: c.name, clusterStatus: c.status, creationTime: c.creationTime.epochSeconds,
            failureMessage: c.failureMessage, instanceGroups: groups, vpcConfig: request.vpcConfig,
            orchestrator: request.orchestrator, tieredStorageConfig: c.status == .creating ? nil : request.tieredStorageConfig,
            nodeRecovery: request.nodeRecovery ?? .automatic, nodeProvisioningMode: request.nodeProvisioningMode,
            clusterRole: request.clusterRole, autoScaling: request.autoScaling.map {
                ClusterAutoScalingConfigOutput(mode: $0.mode, autoScalerType: $0.autoScalerType ?? .karpenter,
                                               status: c.status == .creating ? .creating : .inService, failureMessage: "")
            }
        )
    }
}
