import AWSJSONProtocol
import HyperPodStore
import HyperPodDomain
import SageMakerShapes

extension ClusterService {
    /// `UpdateClusterSoftware` (spec R105–R109): groups patched one at a time in rolling batches with baking periods;
    /// an alarm in ALARM rolls the group back.
    /// - Returns: `{"ClusterArn": …}` (also for a no-op).
    /// - Throws: `ResourceNotFound` (R32), `ConflictException` (R105), `ValidationException` (R106, R107).
    func updateClusterSoftware(_ input: UpdateClusterSoftwareRequest, context: AWSRequestContext) throws -> UpdateClusterSoftwareResponse {
        try perform { db, now in
            var lifecycle = try resolveCluster(input.clusterName, context: context, db: db)
            let previous = lifecycle
            var transition = try makeContext(for: lifecycle.cluster, at: now, db: db)
            let effects: [LifecycleEffect]
            do {
                effects = try lifecycle.startSoftwareUpdate(
                    groupNames: input.instanceGroups?.map(\.instanceGroupName), imageID: input.imageId,
                    deployment: input.deploymentConfig, context: &transition)
            } catch UpdateRejection.conflict(let message) {
                throw AWSError(code: "ConflictException", message: message)
            } catch UpdateRejection.validation(let message) {
                throw AWSError.validation(message)
            }
            try finishTransition(transition, db: db)
            if lifecycle != previous {
                try TransitionStore.schedule(try apply(effects, to: lifecycle, previous: previous, at: now, db: db), db: db)
            }
            return UpdateClusterSoftwareResponse(clusterArn: lifecycle.cluster.arn)
        }
    }
}
