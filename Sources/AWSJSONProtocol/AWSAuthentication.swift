import HTTP1
import JSON
import Synchronization

/// The resource an operation acts on, as IAM sees it (issue #18, `--auth enforce`): its ARN (`*` for calls that act on
/// no one resource, such as ListClusters) and its tags (`aws:ResourceTag/<key>`).
public struct AWSAuthorizationResource: Sendable, Equatable {
    public var arn: String
    public var tags: [(key: String, value: String)]

    public init(arn: String, tags: [(key: String, value: String)] = []) {
        self.arn = arn
        self.tags = tags
    }

    /// Any resource: `*`, no tags.
    public static let any = AWSAuthorizationResource(arn: "*")

    public static func == (a: Self, b: Self) -> Bool {
        a.arn == b.arn && a.tags.count == b.tags.count && zip(a.tags, b.tags).allSatisfy { $0.key == $1.key && $0.value == $1.value }
    }
}

/// Names the resources a call acts on, one at least (application layer: it reads the store). Runs where the call runs.
public typealias AWSResourceResolver = @Sendable (_ operation: String, _ input: JSONObject, _ context: AWSRequestContext) throws
    -> [AWSAuthorizationResource]

/// `--auth verify` and `enforce` (issue #18): the identities file in effect (reloadable), the signature verifier, the wall
/// clock it judges dates by, and IAM's evaluation of a verified caller's policies.
public final class AWSAuthentication: Sendable {
    private let current: Mutex<AWSIdentities>
    public let verifier: SigV4Verifier
    /// Wall-clock seconds since 1970 (never the virtual clock).
    public let wallClock: @Sendable () -> Int64
    /// The resource of a call (enforce); without one every call acts on `*`.
    public let resolveResource: AWSResourceResolver?

    public init(identities: AWSIdentities, wallClock: @escaping @Sendable () -> Int64, resolveResource: AWSResourceResolver? = nil,
                service: String = "sagemaker") {
        self.current = Mutex(identities)
        self.verifier = SigV4Verifier(service: service)
        self.wallClock = wallClock
        self.resolveResource = resolveResource
    }

    /// The identities in effect.
    public var identities: AWSIdentities { current.withLock { $0 } }

    /// Replaces the identities (`POST /_hyperpod/auth/reload`): requests that arrive afterwards use the new ones.
    public func replace(_ identities: AWSIdentities) { current.withLock { $0 = identities } }

    /// Verifies a request's signature (`SigV4Verifier`) against the identities in effect.
    /// - Returns: the caller's identity (the principal's account, the scope's region) and the identities it was verified
    ///   against, which `authorize` then evaluates: one request never sees two files across a reload.
    public func authenticate(_ request: HTTPRequest) -> Result<(AWSIdentity, AWSIdentities), AWSError> {
        let snapshot = identities
        return verifier.verify(request, identities: snapshot, nowEpochSeconds: wallClock()).map { caller in
            (AWSIdentity(accountID: caller.accountID, region: caller.region, accessKeyID: Substring(caller.accessKeyID),
                         principal: caller.principal), snapshot)
        }
    }

    /// Whether the caller's policies allow the call (IAM's order: explicit deny, allow, implicit deny). A create that
    /// carries `Tags` also needs `sagemaker:AddTags` on the new resource, with `sagemaker:TaggingAction` the operation's
    /// name, as SageMaker authorizes tag-on-create.
    /// - Throws: `AccessDeniedException` with IAM's message; what `resolveResource` throws.
    /// Source: https://docs.aws.amazon.com/sagemaker/latest/dg/security_iam_id-based-policy-examples.html#grant-tagging-permissions
    /// Every resource the call acts on must be allowed (MoveClusterNodes: both clusters); the first refused is reported.
    public func authorize(_ call: AWSCall) throws {
        guard let principalARN = call.context.identity.principal, let snapshot = call.identities else {
            throw AWSError.missingAuthenticationToken
        }
        let policies = snapshot.principals[principalARN]?.policies ?? []
        for resource in try resolveResource?(call.operation, call.input, call.context) ?? [.any] {
            var requests = [Self.iamRequest(call, resource: resource)]
            if call.operation.hasPrefix("Create"), case .array(let tags)? = call.input["Tags"], !tags.isEmpty {
                var tagging = requests[0]
                tagging.action = "sagemaker:AddTags"
                tagging.context["sagemaker:taggingaction"] = [call.operation]
                requests.append(tagging)
            }
            for request in requests {
                switch IAMPolicyEvaluator.evaluate(policies, request) {
                case .allow: continue
                case .explicitDeny:
                    throw AWSError.accessDenied(principal: principalARN, action: request.action, resource: resource.arn, explicit: true)
                case .implicitDeny:
                    throw AWSError.accessDenied(principal: principalARN, action: request.action, resource: resource.arn, explicit: false)
                }
            }
        }
    }

    /// The IAM request of a call: action `sagemaker:<Operation>`, the resource, and the global condition keys
    /// `aws:RequestedRegion`, `aws:PrincipalArn`, `aws:PrincipalAccount`, `aws:ResourceTag/<key>`, and, from the input's
    /// `Tags` (`[{Key, Value}]`) or `TagKeys`, `aws:RequestTag/<key>` and `aws:TagKeys`.
    ///
    /// Source: https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-keys.html
    public static func iamRequest(_ call: AWSCall, resource: AWSAuthorizationResource) -> IAMRequest {
        let identity = call.context.identity
        var context: [String: [String]] = [
            "aws:requestedregion": [identity.region],
            "aws:principalaccount": [identity.accountID],
        ]
        if let principal = identity.principal { context["aws:principalarn"] = [principal] }
        for tag in resource.tags { context["aws:resourcetag/" + tag.key.lowercased()] = [tag.value] }
        var tagKeys: [String] = []
        if case .array(let tags)? = call.input["Tags"] {
            for tag in tags {
                guard case .object(let pair) = tag, case .string(let key)? = pair["Key"] else { continue }
                tagKeys.append(key)
                if case .string(let value)? = pair["Value"] { context["aws:requesttag/" + key.lowercased()] = [value] }
            }
        }
        if case .array(let keys)? = call.input["TagKeys"] { tagKeys += keys.compactMap(\.stringValue) }
        if !tagKeys.isEmpty { context["aws:tagkeys"] = tagKeys }
        return IAMRequest(action: "sagemaker:" + call.operation, resource: resource.arn, context: context)
    }
}
