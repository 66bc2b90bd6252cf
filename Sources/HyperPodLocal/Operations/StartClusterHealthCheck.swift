import AWSJSONProtocol
import HyperPodStore
import HyperPodDomain
import SageMakerShapes

extension ClusterService {
    /// `StartClusterHealthCheck` (spec R97, R104): deep health checks on `Running` nodes, T_dhc long.
    /// - Returns: `{"ClusterArn": …}`.
    /// - Throws: `ResourceNotFound` (R32), `ValidationException` (R97 state, R104).
    func startClusterHealthCheck(_ input: StartClusterHealthCheckRequest, context: AWSRequestContext) throws -> StartClusterHealthCheckResponse {
        try perform { db, now in
            var lifecycle = try resolveCluster(input.clusterName, context: context, db: db)
            let previous = lifecycle
            let effects: [LifecycleEffect]
            do {
                effects = try lifecycle.startHealthCheck(input.deepHealthCheckConfigurations, timing: timing)
            } catch UpdateRejection.validation(let message), UpdateRejection.conflict(let message) {
                throw AWSError.validation(message)
            }
            try TransitionStore.schedule(try apply(effects, to: lifecycle, previous: previous, at: now, db: db), db: db)
            return StartClusterHealthCheckResponse(clusterArn: lifecycle.cluster.arn)
        }
    }
}
