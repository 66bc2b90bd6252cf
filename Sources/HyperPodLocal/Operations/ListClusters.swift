import AWSJSONProtocol
import HyperPodStore
import HyperPodDomain
import JSON
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
            // MaxResults counts clusters evaluated: the page is taken first (by keyset in SQL, on the creation or name
            // index), the filters apply to it.
            let limit = input.maxResults ?? 10
            let after = try PageToken.keyset(input.nextToken, operation: "ListClusters", binding: binding, firstIsTime: !byName)
            let rows = try ClusterStore.clusterPage(in: context.partition, byName: byName, descending: input.sortOrder == .descending,
                                                    after: after, limit: limit + 1, db: db)
            let evaluated = rows.prefix(limit)
            var next = ""
            if rows.count > limit, let last = evaluated.last {
                next = PageToken.make(operation: "ListClusters", binding: binding,
                                      key: [byName ? last.name : sortKey(last.createdAt.milliseconds), last.arn])
            }
            var summaries: [ClusterSummary] = []
            let images = try imageCatalogue(in: context.partition, db: db)
            for row in evaluated {
                if let after = input.creationTimeAfter, !(row.createdAt.epochSeconds > after) { continue }
                if let before = input.creationTimeBefore, !(row.createdAt.epochSeconds < before) { continue }
                if let fragment = input.nameContains, !row.name.lowercased().contains(fragment.lowercased()) { continue }
                let plans = row.trainingPlanARNs
                if let plan = input.trainingPlanArn, !plans.contains(plan) { continue }
                guard let status = ClusterStatus(rawValue: row.status) else { throw StoreError.corrupt("cluster \(row.arn)") }
                // R337: the worst ImageVersionStatus over the cluster's groups (a damaged record: none to judge).
                let record = try? ClusterStore.loadRecord(row.arn, db: db)
                let worst = ImageCatalogue.worst((record?.groups ?? []).filter { $0.status != .deleting }.map {
                    images.status(ofImage: $0.currentImage(region: context.partition.region))
                })
                summaries.append(ClusterSummary(
                    clusterArn: row.arn, clusterName: row.name, creationTime: row.createdAt.epochSeconds,
                    clusterStatus: status, trainingPlanArns: plans, imageVersionStatus: worst
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
