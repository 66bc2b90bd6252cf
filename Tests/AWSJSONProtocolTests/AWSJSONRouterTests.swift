import HTTP1
import JSON
import Testing
@testable import AWSJSONProtocol

private struct Boom: Error {}

extension HTTPRequest {
    /// An AWS JSON 1.1 request as an SDK sends it.
    static func makeAWS(target: String? = "SageMaker.DescribeCluster", body: String = "{}", headers: [(String, String)] = []) -> HTTPRequest {
        var all = HTTPHeaders([("Host", "localhost"), ("Content-Type", "application/x-amz-json-1.1")] + headers)
        if let target { all.add("X-Amz-Target", target) }
        return HTTPRequest(method: "POST", target: "/", headers: all, body: Array(body.utf8))
    }
}

struct AWSJSONRouterTests {
    static let echo: AWSOperationHandler = { input, context in
        var out = input
        out["_account"] = .string(context.identity.accountID)
        out["_region"] = .string(context.identity.region)
        out["_partition"] = .string(context.identity.partition)
        return out
    }

    let router = AWSJSONRouter(
        handlers: [
            "DescribeCluster": Self.echo,
            "DeleteCluster": { _, _ in throw AWSError(code: "ResourceNotFound", message: "Could not find cluster 'x'") },
            "ListClusters": { _, _ in throw AWSError.validation("1 validation error detected: x") },
            "UpdateCluster": { _, _ in throw Boom() },
        ],
        authMode: .parse, defaultAccountID: "000000000000", defaultRegion: "us-east-1",
        checkResponses: false  // the echo handler's output is not a DescribeClusterResponse
    )

    private func body(_ outcome: AWSJSONOutcome) throws -> JSONObject {
        try #require(try JSONParser.parse(outcome.response.body).objectValue)
    }

    @Test func success_Returns200WithJSON11ContentTypeAndRequestID() throws {
        let outcome = router.handle(.makeAWS(body: #"{"ClusterName":"a"}"#), requestID: "rid-1")
        #expect(outcome.response.status == .ok)
        #expect(outcome.response.headers["Content-Type"] == "application/x-amz-json-1.1")
        #expect(outcome.response.headers["x-amzn-RequestId"] == "rid-1")
        #expect(outcome.response.headers["x-amzn-ErrorType"] == nil)
        #expect(try body(outcome)["ClusterName"] == .string("a"))
        #expect(outcome.operation == "DescribeCluster")
    }

    @Test func emptyBody_IsAnEmptyObject() throws {
        // `{}` misses the required ClusterName: the validator saw an (empty) object.
        let outcome = router.handle(.makeAWS(body: ""), requestID: "r")
        #expect(outcome.response.status.code == 400)
        #expect(try body(outcome)["message"] == .string(
            "1 validation error detected: Value null at 'clusterName' failed to satisfy constraint: Member must not be null"))
    }

    @Test func validationRuns_BeforeTheHandler_AndBeforeThe501() throws {
        let unimplemented = router.handle(.makeAWS(target: "SageMaker.BatchDeleteClusterNodes", body: #"{"ClusterName":"x","NodeIds":[]}"#), requestID: "r")
        #expect(unimplemented.response.status.code == 400)
        #expect(unimplemented.errorCode == "ValidationException")
        let valid = router.handle(.makeAWS(target: "SageMaker.BatchDeleteClusterNodes", body: #"{"ClusterName":"x"}"#), requestID: "r")
        #expect(valid.response.status.code == 501)
    }

    @Test func typedOperation_DecodesInputAndEncodesOutput() throws {
        struct Echo: JSONRepresentable {
            var name: String
            init(json: JSONValue) throws(JSONDecodingError) { name = try json.objectValue!.decodeRequired("ClusterName") }
            var jsonValue: JSONValue { .object(["ClusterArn": .string("arn:aws:sagemaker:us-east-1:000000000000:cluster/\(name)")]) }
        }
        let typed = AWSJSONRouter(
            handlers: ["UpdateCluster": AWSJSONRouter.operation { (input: Echo, _) in input }],
            authMode: .off, defaultAccountID: "000000000000", defaultRegion: "us-east-1", checkResponses: true
        )
        let outcome = typed.handle(.makeAWS(target: "SageMaker.UpdateCluster", body: #"{"ClusterName":"abc"}"#), requestID: "r")
        #expect(outcome.response.status == .ok)
        #expect(try body(outcome) == ["ClusterArn": .string("arn:aws:sagemaker:us-east-1:000000000000:cluster/abc")])
    }

    @Test func unknownMembers_AreReportedForTheLog() {
        let outcome = router.handle(.makeAWS(body: #"{"ClusterName":"a","Later":1}"#), requestID: "r")
        #expect(outcome.response.status == .ok)
        #expect(outcome.unknownMembers.map(\.name) == ["Later"])
    }

    @Test func missingTarget_Is400UnknownOperation() throws {
        let outcome = router.handle(.makeAWS(target: nil), requestID: "r")
        #expect(outcome.response.status.code == 400)
        #expect(outcome.response.headers["x-amzn-ErrorType"] == "UnknownOperationException")
        #expect(try body(outcome) == ["__type": .string("UnknownOperationException"), "message": .string("Missing X-Amz-Target header")])
    }

    @Test(arguments: ["SageMaker.NoSuchOperation", "Glue.DescribeCluster", "DescribeCluster", "SageMaker.", "SageMaker_20170724.DescribeCluster"])
    func unknownTarget_Is400UnknownOperation(_ target: String) throws {
        let outcome = router.handle(.makeAWS(target: target), requestID: "r")
        #expect(outcome.response.status.code == 400)
        #expect(try body(outcome)["message"] == .string("Unknown operation \(target)"))
    }

    @Test func modelOperationWithoutHandler_Is501NamingIt() throws {
        let outcome = router.handle(.makeAWS(target: "SageMaker.CreateTrainingJob"), requestID: "r")
        #expect(outcome.response.status.code == 501)
        #expect(outcome.errorCode == "NotImplementedException")
        #expect(try body(outcome)["message"] == .string("Operation CreateTrainingJob is not implemented by hyperpod-local"))
    }

    @Test(arguments: [
        ("{", "Unable to parse request body as JSON"),
        ("not json", "Unable to parse request body as JSON"),
        ("[1,2]", "Request body must be a JSON object"),
        ("\"text\"", "Request body must be a JSON object"),
        ("null", "Request body must be a JSON object"),
    ])
    func bodyThatIsNotAJSONObject_Is400SerializationException(_ example: (String, String)) throws {
        let outcome = router.handle(.makeAWS(body: example.0), requestID: "r")
        #expect(outcome.response.status.code == 400)
        #expect(try body(outcome) == ["__type": .string("SerializationException"), "message": .string(example.1)])
    }

    @Test func modeledErrors_UseMessage_OthersUseLowercaseMessage() throws {
        let modeled = router.handle(.makeAWS(target: "SageMaker.DeleteCluster", body: #"{"ClusterName":"x"}"#), requestID: "r")
        #expect(try body(modeled) == ["__type": .string("ResourceNotFound"), "Message": .string("Could not find cluster 'x'")])
        #expect(modeled.response.headers["x-amzn-ErrorType"] == "ResourceNotFound")
        let other = router.handle(.makeAWS(target: "SageMaker.ListClusters"), requestID: "r")
        #expect(try body(other) == ["__type": .string("ValidationException"), "message": .string("1 validation error detected: x")])
    }

    @Test func unexpectedHandlerError_Is500InternalFailureNamingTheRequestID() throws {
        let outcome = router.handle(.makeAWS(target: "SageMaker.UpdateCluster", body: #"{"ClusterName":"x"}"#), requestID: "rid-500")
        #expect(outcome.response.status.code == 500)
        #expect(try body(outcome) == [
            "__type": .string("InternalFailure"),
            "message": .string("Internal error; see hyperpod-local log for request rid-500"),
        ])
        #expect(outcome.internalError != nil)
    }

    @Test(arguments: [("GET", "/"), ("POST", "/other"), ("PUT", "/"), ("GET", "/favicon.ico")])
    func otherMethodsAndPaths_Are404UnknownOperation(_ example: (String, String)) throws {
        let request = HTTPRequest(method: example.0, target: example.1, headers: ["X-Amz-Target": "SageMaker.DescribeCluster"])
        let outcome = router.handle(request, requestID: "r")
        #expect(outcome.response.status.code == 404)
        #expect(try body(outcome)["__type"] == .string("UnknownOperationException"))
    }

    @Test func identity_ComesFromTheCredentialScope() throws {
        let auth = "AWS4-HMAC-SHA256 Credential=123456789012/20261130/eu-west-1/sagemaker/aws4_request, SignedHeaders=host;x-amz-date, Signature=abc"
        let outcome = router.handle(.makeAWS(body: #"{"ClusterName":"a"}"#, headers: [("Authorization", auth)]), requestID: "r")
        let out = try body(outcome)
        #expect(out["_account"] == .string("123456789012"))
        #expect(out["_region"] == .string("eu-west-1"))
        #expect(out["_partition"] == .string("aws"))
    }

    @Test func identity_NonNumericKeyKeepsTheDefaultAccount_AndMalformedHeadersFallBack() throws {
        let auth = "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20261130/cn-north-1/sagemaker/aws4_request, SignedHeaders=host, Signature=abc"
        let out = try body(router.handle(.makeAWS(body: #"{"ClusterName":"a"}"#, headers: [("Authorization", auth)]), requestID: "r"))
        #expect(out["_account"] == .string("000000000000"))
        #expect(out["_partition"] == .string("aws-cn"))
        let broken = try body(router.handle(.makeAWS(body: #"{"ClusterName":"a"}"#, headers: [("Authorization", "AWS4-HMAC-SHA256 garbage")]), requestID: "r"))
        #expect(broken["_region"] == .string("us-east-1"))
    }

    @Test func authOff_IgnoresTheHeaders() throws {
        let offRouter = AWSJSONRouter(handlers: ["DescribeCluster": Self.echo], authMode: .off, defaultAccountID: "111111111111", defaultRegion: "us-west-2", checkResponses: false)
        let auth = "AWS4-HMAC-SHA256 Credential=123456789012/20261130/eu-west-1/sagemaker/aws4_request, SignedHeaders=host, Signature=abc"
        let out = try body(offRouter.handle(.makeAWS(body: #"{"ClusterName":"a"}"#, headers: [("Authorization", auth)]), requestID: "r"))
        #expect(out["_account"] == .string("111111111111"))
        #expect(out["_region"] == .string("us-west-2"))
    }
}

struct SigV4CredentialScopeTests {
    @Test func authorizationHeader_IsParsed() {
        let scope = SigV4CredentialScope(authorization: "AWS4-HMAC-SHA256 Credential=AKID/20261130/us-gov-west-1/sagemaker/aws4_request,SignedHeaders=host,Signature=ff")
        #expect(scope == SigV4CredentialScope(accessKeyID: "AKID", date: "20261130", region: "us-gov-west-1", service: "sagemaker"))
        #expect(AWSIdentity.partition(of: "us-gov-west-1") == "aws-us-gov")
    }

    @Test(arguments: [
        "AWS4-HMAC-SHA256 Credential=AKID/20261130/us-east-1/sagemaker",
        "AWS4-HMAC-SHA256 Credential=AKID/2026113/us-east-1/sagemaker/aws4_request",
        "AWS4-HMAC-SHA256 Credential=/20261130/us-east-1/sagemaker/aws4_request",
        "AWS AKID:signature",
        "AWS4-HMAC-SHA256Credential=AKID/20261130/us-east-1/sagemaker/aws4_request",
        "AWS4-HMAC-SHA256 Credential=AKID/20261130/us-east-1/sagemaker/aws4_request/extra",
        "AWS4-HMAC-SHA256 Credential=AKID/2026113x/us-east-1/sagemaker/aws4_request",
        "AWS4-HMAC-SHA256 Credential=AKID/20261130//sagemaker/aws4_request",
        "AWS4-HMAC-SHA256 SignedHeaders=host, Signature=ff",
        "",
    ])
    func malformedHeaders_AreNil(_ header: String) {
        #expect(SigV4CredentialScope(authorization: header) == nil)
    }

    @Test func credential_IsFoundWhereverItStandsAmongTheParameters() {
        let scope = SigV4CredentialScope(authorization: "AWS4-HMAC-SHA256 SignedHeaders=host;x-amz-date,  Credential=123456789012/20261130/eu-west-1/sagemaker/aws4_request, Signature=ff")
        #expect(scope == SigV4CredentialScope(accessKeyID: "123456789012", date: "20261130", region: "eu-west-1", service: "sagemaker"))
    }

    @Test func fieldsAroundMultiByteCharacters_AreSlicedWhole() {
        let scope = SigV4CredentialScope(authorization: "AWS4-HMAC-SHA256 Credential=ÄKÏD/20261130/ëu-west-1/sägemaker/aws4_request, Signature=ff")
        #expect(scope == SigV4CredentialScope(accessKeyID: "ÄKÏD", date: "20261130", region: "ëu-west-1", service: "sägemaker"))
        // A substring that does not start at its string's start: offsets count from the substring.
        #expect(SigV4CredentialScope(credential: "x/Ä/20261130/r/s/aws4_request".dropFirst(2))
                == SigV4CredentialScope(accessKeyID: "Ä", date: "20261130", region: "r", service: "s"))
        #expect(SigV4CredentialScope(credential: "x/Ä/20261130/r/s/aws4_request".dropFirst(1)) == nil)  // an empty key
    }

    @Test func presignedQueryCredential_IsParsed() {
        let request = HTTPRequest(method: "POST", target: "/?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=123456789012%2F20261130%2Fap-northeast-1%2Fsagemaker%2Faws4_request&X-Amz-Date=20261130T000000Z")
        #expect(SigV4CredentialScope(request: request)?.region == "ap-northeast-1")
        #expect(SigV4CredentialScope(request: request)?.accessKeyID == "123456789012")
    }
}

struct AmzTargetTests {
    @Test func target_SplitsAtTheLastDot() {
        #expect(AmzTarget("SageMaker.DescribeCluster")?.sageMakerOperation == "DescribeCluster")
        #expect(AmzTarget("a.b.DescribeCluster")?.prefix == "a.b")
        #expect(AmzTarget("NoDot") == nil)
        #expect(AmzTarget("sagemaker.DescribeCluster")?.sageMakerOperation == nil)
    }

    @Test func operationList_IsTheModels() {
        #expect(SageMakerOperations.names.count > 400)  // 453 in botocore 1.44.18
        #expect(SageMakerOperations.names.isSuperset(of: ["CreateCluster", "UpdateCluster", "AddTags", "ListTags", "DeleteTags"]))
    }

    @Test func requestIDs_AreLowercaseUUIDv4() {
        let id = RequestID.make()
        let chars = Array(id)
        #expect(chars.count == 36)
        #expect(chars[14] == "4")
        #expect("89ab".contains(chars[19]))
        #expect(id == id.lowercased())
        #expect(RequestID.make() != id)
    }
}

/// A body validated once is not validated again for the same operation, but the identity is always the request's own,
/// and a refused body is refused every time.
struct ValidatedBodiesTests {
    let router = AWSJSONRouter(handlers: [:], authMode: .parse, defaultAccountID: "000000000000", defaultRegion: "us-east-1")

    func signed(_ account: String, region: String) -> [(String, String)] {
        [("Authorization", "AWS4-HMAC-SHA256 Credential=\(account)/20261130/\(region)/sagemaker/aws4_request, SignedHeaders=host, Signature=ff")]
    }

    @Test func theSameBody_DecodesToTheSameInput_WithEachRequestsOwnIdentity() throws {
        let first = try router.decode(.makeAWS(body: #"{"ClusterName":"demo"}"#, headers: signed("111111111111", region: "us-east-1")),
                                      requestID: "a").get()
        let second = try router.decode(.makeAWS(body: #"{"ClusterName":"demo"}"#, headers: signed("222222222222", region: "eu-west-1")),
                                       requestID: "b").get()
        #expect(first.input == second.input && first.operation == "DescribeCluster" && second.operation == "DescribeCluster")
        #expect(first.context.identity.accountID == "111111111111" && second.context.identity.accountID == "222222222222")
        #expect(second.context.identity.region == "eu-west-1" && second.context.requestID == "b")
        #expect(router.validated.lookup(target: "SageMaker.DescribeCluster", body: Array(#"{"ClusterName":"demo"}"#.utf8)) != nil)
    }

    @Test func anotherTarget_WithTheSameBytes_IsItsOwnCall() throws {
        _ = try router.decode(.makeAWS(target: "SageMaker.DescribeCluster", body: #"{"ClusterName":"demo"}"#), requestID: "a").get()
        let delete = try router.decode(.makeAWS(target: "SageMaker.DeleteCluster", body: #"{"ClusterName":"demo"}"#), requestID: "b").get()
        #expect(delete.operation == "DeleteCluster")
    }

    @Test func aRefusedBody_IsRefusedEveryTime() {
        for _ in 0..<2 {
            guard case .failure(let refusal) = router.decode(.makeAWS(body: #"{"ClusterName":"bad_name!"}"#), requestID: "r") else {
                Issue.record("accepted")
                return
            }
            #expect(refusal.outcome.errorCode == "ValidationException")
        }
        #expect(router.validated.lookup(target: "SageMaker.DescribeCluster", body: Array(#"{"ClusterName":"bad_name!"}"#.utf8)) == nil)
    }
}
