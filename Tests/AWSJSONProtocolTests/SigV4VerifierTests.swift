import HTTP1
import Testing
@testable import AWSJSONProtocol

/// `--auth verify` (issue #18): each check of `SigV4Verifier`, in AWS's order, with AWS's code, status and text, on a
/// wall clock given as a value.
struct SigV4VerifierTests {
    static let identities = try! AWSIdentities(parsing: Array("""
        {"principals": {"arn:aws:iam::123456789012:user/u": {}, "arn:aws:sts::210987654321:assumed-role/R/s": {}},
         "credentials": [
           {"accessKeyId": "AKIDUSER", "secretAccessKey": "user-secret", "principal": "arn:aws:iam::123456789012:user/u"},
           {"accessKeyId": "ASIASESSION", "secretAccessKey": "session-secret", "principal": "arn:aws:sts::210987654321:assumed-role/R/s",
            "sessionToken": "the-token"}]}
        """.utf8))
    static let date = "20261206T120000Z"
    static let now = AmzDate.epochSeconds(date)!

    /// A request signed with `secret` over content-type, host, x-amz-date, x-amz-target (and the token header when
    /// given), the way SDKs sign.
    static func signed(key: String = "AKIDUSER", secret: String = "user-secret", token: String? = nil, date: String = date,
                       scopeDate: String? = nil, service: String = "sagemaker", body: String = "{}") -> HTTPRequest {
        var headers: HTTPHeaders = ["Content-Type": "application/x-amz-json-1.1", "Host": "localhost:4580", "X-Amz-Date": date,
                                    "X-Amz-Target": "SageMaker.ListClusters"]
        var signedHeaders = ["content-type", "host", "x-amz-date"]
        if let token {
            headers.add("X-Amz-Security-Token", token)
            signedHeaders.append("x-amz-security-token")
        }
        signedHeaders.append("x-amz-target")
        let credential = "\(key)/\(scopeDate ?? String(date.prefix(8)))/us-east-1/\(service)/aws4_request"
        let scope = SigV4CredentialScope(credential: Substring(credential))!
        let canonical = SigV4Signature.canonicalRequest(method: "POST", target: "/", headers: headers, signedHeaders: signedHeaders,
                                                        payloadHash: SigV4Signature.payloadHash(Array(body.utf8)))
        let signature = SigV4Signature.signature(
            stringToSign: SigV4Signature.stringToSign(canonicalRequest: canonical, amzDate: date, scope: scope), secretAccessKey: secret, scope: scope)
        headers.add("Authorization", "AWS4-HMAC-SHA256 Credential=\(credential), SignedHeaders=\(signedHeaders.joined(separator: ";")), Signature=\(signature)")
        return HTTPRequest(method: "POST", target: "/", headers: headers, body: Array(body.utf8))
    }

    func refusal(_ request: HTTPRequest, now: Int64 = Self.now) -> AWSError? {
        if case .failure(let error) = SigV4Verifier().verify(request, identities: Self.identities, nowEpochSeconds: now) { return error }
        return nil
    }

    @Test func aSignedRequest_IsItsPrincipalsCall_InItsAccount() throws {
        let caller = try SigV4Verifier().verify(Self.signed(), identities: Self.identities, nowEpochSeconds: Self.now).get()
        #expect(caller.principal == "arn:aws:iam::123456789012:user/u" && caller.accountID == "123456789012" && caller.region == "us-east-1")
        let session = try SigV4Verifier().verify(Self.signed(key: "ASIASESSION", secret: "session-secret", token: "the-token"),
                                                 identities: Self.identities, nowEpochSeconds: Self.now).get()
        #expect(session.accountID == "210987654321")
    }

    @Test func noHeader_OrAnotherScheme_IsMissingAuthenticationToken() {
        var request = Self.signed()
        request.headers = ["Host": "h"]
        #expect(refusal(request) == .missingAuthenticationToken)
        #expect(refusal(request).map { ($0.status.code, $0.message) }! == (403, "Missing Authentication Token"))
        request.headers.add("Authorization", "Bearer abc")
        #expect(refusal(request) == .missingAuthenticationToken)
    }

    @Test func anIncompleteHeader_NamesEachMissingPart() {
        var request = Self.signed()
        request.headers = ["Host": "h", "Authorization": "AWS4-HMAC-SHA256 Credential=AKIDUSER/20261206/us-east-1/sagemaker/aws4_request"]
        #expect(refusal(request) == .incompleteSignature(
            "Authorization header requires 'Signature' parameter. Authorization header requires 'SignedHeaders' parameter. "
            + "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header. "
            + "Authorization=AWS4-HMAC-SHA256 Credential=AKIDUSER/20261206/us-east-1/sagemaker/aws4_request"))
        request.headers = ["Host": "h", "Authorization": "AWS4-HMAC-SHA256 Credential", "X-Amz-Date": Self.date]
        #expect(refusal(request) == .incompleteSignature(
            "'Credential' not a valid key=value pair (missing equal-sign) in Authorization header: 'AWS4-HMAC-SHA256 Credential'."))
        request.headers = ["Host": "h", "X-Amz-Date": "2026-12-06T12:00:00Z",
                           "Authorization": "AWS4-HMAC-SHA256 Credential=a/b/c/d/e, SignedHeaders=host, Signature=00"]
        #expect(refusal(request)?.message == "Date must be in ISO-8601 'basic format'. Got '2026-12-06T12:00:00Z'. See http://en.wikipedia.org/wiki/ISO_8601")
        request.headers = ["Host": "h", "X-Amz-Date": Self.date, "Authorization": "AWS4-HMAC-SHA256 Credential=a/b/c/d, SignedHeaders=host, Signature=00"]
        #expect(refusal(request)?.message == "Credential must have exactly 5 slash-delimited elements, e.g. keyid/date/region/service/term, got 'a/b/c/d'")
        request.headers = ["Host": "h", "X-Amz-Date": Self.date, "Authorization": "AWS4-HMAC-SHA1 Credential=a/b/c/d/e, SignedHeaders=host, Signature=00"]
        #expect(refusal(request)?.code == "IncompleteSignatureException")
        #expect(refusal(request)?.status.code == 400)
    }

    @Test func theScope_MustBeSageMakersAndTheRequestsDay() {
        #expect(refusal(Self.signed(service: "dynamodb")) == .invalidSignature("Credential should be scoped to correct service: 'sagemaker'. "))
        #expect(refusal(Self.signed(scopeDate: "20261205")) == .invalidSignature(
            "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '20261205' != '20261206', from '20261206T120000Z'."))
        var request = Self.signed()
        let unsignedHost = request.headers["Authorization"]!.replacingOccurrences("content-type;host;", with: "content-type;")
        request.headers = ["Host": "h", "X-Amz-Date": Self.date, "Authorization": unsignedHost]
        #expect(refusal(request) == .invalidSignature("'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization."))
    }

    @Test func unknownKeysAndWrongSessionTokens_AreUnrecognizedClients() {
        #expect(refusal(Self.signed(key: "AKIDNOBODY")) == .unrecognizedClient)
        #expect(refusal(Self.signed(key: "ASIASESSION", secret: "session-secret", token: "forged")) == .unrecognizedClient)
        #expect(refusal(Self.signed(key: "ASIASESSION", secret: "session-secret")) == .unrecognizedClient)  // token required
        #expect(refusal(Self.signed(token: "unexpected")) == .unrecognizedClient)  // a long-term key has none
        #expect(AWSError.unrecognizedClient.status.code == 400)
    }

    @Test func aWrongSecretOrAlteredBody_IsASignatureMismatch_ShowingWhatTheServerComputed() throws {
        let error = try #require(refusal(Self.signed(secret: "wrong")))
        #expect(error.code == "InvalidSignatureException" && error.status.code == 400)
        #expect(error.message.hasPrefix(AWSError.signatureMismatchText + "\n\nThe Canonical String for this request should have been\n'POST\n/\n\n"))
        #expect(error.message.contains("\n\nThe String-to-Sign should have been\n'AWS4-HMAC-SHA256\n20261206T120000Z\n20261206/us-east-1/sagemaker/aws4_request\n"))
        var altered = Self.signed(body: #"{"a":1}"#)
        altered.body = Array(#"{"a":2}"#.utf8)
        #expect(refusal(altered)?.message.hasPrefix(AWSError.signatureMismatchText) == true)
        // A declared body hash must be the body's: one that is not refuses, even when it is what was signed.
        var declared = Self.signed()
        declared.headers.add("X-Amz-Content-Sha256", String(repeating: "0", count: 64))
        #expect(refusal(declared)?.code == "InvalidSignatureException")
    }

    @Test func aGzipBody_IsCheckedAsReceived() throws {
        var request = Self.signed(body: "compressed bytes")
        request.contentEncodedBody = request.body
        request.body = Array("{}".utf8)  // what the inflated body would be
        #expect(refusal(request) == nil)
    }

    @Test func theDate_IsJudgedOnTheWallClock_15MinutesEitherWay() {
        #expect(refusal(Self.signed(), now: Self.now + 15 * 60) == nil)
        #expect(refusal(Self.signed(), now: Self.now - 15 * 60) == nil)
        #expect(refusal(Self.signed(), now: Self.now + 15 * 60 + 1) == .invalidSignature(
            "Signature expired: 20261206T120000Z is now earlier than 20261206T120001Z (20261206T121501Z - 15 min.)"))
        #expect(refusal(Self.signed(), now: Self.now - 15 * 60 - 1) == .invalidSignature(
            "Signature not yet current: 20261206T120000Z is still later than 20261206T115959Z (20261206T114459Z + 15 min.)"))
        // Expiry is judged before the key is looked up, as AWS does.
        #expect(refusal(Self.signed(key: "AKIDNOBODY"), now: Self.now + 3600)?.message.hasPrefix("Signature expired") == true)
    }

    /// A target in absolute form (`POST http://host/ HTTP/1.1`) is signed over its path, as the client signed it.
    @Test func anAbsoluteFormTarget_IsVerifiedOverItsPath() {
        var request = Self.signed()
        request.target = "http://localhost:4580/"
        #expect(refusal(request) == nil)
    }

    /// What an attack sent: 1,000 repeated header fields and `SignedHeaders` naming one of them 3,000 times. A name
    /// given twice is refused at once; 2,000 distinct names over 1,000 fields are answered (the fields are indexed by
    /// name, not searched once per name) with a mismatch.
    @Test func manySignedHeaders_AreRefusedWithoutBuildingAHugeCanonicalRequest() {
        var headers: HTTPHeaders = ["Host": "h", "X-Amz-Date": Self.date]
        for _ in 0..<1000 { headers.add("a", "v") }
        let repeated = Array(repeating: "a", count: 3000).joined(separator: ";")
        headers.add("Authorization", "AWS4-HMAC-SHA256 Credential=AKIDUSER/20261206/us-east-1/sagemaker/aws4_request, SignedHeaders=host;\(repeated), Signature=00")
        #expect(refusal(HTTPRequest(method: "POST", target: "/", headers: headers))?.code == "IncompleteSignatureException")
        let distinct = (0..<2000).map { "h\($0)" }.joined(separator: ";")
        headers.replace("Authorization", "AWS4-HMAC-SHA256 Credential=AKIDUSER/20261206/us-east-1/sagemaker/aws4_request, SignedHeaders=a;host;\(distinct), Signature=00")
        let error = refusal(HTTPRequest(method: "POST", target: "/", headers: headers))
        #expect(error?.code == "InvalidSignatureException" && error!.message.hasPrefix(AWSError.signatureMismatchText))
        #expect(error!.message.contains("\na:" + Array(repeating: "v", count: 1000).joined(separator: ",") + "\n"))
    }

    @Test func amzDates_RoundTrip_AndRefuseImpossibleDates() {
        for text in ["19700101T000000Z", "20000229T235959Z", "20261206T120000Z", "21000301T000000Z"] {
            #expect(AmzDate.format(AmzDate.epochSeconds(text)!) == text)
        }
        #expect(AmzDate.epochSeconds("19700101T000000Z") == 0)
        #expect(AmzDate.epochSeconds("20261206T120000Z") == 1_796_558_400)
        for bad in ["20261306T120000Z", "20260230T120000Z", "20261206T240000Z", "20261206 120000Z", "2026120T120000Z", "20261206T12000Z9",
                    "20230229T000000Z", "21000229T000000Z", "20260431T000000Z", "20260001T000000Z", "19691231T235959Z"] {
            #expect(AmzDate.epochSeconds(bad) == nil, "\(bad)")
        }
    }

    /// The arithmetic calendar agrees with the C library's `gmtime_r` on every day from 1970 to 2200 (`format` uses it).
    @Test func amzDates_AgreeWithTheCLibrary_OnEveryDayFor230Years() {
        var seconds: Int64 = 43_200 + 3661  // 12:01:01 on each day
        while seconds < 7_258_118_400 {  // 2200-01-01
            let text = AmzDate.format(seconds)
            guard AmzDate.epochSeconds(text) == seconds else {
                Issue.record("\(text) read as \(String(describing: AmzDate.epochSeconds(text))), not \(seconds)")
                return
            }
            seconds += 86_400
        }
    }
}

extension String {
    fileprivate func replacingOccurrences(_ target: String, with replacement: String) -> String {
        split(separator: target, omittingEmptySubsequences: false).joined(separator: replacement)
    }
}
