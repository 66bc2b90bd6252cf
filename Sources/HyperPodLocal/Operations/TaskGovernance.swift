import AWSJSONProtocol
import HyperPodDomain
import HyperPodStore
import JSON
import SageMakerShapes

/// A timer of a task governance policy (spec R266), stored under the policy's ARN.
enum GovernanceEvent: Equatable {
    /// P2/P3, P5/P6, P8/P9: the pending reconcile ends, T_policy after it was accepted. Stale unless `token` is the
    /// policy's.
    case reconcile(token: Int)
    /// P10: a `Deleted` policy's retention ends, T_gov_retain after it was deleted.
    case retentionEnded

    var encoded: String {
        let object: JSONObject = switch self {
        case .reconcile(let token): ["event": .string("policyReconcile"), "token": .integer(Int64(token))]
        case .retentionEnded: ["event": .string("policyRetentionEnded")]
        }
        return String(decoding: JSONWriter.encode(.object(object)), as: UTF8.self)
    }

    init?(encoded: String) {
        guard let object = try? JSONParser.parse(encoded).objectValue else { return nil }
        switch object["event"]?.stringValue {
        case "policyReconcile": self = .reconcile(token: object["token"]?.intValue ?? -1)
        case "policyRetentionEnded": self = .retentionEnded
        default: return nil
        }
    }

    /// RA11 (R286): retention timers do not make a settle wait.
    static let notTransitional = [GovernanceEvent.retentionEnded.encoded]
}

extension ClusterService {
    /// Whether a timer row belongs to a task governance policy.
    static func isGovernanceTimer(_ resourceARN: String) -> Bool { GovernanceKind.parse(resourceARN) != nil }

    // MARK: Timers (R266, R268)

    /// Applies a fired policy timer.
    func fireGovernance(_ timer: ScheduledTransition, db: StoreTransaction) throws -> [NewTransition] {
        guard var policy = try GovernanceStore.policy(arn: timer.resourceARN, db: db) else { return [] }
        guard let event = GovernanceEvent(encoded: timer.event) else { throw UnknownTransition(event: timer.event) }
        switch event {
        case .retentionEnded:
            guard policy.status == .deleted else { return [] }
            try GovernanceStore.remove(arn: policy.arn, db: db)  // P10: with its versions and tags
            return []
        case .reconcile(let token):
            guard token == policy.token, let operation = policy.pending else { return [] }
            let failure = try consumeGovernanceFault(for: policy, operation: operation, db: db)
            let deleted = policy.reconcile(token: token, failure: failure)
            try GovernanceStore.save(policy, db: db)
            guard deleted else { return [] }
            return [NewTransition(resourceARN: policy.arn, generation: 1, event: GovernanceEvent.retentionEnded.encoded,
                                  dueAt: timer.dueAt.adding(seconds: timing[.governanceRetention]))]
        }
    }

    /// The reconcile timer of a policy's pending operation, T_policy from now.
    func reconcileTimer(_ policy: GovernancePolicyRecord, at now: VirtualTime) -> NewTransition {
        NewTransition(resourceARN: policy.arn, generation: 1, event: GovernanceEvent.reconcile(token: policy.token).encoded,
                      dueAt: now.adding(seconds: timing[.policy]))
    }

    /// R268, R286: takes one count of the first `governance-failure` fault matching the transition, if any.
    func consumeGovernanceFault(for policy: GovernancePolicyRecord, operation: GovernanceOperation, db: StoreTransaction) throws -> GovernanceFailure? {
        guard let fault = faults.all.first(where: { f in
            f.kind == "governance-failure"
                && (f.body["cluster"]?.stringValue).map { $0 == policy.clusterName } ?? true
                && (f.body["resource"]?.stringValue).map { $0 == policy.kind.rawValue } ?? true
                && (f.body["operation"]?.stringValue).map { $0 == operation.rawValue } ?? true
                && (f.body["account"]?.stringValue ?? policy.account) == policy.account
                && (f.body["region"]?.stringValue ?? policy.region) == policy.region
        }) else { return nil }
        if let count = fault.body["count"]?.intValue {
            if count <= 1 {
                try ServerStore.removeFault(id: fault.id, db: db)
            } else {
                var body = fault.body
                body["count"] = .integer(Int64(count - 1))
                try ServerStore.updateFault(id: fault.id, body: body, db: db)
            }
            try reloadFaults(db)
        }
        let eks = try ClusterStore.loadRecord(policy.clusterARN, db: db)?.request.orchestrator?.eks?.clusterArn ?? policy.clusterARN
        let reason = fault.body["reason"]?.stringValue
            ?? "Task governance add-on amazon-sagemaker-hyperpod-taskgovernance is not installed or not ready on EKS cluster \(eks)."
        return GovernanceFailure(rollbackFails: fault.body["rollback"]?.stringValue == "fail", reason: reason)
    }

    // MARK: Resolution (R252–R254)

    /// The cluster a Create names by ARN (R252), checked for EKS (R253) and state (R254).
    /// - Throws: `ValidationException` `Could not find cluster '<arn>'` or R253's text; `ConflictException` (R254).
    func governanceCluster(_ arn: String, context: AWSRequestContext, db: StoreTransaction) throws -> ClusterRecord {
        guard let resolved = try ClusterStore.resolve(arn, in: context.partition, db: db),
              let cluster = try? ClusterStore.loadRecord(resolved, db: db) else {
            throw AWSError.validation("Could not find cluster '\(arn)'")
        }
        guard cluster.isEKS else { throw AWSError.validation("Task governance is only supported for clusters with an Eks orchestrator.") }
        guard [.inService, .updating, .systemUpdating].contains(cluster.status) else {
            throw AWSError.conflict("Cluster \(cluster.name) is in \(cluster.status.rawValue) state and cannot accept task governance policies.")
        }
        return cluster
    }

    /// The policy of a kind with this id in the caller's partition (R252).
    /// - Throws: `ResourceNotFound` `Could not find <kind> '<id>'`.
    func resolvePolicy(_ kind: GovernanceKind, id: String, context: AWSRequestContext, db: StoreTransaction) throws -> GovernancePolicyRecord {
        guard let policy = try GovernanceStore.policy(kind, id: id, in: context.partition, db: db) else {
            throw AWSError.resourceNotFound("Could not find \(kind.noun) '\(id)'")
        }
        return policy
    }

    /// A new policy id: 12 `[a-z0-9]`, unique in the partition across clusters and both kinds, never reused (R251).
    func newPolicyID(in partition: ClusterStore.Partition, db: StoreTransaction) throws -> String {
        while true {
            let id = generator.withLock { Identifiers.clusterID(using: &$0) }
            if try !GovernanceStore.idTaken(id, in: partition, db: db),
               try ClusterStore.claimIdentifier(kind: "governance-id", "\(partition.account)/\(partition.region)/\(id)", db: db) {
                return id
            }
        }
    }

    /// P1: a checked Create's record — a new id (R251), `Creating` at version 1 with `content`, its tags (R282) —
    /// stored with its reconcile timer.
    /// - Throws: `ValidationException` for the tags (R115).
    func acceptNewPolicy(_ kind: GovernanceKind, name: String, cluster: ClusterRecord, content: JSONObject, tags: [Tag]?,
                         context: AWSRequestContext, at now: VirtualTime, db: StoreTransaction) throws -> GovernancePolicyRecord {
        let tags = try Self.merging(tags ?? [], into: [])  // R282: the last of a duplicated key wins
        let id = try newPolicyID(in: context.partition, db: db)
        let policy = GovernancePolicyRecord(
            kind: kind, id: id, arn: kind.arn(partition: context.identity.partition, region: cluster.region, account: cluster.account, id: id),
            name: name, account: cluster.account, region: cluster.region, clusterARN: cluster.arn, clusterName: cluster.name,
            content: content, at: now, tags: tags)
        try GovernanceStore.save(policy, db: db)
        try TransitionStore.schedule([reconcileTimer(policy, at: now)], db: db)
        return policy
    }

    /// P4: an Update of either kind, in R272's order — resolve, status, version, then `change` edits the latest content
    /// (checking it, R260–R262, R274) — accepted as a new version, `Updating`, with its reconcile timer.
    /// - Throws: `ResourceNotFound` (R252), `ConflictException` (R267, R272), what `change` throws.
    func updatePolicy(_ kind: GovernanceKind, id: String, targetVersion: Int, context: AWSRequestContext, at now: VirtualTime, db: StoreTransaction,
                      change: (inout JSONObject, GovernancePolicyRecord) throws -> Void) throws -> GovernancePolicyRecord {
        var policy = try resolvePolicy(kind, id: id, context: context, db: db)
        try checkUpdate(policy, targetVersion: targetVersion)
        var content = policy.content
        try change(&content, policy)
        policy.update(to: content, at: now)
        try GovernanceStore.save(policy, db: db)
        try TransitionStore.schedule([reconcileTimer(policy, at: now)], db: db)
        return policy
    }

    /// The version an Update names (R267, R272): refused by status, then by version.
    func checkUpdate(_ policy: GovernancePolicyRecord, targetVersion: Int) throws {
        guard policy.acceptsUpdate else {
            throw AWSError.conflict("\(policy.kind.capitalizedNoun) \(policy.id) is in \(policy.status.rawValue) status and cannot be updated.")
        }
        guard targetVersion == policy.version else {
            throw AWSError.conflict("TargetVersion \(targetVersion) does not match the current version \(policy.version) of \(policy.kind.noun) \(policy.id).")
        }
    }

    /// R278: `LastModifiedTime` of what a Describe shows — the latest Create, Update or Delete for the latest version (a
    /// Delete moves it), the version's own acceptance for an older one (R275).
    static func lastModified(_ policy: GovernancePolicyRecord, asked: Int?, _ version: GovernanceVersion) -> Double {
        asked == nil || asked == policy.version ? policy.lastModifiedTime.epochSeconds : version.lastModifiedTime.epochSeconds
    }

    /// R275: the version a Describe asks for (absent: the latest).
    /// - Throws: `ResourceNotFound` `Could not find version <v> of <kind> '<id>'`.
    static func version(_ asked: Int?, of policy: GovernancePolicyRecord) throws -> GovernanceVersion {
        guard let asked else { return policy.versions[policy.versions.count - 1] }
        guard asked >= 1, asked <= policy.version else {
            throw AWSError.resourceNotFound("Could not find version \(asked) of \(policy.kind.noun) '\(policy.id)'")
        }
        return policy.versions[asked - 1]
    }

    // MARK: Cluster scheduler configs

    /// `CreateClusterSchedulerConfig` (R250–R256, R260, R264): `Creating`, version 1; `Created` after T_policy.
    /// - Throws: `ValidationException` (R252, R253, R260), `ConflictException` (R254, R256).
    func createClusterSchedulerConfig(_ input: CreateClusterSchedulerConfigRequest, context: AWSRequestContext) throws -> CreateClusterSchedulerConfigResponse {
        try perform { db, now in
            let cluster = try governanceCluster(input.clusterArn, context: context, db: db)
            if let message = GovernanceRules.violation(input.schedulerConfig) { throw AWSError.validation(message) }
            if let live = try GovernanceStore.policies(ofCluster: cluster.arn, db: db).first(where: { $0.kind == .schedulerConfig && $0.isLive }) {
                throw AWSError.conflict("Cluster \(cluster.name) already has cluster scheduler config \(live.id). "
                                        + "A cluster can have only one cluster scheduler config.")
            }
            var content: JSONObject = ["SchedulerConfig": GovernanceRules.withDefaults(input.schedulerConfig).jsonValue]
            if let description = input.description { content["Description"] = .string(description) }
            let policy = try acceptNewPolicy(.schedulerConfig, name: input.name, cluster: cluster, content: content, tags: input.tags,
                                             context: context, at: now, db: db)
            return CreateClusterSchedulerConfigResponse(clusterSchedulerConfigArn: policy.arn, clusterSchedulerConfigId: policy.id)
        }
    }

    /// `UpdateClusterSchedulerConfig` (R267, R271–R273): `Updating`, version + 1.
    /// - Throws: `ResourceNotFound` (R252), `ConflictException` (R267, R272), `ValidationException` (R260).
    func updateClusterSchedulerConfig(_ input: UpdateClusterSchedulerConfigRequest, context: AWSRequestContext) throws -> UpdateClusterSchedulerConfigResponse {
        try perform { db, now in
            let policy = try updatePolicy(.schedulerConfig, id: input.clusterSchedulerConfigId, targetVersion: input.targetVersion,
                                          context: context, at: now, db: db) { content, _ in
                if let config = input.schedulerConfig {
                    if let message = GovernanceRules.violation(config) { throw AWSError.validation(message) }
                    content["SchedulerConfig"] = GovernanceRules.withDefaults(config).jsonValue
                }
                if let description = input.description { content["Description"] = .string(description) }
            }
            return UpdateClusterSchedulerConfigResponse(clusterSchedulerConfigArn: policy.arn, clusterSchedulerConfigVersion: policy.version)
        }
    }

    /// `DeleteClusterSchedulerConfig` (R276): `Deleting`, then `Deleted`; a no-op from `Deleting` or `Deleted`.
    /// - Throws: `ResourceNotFound` (R252).
    func deleteClusterSchedulerConfig(_ input: DeleteClusterSchedulerConfigRequest, context: AWSRequestContext) throws {
        try deletePolicy(.schedulerConfig, id: input.clusterSchedulerConfigId, context: context)
    }

    /// `DescribeClusterSchedulerConfig` (R275, R277): the latest version, or the one asked for.
    /// - Throws: `ResourceNotFound` (R252, R275).
    func describeClusterSchedulerConfig(_ input: DescribeClusterSchedulerConfigRequest, context: AWSRequestContext) throws -> DescribeClusterSchedulerConfigResponse {
        try read { db, _ in
            let policy = try resolvePolicy(.schedulerConfig, id: input.clusterSchedulerConfigId, context: context, db: db)
            let version = try Self.version(input.clusterSchedulerConfigVersion, of: policy)
            let number = (input.clusterSchedulerConfigVersion ?? policy.version)
            return DescribeClusterSchedulerConfigResponse(
                clusterSchedulerConfigArn: policy.arn, clusterSchedulerConfigId: policy.id, name: policy.name, clusterSchedulerConfigVersion: number,
                status: policy.status, failureReason: policy.failureReason,
                statusDetails: policy.statusDetails(of: version.content)?.compactMapValues(SchedulerResourceStatus.init(rawValue:)),
                clusterArn: policy.clusterARN,
                schedulerConfig: try version.content["SchedulerConfig"].map { try SchedulerConfig(json: $0) },
                description: version.content["Description"]?.stringValue, creationTime: policy.creationTime.epochSeconds,
                createdBy: UserContext(), lastModifiedTime: Self.lastModified(policy, asked: input.clusterSchedulerConfigVersion, version),
                lastModifiedBy: UserContext())
        }
    }

    /// `ListClusterSchedulerConfigs` (R279–R281).
    /// - Throws: `ValidationException` for a foreign NextToken.
    func listClusterSchedulerConfigs(_ input: ListClusterSchedulerConfigsRequest, context: AWSRequestContext) throws -> ListClusterSchedulerConfigsResponse {
        try read { db, _ in
            let sortBy = input.sortBy?.rawValue ?? "CreationTime"
            let (page, next) = try listPolicies(
                .schedulerConfig, context: context, db: db, createdAfter: input.createdAfter, createdBefore: input.createdBefore,
                nameContains: input.nameContains, clusterArn: input.clusterArn, status: input.status, sortBy: sortBy,
                ascending: input.sortOrder == .ascending, nextToken: input.nextToken, maxResults: input.maxResults)
            return ListClusterSchedulerConfigsResponse(clusterSchedulerConfigSummaries: page.map { p in
                ClusterSchedulerConfigSummary(
                    clusterSchedulerConfigArn: p.arn, clusterSchedulerConfigId: p.id, clusterSchedulerConfigVersion: p.version, name: p.name,
                    creationTime: p.creationTime.epochSeconds, lastModifiedTime: p.lastModifiedTime.epochSeconds,
                    status: p.status, clusterArn: p.clusterARN)
            }, nextToken: next)
        }
    }

    // MARK: Compute quotas

    /// The content rules of a compute quota against the cluster's current groups (R258, R261, R262).
    func quotaViolation(_ config: ComputeQuotaConfig?, target: ComputeQuotaTarget?, clusterARN: String, clusterName: String,
                        db: StoreTransaction) throws -> String? {
        let types = try ClusterStore.loadRecord(clusterARN, db: db).map(GovernanceRules.instanceTypes(of:)) ?? []
        return GovernanceRules.violation(config, target: target, types: types, clusterName: clusterName)
    }

    /// `CreateComputeQuota` (R250–R259, R261–R264): `Creating`, version 1; `Created` after T_policy.
    /// - Throws: `ValidationException` (R252, R253, R258, R261, R262), `ConflictException` (R254, R257, R258),
    ///   `ResourceLimitExceeded` (R259).
    func createComputeQuota(_ input: CreateComputeQuotaRequest, context: AWSRequestContext) throws -> CreateComputeQuotaResponse {
        try perform { db, now in
            let cluster = try governanceCluster(input.clusterArn, context: context, db: db)
            if let message = try quotaViolation(input.computeQuotaConfig, target: input.computeQuotaTarget, clusterARN: cluster.arn,
                                                clusterName: cluster.name, db: db) {
                throw AWSError.validation(message)
            }
            let live = try GovernanceStore.policies(ofCluster: cluster.arn, db: db).filter { $0.kind == .computeQuota && $0.isLive }
            if live.contains(where: { $0.name == input.name }) {
                throw AWSError.conflict("Compute quota \(input.name) already exists in cluster \(cluster.name).")
            }
            let team = input.computeQuotaTarget.teamName
            if let other = live.first(where: { $0.content["ComputeQuotaTarget"]?.objectValue?["TeamName"]?.stringValue == team }) {
                throw AWSError.conflict("Team \(team) already has compute quota \(other.id) in cluster \(cluster.name).")
            }
            let quota = Quotas.Quota.computeQuotasPerCluster
            let limit = try quotaLimits(in: context.partition, db: db)[quota.name] ?? quota.defaultLimit
            if live.count + 1 > limit {
                throw AWSError.resourceLimitExceeded(Quotas.Violation(quota: quota, limit: limit, usage: live.count, delta: 1).message)
            }
            var content: JSONObject = [
                "ComputeQuotaConfig": GovernanceRules.withDefaults(input.computeQuotaConfig).jsonValue,
                "ComputeQuotaTarget": GovernanceRules.withDefaults(input.computeQuotaTarget).jsonValue,
                "ActivationState": .string((input.activationState ?? .enabled).rawValue),
            ]
            if let description = input.description { content["Description"] = .string(description) }
            let policy = try acceptNewPolicy(.computeQuota, name: input.name, cluster: cluster, content: content, tags: input.tags,
                                             context: context, at: now, db: db)
            return CreateComputeQuotaResponse(computeQuotaArn: policy.arn, computeQuotaId: policy.id)
        }
    }

    /// `UpdateComputeQuota` (R267, R271, R272, R274).
    /// - Throws: `ResourceNotFound` (R252), `ConflictException` (R267, R272), `ValidationException` (R261, R262, R274).
    func updateComputeQuota(_ input: UpdateComputeQuotaRequest, context: AWSRequestContext) throws -> UpdateComputeQuotaResponse {
        try perform { db, now in
            let policy = try updatePolicy(.computeQuota, id: input.computeQuotaId, targetVersion: input.targetVersion,
                                          context: context, at: now, db: db) { content, policy in
                let team = content["ComputeQuotaTarget"]?.objectValue?["TeamName"]?.stringValue ?? ""
                if let target = input.computeQuotaTarget, target.teamName != team {
                    throw AWSError.validation("TeamName cannot be changed: compute quota \(policy.id) belongs to team \(team).")
                }
                // R263: every update re-checks the resulting configuration against the cluster's groups of this moment.
                let resulting = try input.computeQuotaConfig ?? content["ComputeQuotaConfig"].map { try ComputeQuotaConfig(json: $0) }
                if let message = try quotaViolation(resulting, target: nil, clusterARN: policy.clusterARN,
                                                    clusterName: policy.clusterName, db: db) {
                    throw AWSError.validation(message)
                }
                if let config = input.computeQuotaConfig { content["ComputeQuotaConfig"] = GovernanceRules.withDefaults(config).jsonValue }
                if let target = input.computeQuotaTarget { content["ComputeQuotaTarget"] = GovernanceRules.withDefaults(target).jsonValue }
                if let state = input.activationState { content["ActivationState"] = .string(state.rawValue) }
                if let description = input.description { content["Description"] = .string(description) }
            }
            return UpdateComputeQuotaResponse(computeQuotaArn: policy.arn, computeQuotaVersion: policy.version)
        }
    }

    /// `DeleteComputeQuota` (R276).
    /// - Throws: `ResourceNotFound` (R252).
    func deleteComputeQuota(_ input: DeleteComputeQuotaRequest, context: AWSRequestContext) throws {
        try deletePolicy(.computeQuota, id: input.computeQuotaId, context: context)
    }

    /// `DescribeComputeQuota` (R275, R277).
    /// - Throws: `ResourceNotFound` (R252, R275).
    func describeComputeQuota(_ input: DescribeComputeQuotaRequest, context: AWSRequestContext) throws -> DescribeComputeQuotaResponse {
        try read { db, _ in
            let policy = try resolvePolicy(.computeQuota, id: input.computeQuotaId, context: context, db: db)
            let version = try Self.version(input.computeQuotaVersion, of: policy)
            return DescribeComputeQuotaResponse(
                computeQuotaArn: policy.arn, computeQuotaId: policy.id, name: policy.name, description: version.content["Description"]?.stringValue,
                computeQuotaVersion: input.computeQuotaVersion ?? policy.version, status: policy.status, failureReason: policy.failureReason,
                clusterArn: policy.clusterARN, computeQuotaConfig: try version.content["ComputeQuotaConfig"].map { try ComputeQuotaConfig(json: $0) },
                computeQuotaTarget: try ComputeQuotaTarget(json: version.content["ComputeQuotaTarget"] ?? .object([:])),
                activationState: version.content["ActivationState"]?.stringValue.flatMap(ActivationState.init(rawValue:)),
                creationTime: policy.creationTime.epochSeconds, createdBy: UserContext(),
                lastModifiedTime: Self.lastModified(policy, asked: input.computeQuotaVersion, version), lastModifiedBy: UserContext())
        }
    }

    /// `ListComputeQuotas` (R279–R281).
    /// - Throws: `ValidationException` for a foreign NextToken.
    func listComputeQuotas(_ input: ListComputeQuotasRequest, context: AWSRequestContext) throws -> ListComputeQuotasResponse {
        try read { db, _ in
            let sortBy = input.sortBy?.rawValue ?? "CreationTime"
            let (page, next) = try listPolicies(
                .computeQuota, context: context, db: db, createdAfter: input.createdAfter, createdBefore: input.createdBefore,
                nameContains: input.nameContains, clusterArn: input.clusterArn, status: input.status, sortBy: sortBy,
                ascending: input.sortOrder == .ascending, nextToken: input.nextToken, maxResults: input.maxResults)
            return ListComputeQuotasResponse(computeQuotaSummaries: try page.map { p in
                let c = p.content
                return ComputeQuotaSummary(
                    computeQuotaArn: p.arn, computeQuotaId: p.id, name: p.name, computeQuotaVersion: p.version, status: p.status,
                    clusterArn: p.clusterARN, computeQuotaConfig: try c["ComputeQuotaConfig"].map { try ComputeQuotaConfig(json: $0) },
                    computeQuotaTarget: try ComputeQuotaTarget(json: c["ComputeQuotaTarget"] ?? .object([:])),
                    activationState: c["ActivationState"]?.stringValue.flatMap(ActivationState.init(rawValue:)),
                    creationTime: p.creationTime.epochSeconds, lastModifiedTime: p.lastModifiedTime.epochSeconds)
            }, nextToken: next)
        }
    }

    // MARK: Shared

    /// R276, P7: Delete of either kind.
    func deletePolicy(_ kind: GovernanceKind, id: String, context: AWSRequestContext) throws {
        try perform { db, now in
            var policy = try resolvePolicy(kind, id: id, context: context, db: db)
            guard policy.delete(at: now) else { return }  // R267: a no-op from Deleting or Deleted
            try GovernanceStore.save(policy, db: db)
            try TransitionStore.schedule([reconcileTimer(policy, at: now)], db: db)
        }
    }

    /// R279, R280: a page of one kind's policies in the caller's partition (`Deleted` ones included), filtered, sorted
    /// (`SortOrder` default Descending; ties by ARN) and paged; `NextToken` omitted on the last page (R11).
    func listPolicies(_ kind: GovernanceKind, context: AWSRequestContext, db: StoreTransaction, createdAfter: Double?, createdBefore: Double?,
                      nameContains: String?, clusterArn: String?, status: SchedulerResourceStatus?, sortBy: String, ascending: Bool,
                      nextToken: String?, maxResults: Int?) throws -> ([GovernancePolicyRecord], String?) {
        let all = try GovernanceStore.policies(kind, in: context.partition, db: db).filter { p in
            if let after = createdAfter, !(p.creationTime.epochSeconds > after) { return false }
            if let before = createdBefore, !(p.creationTime.epochSeconds < before) { return false }
            if let fragment = nameContains, !p.name.lowercased().contains(fragment.lowercased()) { return false }
            if let arn = clusterArn, p.clusterARN != arn { return false }
            if let status, p.status != status { return false }
            return true
        }
        let binding = "\(context.partition.account)/\(context.partition.region)|\(sortBy)|\(ascending)|\(createdAfter ?? -1)|"
            + "\(createdBefore ?? -1)|\(nameContains ?? "")|\(clusterArn ?? "")|\(status?.rawValue ?? "")"
        let operation = kind == .schedulerConfig ? "ListClusterSchedulerConfigs" : "ListComputeQuotas"
        let (page, next) = try PageToken.page(all, key: { p in
            switch sortBy {
            case "Name": [p.name, p.arn]
            case "Status": [p.status.rawValue, p.arn]
            case "ClusterArn": [p.clusterARN, p.arn]
            default: [sortKey(p.creationTime.milliseconds), p.arn]
            }
        }, descending: !ascending, token: nextToken, operation: operation, binding: binding, limit: maxResults ?? 10)
        return (page, next.isEmpty ? nil : next)
    }

    /// R284: DeleteCluster of a cluster with live policies — refused (`block`, the default) or cascaded (`cascade`).
    /// - Returns: the timers of the cascaded deletes.
    /// - Throws: `ConflictException` naming the policies (`block`).
    func governanceOnClusterDelete(_ cluster: ClusterRecord, at now: VirtualTime, db: StoreTransaction) throws -> [NewTransition] {
        let partition = ClusterStore.Partition(account: cluster.account, region: cluster.region)
        let all = try GovernanceStore.policies(ofCluster: cluster.arn, db: db).filter(\.isLive)  // in creation order
        let live = all.filter { $0.kind == .schedulerConfig } + all.filter { $0.kind == .computeQuota }
        guard !live.isEmpty else { return [] }
        let mode = try PartitionSettings.value(PartitionSettings.governanceOnClusterDelete, in: partition, db: db)?.stringValue ?? "block"
        guard mode == "cascade" else {
            throw AWSError.conflict("Cluster \(cluster.name) has task governance policies attached (\(live.map(\.id).joined(separator: ", "))) "
                                    + "and cannot be deleted. Delete them first.")
        }
        var timers: [NewTransition] = []
        for var policy in live where policy.delete(at: now) {
            try GovernanceStore.save(policy, db: db)
            timers.append(reconcileTimer(policy, at: now))
        }
        return timers
    }
}
