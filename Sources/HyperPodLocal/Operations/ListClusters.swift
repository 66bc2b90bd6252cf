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
            let descending = input.sortOrder == .descending
            let binding = "\(context.partition.account)/\(context.partition.region)|\(input.sortBy?.rawValue ?? "")|"
                + "\(input.sortOrder?.rawValue ?? "")|\(input.nameContains ?? "")|\(input.creationTimeAfter ?? -1)|"
                + "\(input.creationTimeBefore ?? -1)|\(input.trainingPlanArn ?? "")"
            let after = try PageToken.key(input.nextToken, operation: "ListClusters", binding: binding)
            func key(_ row: ClusterStore.ClusterRow) -> [String] {
                [byName ? row.name : sortKey(row.createdAt.milliseconds), row.arn]
            }
            func less(_ a: [String], _ b: [String]) -> Bool {
                if byName { return (a[0], a[1]) < (b[0], b[1]) }
                return (Int64(a[0]) ?? 0, a[1]) < (Int64(b[0]) ?? 0, b[1])
            }
            var rows = try ClusterStore.rows(in: context.partition, db: db).sorted { less(key($0), key($1)) }
            if descending { rows.reverse() }
            if let after {
                rows = rows.filter { descending ? less(key($0), after) : less(after, key($0)) }
            }
            let limit = input.maxResults ?? 10
            let evaluated = rows.prefix(limit)
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
            let next = rows.count > limit ? PageToken.make(operation: "ListClusters", binding: binding, key: key(evaluated.last!)) : ""
            return ListClustersResponse(nextToken: next, clusterSummaries: summaries)
        }
    }
}

/// A non-negative integer zero-padded to 19 digits, so text order is number order (sort keys in page tokens).
func sortKey(_ value: Int64) -> String {
    let digits = String(value)
    return String(repeating: "0", count: max(0, 19 - digits.count)) + digits
}
