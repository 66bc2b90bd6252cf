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
            try commit(&lifecycle, at: now, db: db, codes: .validationOnly,
                       records: .deepHealthCheck(input.deepHealthCheckConfigurations)) { l, _ in  // R303
                ((), try l.startHealthCheck(input.deepHealthCheckConfigurations, timing: timing))
            }
            return StartClusterHealthCheckResponse(clusterArn: lifecycle.cluster.arn)
        }
    }
}
