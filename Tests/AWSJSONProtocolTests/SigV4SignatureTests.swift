import HTTP1
import Testing
@testable import AWSJSONProtocol

/// SigV4 recomputed as a server does (groundwork of issue #18): AWS's documented example and a request botocore
/// signed give the signatures AWS and botocore computed.
struct SigV4SignatureTests {
    static let secret = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"

    /// The example of AWS's "Create a signed AWS API request" (IAM ListUsers, 2015-08-30T12:36:00Z).
    @Test func awsDocumentedExample_GivesItsSignature() throws {
        let headers: HTTPHeaders = ["Content-Type": "application/x-www-form-urlencoded; charset=utf-8", "Host": "iam.amazonaws.com",
                                    "X-Amz-Date": "20150830T123600Z"]
        let canonical = SigV4Signature.canonicalRequest(
            method: "GET", target: "/?Action=ListUsers&Version=2010-05-08", headers: headers,
            signedHeaders: ["content-type", "host", "x-amz-date"], payloadHash: SigV4Signature.payloadHash([]))
        #expect(canonical == """
            GET
            /
            Action=ListUsers&Version=2010-05-08
            content-type:application/x-www-form-urlencoded; charset=utf-8
            host:iam.amazonaws.com
            x-amz-date:20150830T123600Z

            content-type;host;x-amz-date
            e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855
            """)
        let scope = try #require(SigV4CredentialScope(credential: "AKIDEXAMPLE/20150830/us-east-1/iam/aws4_request"))
        let toSign = SigV4Signature.stringToSign(canonicalRequest: canonical, amzDate: "20150830T123600Z", scope: scope)
        #expect(toSign.hasSuffix("\nf536975d06c0309214f805bb90ccff089219ecd68b2577efef23edd43b7e1a59"))
        #expect(SigV4Signature.signature(stringToSign: toSign, secretAccessKey: Self.secret, scope: scope)
                == "5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7")
    }

    /// A SageMaker JSON request as botocore 1.44.18's `SigV4Auth` signed it: the verifier accepts it as sent, and
    /// refuses it after any change to the body or a signed header.
    @Test func aRequestBotocoreSigned_Verifies_AndAnyChangeBreaksIt() throws {
        let header = "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20261206/us-east-1/sagemaker/aws4_request, "
            + "SignedHeaders=content-type;host;x-amz-date;x-amz-target, Signature=08f45b5f550d93b8f913967faf6b51964f02974c1162c6def2b18481165b553e"
        let identities = try AWSIdentities(parsing: Array("""
            {"principals": {"arn:aws:iam::123456789012:user/u": {}},
             "credentials": [{"accessKeyId": "AKIDEXAMPLE", "secretAccessKey": "\(Self.secret)", "principal": "arn:aws:iam::123456789012:user/u"}]}
            """.utf8))
        func request(body: String, target: String = "SageMaker.DescribeCluster") -> HTTPRequest {
            HTTPRequest(method: "POST", target: "/", headers: [
                "X-Amz-Target": target, "Content-Type": "application/x-amz-json-1.1", "Host": "127.0.0.1:4580",
                "X-Amz-Date": "20261206T181232Z", "Authorization": header,
            ], body: Array(body.utf8))
        }
        let now = try #require(AmzDate.epochSeconds("20261206T181500Z"))
        let verifier = SigV4Verifier()
        let caller = try verifier.verify(request(body: #"{"ClusterName":"my-cluster"}"#), identities: identities, nowEpochSeconds: now).get()
        #expect(caller == AWSCaller(principal: "arn:aws:iam::123456789012:user/u", accountID: "123456789012", accessKeyID: "AKIDEXAMPLE",
                                    region: "us-east-1"))
        for changed in [request(body: #"{"ClusterName":"my-clusteR"}"#), request(body: #"{"ClusterName":"my-cluster"}"#, target: "SageMaker.DeleteCluster")] {
            guard case .failure(let error) = verifier.verify(changed, identities: identities, nowEpochSeconds: now) else {
                Issue.record("a changed request verified")
                continue
            }
            #expect(error.code == "InvalidSignatureException" && error.message.hasPrefix(AWSError.signatureMismatchText))
        }
    }

    @Test func constantTimeEqual_ComparesWholeStrings() {
        #expect(!SigV4Signature.constantTimeEqual("abc", "abcd") && SigV4Signature.constantTimeEqual("abc", "abc"))
        #expect(!SigV4Signature.constantTimeEqual("abd", "abc"))
    }

    @Test func headerValues_AreTrimmedAndCollapsed_RepeatedFieldsJoined() {
        let headers: HTTPHeaders = ["Host": "h", "X-A": "  a   b  c ", "x-a": "d", "X-B": "plain value"]
        let canonical = SigV4Signature.canonicalRequest(method: "POST", target: "/", headers: headers, signedHeaders: ["host", "x-a", "x-b"],
                                                        payloadHash: "p")
        #expect(canonical == "POST\n/\n\nhost:h\nx-a:a b c,d\nx-b:plain value\n\nhost;x-a;x-b\np")
    }

    @Test func canonicalURIAndQuery_AreEncodedOnceAndSorted() {
        let canonical = SigV4Signature.canonicalRequest(method: "GET", target: "/a%20b/c?b=2&a=%2F&a=1", headers: ["Host": "h"],
                                                        signedHeaders: ["host"], payloadHash: "x")
        #expect(canonical.hasPrefix("GET\n/a%20b/c\na=%2F&a=1&b=2\nhost:h\n"))
    }
}
