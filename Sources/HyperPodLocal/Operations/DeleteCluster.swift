import AWSJSONProtocol
import HyperPodStore
import HyperPodDomain
import SageMakerShapes

extension ClusterService {
    /// `DeleteCluster` (spec §8): `Deleting` at once, nodes `ShuttingDown`, then gone (R88); pending timers of the
    /// cluster are cancelled.
    /// A cluster whose stored record cannot be decoded is removed at once (issue #14).
    /// - Throws: `ResourceNotFound` (R32), `ConflictException` when already deleting (R87).
    func deleteCluster(_ input: DeleteClusterRequest, context: AWSRequestContext) throws -> DeleteClusterResponse {
        try perform { db, now in
            let loaded: ClusterLifecycle
            switch try resolveClusterAllowingDamage(input.clusterName, context: context, db: db) {
            case .success(let lifecycle): loaded = lifecycle
            case .failure(let damaged):
                // A record that cannot be decoded cannot go through Deleting: it is removed at once, with its timers.
                try TransitionStore.cancel(resourceARN: damaged.arn, db: db)
                try ClusterStore.remove(damaged.arn, db: db)
                return DeleteClusterResponse(clusterArn: damaged.arn)
            }
            var lifecycle = loaded
            if lifecycle.cluster.status == .deleting {
                throw AWSError.conflict("Cluster \(lifecycle.cluster.name) is already being deleted.")
            }
            let governance = try governanceOnClusterDelete(lifecycle.cluster, at: now, db: db)  // R284
            try TransitionStore.schedule(governance, db: db)
            try TransitionStore.cancel(resourceARN: lifecycle.cluster.arn, db: db)
            let effects = lifecycle.delete(timing: timing)  // R326: nodes still DetachInProgress terminate with it (apply)
            try TransitionStore.schedule(try apply(effects, to: lifecycle, previous: loaded, at: now, db: db), db: db)
            return DeleteClusterResponse(clusterArn: lifecycle.cluster.arn)
        }
    }
}
