import AWSJSONProtocol
import HyperPodStore
import HyperPodDomain
import SageMakerShapes

extension ClusterService {
    /// The cluster a tag operation's `ResourceArn` names (spec R115).
    private func taggedCluster(_ arn: String, context: AWSRequestContext, db: StoreTransaction) throws -> String {
        guard let parts = Identifiers.parseClusterARN(arn) else {
            if arn.hasPrefix("arn:") && arn.contains(":sagemaker:") {
                throw AWSError.validation("Resource type of '\(arn)' is not supported by hyperpod-local.")
            }
            throw ClusterErrors.notFound(arn, context: context)
        }
        _ = parts
        guard let resolved = try ClusterStore.resolve(arn, in: context.partition, db: db) else {
            throw ClusterErrors.notFound(arn, context: context)
        }
        return resolved
    }

    /// The plan a tag operation's training-plan ARN names (spec R200: tags on plans), nil for another kind of ARN.
    /// - Throws: `ResourceNotFound` (R202) for a plan ARN that names no plan of the caller's partition.
    private func taggedPlan(_ arn: String, context: AWSRequestContext, db: StoreTransaction) throws -> TrainingPlanRecord? {
        guard TrainingPlanRecord.parseARN(arn) != nil else { return nil }
        return try resolvePlan(arn, context: context, db: db)
    }

    /// The policy a tag operation's scheduler-config or compute-quota ARN names (spec R282), nil for another kind of ARN.
    /// - Throws: `ResourceNotFound` (R252) for an ARN that names no policy of the caller's partition.
    private func taggedPolicy(_ arn: String, context: AWSRequestContext, db: StoreTransaction) throws -> GovernancePolicyRecord? {
        guard let parts = GovernanceKind.parse(arn) else { return nil }
        let policy = try resolvePolicy(parts.kind, id: parts.id, context: context, db: db)
        guard policy.arn == arn else { throw AWSError.resourceNotFound("Could not find \(parts.kind.noun) '\(parts.id)'") }
        return policy
    }

    /// Tags kept in a plan's or policy's own record with `added` merged in (R114, R115, R282): a key already there, or
    /// given twice, keeps its place and takes the last value; `aws:` keys are reserved; at most 50.
    /// - Throws: `ValidationException` for an `aws:` key or more than 50 tags.
    static func merging(_ added: [Tag], into existing: [Tag]) throws -> [Tag] {
        if added.contains(where: { $0.key.lowercased().hasPrefix("aws:") }) {
            throw AWSError.validation("Tag keys starting with 'aws:' are reserved.")
        }
        var tags = existing
        for tag in added {
            if let i = tags.firstIndex(where: { $0.key == tag.key }) { tags[i] = tag } else { tags.append(tag) }
        }
        if tags.count > 50 { throw AWSError.validation("Tag limit exceeded: a resource can have at most 50 tags.") }
        return tags
    }

    /// `AddTags` (spec R114, R115, R282): adds or overwrites; at most 50 per cluster, plan or policy; `aws:` keys reserved.
    func addTags(_ input: AddTagsInput, context: AWSRequestContext) throws -> AddTagsOutput {
        try perform { db, _ in
            if var policy = try taggedPolicy(input.resourceArn, context: context, db: db) {
                policy.tags = try Self.merging(input.tags, into: policy.tags)
                try GovernanceStore.save(policy, db: db)
                return AddTagsOutput(tags: input.tags)
            }
            if var plan = try taggedPlan(input.resourceArn, context: context, db: db) {
                plan.tags = try Self.merging(input.tags, into: plan.tags)
                try TrainingPlanStore.save(plan, db: db)
                return AddTagsOutput(tags: input.tags)
            }
            let arn = try taggedCluster(input.resourceArn, context: context, db: db)
            if input.tags.contains(where: { $0.key.lowercased().hasPrefix("aws:") }) {
                throw AWSError.validation("Tag keys starting with 'aws:' are reserved.")
            }
            let existing = Set(try ClusterStore.tags(of: arn, db: db).map(\.key))
            if existing.union(input.tags.map(\.key)).count > 50 {
                throw AWSError.validation("Tag limit exceeded: a resource can have at most 50 tags.")
            }
            try ClusterStore.addTags(input.tags, to: arn, db: db)
            return AddTagsOutput(tags: input.tags)
        }
    }

    /// `ListTags` (spec R114): first-added order, one page.
    func listTags(_ input: ListTagsInput, context: AWSRequestContext) throws -> ListTagsOutput {
        try read { db, _ in
            if let plan = try taggedPlan(input.resourceArn, context: context, db: db) { return ListTagsOutput(tags: plan.tags) }
            if let policy = try taggedPolicy(input.resourceArn, context: context, db: db) { return ListTagsOutput(tags: policy.tags) }
            return ListTagsOutput(tags: try ClusterStore.tags(of: try taggedCluster(input.resourceArn, context: context, db: db), db: db))
        }
    }

    /// `DeleteTags` (spec R114): absent keys are no error.
    func deleteTags(_ input: DeleteTagsInput, context: AWSRequestContext) throws -> DeleteTagsOutput {
        try perform { db, _ in
            if var plan = try taggedPlan(input.resourceArn, context: context, db: db) {
                plan.tags.removeAll { input.tagKeys.contains($0.key) }
                try TrainingPlanStore.save(plan, db: db)
                return DeleteTagsOutput()
            }
            if var policy = try taggedPolicy(input.resourceArn, context: context, db: db) {
                policy.tags.removeAll { input.tagKeys.contains($0.key) }
                try GovernanceStore.save(policy, db: db)
                return DeleteTagsOutput()
            }
            try ClusterStore.deleteTags(input.tagKeys, from: try taggedCluster(input.resourceArn, context: context, db: db), db: db)
            return DeleteTagsOutput()
        }
    }
}
