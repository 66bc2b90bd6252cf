import AWSJSONProtocol
import GRDB
import HyperPodDomain
import SageMakerShapes

extension ClusterService {
    /// `ListClusterNodes` (spec R93, R95): nodes with an instance (with `IncludeNodeLogicalIds`, also slots without one),
    /// filters on LaunchTime (strict) and group name (case-insensitive substring), `SortBy` `CREATION_TIME` | `NAME`,
    /// keyset `NextToken`, `""` on the last page (R11). `NodeLogicalId` is shown for Continuous clusters only (R34).
    /// - Throws: `ResourceNotFound` (R32), `ValidationException` `Invalid NextToken value.`
    func listClusterNodes(_ input: ListClusterNodesRequest, context: AWSRequestContext) throws -> ListClusterNodesResponse {
        try read { db, _ in
            let lifecycle = try resolveCluster(input.clusterName, context: context, db: db)
            let cluster = lifecycle.cluster
            let byName = input.sortBy == .name
            let binding = "\(cluster.arn)|\(input.sortBy?.rawValue ?? "")|\(input.sortOrder?.rawValue ?? "")|"
                + "\(input.instanceGroupNameContains ?? "")|\(input.creationTimeAfter ?? -1)|\(input.creationTimeBefore ?? -1)|"
                + "\(input.includeNodeLogicalIds ?? false)"
            let fragment = input.instanceGroupNameContains?.lowercased()
            let nodes = lifecycle.nodes.filter { node in
                let launch = (node.launchTime ?? node.slotCreated).epochSeconds
                return (node.instanceID != nil || input.includeNodeLogicalIds == true)
                    && (fragment.map { node.groupName.lowercased().contains($0) } ?? true)
                    && (input.creationTimeAfter.map { launch > $0 } ?? true)
                    && (input.creationTimeBefore.map { launch < $0 } ?? true)
            }
            let (page, next) = try PageToken.page(
                nodes,
                key: {
                    byName ? [$0.groupName, $0.instanceID ?? $0.logicalID]
                        : [sortKey(($0.launchTime ?? $0.slotCreated).milliseconds), $0.instanceID ?? $0.logicalID]
                },
                descending: input.sortOrder == .descending, token: input.nextToken, operation: "ListClusterNodes",
                binding: binding, limit: input.maxResults ?? 10
            )
            let summaries = page.map { node -> ClusterNodeSummary in
                let group = cluster.groups.first { $0.name == node.groupName }
                let type: ClusterInstanceType = node.instanceType.flatMap(ClusterInstanceType.init(rawValue:)) ?? group?.spec.instanceType
                    ?? group?.spec.instanceRequirements?.instanceTypes.first ?? .mlC5Xlarge
                let updated: Double? = node.lastSoftwareUpdateTime?.epochSeconds
                return ClusterNodeSummary(
                    instanceGroupName: node.groupName, instanceId: node.instanceID ?? "",
                    nodeLogicalId: cluster.isContinuous ? node.logicalID : nil,
                    instanceType: type, launchTime: (node.launchTime ?? node.slotCreated).epochSeconds, lastSoftwareUpdateTime: updated,
                    instanceStatus: ClusterInstanceStatusDetails(status: node.status, message: node.message),
                    privateDnsHostname: node.privateIP.map { Placement.privateDNSHostname($0, region: cluster.region) },
                    imageVersionStatus: .upToDate
                )
            }
            return ListClusterNodesResponse(nextToken: next, clusterNodeSummaries: summaries)
        }
    }

    /// `DescribeClusterNode` (spec R94): by `NodeId` or `NodeLogicalId`, exactly one.
    /// - Throws: `ValidationException`, `ResourceNotFound` `Could not find node '<id>' in cluster '<cluster-arn>'`.
    func describeClusterNode(_ input: DescribeClusterNodeRequest, context: AWSRequestContext) throws -> DescribeClusterNodeResponse {
        try read { db, _ in
            guard (input.nodeId == nil) != (input.nodeLogicalId == nil) else {
                throw AWSError.validation("Specify exactly one of NodeId or NodeLogicalId.")
            }
            let lifecycle = try resolveCluster(input.clusterName, context: context, db: db)
            let cluster = lifecycle.cluster
            if input.nodeLogicalId != nil && !cluster.isContinuous {
                throw AWSError.validation("NodeLogicalId is only supported for clusters with NodeProvisioningMode set to Continuous.")
            }
            let wanted = input.nodeId ?? input.nodeLogicalId!
            guard let node = lifecycle.nodes.first(where: { input.nodeId != nil ? $0.instanceID == wanted : $0.logicalID == wanted }) else {
                throw AWSError(code: "ResourceNotFound", message: "Could not find node '\(wanted)' in cluster '\(cluster.arn)'")
            }
            let group = cluster.groups.first { $0.name == node.groupName }
            let spec = group?.spec
            let image = lifecycle.image(of: node)
            let desired = group?.desiredImage(region: cluster.region) ?? image
            let updated: Double? = node.lastSoftwareUpdateTime?.epochSeconds
            let type: ClusterInstanceType? = node.instanceType.flatMap(ClusterInstanceType.init(rawValue:)) ?? spec?.instanceType
            return DescribeClusterNodeResponse(nodeDetails: ClusterNodeDetails(
                instanceGroupName: node.groupName, instanceId: node.instanceID,
                nodeLogicalId: cluster.isContinuous ? node.logicalID : nil,
                instanceStatus: ClusterInstanceStatusDetails(status: node.status, message: node.message),
                instanceType: type, launchTime: node.launchTime?.epochSeconds, lastSoftwareUpdateTime: updated,
                lifeCycleConfig: node.lifeCycleConfig ?? spec?.lifeCycleConfig, overrideVpcConfig: spec?.overrideVpcConfig,
                threadsPerCore: spec?.threadsPerCore ?? 1, instanceStorageConfigs: spec?.instanceStorageConfigs,
                privatePrimaryIp: node.privateIP.map(Placement.dotted),
                privateDnsHostname: node.privateIP.map { Placement.privateDNSHostname($0, region: cluster.region) },
                placement: node.zone.map {
                    ClusterInstancePlacement(availabilityZone: $0, availabilityZoneId: Placement.zoneID(of: $0, region: cluster.region))
                },
                currentImageId: image, desiredImageId: desired, imageVersionStatus: .upToDate,
                kubernetesConfig: cluster.isEKS && (spec?.kubernetesConfig ?? group?.appliedKubernetesConfig) != nil
                    ? ClusterKubernetesConfigNodeDetails(
                        currentLabels: group?.appliedKubernetesConfig?.labels, desiredLabels: spec?.kubernetesConfig?.labels,
                        currentTaints: group?.appliedKubernetesConfig?.taints, desiredTaints: spec?.kubernetesConfig?.taints)
                    : nil,
                capacityType: spec?.capacityRequirements?.spot != nil ? .spot : .onDemand
            ))
        }
    }
}
