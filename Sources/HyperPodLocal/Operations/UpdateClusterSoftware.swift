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
                // R336: the groups' ImageReleaseVersion, by group name.
                var releases: [String: String] = [:]
                var named: [String: String?] = [:]
                for group in input.instanceGroups ?? [] {
                    if let earlier = named[group.instanceGroupName], earlier != group.imageReleaseVersion {
                        throw AWSError.validation("Instance group \(group.instanceGroupName) is listed more than once with different ImageReleaseVersion values.")
                    }
                    named[group.instanceGroupName] = group.imageReleaseVersion
                    if let version = group.imageReleaseVersion { releases[group.instanceGroupName] = version }
                }
                return ((), try l.startSoftwareUpdate(groupNames: input.instanceGroups?.map(\.instanceGroupName), imageID: input.imageId,
                                                      deployment: input.deploymentConfig, releases: releases, context: &c))
            }
            return UpdateClusterSoftwareResponse(clusterArn: lifecycle.cluster.arn)
        }
    }
}
