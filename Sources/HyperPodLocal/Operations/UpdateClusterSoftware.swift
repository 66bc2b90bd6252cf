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
            try commit(&lifecycle, at: now, db: db, onlyIfChanged: true) { l, c in
                ((), try l.startSoftwareUpdate(groupNames: input.instanceGroups?.map(\.instanceGroupName), imageID: input.imageId,
                                               deployment: input.deploymentConfig, context: &c))
            }
            return UpdateClusterSoftwareResponse(clusterArn: lifecycle.cluster.arn)
        }
    }
}
