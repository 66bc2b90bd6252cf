import HTTP1
import JSON
import Testing
@testable import AWSJSONProtocol

/// `--auth enforce` (issue #18): a call is evaluated against the identities its signature was verified against, and
/// every resource it acts on must be allowed.
struct AWSAuthenticationTests {
    static func identities(secret: String, effect: String) -> AWSIdentities {
        try! AWSIdentities(parsing: Array("""
            {"principals": {"arn:aws:iam::123456789012:user/u": {"policies": [{"Statement": [
                {"Effect": "\(effect)", "Action": "sagemaker:*", "Resource": "arn:aws:sagemaker:*:*:cluster/*"}]}]}},
             "credentials": [{"accessKeyId": "AKIDUSER", "secretAccessKey": "\(secret)", "principal": "arn:aws:iam::123456789012:user/u"}]}
            """.utf8))
    }

    static func call(_ operation: String, identities: AWSIdentities?, input: JSONObject = [:]) -> AWSCall {
        let identity = AWSIdentity(accountID: "123456789012", region: "us-east-1", principal: "arn:aws:iam::123456789012:user/u")
        return AWSCall(operation: operation, input: input, context: AWSRequestContext(requestID: "r", operation: operation, identity: identity),
                       unknownMembers: [], identities: identities)
    }

    @Test func aReloadBetweenSignatureAndPolicies_DoesNotMixTwoFiles() throws {
        let old = Self.identities(secret: "user-secret", effect: "Allow")
        let authentication = AWSAuthentication(identities: old, wallClock: { SigV4VerifierTests.now }, resolveResource: { _, _, _ in
            [AWSAuthorizationResource(arn: "arn:aws:sagemaker:us-east-1:123456789012:cluster/abc")]
        })
        let (_, snapshot) = try authentication.authenticate(SigV4VerifierTests.signed()).get()
        authentication.replace(Self.identities(secret: "new-secret", effect: "Deny"))
        // Verified against the old file: its policies decide, though the new file is in effect now.
        try authentication.authorize(Self.call("DescribeCluster", identities: snapshot))
        // A request signed with the old secret after the reload does not verify.
        #expect(throws: AWSError.self) { try authentication.authenticate(SigV4VerifierTests.signed()).get() }
        let (_, fresh) = try authentication.authenticate(SigV4VerifierTests.signed(secret: "new-secret")).get()
        #expect(throws: AWSError.accessDenied(principal: "arn:aws:iam::123456789012:user/u", action: "sagemaker:DescribeCluster",
                                              resource: "arn:aws:sagemaker:us-east-1:123456789012:cluster/abc", explicit: true)) {
            try authentication.authorize(Self.call("DescribeCluster", identities: fresh))
        }
    }

    @Test func everyResource_MustBeAllowed_TheFirstRefusedIsNamed() {
        let authentication = AWSAuthentication(identities: Self.identities(secret: "s", effect: "Allow"), wallClock: { 0 }, resolveResource: { _, _, _ in
            [AWSAuthorizationResource(arn: "arn:aws:sagemaker:us-east-1:123456789012:cluster/a"),
             AWSAuthorizationResource(arn: "arn:aws:sagemaker:us-east-1:123456789012:training-plan/p")]
        })
        #expect(throws: AWSError.accessDenied(principal: "arn:aws:iam::123456789012:user/u", action: "sagemaker:MoveClusterNodes",
                                              resource: "arn:aws:sagemaker:us-east-1:123456789012:training-plan/p", explicit: false)) {
            try authentication.authorize(Self.call("MoveClusterNodes", identities: authentication.identities))
        }
    }

    @Test func theIAMRequest_CarriesRequestTagsTagKeysAndTheTaggingAction() {
        let input: JSONObject = ["Tags": .array([.object(["Key": .string("Team"), "Value": .string("a")])])]
        let request = AWSAuthentication.iamRequest(Self.call("CreateCluster", identities: nil, input: input),
                                                   resource: AWSAuthorizationResource(arn: "x", tags: [(key: "Env", value: "prod")]))
        #expect(request.action == "sagemaker:CreateCluster" && request.resource == "x")
        #expect(request.context["aws:requesttag/team"] == ["a"] && request.context["aws:tagkeys"] == ["Team"])
        #expect(request.context["aws:resourcetag/env"] == ["prod"] && request.context["aws:requestedregion"] == ["us-east-1"])
        #expect(request.context["aws:principalarn"] == ["arn:aws:iam::123456789012:user/u"])
    }
}
