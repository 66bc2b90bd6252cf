import AWSJSONProtocol
import HyperPodDomain
import HyperPodStore
import SageMakerShapes

extension ClusterService {
    /// `ListClusterOperations` (spec R308): the cluster's operations (R303), filters `Status`, `Type`,
    /// `CreationTimeAfter`/`Before` (strict); sorted by CreationTime, `Descending` by default, ties by OperationId;
    /// MaxResults default 10; keyset `NextToken`, `""` on the last page (R95, R11). Operations R309 purged are gone.
    /// Answers in every cluster state.
    /// - Throws: `ResourceNotFound` (R32), `ValidationException` `Invalid NextToken value.`
    func listClusterOperations(_ input: ListClusterOperationsRequest, context: AWSRequestContext) throws -> ListClusterOperationsResponse {
        try read { db, now in
            let arn = try resolveClusterARN(input.clusterName, context: context, db: db)
            let filter = ClusterOperationStore.Filter(
                status: input.status?.rawValue, type: input.type?.rawValue,
                createdAfter: input.creationTimeAfter.map { VirtualTime(epochSeconds: $0).milliseconds },
                createdBefore: input.creationTimeBefore.map { VirtualTime(epochSeconds: $0).milliseconds })
            let operations = try ClusterOperationStore.list(of: arn, filter: filter, db: db).filter { !$0.isPurged(at: now) }
            let binding = "\(arn)|\(input.status?.rawValue ?? "")|\(input.type?.rawValue ?? "")|\(input.creationTimeAfter ?? -1)|"
                + "\(input.creationTimeBefore ?? -1)|\(input.sortOrder?.rawValue ?? "")"
            let (page, next) = try PageToken.page(
                operations, key: { [sortKey($0.creationTime.milliseconds), $0.operationID] },
                descending: input.sortOrder != .ascending, token: input.nextToken, operation: "ListClusterOperations",
                binding: binding, limit: input.maxResults ?? 10)
            return ListClusterOperationsResponse(nextToken: next, clusterOperationSummaries: page.map { operation in
                ClusterOperationSummary(
                    operationId: operation.operationID, clusterArn: arn,
                    type: ClusterOperationType(rawValue: operation.kind.rawValue),
                    status: ClusterOperationStatus(rawValue: operation.status.rawValue),
                    creationTime: operation.creationTime.epochSeconds)
            })
        }
    }

    /// `DescribeClusterOperation` (spec R304, R308): the operation with its `ScalingDetails` or
    /// `DeepHealthCheckDetails`.
    /// - Throws: `ResourceNotFound` (R32, or `Could not find operation '<operation-id>' in cluster '<cluster-arn>'`,
    ///   also for one R309 purged).
    func describeClusterOperation(_ input: DescribeClusterOperationRequest, context: AWSRequestContext) throws -> DescribeClusterOperationResponse {
        try read { db, now in
            let arn = try resolveClusterARN(input.clusterName, context: context, db: db)
            guard let operation = try ClusterOperationStore.operation(input.operationId, of: arn, db: db), !operation.isPurged(at: now) else {
                throw AWSError.resourceNotFound("Could not find operation '\(input.operationId)' in cluster '\(arn)'")
            }
            func counts(_ c: ClusterOperationRecord.Counts) -> ClusterOperationScalingConfiguration {
                ClusterOperationScalingConfiguration(currentCount: c.currentCount, targetCount: c.targetCount, minCount: c.minCount)
            }
            return DescribeClusterOperationResponse(
                operationId: operation.operationID, clusterArn: arn, type: ClusterOperationType(rawValue: operation.kind.rawValue),
                status: ClusterOperationStatus(rawValue: operation.status.rawValue), creationTime: operation.creationTime.epochSeconds,
                scalingDetails: operation.kind == .scaling ? operation.scalingDetails.map { detail in
                    ClusterOperationScalingDetails(
                        instanceGroupName: detail.instanceGroupName, status: ClusterOperationStatus(rawValue: detail.status.rawValue),
                        original: counts(detail.original), desired: counts(detail.desired))
                } : nil,
                deepHealthCheckDetails: operation.kind == .deepHealthCheck ? operation.deepHealthCheckConfigurations : nil)
        }
    }

    /// The ARN of the cluster `nameOrARN` names in the caller's partition, without loading it: operations are listed
    /// in every cluster state, a damaged record included (R308).
    /// - Throws: `ResourceNotFound` (R32).
    func resolveClusterARN(_ nameOrARN: String, context: AWSRequestContext, db: StoreTransaction) throws -> String {
        guard let arn = try ClusterStore.resolve(nameOrARN, in: context.partition, db: db) else {
            throw ClusterErrors.notFound(nameOrARN, context: context)
        }
        return arn
    }
}
