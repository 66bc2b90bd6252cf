import HTTP1

/// How requests are authenticated (spec R28, issue #18), in order of strictness.
public enum AWSAuthMode: String, Sendable, CaseIterable, Comparable {
    /// Headers ignored; every request acts as the default account and region.
    case off
    /// Identity read from the SigV4 credential scope, signature not checked; no or malformed header → defaults.
    case parse
    /// Every SageMaker request must carry a valid SigV4 signature of a credential of the identities file
    /// (`SigV4Verifier`); the account is the principal's.
    case verify
    /// `verify`, then the principal's identity-based policies must allow the call (`IAMPolicyEvaluator`).
    case enforce

    private var strictness: Int {
        switch self {
        case .off: 0
        case .parse: 1
        case .verify: 2
        case .enforce: 3
        }
    }
    public static func < (a: AWSAuthMode, b: AWSAuthMode) -> Bool { a.strictness < b.strictness }
}

/// The caller's partition of state: account, region and ARN partition (spec §3).
public struct AWSIdentity: Sendable, Equatable {
    /// 12 digits.
    public let accountID: String
    public let region: String
    /// `aws`, `aws-cn` or `aws-us-gov` (spec R26).
    public let partition: String
    /// The access key id that signed the request, when there was one (a slice of its `Authorization` header).
    public let accessKeyID: Substring?
    /// The verified caller's principal ARN (`--auth verify` and `enforce`); nil in the other modes.
    public let principal: String?

    public init(accountID: String, region: String, accessKeyID: Substring? = nil, principal: String? = nil) {
        self.accountID = accountID
        self.region = region
        self.partition = Self.partition(of: region)
        self.accessKeyID = accessKeyID
        self.principal = principal
    }

    /// ARN partition of a region (spec R26): `cn-*` → `aws-cn`, `us-gov-*` → `aws-us-gov`, else `aws`.
    public static func partition(of region: String) -> String {
        if region.hasPrefix("cn-") { return "aws-cn" }
        if region.hasPrefix("us-gov-") { return "aws-us-gov" }
        return "aws"
    }

    /// The identity of `request` (spec R24, R25): the account is the access key id when it is exactly 12 digits, else
    /// `defaultAccountID`; the region is the credential scope's, else `defaultRegion`.
    public static func resolve(_ request: HTTPRequest, mode: AWSAuthMode, defaultAccountID: String, defaultRegion: String) -> AWSIdentity {
        guard mode == .parse, let scope = SigV4CredentialScope(request: request) else {
            return AWSIdentity(accountID: defaultAccountID, region: defaultRegion)
        }
        let key = scope.accessKeyID
        // A 12-digit account id and a region fit in a string's inline storage: no allocation.
        let account = key.utf8.count == 12 && key.utf8.allSatisfy { $0 >= 48 && $0 <= 57 } ? String(key) : defaultAccountID
        return AWSIdentity(accountID: account, region: String(scope.region), accessKeyID: key)
    }
}
