import JSON
import Testing
@testable import AWSJSONProtocol

/// The `--identities` file (issue #18): its form, the account of each principal, the faults it names, the masked listing.
struct AWSIdentitiesTests {
    static func parse(_ text: String) throws(IdentitiesFileError) -> AWSIdentities { try AWSIdentities(parsing: Array(text.utf8)) }

    static func fault(_ text: String) -> String? {
        do {
            _ = try parse(text)
            return nil
        } catch { return error.description }
    }

    @Test func theIssuesExample_Parses() throws {
        let identities = try Self.parse("""
            {"principals": {"arn:aws:iam::123456789012:user/deployer": {"policies": [{"Version": "2012-10-17", "Statement": [
                 {"Effect": "Allow", "Action": "sagemaker:Describe*", "Resource": "*"}]}]}},
             "credentials": [{"accessKeyId": "AKIADEPLOYER0000001", "secretAccessKey": "s3cr3t",
                              "principal": "arn:aws:iam::123456789012:user/deployer", "sessionToken": "optional"}]}
            """)
        let credential = try #require(identities.credentials["AKIADEPLOYER0000001"])
        #expect(credential.secretAccessKey == "s3cr3t" && credential.sessionToken == "optional")
        #expect(identities.principals[credential.principal]?.accountID == "123456789012")
        #expect(identities.principals[credential.principal]?.policies.first?.statements.count == 1)
    }

    @Test func principals_AreUsersRolesAndAssumedRoleSessions_WithTheirAccount() {
        #expect(AWSIdentities.account(ofPrincipal: "arn:aws:iam::123456789012:user/path/to/alice") == "123456789012")
        #expect(AWSIdentities.account(ofPrincipal: "arn:aws:iam::123456789012:role/Builder") == "123456789012")
        #expect(AWSIdentities.account(ofPrincipal: "arn:aws-cn:sts::210987654321:assumed-role/Builder/ci") == "210987654321")
        for bad in ["arn:aws:iam::12345:user/x", "arn:aws:sts::123456789012:assumed-role/Builder", "arn:aws:iam::123456789012:group/g",
                    "arn:aws:s3:::bucket", "arn:aws:iam:us-east-1:123456789012:user/x", "user/x", ""] {
            #expect(AWSIdentities.account(ofPrincipal: bad) == nil, "\(bad)")
        }
    }

    @Test func faults_NameTheElement() {
        #expect(Self.fault("{") != nil && Self.fault("{")!.hasPrefix("not valid JSON"))
        #expect(Self.fault(#"{"users": {}}"#) == #"unknown member "users" (the file has "principals" and "credentials")"#)
        #expect(Self.fault(#"{"credentials": [{"accessKeyId": "A", "secretAccessKey": "s", "principal": "arn:aws:iam::123456789012:user/x"}]}"#)
                == "credentials[0].principal arn:aws:iam::123456789012:user/x is not one of principals")
        let twice = #"{"principals": {"arn:aws:iam::123456789012:user/x": {}}, "credentials": [{"accessKeyId": "A", "secretAccessKey": "s", "principal": "arn:aws:iam::123456789012:user/x"}, {"accessKeyId": "A", "secretAccessKey": "t", "principal": "arn:aws:iam::123456789012:user/x"}]}"#
        #expect(Self.fault(twice) == "credentials[1].accessKeyId A appears twice")
        #expect(Self.fault(#"{"principals": {"arn:aws:iam::123456789012:user/x": {}}, "credentials": [{"accessKeyId": "A", "principal": "arn:aws:iam::123456789012:user/x"}]}"#)
                == "credentials[0].secretAccessKey is required")
        #expect(Self.fault(#"{"principals": {"arn:aws:iam::123456789012:user/x": {"policies": {}}}}"#)
                == #"principals["arn:aws:iam::123456789012:user/x"].policies must be a list of policy documents"#)
    }

    @Test func theListing_MasksSecretsAndTokens() throws {
        let identities = try Self.parse("""
            {"principals": {"arn:aws:iam::123456789012:user/x": {}},
             "credentials": [{"accessKeyId": "AKIALONG", "secretAccessKey": "0123456789abcdefWXYZ", "principal": "arn:aws:iam::123456789012:user/x",
                              "sessionToken": "short"}]}
            """)
        let listing = JSONWriter.encode(.object(identities.listing()))
        let text = String(decoding: listing, as: UTF8.self)
        #expect(text.contains(#""secretAccessKey":"****WXYZ""#) && text.contains(#""sessionToken":"****""#))
        #expect(!text.contains("0123456789abcdef") && !text.contains("short"))
    }
}
