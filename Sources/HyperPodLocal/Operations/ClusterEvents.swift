import AWSJSONProtocol
import HyperPodStore
import HyperPodDomain
import SageMakerShapes

extension ClusterService {
    /// `ListClusterEvents` (spec R96, R111, R307): every cluster's events; filters `InstanceGroupName` (exact), `NodeId`
    /// (InstanceId), `ResourceType`, `EventTimeAfter`/`Before` (strict), `OperationId` (exact); sorted by EventTime, `Descending` by default,
    /// ties by recording order; keyset `NextToken`.
    /// - Throws: `ResourceNotFound` (R32), `ValidationException` `Invalid NextToken value.`
    func listClusterEvents(_ input: ListClusterEventsRequest, context: AWSRequestContext) throws -> ListClusterEventsResponse {
        try read { db, _ in
            let cluster = try resolveCluster(input.clusterName, context: context, db: db).cluster
            let binding = "\(cluster.arn)|\(input.instanceGroupName ?? "")|\(input.nodeId ?? "")|\(input.resourceType?.rawValue ?? "")|"
                + "\(input.eventTimeAfter ?? -1)|\(input.eventTimeBefore ?? -1)|\(input.sortOrder?.rawValue ?? "")|\(input.operationId ?? "")"
            let events = try ClusterStore.events(of: cluster.arn, db: db).filter { event in
                let time = event.time.epochSeconds
                return (input.instanceGroupName.map { event.record.instanceGroupName == $0 } ?? true)
                    && (input.nodeId.map { event.record.instanceID == $0 } ?? true)
                    && (input.resourceType.map { event.record.resourceType == $0 } ?? true)
                    && (input.eventTimeAfter.map { time > $0 } ?? true)
                    && (input.eventTimeBefore.map { time < $0 } ?? true)
                    && (input.operationId.map { event.operationID == $0 } ?? true)  // R307: exact; an unknown id matches none
            }
            let (page, next) = try PageToken.page(
                events, key: { [sortKey($0.time.milliseconds), sortKey($0.sequence)] },
                descending: input.sortOrder != .ascending, token: input.nextToken, operation: "ListClusterEvents",
                binding: binding, limit: input.maxResults ?? 10
            )
            return ListClusterEventsResponse(nextToken: next, events: page.map { event in
                ClusterEventSummary(
                    eventId: event.id, clusterArn: cluster.arn, clusterName: cluster.name,
                    instanceGroupName: event.record.instanceGroupName, instanceId: event.record.instanceID,
                    resourceType: event.record.resourceType, eventTime: event.time.epochSeconds,
                    description: event.record.description, eventLevel: event.record.level, operationId: event.operationID
                )
            })
        }
    }

    /// `DescribeClusterEvent` (spec R96, R111): the event with `EventDetails.EventDetails.EventMetadata`.
    /// - Throws: `ResourceNotFound` (R32, or `Could not find event '<event-id>' in cluster '<cluster-arn>'`).
    func describeClusterEvent(_ input: DescribeClusterEventRequest, context: AWSRequestContext) throws -> DescribeClusterEventResponse {
        try read { db, _ in
            let cluster = try resolveCluster(input.clusterName, context: context, db: db).cluster
            guard let event = try ClusterStore.event(input.eventId, of: cluster.arn, db: db) else {
                throw AWSError.resourceNotFound("Could not find event '\(input.eventId)' in cluster '\(cluster.arn)'")
            }
            return DescribeClusterEventResponse(eventDetails: ClusterEventDetail(
                eventId: event.id, clusterArn: cluster.arn, clusterName: cluster.name,
                instanceGroupName: event.record.instanceGroupName, instanceId: event.record.instanceID,
                resourceType: event.record.resourceType, eventTime: event.time.epochSeconds,
                eventDetails: event.record.metadata.map { EventDetails(eventMetadata: $0) },
                description: event.record.description, eventLevel: event.record.level, operationId: event.operationID
            ))
        }
    }
}
