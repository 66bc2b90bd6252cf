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
            let descending = input.sortOrder == .descending
            let binding = "\(cluster.arn)|\(input.sortBy?.rawValue ?? "")|\(input.sortOrder?.rawValue ?? "")|"
                + "\(input.instanceGroupNameContains ?? "")|\(input.creationTimeAfter ?? -1)|\(input.creationTimeBefore ?? -1)|"
                + "\(input.includeNodeLogicalIds ?? false)"
            let after = try PageToken.key(input.nextToken, operation: "ListClusterNodes", binding: binding)
            var nodes = lifecycle.nodes.filter { $0.instanceID != nil || input.includeNodeLogicalIds == true }
            func key(_ n: NodeRecord) -> [String] {
                byName ? [n.groupName, n.instanceID ?? n.logicalID]
                    : [sortKey((n.launchTime ?? n.slotCreated).milliseconds), n.instanceID ?? n.logicalID]
            }
            func less(_ a: [String], _ b: [String]) -> Bool { (a[0], a[1]) < (b[0], b[1]) }
            nodes.sort { less(key($0), key($1)) }
            if descending { nodes.reverse() }
            if let after { nodes = nodes.filter { descending ? less(key($0), after) : less(after, key($0)) } }
            if let fragment = input.instanceGroupNameContains?.lowercased() {
                nodes = nodes.filter { $0.groupName.lowercased().contains(fragment) }
            }
            if let afterTime = input.creationTimeAfter {
                nodes = nodes.filter { ($0.launchTime ?? $0.slotCreated).epochSeconds > afterTime }
            }
            if let beforeTime = input.creationTimeBefore {
                nodes = nodes.filter { ($0.launchTime ?? $0.slotCreated).epochSeconds < beforeTime }
            }
            let limit = input.maxResults ?? 10
            let page = nodes.prefix(limit)
            let summaries = page.map { node -> ClusterNodeSummary in
                let group = cluster.groups.first { $0.name == node.groupName }
                return ClusterNodeSummary(
                    instanceGroupName: node.groupName, instanceId: node.instanceID ?? "",
                    nodeLogicalId: cluster.isContinuous ? node.logicalID : nil,
                    instanceType: group?.spec.instanceType ?? .mlC5Xlarge, launchTime: (node.launchTime ?? node.slotCreated).epochSeconds,
                    instanceStatus: ClusterInstanceStatusDetails(status: node.status, message: node.message),
                    privateDnsHostname: node.privateIP.map { Placement.privateDNSHostname($0, region: cluster.region) },
                    imageVersionStatus: .upToDate
                )
            }
            let next = nodes.count > limit ? PageToken.make(operation: "ListClusterNodes", binding: binding, key: key(page.last!)) : ""
            return ListClusterNodesResponse(nextToken: next, clusterNodeSummaries: Array(summaries))
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
            let spec = cluster.groups.first { $0.name == node.groupName }?.spec
            let image = PlatformImages.image(for: spec?.imageId, region: cluster.region)
            return DescribeClusterNodeResponse(nodeDetails: ClusterNodeDetails(
                instanceGroupName: node.groupName, instanceId: node.instanceID,
                nodeLogicalId: cluster.isContinuous ? node.logicalID : nil,
                instanceStatus: ClusterInstanceStatusDetails(status: node.status, message: node.message),
                instanceType: spec?.instanceType, launchTime: node.launchTime?.epochSeconds,
                lifeCycleConfig: spec?.lifeCycleConfig, overrideVpcConfig: spec?.overrideVpcConfig,
                threadsPerCore: spec?.threadsPerCore ?? 1, instanceStorageConfigs: spec?.instanceStorageConfigs,
                privatePrimaryIp: node.privateIP.map(Placement.dotted),
                privateDnsHostname: node.privateIP.map { Placement.privateDNSHostname($0, region: cluster.region) },
                placement: node.zone.map {
                    ClusterInstancePlacement(availabilityZone: $0, availabilityZoneId: Placement.zoneID(of: $0, region: cluster.region))
                },
                currentImageId: image, desiredImageId: image, imageVersionStatus: .upToDate,
                kubernetesConfig: cluster.isEKS ? spec?.kubernetesConfig.map {
                    ClusterKubernetesConfigNodeDetails(currentLabels: $0.labels, desiredLabels: $0.labels,
                                                       currentTaints: $0.taints, desiredTaints: $0.taints)
                } : nil,
                capacityType: spec?.capacityRequirements?.spot != nil ? .spot : .onDemand
            ))
        }
    }
}
