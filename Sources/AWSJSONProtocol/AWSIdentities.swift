import JSON

/// The identities file of `--identities FILE` (issue #18): principals with their identity-based policies, and the
/// credentials that sign as them.
///
/// ```json
/// {"principals": {"arn:aws:iam::123456789012:user/deployer": {"policies": [{"Version": "2012-10-17", "Statement": [
///      {"Effect": "Allow", "Action": "sagemaker:Describe*", "Resource": "*"}]}]}},
///  "credentials": [{"accessKeyId": "AKIADEPLOYER0000001", "secretAccessKey": "s3cr3t",
///                   "principal": "arn:aws:iam::123456789012:user/deployer", "sessionToken": "optional"}]}
/// ```
///
/// A principal is an IAM user (`arn:aws:iam::<account>:user/<name>`), a role (`…:role/<name>`) or an assumed-role
/// session (`arn:aws:sts::<account>:assumed-role/<role>/<session>`); the account of a request is its principal's.
public struct AWSIdentities: Sendable, Equatable {
    /// A principal and the policies attached to it.
    public struct Principal: Sendable, Equatable {
        public var arn: String
        /// The 12-digit account of the ARN.
        public var accountID: String
        public var policies: [IAMPolicyDocument]
    }

    /// An access key that signs as a principal.
    public struct Credential: Sendable, Equatable {
        public var accessKeyID: String
        public var secretAccessKey: String
        public var principal: String
        /// Temporary credentials carry one: the request must send it as `X-Amz-Security-Token`.
        public var sessionToken: String?
    }

    /// By ARN.
    public var principals: [String: Principal]
    /// By access key id.
    public var credentials: [String: Credential]
    /// Principal ARNs in file order (for listing).
    public var principalOrder: [String]
    /// Access key ids in file order (for listing).
    public var credentialOrder: [String]

    /// No principals, no credentials: every signed request is `UnrecognizedClientException`.
    public static let empty = AWSIdentities(principals: [:], credentials: [:], principalOrder: [], credentialOrder: [])

    init(principals: [String: Principal], credentials: [String: Credential], principalOrder: [String], credentialOrder: [String]) {
        self.principals = principals
        self.credentials = credentials
        self.principalOrder = principalOrder
        self.credentialOrder = credentialOrder
    }

    /// Parses the file's bytes.
    /// - Throws: `IdentitiesFileError` naming the element at fault: not JSON, an unknown member, a principal ARN that is
    ///   no user, role or assumed-role session, a credential of an undeclared principal, a repeated access key id, a
    ///   policy IAM would refuse.
    public init(parsing bytes: [UInt8]) throws(IdentitiesFileError) {
        let root: JSONValue
        do {
            root = try JSONParser.parse(bytes)
        } catch {
            throw IdentitiesFileError("not valid JSON: \(error)")
        }
        guard case .object(let file) = root else { throw IdentitiesFileError("the file must hold a JSON object") }
        for key in file.keys where key != "principals" && key != "credentials" {
            throw IdentitiesFileError("unknown member \"\(key)\" (the file has \"principals\" and \"credentials\")")
        }
        var principals: [String: Principal] = [:], principalOrder: [String] = []
        if let value = file["principals"] {
            guard case .object(let map) = value else { throw IdentitiesFileError("principals must map principal ARNs to {\"policies\": [...]}") }
            for (arn, entry) in map.members {
                let path = "principals[\"\(arn)\"]"
                guard let account = Self.account(ofPrincipal: arn) else {
                    throw IdentitiesFileError("\(path): not a principal ARN (arn:<partition>:iam::<12 digits>:user/<name>, …:role/<name>, or arn:<partition>:sts::<12 digits>:assumed-role/<role>/<session>)")
                }
                guard case .object(let body) = entry else { throw IdentitiesFileError("\(path) must be {\"policies\": [...]}") }
                for key in body.keys where key != "policies" { throw IdentitiesFileError("\(path) has an unknown member \"\(key)\"") }
                var policies: [IAMPolicyDocument] = []
                switch body["policies"] {
                case nil: break
                case .array(let list)?:
                    for (index, policy) in list.enumerated() {
                        policies.append(try IAMPolicyDocument(json: policy, path: "\(path).policies[\(index)]"))
                    }
                default: throw IdentitiesFileError("\(path).policies must be a list of policy documents")
                }
                principals[arn] = Principal(arn: arn, accountID: account, policies: policies)
                principalOrder.append(arn)
            }
        }
        var credentials: [String: Credential] = [:], credentialOrder: [String] = []
        if let value = file["credentials"] {
            guard case .array(let list) = value else { throw IdentitiesFileError("credentials must be a list") }
            for (index, item) in list.enumerated() {
                let path = "credentials[\(index)]"
                guard case .object(let entry) = item else { throw IdentitiesFileError("\(path) must be a JSON object") }
                for key in entry.keys where !["accessKeyId", "secretAccessKey", "principal", "sessionToken"].contains(key) {
                    throw IdentitiesFileError("\(path) has an unknown member \"\(key)\"")
                }
                func text(_ key: String, optional: Bool = false) throws(IdentitiesFileError) -> String? {
                    guard let value = entry[key] else {
                        if optional { return nil }
                        throw IdentitiesFileError("\(path).\(key) is required")
                    }
                    guard case .string(let text) = value, !text.isEmpty else { throw IdentitiesFileError("\(path).\(key) must be a non-empty string") }
                    return text
                }
                let key = try text("accessKeyId")!, principal = try text("principal")!
                guard key.utf8.count <= 128, key.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7F && $0 != UInt8(ascii: "/") }) else {
                    throw IdentitiesFileError("\(path).accessKeyId must be printable ASCII without spaces or '/'")
                }
                guard credentials[key] == nil else { throw IdentitiesFileError("\(path).accessKeyId \(key) appears twice") }
                guard principals[principal] != nil else {
                    throw IdentitiesFileError("\(path).principal \(principal) is not one of principals")
                }
                credentials[key] = Credential(accessKeyID: key, secretAccessKey: try text("secretAccessKey")!, principal: principal,
                                              sessionToken: try text("sessionToken", optional: true))
                credentialOrder.append(key)
            }
        }
        self.init(principals: principals, credentials: credentials, principalOrder: principalOrder, credentialOrder: credentialOrder)
    }

    /// The account of an IAM user, role or STS assumed-role ARN; nil for anything else.
    public static func account(ofPrincipal arn: String) -> String? {
        let fields = arn.split(separator: ":", maxSplits: 5, omittingEmptySubsequences: false)
        guard fields.count == 6, fields[0] == "arn", ["aws", "aws-cn", "aws-us-gov"].contains(fields[1]),
              fields[3].isEmpty, fields[4].utf8.count == 12, fields[4].utf8.allSatisfy({ $0 >= 48 && $0 <= 57 }) else { return nil }
        let resource = fields[5].split(separator: "/", omittingEmptySubsequences: false)
        switch (fields[2], resource.first) {
        case ("iam", "user"?), ("iam", "role"?):
            guard resource.count >= 2, resource.allSatisfy({ !$0.isEmpty }) else { return nil }
        case ("sts", "assumed-role"?):
            guard resource.count == 3, resource.allSatisfy({ !$0.isEmpty }) else { return nil }
        default:
            return nil
        }
        return String(fields[4])
    }

    /// `GET /_hyperpod/auth`'s view: principals with their policies, credentials with the secret and session token
    /// masked (`****` and the last 4 characters at most, never more than a quarter of the secret).
    public func listing() -> JSONObject {
        var principalsOut = JSONObject()
        for arn in principalOrder {
            guard let principal = principals[arn] else { continue }
            principalsOut[arn] = .object([
                "account": .string(principal.accountID),
                "policies": .integer(Int64(principal.policies.count)),
                "statements": .integer(Int64(principal.policies.reduce(0) { $0 + $1.statements.count })),
            ])
        }
        var credentialsOut: [JSONValue] = []
        for key in credentialOrder {
            guard let credential = credentials[key] else { continue }
            var entry: JSONObject = [
                "accessKeyId": .string(credential.accessKeyID),
                "secretAccessKey": .string(Self.mask(credential.secretAccessKey)),
                "principal": .string(credential.principal),
            ]
            if let token = credential.sessionToken { entry["sessionToken"] = .string(Self.mask(token)) }
            credentialsOut.append(.object(entry))
        }
        return ["principals": .object(principalsOut), "credentials": .array(credentialsOut)]
    }

    /// `****` followed by the last characters of a secret: 4 at most, and none of a secret shorter than 16.
    static func mask(_ secret: String) -> String {
        let shown = min(4, secret.count / 4)
        return shown >= 4 && secret.count >= 16 ? "****" + secret.suffix(shown) : "****"
    }
}

/// A `--identities` file that cannot be used, with the element at fault.
public struct IdentitiesFileError: Error, Sendable, Equatable, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}
