import SageMakerShapes

/// A cluster event as a transition records it (spec R111–R113); the caller stamps it with an `EventId` and the
/// transition's instant (virtual time) and stores it.
public struct ClusterEventRecord: Sendable, Equatable {
    public var resourceType: ClusterEventResourceType
    public var level: ClusterEventLevel
    /// The D15 template filled in (spec R112).
    public var description: String
    public var instanceGroupName: String?
    public var instanceID: String?
    /// `EventDetails.EventMetadata` of DescribeClusterEvent: exactly one of its four members (R111).
    public var metadata: EventMetadata?

    public init(
        resourceType: ClusterEventResourceType, level: ClusterEventLevel, description: String, instanceGroupName: String? = nil,
        instanceID: String? = nil, metadata: EventMetadata? = nil
    ) {
        self.resourceType = resourceType
        self.level = level
        self.description = description
        self.instanceGroupName = instanceGroupName
        self.instanceID = instanceID
        self.metadata = metadata
    }
}

/// The group operations of spec R112 (`<op>` of the group templates).
public enum GroupOperation: String, Sendable {
    case create, update, scaling, delete, rollback
}

/// The description templates of spec R112 (AWS doc D15).
extension ClusterLifecycle {
    var c: String { cluster.name }

    mutating func recordCluster(_ operation: String, _ phase: Phase, failure: String? = nil) {
        let description = switch phase {
        case .started: "Cluster \(c) \(operation) started successfully"
        case .completed: "Cluster \(c) \(operation) completed successfully"
        case .failed: "Cluster \(c) \(operation) failed"
        }
        newEvents.append(ClusterEventRecord(
            resourceType: .cluster, level: phase == .failed ? .error : .info, description: description,
            metadata: failure.map { .cluster(ClusterMetadata(failureMessage: $0)) }
        ))
    }

    mutating func recordGroup(_ group: String, _ operation: GroupOperation, _ phase: Phase, failure: String? = nil) {
        let op = operation.rawValue
        let description = switch phase {
        case .started: "InstanceGroup \(group) \(op) started successfully in Cluster \(c)"
        case .completed: "Instance Group \(group) \(op) in Cluster \(c) completed successfully"
        case .failed: "Instance Group \(group) \(op) in Cluster \(c) failed"
        }
        var metadata: EventMetadata?
        if operation == .scaling || operation == .rollback, let g = groupIndex(group) {
            metadata = .instanceGroupScaling(InstanceGroupScalingMetadata(
                instanceCount: currentCount(of: group), targetCount: cluster.groups[g].targetCount,
                minCount: cluster.groups[g].spec.minInstanceCount, failureMessage: failure
            ))
        } else if let failure {
            metadata = .instanceGroup(InstanceGroupMetadata(failureMessage: failure))
        }
        newEvents.append(ClusterEventRecord(
            resourceType: .instanceGroup, level: phase == .failed ? .error : .info, description: description,
            instanceGroupName: group, metadata: metadata
        ))
    }

    mutating func recordInstance(_ node: NodeRecord, _ description: String, level: ClusterEventLevel = .info, failure: String? = nil) {
        newEvents.append(ClusterEventRecord(
            resourceType: .instance, level: level, description: description, instanceGroupName: node.groupName,
            instanceID: node.instanceID,
            metadata: .instance(InstanceMetadata(failureMessage: failure, nodeLogicalId: node.logicalID))
        ))
    }

    /// R118: one failed-launch event per retry round and group, not per slot.
    mutating func recordFailedLaunch(_ node: NodeRecord, failure: String) {
        recordInstance(node, "Failed to provision EC2 Instance in Cluster \(c) and IG \(node.groupName)", level: .error, failure: failure)
    }

    mutating func recordTermination(_ node: NodeRecord) {
        guard let id = node.instanceID else { return }
        recordInstance(node, "Termination of EC2 Instance \(id) is currently in progress in Cluster \(c) and IG \(node.groupName)")
    }

    enum Phase { case started, completed, failed }
}

/// R118's `FailureMessage` of a Continuous launch that found no capacity.
public func continuousCapacityMessage(_ type: String) -> String {
    "We currently do not have sufficient capacity to launch new \(type) instances. Please try again."
}
