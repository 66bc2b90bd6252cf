import AWSJSONProtocol
import HyperPodDomain
import HyperPodStore
import JSON
import SageMakerShapes

extension ClusterService {
    /// `AttachClusterNodeVolume` (spec R327–R329): attaches an EBS volume to a node of an EKS cluster; `attaching`, then
    /// `attached` after T_config (virtual); the same call again answers the existing attachment.
    /// - Throws: `ResourceNotFound` (R32, R94); `ValidationException` (R327 state checks, R328 EC2 errors in the
    ///   `HyperPod - Ec2ErrCode: …` form).
    func attachClusterNodeVolume(_ input: AttachClusterNodeVolumeRequest, context: AWSRequestContext) throws -> AttachClusterNodeVolumeResponse {
        try perform { db, now in
            let (lifecycle, node) = try attachableNode(input.clusterArn, input.nodeId, operation: "AttachClusterNodeVolume",
                                                       noun: "volumes", context: context, db: db)
            let partition = context.partition
            if let group = lifecycle.cluster.groups.first(where: { $0.name == node.groupName }), group.restrictedSpec != nil {
                throw AWSError.validation("Node \(input.nodeId) belongs to restricted instance group \(group.name) and cannot have volumes attached.")
            }
            // R329: the same attach again answers the existing attachment (checked before the state: it changes nothing).
            if let existing = try liveAttachment(.volume, input.volumeId, in: partition, at: now, db: db),
               existing.record.instanceID == input.nodeId, existing.status != .detaching {
                return Self.volumeResponse(existing.record, status: existing.status)
            }
            guard node.status == .running else {
                throw AWSError.validation(NodeAttachments.ec2Message(
                    "IncorrectInstanceState", "The instance '\(input.nodeId)' is not in a state from which it can be attached."))
            }
            let volumeFaults = faults.all.filter { $0.kind == "ebs-volume" && $0.body["volumeId"]?.stringValue == input.volumeId }
            if volumeFaults.contains(where: { $0.body["state"]?.stringValue == "missing" }) {
                throw AWSError.validation(NodeAttachments.ec2Message("InvalidVolume.NotFound", "The volume '\(input.volumeId)' does not exist."))
            }
            if let zone = volumeFaults.compactMap({ $0.body["availabilityZone"]?.stringValue }).last, zone != node.zone {
                throw AWSError.validation(NodeAttachments.ec2Message(
                    "InvalidVolume.ZoneMismatch",
                    "The volume '\(input.volumeId)' is not in the same availability zone as instance '\(input.nodeId)'."))
            }
            if try liveAttachment(.volume, input.volumeId, in: partition, at: now, db: db) != nil {
                throw AWSError.validation(NodeAttachments.ec2Message("VolumeInUse", "\(input.volumeId) is already attached to an instance"))
            }
            let onNode = try AttachmentStore.attachments(.volume, onInstance: input.nodeId, db: db).filter { $0.status(at: now) != nil }
            let limit = min(try attachmentLimit(PartitionSettings.volumeAttachmentLimit, default: NodeAttachments.defaultVolumeAttachmentLimit,
                                                in: partition, db: db), NodeAttachments.deviceNames.count)
            guard onNode.count < limit, let device = NodeAttachments.lowestFreeDeviceName(used: Set(onNode.compactMap(\.deviceName))) else {
                throw AWSError.validation(NodeAttachments.ec2Message("AttachmentLimitExceeded", "Volume attachment limit exceeded"))
            }
            let record = NodeAttachmentRecord(
                kind: .volume, resourceID: input.volumeId, clusterARN: lifecycle.cluster.arn, nodeLogicalID: node.logicalID,
                instanceID: input.nodeId, deviceName: device, status: .attaching, attachTime: now,
                settlesAt: now.adding(seconds: timing[.config]))
            try AttachmentStore.save(record, in: partition, db: db)
            return Self.volumeResponse(record, status: record.status(at: now) ?? .attaching)
        }
    }

    /// `DetachClusterNodeVolume` (spec R327, R329, R330): `detaching`, gone after T_config; works in every node status.
    /// - Throws: `ResourceNotFound` (R32, R94); `ValidationException` (R327, R330).
    func detachClusterNodeVolume(_ input: DetachClusterNodeVolumeRequest, context: AWSRequestContext) throws -> DetachClusterNodeVolumeResponse {
        try perform { db, now in
            _ = try attachableNode(input.clusterArn, input.nodeId, operation: "DetachClusterNodeVolume", noun: "volumes",
                                   context: context, db: db)
            guard let live = try liveAttachment(.volume, input.volumeId, in: context.partition, at: now, db: db),
                  live.record.instanceID == input.nodeId else {
                throw AWSError.validation(NodeAttachments.ec2Message("InvalidAttachment.NotFound", "Attachment not found"))
            }
            switch live.status {
            case .attaching:
                throw AWSError.validation(NodeAttachments.ec2Message("IncorrectState", "Volume '\(input.volumeId)' is in the 'attaching' state."))
            case .detaching:
                break  // the same detach again: the same answer
            case .attached:
                var record = live.record
                record.status = .detaching
                record.settlesAt = now.adding(seconds: timing[.config])
                try AttachmentStore.save(record, in: context.partition, db: db)
            }
            let record = live.record
            return DetachClusterNodeVolumeResponse(
                clusterArn: record.clusterARN, nodeId: record.instanceID, volumeId: record.resourceID,
                attachTime: record.attachTime.epochSeconds, status: .detaching, deviceName: record.deviceName ?? "")
        }
    }

    /// `AttachClusterNodeNetworkInterface` (spec R332, R333): attaches an ENI to a node (any orchestrator); the same ENI
    /// on the same node answers the existing `AttachmentId`.
    /// - Throws: `ResourceNotFound` (R32, R94); `ValidationException` (R332); `ResourceLimitExceeded` over the limit.
    func attachClusterNodeNetworkInterface(
        _ input: AttachClusterNodeNetworkInterfaceRequest, context: AWSRequestContext
    ) throws -> AttachClusterNodeNetworkInterfaceResponse {
        try perform { db, now in
            let lifecycle = try resolveCluster(input.clusterName, context: context, db: db)
            let c = lifecycle.cluster
            if [.creating, .deleting, .failed].contains(c.status) {  // R97's states
                throw AWSError.validation("Cluster \(c.name) is in \(c.status.rawValue) state and cannot have network interfaces attached.")
            }
            guard let node = lifecycle.nodes.first(where: { $0.instanceID == input.nodeId }) else {
                throw ClusterErrors.nodeNotFound(input.nodeId, cluster: c.arn)
            }
            if let group = c.groups.first(where: { $0.name == node.groupName }), group.restrictedSpec != nil {
                throw AWSError.validation(
                    "Node \(input.nodeId) belongs to restricted instance group \(group.name) and cannot have network interfaces attached.")
            }
            let partition = context.partition
            if let existing = try liveAttachment(.networkInterface, input.networkInterfaceId, in: partition, at: now, db: db),
               existing.record.instanceID == input.nodeId {
                return Self.interfaceResponse(existing.record)
            }
            guard node.status == .running else {
                throw AWSError.validation("Node \(input.nodeId) is in \(node.status.rawValue) status; a network interface can be attached only to a Running node.")
            }
            if faults.all.contains(where: { $0.kind == "network-interface" && $0.body["networkInterfaceId"]?.stringValue == input.networkInterfaceId
                                         && $0.body["state"]?.stringValue == "missing" }) {
                throw AWSError.validation(NodeAttachments.ec2Message(
                    "InvalidNetworkInterfaceID.NotFound", "The networkInterface ID '\(input.networkInterfaceId)' does not exist"))
            }
            if try liveAttachment(.networkInterface, input.networkInterfaceId, in: partition, at: now, db: db) != nil {
                throw AWSError.validation(NodeAttachments.ec2Message("InvalidNetworkInterface.InUse", "Interface: [\(input.networkInterfaceId)] in use."))
            }
            let attached = try AttachmentStore.attachments(.networkInterface, onInstance: input.nodeId, db: db).count
            let limit = try attachmentLimit(PartitionSettings.networkInterfaceLimit, default: NodeAttachments.defaultNetworkInterfaceLimit,
                                            in: partition, db: db)
            guard attached < limit else {
                throw AWSError.resourceLimitExceeded("The maximum number of network interfaces (\(limit)) is already attached to node \(input.nodeId).")
            }
            // R333: eni-attach- + 17 lowercase hex, unique and never reused.
            var attachmentID: String
            repeat {
                attachmentID = "eni-attach-" + String(generator.withLock { Identifiers.instanceID(using: &$0) }.dropFirst(2))
            } while try !ClusterStore.claimIdentifier(kind: "eni-attachment", attachmentID, db: db)
            let record = NodeAttachmentRecord(
                kind: .networkInterface, resourceID: input.networkInterfaceId, clusterARN: c.arn, nodeLogicalID: node.logicalID,
                instanceID: input.nodeId, attachmentID: attachmentID, status: .attached, attachTime: now, settlesAt: nil)
            try AttachmentStore.save(record, in: partition, db: db)
            return Self.interfaceResponse(record)
        }
    }

    // MARK: Shared checks

    /// R327's checks of a volume call, in order: the cluster (by ARN, R31/R32), an EKS orchestrator, `InService`, a
    /// node of the cluster (R94).
    /// - Returns: the cluster and the node holding instance `nodeID`.
    func attachableNode(
        _ clusterARN: String, _ nodeID: String, operation: String, noun: String, context: AWSRequestContext, db: StoreTransaction
    ) throws -> (ClusterLifecycle, NodeRecord) {
        let lifecycle = try resolveCluster(clusterARN, context: context, db: db)
        let c = lifecycle.cluster
        guard c.request.orchestrator?.eks != nil else {
            throw AWSError.validation("\(operation) is only supported for clusters with an Eks orchestrator.")
        }
        guard c.status == .inService else {
            throw AWSError.validation("Cluster \(c.name) is in \(c.status.rawValue) state; \(noun) can be attached or detached only while it is InService.")
        }
        guard let node = lifecycle.nodes.first(where: { $0.instanceID == nodeID }) else {
            throw ClusterErrors.nodeNotFound(nodeID, cluster: c.arn)
        }
        return (lifecycle, node)
    }

    /// The attachment of a resource as it stands at `now`: nil when there is none, when its detach has ended, or when
    /// its instance is gone (R331: released without events); such stale rows are removed on the way.
    func liveAttachment(
        _ kind: NodeAttachmentRecord.Kind, _ resourceID: String, in partition: ClusterStore.Partition, at now: VirtualTime,
        db: StoreTransaction
    ) throws -> (record: NodeAttachmentRecord, status: NodeAttachmentRecord.Status)? {
        guard let record = try AttachmentStore.attachment(kind, resourceID, in: partition, db: db) else { return nil }
        guard let status = record.status(at: now), try ClusterStore.instanceExists(record.instanceID, db: db) else {
            try AttachmentStore.remove(kind, resourceID, in: partition, db: db)
            return nil
        }
        return (record, status)
    }

    /// An RA21 limit of the partition: the setting when set, else `fallback`.
    func attachmentLimit(_ setting: String, default fallback: Int, in partition: ClusterStore.Partition, db: StoreTransaction) throws -> Int {
        try PartitionSettings.value(setting, in: partition, db: db)?.intValue ?? fallback
    }

    static func volumeResponse(_ record: NodeAttachmentRecord, status: NodeAttachmentRecord.Status) -> AttachClusterNodeVolumeResponse {
        AttachClusterNodeVolumeResponse(
            clusterArn: record.clusterARN, nodeId: record.instanceID, volumeId: record.resourceID, attachTime: record.attachTime.epochSeconds,
            status: VolumeAttachmentStatus(rawValue: status.rawValue) ?? .attaching, deviceName: record.deviceName ?? "")
    }

    static func interfaceResponse(_ record: NodeAttachmentRecord) -> AttachClusterNodeNetworkInterfaceResponse {
        AttachClusterNodeNetworkInterfaceResponse(clusterArn: record.clusterARN, nodeId: record.instanceID,
                                                  networkInterfaceId: record.resourceID, attachmentId: record.attachmentID ?? "")
    }
}
