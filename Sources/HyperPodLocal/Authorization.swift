import AWSJSONProtocol
import AdminAPI
import HyperPodDomain
import HyperPodStore
import JSON
import SageMakerShapes

extension ClusterService {
    /// Operations that act on no one resource: IAM sees `*` (a filter member such as ListClusters' `TrainingPlanArn`
    /// names no resource acted on).
    static let operationsOnNoResource: Set<String> = [
        "ListClusters", "ListTrainingPlans", "SearchTrainingPlanOfferings", "ListClusterSchedulerConfigs", "ListComputeQuotas",
        "ListClusterExtensionVersions",
    ]

    /// The resources a call acts on as IAM sees them, for `--auth enforce` (issue #18; docs/authentication.md):
    /// - the operations of `operationsOnNoResource`: `*`;
    /// - the creates: `arn:…:<type>/<name given>` (the id does not exist yet);
    /// - MoveClusterNodes: both clusters; ExtendTrainingPlan: the plan of the extension offering;
    /// - a member `ClusterName` or `ClusterArn`: the cluster; `ResourceArn`: the cluster, plan, reserved capacity or policy
    ///   it names; `TrainingPlanName`/`TrainingPlanArn`: the plan; `ReservedCapacityArn`: the reserved capacity (with its
    ///   plan's tags); `ClusterSchedulerConfigId`/`ComputeQuotaId`: the policy.
    ///
    /// A resource that exists in the caller's partition is named by its stored ARN (a plan asked for in other letter
    /// case is the plan's own ARN) with its tags (`aws:ResourceTag/<key>`); one that does not is named by what was given,
    /// without tags. Another partition's resources are never read.
    /// - Throws: store errors only (an unknown resource is named, not refused: the handler answers ResourceNotFound).
    public func authorizationResources(_ operation: String, input: JSONObject, context: AWSRequestContext) throws -> [AWSAuthorizationResource] {
        if Self.operationsOnNoResource.contains(operation) { return [.any] }
        let identity = context.identity, partition = context.partition
        func arn(_ type: String, _ id: String) -> String {
            "arn:\(identity.partition):sagemaker:\(identity.region):\(identity.accountID):\(type)/\(id)"
        }
        func tagged(_ arn: String, _ tags: [Tag]) -> AWSAuthorizationResource {
            AWSAuthorizationResource(arn: arn, tags: tags.map { (key: $0.key, value: $0.value) })
        }
        func member(_ name: String) -> String? { input[name]?.stringValue }
        switch operation {
        case "CreateCluster": return [AWSAuthorizationResource(arn: arn("cluster", member("ClusterName") ?? "*"))]
        case "CreateTrainingPlan": return [AWSAuthorizationResource(arn: arn("training-plan", member("TrainingPlanName") ?? "*"))]
        case "CreateClusterSchedulerConfig": return [AWSAuthorizationResource(arn: arn(GovernanceKind.schedulerConfig.rawValue, member("Name") ?? "*"))]
        case "CreateComputeQuota": return [AWSAuthorizationResource(arn: arn(GovernanceKind.computeQuota.rawValue, member("Name") ?? "*"))]
        default: break
        }
        return try read { db, _ in
            func cluster(_ nameOrARN: String) throws -> AWSAuthorizationResource {
                guard let stored = try ClusterStore.resolve(nameOrARN, in: partition, db: db) else {
                    return AWSAuthorizationResource(arn: nameOrARN.hasPrefix("arn:") ? nameOrARN : arn("cluster", nameOrARN))
                }
                return tagged(stored, try ClusterStore.tags(of: stored, db: db))
            }
            func plan(_ nameOrARN: String) -> AWSAuthorizationResource {
                if let plan = try? resolvePlan(nameOrARN, context: context, db: db) { return tagged(plan.arn, plan.tags) }
                return AWSAuthorizationResource(arn: nameOrARN.hasPrefix("arn:") ? nameOrARN : arn("training-plan", nameOrARN))
            }
            func reservedCapacity(_ rcARN: String) -> AWSAuthorizationResource {
                guard let (plan, index) = try? resolveReservedCapacity(rcARN, context: context, db: db) else {
                    return AWSAuthorizationResource(arn: rcARN)
                }
                return tagged(plan.reservedCapacities[index].arn, plan.tags)
            }
            func policy(_ kind: GovernanceKind, id: String) throws -> AWSAuthorizationResource {
                guard let policy = try GovernanceStore.policy(kind, id: id, in: partition, db: db) else {
                    return AWSAuthorizationResource(arn: arn(kind.rawValue, id))
                }
                return tagged(policy.arn, policy.tags)
            }
            if operation == "MoveClusterNodes" {
                return try ["SourceClusterArn", "TargetClusterArn"].compactMap(member).map(cluster)
            }
            if operation == "ExtendTrainingPlan" {
                guard let id = member("TrainingPlanExtensionOfferingId"),
                      let key = try TrainingPlanStore.offering(id, in: partition, db: db)?.planARN,
                      let found = try TrainingPlanStore.plan(key, db: db) else { return [.any] }
                return [tagged(found.arn, found.tags)]
            }
            if let name = member("ClusterName") ?? member("ClusterArn") { return [try cluster(name)] }
            if let resourceARN = member("ResourceArn") {
                if Identifiers.parseClusterARN(resourceARN) != nil { return [try cluster(resourceARN)] }
                if TrainingPlanRecord.parseARN(resourceARN) != nil { return [plan(resourceARN)] }
                if TrainingPlanRecord.parseReservedCapacityARN(resourceARN) != nil { return [reservedCapacity(resourceARN)] }
                if let parts = GovernanceKind.parse(resourceARN) {
                    let found = try policy(parts.kind, id: parts.id)
                    return [found.arn == resourceARN ? found : AWSAuthorizationResource(arn: resourceARN)]
                }
                return [AWSAuthorizationResource(arn: resourceARN)]
            }
            if let name = member("TrainingPlanName") ?? member("TrainingPlanArn") { return [plan(name)] }
            if let rcARN = member("ReservedCapacityArn") { return [reservedCapacity(rcARN)] }
            if let id = member("ClusterSchedulerConfigId") { return [try policy(.schedulerConfig, id: id)] }
            if let id = member("ComputeQuotaId") { return [try policy(.computeQuota, id: id)] }
            return [.any]
        }
    }
}

/// The identities file of `--identities` behind `GET /_hyperpod/auth` and `POST /_hyperpod/auth/reload` (issue #18).
public final class IdentitiesFile: AdminAuthBackend {
    public let mode: AWSAuthMode
    /// The file's path; nil when the server was started without one.
    public let path: String?
    /// The identities in effect, shared with the router.
    public let authentication: AWSAuthentication

    public init(mode: AWSAuthMode, path: String?, authentication: AWSAuthentication) {
        self.mode = mode
        self.path = path
        self.authentication = authentication
    }

    /// Reads and parses the file at `path`.
    /// - Throws: `IdentitiesFileError` naming the path and the fault.
    public static func load(_ path: String) throws(IdentitiesFileError) -> AWSIdentities {
        guard let bytes = ClusterService.read(path) else { throw IdentitiesFileError("cannot read the identities file \(path)") }
        do throws(IdentitiesFileError) {
            return try AWSIdentities(parsing: bytes)
        } catch {
            throw IdentitiesFileError("identities file \(path): \(error.description)")
        }
    }

    public func authBody() -> JSONObject {
        var body: JSONObject = ["mode": .string(mode.rawValue), "identitiesFile": path.map(JSONValue.string) ?? .null]
        for (key, value) in authentication.identities.listing().members { body[key] = value }
        return body
    }

    public func reloadIdentities() throws(AdminError) -> JSONObject {
        guard let path else { throw AdminError.conflict("The server was started without --identities: there is no file to reload") }
        do throws(IdentitiesFileError) {
            authentication.replace(try Self.load(path))
        } catch {
            throw AdminError.badBody("\(error.description); the identities in effect are kept")
        }
        return authBody()
    }
}
