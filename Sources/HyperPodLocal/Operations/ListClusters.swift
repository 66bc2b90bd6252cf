import AWSJSONProtocol
import GRDB
import HyperPodDomain
import SageMakerShapes

extension ClusterService {
    /// `ListClusters` (spec R92, R95): filters, `SortBy` `CREATION_TIME` (default) | `NAME`, `SortOrder`, ties by ARN;
    /// `MaxResults` (default 10) counts clusters evaluated in sort order; keyset `NextToken`, `""` on the last page (R11).
    /// - Throws: `ValidationException` `Invalid NextToken value.`
    func listClusters(_ input: ListClustersRequest, context: AWSRequestContext) throws -> ListClustersResponse {
        try read { db, _ in
            let byName = input.sortBy == .name
            let binding = "\(context.partition.account)/\(context.partition.region)|\(input.sortBy?.rawValue ?? "")|"
                + "\(input.sortOrder?.rawValue ?? "")|\(input.nameContains ?? "")|\(input.creationTimeAfter ?? -1)|"
                + "\(input.creationTimeBefore ?? -1)|\(input.trainingPlanArn ?? "")"
            // MaxResults counts clusters evaluated: the page is taken first, the filters apply to it.
            let (evaluated, next) = try PageToken.page(
                try ClusterStore.rows(in: context.partition, db: db),
                key: { [byName ? $0.name : sortKey($0.createdAt.milliseconds), $0.arn] },
                descending: input.sortOrder == .descending, token: input.nextToken, operation: "ListClusters",
                binding: binding, limit: input.maxResults ?? 10
            )
            var summaries: [ClusterSummary] = []
            for row in evaluated {
                if let after = input.creationTimeAfter, !(row.createdAt.epochSeconds > after) { continue }
                if let before = input.creationTimeBefore, !(row.createdAt.epochSeconds < before) { continue }
                if let fragment = input.nameContains, !row.name.lowercased().contains(fragment.lowercased()) { continue }
                guard let cluster = try ClusterStore.loadRecord(row.arn, db: db) else { continue }
                let plans = cluster.groups.compactMap(\.spec.trainingPlanArn)
                if let plan = input.trainingPlanArn, !plans.contains(plan) { continue }
                summaries.append(ClusterSummary(
                    clusterArn: row.arn, clusterName: row.name, creationTime: row.createdAt.epochSeconds,
                    clusterStatus: cluster.status, trainingPlanArns: plans.isEmpty ? nil : plans
                ))
            }
            return ListClustersResponse(nextToken: next, clusterSummaries: summaries)
        }
    }
}

/// A non-negative integer zero-padded to 19 digits, so text order is number order (sort keys in page tokens).
func sortKey(_ value: Int64) -> String {
    let digits = String(value)
    return String(repeating: "0", count: max(0, 19 - digits.count)) + digits
}
