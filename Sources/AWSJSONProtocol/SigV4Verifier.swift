import Crypto
import HTTP1
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

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
    /// HMACs keyed with the signing key of a secret for a day and region (four HMACs to derive, and the key schedule
    /// done), by access key id: the latest day and region of each key, with the secret it was derived from.
    private let signingKeys = Mutex<[String: (secret: String, dayAndRegion: [UInt8], key: PreparedSigningKey)]>([:])
    private static let signingKeyCapacity = 256

    public init(service: String = "sagemaker") {
        self.service = service
    }

    /// Verifies `request` (its body as received: `HTTPRequest.contentEncodedBody` when it was inflated).
    /// - Parameter nowEpochSeconds: the wall clock, seconds since 1970 UTC.
    /// - Returns: the caller, or the AWS error to answer.
    public func verify(_ request: HTTPRequest, identities: AWSIdentities, nowEpochSeconds: Int64) -> Result<AWSCaller, AWSError> {
        guard var header = request.headers["Authorization"] else { return .failure(.missingAuthenticationToken) }
        // The header's own UTF-8 storage, read in place.
        return header.withUTF8 { bytes in
            guard bytes.count >= 5, Self.bytes(bytes, 0..<5, equal: "AWS4-") else { return .failure(.missingAuthenticationToken) }
            return verify(request, header: bytes, identities: identities, nowEpochSeconds: nowEpochSeconds)
        }
    }

    private func verify(_ request: HTTPRequest, header h: UnsafeBufferPointer<UInt8>, identities: AWSIdentities,
                        nowEpochSeconds: Int64) -> Result<AWSCaller, AWSError> {
        // `<algorithm> Credential=…, SignedHeaders=…, Signature=…`, cut on its bytes (every delimiter is ASCII): this runs
        // for every request, so positions, not substrings.
        func text(_ range: Range<Int>) -> String { String(decoding: UnsafeBufferPointer(rebasing: h[range]), as: UTF8.self) }
        var header: String { text(0..<h.count) }  // for error messages only
        let space = h.firstIndex(of: UInt8(ascii: " ")) ?? h.count
        var credential: Range<Int>?, signed: Range<Int>?, signature: Range<Int>?
        var partStart = space
        while partStart < h.count {  // the comma-separated parameters, empty ones skipped
            var partEnd = partStart
            while partEnd < h.count && h[partEnd] != UInt8(ascii: ",") { partEnd += 1 }
            defer { partStart = partEnd + 1 }
            guard partEnd > partStart else { continue }
            var start = partStart
            while start < partEnd && h[start] == UInt8(ascii: " ") { start += 1 }
            guard let eq = h[start..<partEnd].firstIndex(of: UInt8(ascii: "=")) else {
                return .failure(.incompleteSignature("'\(text(start..<partEnd))' not a valid key=value pair (missing equal-sign) in Authorization header: '\(header)'."))
            }
            let name = start..<eq, value = (eq + 1)..<partEnd
            if Self.bytes(h, name, equal: "Credential") { credential = value }
            else if Self.bytes(h, name, equal: "SignedHeaders") { signed = value }
            else if Self.bytes(h, name, equal: "Signature") { signature = value }
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
        let names = Self.fields(of: h, in: signed, separatedBy: UInt8(ascii: ";"))
        guard !Self.repeats(names, in: h) else {
            return .failure(.incompleteSignature("SignedHeaders names a header more than once: '\(text(signed))'."))
        }
        guard names.contains(where: { Self.bytes(h, $0, equal: "host") }) else {
            return .failure(.invalidSignature("'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization."))
        }
        guard Self.bytes(h, 0..<space, equal: "AWS4-HMAC-SHA256") else {
            return .failure(.incompleteSignature("Unsupported AWS 'algorithm': '\(text(0..<space))' (only AWS4-HMAC-SHA256 for now). "))
        }
        // `<key>/<day>/<region>/<service>/<terminator>`: the positions of its slashes.
        var slashes = (0, 0, 0, 0), count = 0
        for index in credential where h[index] == UInt8(ascii: "/") {
            switch count {
            case 0: slashes.0 = index
            case 1: slashes.1 = index
            case 2: slashes.2 = index
            case 3: slashes.3 = index
            default: break
            }
            count += 1
        }
        guard count == 4 else {
            return .failure(.incompleteSignature(
                "Credential must have exactly 5 slash-delimited elements, e.g. keyid/date/region/service/term, got '\(text(credential))'"))
        }
        let parts = (credential.lowerBound..<slashes.0, (slashes.0 + 1)..<slashes.1, (slashes.1 + 1)..<slashes.2,
                     (slashes.2 + 1)..<slashes.3, (slashes.3 + 1)..<credential.upperBound)
        var scopeFaults = ""
        if parts.2.isEmpty { scopeFaults += "Credential should be scoped to a valid region, not ''. " }
        if !Self.bytes(h, parts.3, equal: service) { scopeFaults += "Credential should be scoped to correct service: '\(service)'. " }
        if !Self.bytes(h, parts.4, equal: "aws4_request") {
            scopeFaults += "Credential should be scoped with a valid terminator: 'aws4_request', not '\(text(parts.4))'. "
        }
        if parts.1.count != 8 || !Self.bytes(h, parts.1, equal: amzDate, prefix: 8) {
            scopeFaults += "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: "
                + "'\(text(parts.1))' != '\(amzDate.prefix(8))', from '\(amzDate)'."
        }
        guard scopeFaults.isEmpty else { return .failure(.invalidSignature(scopeFaults)) }
        let accessKeyID = text(parts.0)
        guard let known = identities.credentials[accessKeyID] else { return .failure(.unrecognizedClient) }

        var payloadHash: [UInt8] = []
        payloadHash.reserveCapacity(64)
        SigV4Signature.appendSHA256Hex(of: request.contentEncodedBody ?? request.body, to: &payloadHash)
        // The URI as signed: the path and query of the target (an absolute-form target's scheme and host are not signed).
        let target: String
        if request.target.utf8.first == UInt8(ascii: "/") {
            target = request.target  // origin form: path and query as sent
        } else {
            let query = request.query
            target = query.isEmpty ? String(request.path) : "\(request.path)?\(query)"
        }
        // Names and scope as buffers of the header (appended by one copy each, not byte by byte through a slice).
        let canonical = SigV4Signature.canonicalRequestBytes(method: request.method, target: target, headers: request.headers,
                                                             signedHeaders: names.lazy.map { UnsafeBufferPointer(rebasing: h[$0]) },
                                                             payloadHash: payloadHash)
        let stringToSign = SigV4Signature.stringToSignBytes(
            canonicalRequest: canonical, amzDate: amzDate,
            scope: UnsafeBufferPointer(rebasing: h[parts.1.lowerBound..<credential.upperBound]))

        let prepared = signingKey(known, dayAndRegion: UnsafeBufferPointer(rebasing: h[parts.1.lowerBound..<parts.2.upperBound])) {
            SigV4CredentialScope(accessKeyID: Substring(accessKeyID), date: Substring(text(parts.1)), region: Substring(text(parts.2)),
                                 service: Substring(service))
        }
        var mac = prepared.mac
        stringToSign.withUnsafeBytes { mac.update(data: $0) }
        var expected: [UInt8] = []
        expected.reserveCapacity(64)
        SigV4Signature.appendHex(digest: mac.finalize(), to: &expected)
        let declaredHash = request.headers["X-Amz-Content-Sha256"]
        guard SigV4Signature.constantTimeEqual(expected, UnsafeBufferPointer(rebasing: h[signature])),
              declaredHash.map({ SigV4Signature.equalsLowercased($0, payloadHash) }) ?? true else {
            return .failure(.signatureMismatch(canonicalRequest: String(decoding: canonical, as: UTF8.self),
                                               stringToSign: String(decoding: stringToSign, as: UTF8.self)))
        }
        switch (known.sessionToken, request.headers["X-Amz-Security-Token"]) {
        case (nil, nil): break
        case (let expected?, let sent?) where SigV4Signature.constantTimeEqual(expected, sent): break
        default: return .failure(.unrecognizedClient)
        }
        return .success(AWSCaller(principal: known.principal, accountID: identities.principals[known.principal]?.accountID ?? "",
                                  accessKeyID: known.accessKeyID, region: text(parts.2)))
    }

    /// Whether `bytes[range]` is exactly `text`.
    @inline(__always)
    static func bytes(_ bytes: UnsafeBufferPointer<UInt8>, _ range: Range<Int>, equal text: StaticString) -> Bool {
        guard range.count == text.utf8CodeUnitCount else { return false }
        return range.isEmpty || memcmp(bytes.baseAddress! + range.lowerBound, text.utf8Start, range.count) == 0
    }

    /// Whether `bytes[range]` is the first `prefix` bytes of `text` (all of it when nil).
    @inline(__always)
    static func bytes(_ bytes: UnsafeBufferPointer<UInt8>, _ range: Range<Int>, equal text: String, prefix: Int? = nil) -> Bool {
        var text = text
        return text.withUTF8 { t in
            let count = prefix.map { Swift.min($0, t.count) } ?? t.count
            guard range.count == count else { return false }
            return count == 0 || memcmp(bytes.baseAddress! + range.lowerBound, t.baseAddress!, count) == 0
        }
    }

    /// The non-empty ranges of `bytes[range]` between separators.
    static func fields(of bytes: UnsafeBufferPointer<UInt8>, in range: Range<Int>, separatedBy separator: UInt8) -> [Range<Int>] {
        var out: [Range<Int>] = []
        out.reserveCapacity(16)  // SDKs sign 3 to 10 headers: one allocation, no regrowth
        var start = range.lowerBound
        for index in range where bytes[index] == separator {
            if index > start { out.append(start..<index) }
            start = index + 1
        }
        if range.upperBound > start { out.append(start..<range.upperBound) }
        return out
    }

    /// Whether two of the ranges hold the same bytes.
    static func repeats(_ ranges: [Range<Int>], in bytes: UnsafeBufferPointer<UInt8>) -> Bool {
        if ranges.count > 32 { return Set(ranges.map { Array(bytes[$0]) }).count != ranges.count }
        let base = bytes.baseAddress!
        for i in ranges.indices {
            for j in 0..<i where ranges[j].count == ranges[i].count
                && memcmp(base + ranges[j].lowerBound, base + ranges[i].lowerBound, ranges[i].count) == 0 { return true }
        }
        return false
    }

    /// The keyed HMAC of a credential for a scope, derived once per access key, day and region (and again when the secret
    /// changed, after a reload).
    /// - Parameter dayAndRegion: `<day>/<region>` as the credential scope has them.
    func signingKey(_ credential: AWSIdentities.Credential, dayAndRegion: UnsafeBufferPointer<UInt8>,
                    scope: () -> SigV4CredentialScope) -> PreparedSigningKey {
        if let cached = signingKeys.withLock({ $0[credential.accessKeyID] }), cached.secret == credential.secretAccessKey,
           cached.dayAndRegion.elementsEqual(dayAndRegion) {
            return cached.key
        }
        let prepared = PreparedSigningKey(SigV4Signature.signingKey(secretAccessKey: credential.secretAccessKey, scope: scope()))
        let entry = (secret: credential.secretAccessKey, dayAndRegion: Array(dayAndRegion), key: prepared)
        signingKeys.withLock {
            if $0.count >= Self.signingKeyCapacity { $0.removeAll(keepingCapacity: true) }
            $0[credential.accessKeyID] = entry
        }
        return prepared
    }
}

/// An HMAC-SHA256 already keyed with a signing key: each request copies it and feeds it its string to sign, skipping
/// the key schedule.
///
/// `@unchecked Sendable`: `mac` is a `let` never mutated after `init`; users copy the value, and swift-crypto's digest
/// state is copy-on-write (`OpenSSLDigestImpl.update` clones its context unless uniquely referenced, `finalize` works on
/// a copy), so concurrent copies never write to the shared state.
final class PreparedSigningKey: @unchecked Sendable {
    let mac: HMAC<SHA256>

    init(_ key: SymmetricKey) { mac = HMAC<SHA256>(key: key) }
}

/// `X-Amz-Date` values: ISO 8601 basic format, `yyyyMMddTHHmmssZ`, UTC (the C library's `timegm`/`gmtime_r` convert).
public enum AmzDate {
    /// Seconds since 1970 of a `yyyyMMddTHHmmssZ` text; nil when it is not one (wrong length, a non-digit, a month 13,
    /// February 30 …).
    public static func epochSeconds(_ text: String) -> Int64? {
        var text = text
        return text.withUTF8(epochSeconds(bytes:))
    }

    static func epochSeconds(bytes b: UnsafeBufferPointer<UInt8>) -> Int64? {
        guard b.count == 16, b[8] == UInt8(ascii: "T"), b[15] == UInt8(ascii: "Z") else { return nil }
        func number(_ range: Range<Int>) -> Int32? {
            var value: Int32 = 0
            for i in range {
                guard b[i] >= 48 && b[i] <= 57 else { return nil }
                value = value * 10 + Int32(b[i] - 48)
            }
            return value
        }
        guard let year = number(0..<4), let month = number(4..<6), let day = number(6..<8), let hour = number(9..<11),
              let minute = number(11..<13), let second = number(13..<15), year >= 1970,
              (1...12).contains(month), (1...31).contains(day), hour < 24, minute < 60, second < 60 else { return nil }
        // A day the month has (February 29 only in a leap year); then days since 1970 by the proleptic Gregorian
        // calendar (Howard Hinnant's days-from-civil): arithmetic, no C library call on every request.
        let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)
        let monthDays: Int32 = switch month {
        case 2: leap ? 29 : 28
        case 4, 6, 9, 11: 30
        default: 31
        }
        guard day <= monthDays else { return nil }
        let y = Int64(month <= 2 ? year - 1 : year), m = Int64(month)
        let era = y / 400  // y ≥ 1969: no negative eras
        let yearOfEra = y - era * 400
        let dayOfYear = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + Int64(day) - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        let days = era * 146_097 + dayOfEra - 719_468
        return days * 86_400 + Int64(hour) * 3600 + Int64(minute) * 60 + Int64(second)
    }

    /// `yyyyMMddTHHmmssZ` of seconds since 1970.
    public static func format(_ epochSeconds: Int64) -> String {
        var t = time_t(epochSeconds), fields = tm()
        gmtime_r(&t, &fields)
        func digits(_ value: Int32, _ width: Int) -> String {
            let text = String(value)
            return String(repeating: "0", count: max(0, width - text.count)) + text
        }
        return digits(fields.tm_year + 1900, 4) + digits(fields.tm_mon + 1, 2) + digits(fields.tm_mday, 2) + "T"
            + digits(fields.tm_hour, 2) + digits(fields.tm_min, 2) + digits(fields.tm_sec, 2) + "Z"
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
