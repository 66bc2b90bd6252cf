import AWSJSONProtocol
import AdminAPI
import HyperPodDomain
import HyperPodStore
import JSON
import SageMakerShapes

extension ClusterService {
    /// The resource a call acts on as IAM sees it, for `--auth enforce` (issue #18; docs/authentication.md):
    /// - a member `ClusterName` (a name or an ARN): the cluster's ARN and tags; an unknown cluster
    ///   `arn:…:cluster/<name>` (or the ARN given), no tags. CreateCluster: `arn:…:cluster/<ClusterName>` (the id does not
    ///   exist yet);
    /// - `ResourceArn` (tags), `TrainingPlanArn`, `TrainingPlanName`, `ReservedCapacityArn`, `ClusterSchedulerConfigId`,
    ///   `ComputeQuotaId`: that resource, with its tags when it exists in the caller's partition. The creates of plans and
    ///   policies name it by the name given;
    /// - anything else (ListClusters, SearchTrainingPlanOfferings, the other List calls): `*`.
    ///
    /// Reads the store where the call runs (a snapshot on the read queue); tags of another partition's resource are never
    /// read.
    /// - Throws: store errors only (an unknown resource is named, not refused: the handler answers ResourceNotFound).
    public func authorizationResource(_ operation: String, input: JSONObject, context: AWSRequestContext) throws -> AWSAuthorizationResource {
        let identity = context.identity, partition = context.partition
        func arn(_ type: String, _ id: String) -> String {
            "arn:\(identity.partition):sagemaker:\(identity.region):\(identity.accountID):\(type)/\(id)"
        }
        func tagged(_ arn: String, _ tags: [Tag]) -> AWSAuthorizationResource {
            AWSAuthorizationResource(arn: arn, tags: tags.map { (key: $0.key, value: $0.value) })
        }
        return try read { db, _ in
            /// A resource by ARN, with its tags when it is a cluster, plan or policy of the caller's partition.
            func byARN(_ resourceARN: String) throws -> AWSAuthorizationResource {
                if Identifiers.parseClusterARN(resourceARN) != nil, let cluster = try ClusterStore.resolve(resourceARN, in: partition, db: db) {
                    return tagged(cluster, try ClusterStore.tags(of: cluster, db: db))
                }
                if TrainingPlanRecord.parseARN(resourceARN) != nil, let plan = try? resolvePlan(resourceARN, context: context, db: db) {
                    return tagged(resourceARN, plan.tags)
                }
                if let parts = GovernanceKind.parse(resourceARN), let policy = try? resolvePolicy(parts.kind, id: parts.id, context: context, db: db),
                   policy.arn == resourceARN {
                    return tagged(resourceARN, policy.tags)
                }
                return AWSAuthorizationResource(arn: resourceARN)
            }
            switch operation {
            case "CreateCluster":
                return AWSAuthorizationResource(arn: arn("cluster", input["ClusterName"]?.stringValue ?? "*"))
            case "CreateTrainingPlan":
                return AWSAuthorizationResource(arn: arn("training-plan", input["TrainingPlanName"]?.stringValue ?? "*"))
            case "CreateClusterSchedulerConfig":
                return AWSAuthorizationResource(arn: arn(GovernanceKind.schedulerConfig.rawValue, input["Name"]?.stringValue ?? "*"))
            case "CreateComputeQuota":
                return AWSAuthorizationResource(arn: arn(GovernanceKind.computeQuota.rawValue, input["Name"]?.stringValue ?? "*"))
            default:
                break
            }
            if let name = input["ClusterName"]?.stringValue {
                guard let cluster = try ClusterStore.resolve(name, in: partition, db: db) else {
                    return AWSAuthorizationResource(arn: name.hasPrefix("arn:") ? name : arn("cluster", name))
                }
                return tagged(cluster, try ClusterStore.tags(of: cluster, db: db))
            }
            if let resourceARN = input["ResourceArn"]?.stringValue ?? input["TrainingPlanArn"]?.stringValue
                ?? input["ReservedCapacityArn"]?.stringValue {
                return try byARN(resourceARN)
            }
            if let planName = input["TrainingPlanName"]?.stringValue {
                return try byARN(planName.hasPrefix("arn:") ? planName
                    : TrainingPlanRecord.arn(partition: identity.partition, region: identity.region, account: identity.accountID, name: planName))
            }
            for (member, kind) in [("ClusterSchedulerConfigId", GovernanceKind.schedulerConfig), ("ComputeQuotaId", .computeQuota)] {
                guard let id = input[member]?.stringValue else { continue }
                if let policy = try GovernanceStore.policy(kind, id: id, in: partition, db: db) { return tagged(policy.arn, policy.tags) }
                return AWSAuthorizationResource(arn: arn(kind.rawValue, id))
            }
            return .any
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
