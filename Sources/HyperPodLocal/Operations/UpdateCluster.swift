import AWSJSONProtocol
import HyperPodStore
import HyperPodDomain
import SageMakerShapes

extension ClusterService {
    /// `UpdateCluster` (spec §7), in the order of R68: resolve (R32) → state (R69, R85) → business checks (R70 … R83)
    /// → quotas (R84) → apply, all in one write transaction: a refused request changes nothing.
    /// - Returns: `{"ClusterArn": …}`.
    /// - Throws: `ResourceNotFound` (R32), `ConflictException` (R69, R85), `ValidationException` (R70 … R83),
    ///   `ResourceLimitExceeded` (R84).
    func updateCluster(_ input: UpdateClusterRequest, context: AWSRequestContext) throws -> UpdateClusterResponse {
        try perform { db, now in
            var lifecycle = try resolveCluster(input.clusterName, context: context, db: db)
            let plan = try checked(.conflictOrValidation) {
                try lifecycle.planUpdate(input, healthChecksInProgress: lifecycle.healthChecksInProgress,
                                         images: try imageCatalogue(in: context.partition, db: db), now: now)
            }
            // R221: every added group with a TrainingPlanArn and every group whose TrainingPlanArn changes to a new value.
            let before = Dictionary(lifecycle.cluster.groups.map { ($0.name, $0.spec.trainingPlanArn) }, uniquingKeysWith: { a, _ in a })
            let named = (input.instanceGroups ?? []) + (input.restrictedInstanceGroups ?? []).map(ClusterInstanceGroupSpecification.init(restricted:))
            let newPlans = named.filter { $0.trainingPlanArn != nil && before[$0.instanceGroupName] != .some($0.trainingPlanArn) }
            if let message = try planViolation(newPlans, vpc: plan.settings.vpcConfig, context: context, at: now, db: db) {
                throw AWSError.validation(message)
            }
            // R222: groups whose plan changed (added, changed or removed) try their waiting slots from the new source.
            let sourceChanged = named.filter { g in before[g.instanceGroupName].map { old in old != g.trainingPlanArn } ?? false }
                .map(\.instanceGroupName)
            // R84: the net increase the request causes, against the partition's usage.
            if let violation = Quotas.firstViolation(
                usage: try ClusterStore.quotaUsage(in: context.partition, db: db), before: lifecycle.targetCounts, after: plan.targetCounts,
                newCluster: false,
                ebsVolumeSizes: Self.ebsVolumeSizes((input.instanceGroups ?? []).map(\.instanceStorageConfigs)
                    + (input.restrictedInstanceGroups ?? []).map(\.instanceStorageConfigs)),
                limits: try quotaLimits(in: context.partition, db: db)
            ) {
                throw AWSError.resourceLimitExceeded(violation.message)
            }
            guard !plan.isNoOp || !plan.reschedules.isEmpty else { return UpdateClusterResponse(clusterArn: lifecycle.cluster.arn) }  // R86
            // The plans the request names: its launches (a new group, a scale-up) may draw from them at once (R222, R223).
            let requestedPlans = Set(named.compactMap { $0.trainingPlanArn?.lowercased() })
            try commit(&lifecycle, at: now, db: db, planKeys: requestedPlans) { l, c in
                var effects = l.applyUpdate(plan, context: &c)
                for name in sourceChanged { effects += l.relaunchWaitingSlots(of: name, context: &c) }
                return ((), effects)
            }
            return UpdateClusterResponse(clusterArn: lifecycle.cluster.arn)
        }
    }
}
