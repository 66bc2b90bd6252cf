import AWSJSONProtocol
import HyperPodStore
import HyperPodDomain
import SageMakerShapes

extension ClusterService {
    /// `ListClusterNodes` (spec R93, R95): nodes with an instance (with `IncludeNodeLogicalIds`, also slots without one),
    /// filters on LaunchTime (strict) and group name (case-insensitive substring), `SortBy` `CREATION_TIME` | `NAME`,
    /// keyset `NextToken`, `""` on the last page (R11). `NodeLogicalId` is shown for Continuous clusters only (R34).
    /// - Throws: `ResourceNotFound` (R32), `ValidationException` `Invalid NextToken value.`
    func listClusterNodes(_ input: ListClusterNodesRequest, context: AWSRequestContext) throws -> ListClusterNodesResponse {
        try read { db, _ in
            // Keyset paging in SQL (spec R95): a page reads its rows only, not the whole cluster.
            let loaded: ClusterRecord?
            do {
                loaded = try ClusterStore.resolve(input.clusterName, in: context.partition, db: db).flatMap { try ClusterStore.loadRecord($0, db: db) }
            } catch let damaged as DamagedClusterRecord { throw ClusterErrors.damaged(damaged) }
            guard let cluster = loaded else { throw ClusterErrors.notFound(input.clusterName, context: context) }
            let images = try imageCatalogue(in: context.partition, db: db)
            // R337 per AMI, not per node: a page's nodes run a handful of AMIs.
            var facts: [String: (String?, ClusterImageVersionStatus)] = [:]
            func imageFacts(_ image: String) -> (String?, ClusterImageVersionStatus) {
                if let known = facts[image] { return known }
                let answer = (images.release(ofImage: image)?.version, images.status(ofImage: image))
                facts[image] = answer
                return answer
            }
            let byName = input.sortBy == .name
            let descending = input.sortOrder == .descending
            let binding = "\(cluster.arn)|\(input.sortBy?.rawValue ?? "")|\(input.sortOrder?.rawValue ?? "")|"
                + "\(input.instanceGroupNameContains ?? "")|\(input.creationTimeAfter ?? -1)|\(input.creationTimeBefore ?? -1)|"
                + "\(input.includeNodeLogicalIds ?? false)"
            let limit = input.maxResults ?? 10
            let after = try PageToken.keyset(input.nextToken, operation: "ListClusterNodes", binding: binding, firstIsTime: !byName)
            let filter = ClusterStore.NodeFilter(
                includeSlotsWithoutInstance: input.includeNodeLogicalIds == true, groupNameContains: input.instanceGroupNameContains,
                launchedAfter: input.creationTimeAfter.map { $0 * 1000 }, launchedBefore: input.creationTimeBefore.map { $0 * 1000 })
            let rows = try ClusterStore.nodePage(of: cluster.arn, filter: filter, byName: byName, descending: descending,
                                                 after: after, limit: limit + 1, db: db)
            let page = Array(rows.prefix(limit))
            var next = ""
            if rows.count > limit, let last = page.last {
                let key = byName ? [last.groupName, last.instanceID ?? last.logicalID]
                    : [sortKey((last.launchTime ?? last.slotCreated).milliseconds), last.instanceID ?? last.logicalID]
                next = PageToken.make(operation: "ListClusterNodes", binding: binding, key: key)
            }
            let summaries = page.map { node -> ClusterNodeSummary in
                let group = cluster.groups.first { $0.name == node.groupName }
                let type: ClusterInstanceType = node.instanceType.flatMap(ClusterInstanceType.init(rawValue:)) ?? group?.spec.instanceType
                    ?? group?.spec.instanceRequirements?.instanceTypes.first ?? .mlC5Xlarge
                let updated: Double? = node.lastSoftwareUpdateTime?.epochSeconds
                let image = node.imageID ?? group?.currentImage(region: cluster.region) ?? ""
                let (version, status) = imageFacts(image)
                return ClusterNodeSummary(
                    instanceGroupName: node.groupName, instanceId: node.instanceID ?? "",
                    nodeLogicalId: cluster.isContinuous ? node.logicalID : nil,
                    instanceType: type, launchTime: (node.launchTime ?? node.slotCreated).epochSeconds, lastSoftwareUpdateTime: updated,
                    instanceStatus: ClusterInstanceStatusDetails(status: node.status, message: node.message),
                    ultraServerInfo: node.ultraServerID.map { UltraServerInfo(id: $0, type: node.ultraServerType) },  // R228
                    privateDnsHostname: node.privateIP.map { Placement.privateDNSHostname($0, region: cluster.region) },
                    currentImageReleaseVersion: version, imageVersionStatus: status  // R337
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
                throw ClusterErrors.nodeNotFound(wanted, cluster: cluster.arn)
            }
            let group = cluster.groups.first { $0.name == node.groupName }
            let spec = group?.spec
            let images = try imageCatalogue(in: context.partition, db: db)
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
                currentImageId: image, desiredImageId: desired,
                currentImageReleaseVersion: images.release(ofImage: image)?.version,  // R337
                desiredImageReleaseVersion: images.release(ofImage: desired)?.version, imageVersionStatus: images.status(ofImage: image),
                ultraServerInfo: node.ultraServerID.map { UltraServerInfo(id: $0, type: node.ultraServerType) },  // R228
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
