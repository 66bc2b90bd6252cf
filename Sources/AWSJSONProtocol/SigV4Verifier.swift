import Crypto
import HTTP1
import Synchronization

/// The caller a verified request proves to be (issue #18): its principal and the access key it signed with.
public struct AWSCaller: Sendable, Equatable {
    /// The principal's ARN: an IAM user or role, or an STS assumed-role session.
    public var principal: String
    /// The principal's 12-digit account: the partition of state the request acts in.
    public var accountID: String
    public var accessKeyID: String
    /// The region of the credential scope.
    public var region: String
}

/// `--auth verify`: checks a request's AWS Signature Version 4 `Authorization` header against the credentials of the
/// identities file (issue #18). The checks, in the order AWS's JSON services make them, with the error each failure
/// answers (codes, statuses and texts as AWS answers them; sources in docs/authentication.md):
///
/// 1. an `Authorization` header of an `AWS4-` scheme → 403 `MissingAuthenticationTokenException`;
/// 2. its `Credential`, `SignedHeaders` and `Signature` parameters and an `X-Amz-Date` header in ISO 8601 basic format →
///    400 `IncompleteSignatureException`;
/// 3. `X-Amz-Date` within 15 minutes of the **wall clock** (never the virtual clock) → 400 `InvalidSignatureException`
///    `Signature expired: …` / `Signature not yet current: …`;
/// 4. `host` among the signed headers → `InvalidSignatureException`; the algorithm `AWS4-HMAC-SHA256` and a credential
///    of 5 slash-separated parts → `IncompleteSignatureException`; a scope for service `sagemaker`, ending `aws4_request`,
///    dated the request's day → `InvalidSignatureException`;
/// 5. a known access key id → 400 `UnrecognizedClientException`;
/// 6. the signature recomputed over the request as received (the body's SHA-256; `X-Amz-Content-Sha256` where sent must
///    equal it) and compared in constant time → 400 `InvalidSignatureException`, with the canonical request and string
///    to sign the server computed, as AWS shows them;
/// 7. the session token its credential has, and none when it has none → `UnrecognizedClientException`.
///
/// Sources: https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_sigv-create-signed-request.html,
/// https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_sigv-troubleshooting.html.
public final class SigV4Verifier: Sendable {
    /// How far `X-Amz-Date` may be from the wall clock, either way, in seconds (SageMaker's common errors:
    /// `RequestExpired`, "more than 15 minutes").
    public static let allowedSkewSeconds: Int64 = 15 * 60
    /// The service of the credential scope.
    public let service: String
    /// Signing keys derived from a secret for a day, region and service (four HMACs each), by access key id.
    private let signingKeys = Mutex<[SigningKeyID: (secret: String, key: [UInt8])]>([:])
    private static let signingKeyCapacity = 256

    private struct SigningKeyID: Hashable {
        let accessKeyID: Substring
        let date: Substring
        let region: Substring
    }

    public init(service: String = "sagemaker") {
        self.service = service
    }

    /// Verifies `request` (its body as received: `HTTPRequest.contentEncodedBody` when it was inflated).
    /// - Parameter nowEpochSeconds: the wall clock, seconds since 1970 UTC.
    /// - Returns: the caller, or the AWS error to answer.
    public func verify(_ request: HTTPRequest, identities: AWSIdentities, nowEpochSeconds: Int64) -> Result<AWSCaller, AWSError> {
        guard let header = request.headers["Authorization"], header.hasPrefix("AWS4-") else {
            return .failure(.missingAuthenticationToken)
        }
        // `<algorithm> Credential=…, SignedHeaders=…, Signature=…`
        let space = header.firstIndex(of: " ") ?? header.endIndex
        let algorithm = header[..<space]
        var credential: Substring?, signed: Substring?, signature: Substring?
        for part in header[space...].split(separator: ",") {
            let item = part.drop { $0 == " " }
            guard let eq = item.firstIndex(of: "=") else {
                return .failure(.incompleteSignature("'\(item)' not a valid key=value pair (missing equal-sign) in Authorization header: '\(header)'."))
            }
            switch item[..<eq] {
            case "Credential": credential = item[item.index(after: eq)...]
            case "SignedHeaders": signed = item[item.index(after: eq)...]
            case "Signature": signature = item[item.index(after: eq)...]
            default: break
            }
        }
        let amzDate = request.headers["X-Amz-Date"]
        var missing: [String] = []
        if credential?.isEmpty ?? true { missing.append("Authorization header requires 'Credential' parameter.") }
        if signature?.isEmpty ?? true { missing.append("Authorization header requires 'Signature' parameter.") }
        if signed?.isEmpty ?? true { missing.append("Authorization header requires 'SignedHeaders' parameter.") }
        if amzDate == nil { missing.append("Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header.") }
        guard missing.isEmpty, let credential, let signed, let signature, let amzDate else {
            return .failure(.incompleteSignature(missing.joined(separator: " ") + " Authorization=\(header)"))
        }
        guard let requestSeconds = AmzDate.epochSeconds(amzDate) else {
            return .failure(.incompleteSignature(
                "Date must be in ISO-8601 'basic format'. Got '\(amzDate)'. See http://en.wikipedia.org/wiki/ISO_8601"))
        }
        if requestSeconds < nowEpochSeconds - Self.allowedSkewSeconds {
            return .failure(.invalidSignature("Signature expired: \(amzDate) is now earlier than "
                + "\(AmzDate.format(nowEpochSeconds - Self.allowedSkewSeconds)) (\(AmzDate.format(nowEpochSeconds)) - 15 min.)"))
        }
        if requestSeconds > nowEpochSeconds + Self.allowedSkewSeconds {
            return .failure(.invalidSignature("Signature not yet current: \(amzDate) is still later than "
                + "\(AmzDate.format(nowEpochSeconds + Self.allowedSkewSeconds)) (\(AmzDate.format(nowEpochSeconds)) + 15 min.)"))
        }
        let signedHeaders = signed.split(separator: ";").map { String($0) }
        guard signedHeaders.contains("host") else {
            return .failure(.invalidSignature("'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization."))
        }
        guard algorithm == "AWS4-HMAC-SHA256" else {
            return .failure(.incompleteSignature("Unsupported AWS 'algorithm': '\(algorithm)' (only AWS4-HMAC-SHA256 for now). "))
        }
        let parts = credential.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 5 else {
            return .failure(.incompleteSignature(
                "Credential must have exactly 5 slash-delimited elements, e.g. keyid/date/region/service/term, got '\(credential)'"))
        }
        var scopeFaults = ""
        if parts[2].isEmpty { scopeFaults += "Credential should be scoped to a valid region, not '\(parts[2])'. " }
        if parts[3] != service { scopeFaults += "Credential should be scoped to correct service: '\(service)'. " }
        if parts[4] != "aws4_request" { scopeFaults += "Credential should be scoped with a valid terminator: 'aws4_request', not '\(parts[4])'. " }
        if !parts[1].utf8.elementsEqual(amzDate.utf8.prefix(8)) {
            scopeFaults += "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: "
                + "'\(parts[1])' != '\(amzDate.prefix(8))', from '\(amzDate)'."
        }
        guard scopeFaults.isEmpty else { return .failure(.invalidSignature(scopeFaults)) }
        let scope = SigV4CredentialScope(accessKeyID: parts[0], date: parts[1], region: parts[2], service: parts[3])
        guard let known = identities.credentials[String(scope.accessKeyID)] else { return .failure(.unrecognizedClient) }
        let payloadHash = SigV4Signature.payloadHash(request.contentEncodedBody ?? request.body)
        let declaredHash = request.headers["X-Amz-Content-Sha256"]
        let canonical = SigV4Signature.canonicalRequest(method: request.method, target: request.target, headers: request.headers,
                                                        signedHeaders: signedHeaders, payloadHash: payloadHash)
        let stringToSign = SigV4Signature.stringToSign(canonicalRequest: canonical, amzDate: amzDate, scope: scope)
        let expected = SigV4Signature.signature(stringToSign: stringToSign, signingKey: signingKey(known, scope: scope))
        guard SigV4Signature.constantTimeEqual(expected, String(signature)), declaredHash.map({ $0.lowercased() == payloadHash }) ?? true else {
            return .failure(.signatureMismatch(canonicalRequest: canonical, stringToSign: stringToSign))
        }
        switch (known.sessionToken, request.headers["X-Amz-Security-Token"]) {
        case (nil, nil): break
        case (let expected?, let sent?) where SigV4Signature.constantTimeEqual(expected, sent): break
        default: return .failure(.unrecognizedClient)
        }
        return .success(AWSCaller(principal: known.principal, accountID: identities.principals[known.principal]?.accountID ?? "",
                                  accessKeyID: known.accessKeyID, region: String(scope.region)))
    }

    /// The signing key of a credential for a scope, derived once per access key, day and region (and again when the
    /// secret changed, after a reload).
    func signingKey(_ credential: AWSIdentities.Credential, scope: SigV4CredentialScope) -> SymmetricKey {
        let id = SigningKeyID(accessKeyID: scope.accessKeyID, date: scope.date, region: scope.region)
        if let cached = signingKeys.withLock({ $0[id] }), cached.secret == credential.secretAccessKey {
            return SymmetricKey(data: cached.key)
        }
        let key = SigV4Signature.signingKey(secretAccessKey: credential.secretAccessKey, scope: scope)
        let bytes = key.withUnsafeBytes { Array($0) }
        signingKeys.withLock {
            if $0.count >= Self.signingKeyCapacity { $0.removeAll(keepingCapacity: true) }
            $0[SigningKeyID(accessKeyID: Substring(String(scope.accessKeyID)), date: Substring(String(scope.date)),
                            region: Substring(String(scope.region)))] = (credential.secretAccessKey, bytes)
        }
        return key
    }
}

/// `X-Amz-Date` values: ISO 8601 basic format, `yyyyMMddTHHmmssZ`, UTC.
public enum AmzDate {
    /// Seconds since 1970 of a `yyyyMMddTHHmmssZ` text; nil when it is not one (wrong length, a non-digit, a month 13 …).
    public static func epochSeconds(_ text: String) -> Int64? {
        let b = Array(text.utf8)
        guard b.count == 16, b[8] == UInt8(ascii: "T"), b[15] == UInt8(ascii: "Z") else { return nil }
        func number(_ range: Range<Int>) -> Int64? {
            var value: Int64 = 0
            for i in range {
                guard b[i] >= 48 && b[i] <= 57 else { return nil }
                value = value * 10 + Int64(b[i] - 48)
            }
            return value
        }
        guard let year = number(0..<4), let month = number(4..<6), let day = number(6..<8), let hour = number(9..<11),
              let minute = number(11..<13), let second = number(13..<15),
              (1...12).contains(month), day >= 1, day <= daysInMonth(year, month), hour < 24, minute < 60, second < 60
        else { return nil }
        return daysFromCivil(year, month, day) * 86_400 + hour * 3600 + minute * 60 + second
    }

    /// `yyyyMMddTHHmmssZ` of seconds since 1970.
    public static func format(_ epochSeconds: Int64) -> String {
        let days = epochSeconds >= 0 ? epochSeconds / 86_400 : (epochSeconds - 86_399) / 86_400
        let secondsOfDay = epochSeconds - days * 86_400
        let (year, month, day) = civil(fromDays: days)
        func two(_ v: Int64) -> String { v < 10 ? "0\(v)" : "\(v)" }
        let yearText = String(year)
        return String(repeating: "0", count: max(0, 4 - yearText.count)) + yearText + two(month) + two(day) + "T"
            + two(secondsOfDay / 3600) + two(secondsOfDay / 60 % 60) + two(secondsOfDay % 60) + "Z"
    }

    static func isLeap(_ y: Int64) -> Bool { (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 }

    static func daysInMonth(_ y: Int64, _ m: Int64) -> Int64 {
        switch m {
        case 2: isLeap(y) ? 29 : 28
        case 4, 6, 9, 11: 30
        default: 31
        }
    }

    /// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm).
    static func daysFromCivil(_ year: Int64, _ month: Int64, _ day: Int64) -> Int64 {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let doy = (153 * (month + (month > 2 ? -3 : 9)) + 2) / 5 + day - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146_097 + doe - 719_468
    }

    static func civil(fromDays days: Int64) -> (Int64, Int64, Int64) {
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let day = doy - (153 * mp + 2) / 5 + 1
        let month = mp < 10 ? mp + 3 : mp - 9
        return (yoe + era * 400 + (month <= 2 ? 1 : 0), month, day)
    }
}

extension AWSError {
    /// 403 `MissingAuthenticationTokenException` `Missing Authentication Token`: no `Authorization` header, or one of
    /// another scheme (issue #18; docs/authentication.md).
    public static let missingAuthenticationToken = AWSError(
        code: "MissingAuthenticationTokenException", message: "Missing Authentication Token", status: .forbidden)

    /// `IncompleteSignatureException`: an `Authorization` header that is not a complete SigV4 header.
    public static func incompleteSignature(_ message: String) -> AWSError {
        AWSError(code: "IncompleteSignatureException", message: message, status: .badRequest)
    }

    /// `UnrecognizedClientException`: an unknown access key id or session token.
    public static let unrecognizedClient = AWSError(
        code: "UnrecognizedClientException", message: "The security token included in the request is invalid.", status: .badRequest)

    /// `InvalidSignatureException` with a message (an expired date, a scope date that is not the request's).
    public static func invalidSignature(_ message: String) -> AWSError {
        AWSError(code: "InvalidSignatureException", message: message, status: .badRequest)
    }

    /// `InvalidSignatureException`: the signature is not the one the secret gives for the request as received. As AWS
    /// does, the message ends with the canonical request and the string to sign the server computed.
    public static func signatureMismatch(canonicalRequest: String, stringToSign: String) -> AWSError {
        invalidSignature(signatureMismatchText + "\n\nThe Canonical String for this request should have been\n'\(canonicalRequest)'"
            + "\n\nThe String-to-Sign should have been\n'\(stringToSign)'\n")
    }

    /// The first sentences of every signature-mismatch message.
    public static let signatureMismatchText = "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details."

    /// 400 `AccessDeniedException` (issue #18, `--auth enforce`): IAM's message for an implicit or explicit deny,
    /// `User: <principal> is not authorized to perform: <action> on resource: <arn> because no identity-based policy
    /// allows the <action> action` (or `… with an explicit deny in an identity-based policy`). For a call on no one
    /// resource (`*`) the `on resource:` part is left out, as IAM leaves it out.
    /// Source: https://docs.aws.amazon.com/IAM/latest/UserGuide/troubleshoot_access-denied.html
    public static func accessDenied(principal: String, action: String, resource: String, explicit: Bool) -> AWSError {
        let reason = explicit ? "with an explicit deny in an identity-based policy" : "because no identity-based policy allows the \(action) action"
        let on = resource == "*" ? "" : " on resource: \(resource)"
        return AWSError(code: "AccessDeniedException",
                        message: "User: \(principal) is not authorized to perform: \(action)\(on) \(reason)",
                        status: .badRequest)
    }
}
