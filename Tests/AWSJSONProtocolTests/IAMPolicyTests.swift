import JSON
import Testing
@testable import AWSJSONProtocol

/// `--auth enforce` (issue #18): IAM policy documents as IAM writes them, and IAM's evaluation order.
struct IAMPolicyTests {
    static func policy(_ text: String) throws -> IAMPolicyDocument {
        try IAMPolicyDocument(json: try JSONParser.parse(text), path: "policy")
    }

    static func request(_ action: String, _ resource: String = "*", _ context: [String: [String]] = [:]) -> IAMRequest {
        IAMRequest(action: "sagemaker:" + action, resource: resource, context: context)
    }

    static let cluster = "arn:aws:sagemaker:us-east-1:111111111111:cluster/abc123def456"

    @Test func wildcards_StarAndQuestionMark_ActionsIgnoringCase_ResourcesWithCase() {
        #expect(IAMWildcard.matches(pattern: "sagemaker:*Cluster*", "sagemaker:DescribeClusterNode", ignoringCase: true))
        #expect(IAMWildcard.matches(pattern: "SageMaker:describecluster", "sagemaker:DescribeCluster", ignoringCase: true))
        #expect(!IAMWildcard.matches(pattern: "sagemaker:Describe?", "sagemaker:DescribeCluster", ignoringCase: true))
        #expect(IAMWildcard.matches(pattern: "arn:aws:sagemaker:*:*:cluster/abc123def45?", Self.cluster, ignoringCase: false))
        #expect(!IAMWildcard.matches(pattern: "arn:aws:sagemaker:*:*:cluster/ABC*", Self.cluster, ignoringCase: false))
        #expect(IAMWildcard.matches(pattern: "*", "", ignoringCase: false) && !IAMWildcard.matches(pattern: "?", "", ignoringCase: false))
        // Many stars against a long value that does not match finishes (no exponential backtracking).
        let long = String(repeating: "a", count: 10_000)
        #expect(!IAMWildcard.matches(pattern: String(repeating: "*a", count: 200) + "b", long, ignoringCase: false))
    }

    @Test func explicitDeny_BeatsAllow_AndNothingMatching_IsImplicitDeny() throws {
        let policies = [try Self.policy(#"{"Statement": [{"Effect": "Allow", "Action": "sagemaker:*", "Resource": "*"}]}"#),
                        try Self.policy(#"{"Statement": {"Effect": "Deny", "Action": ["sagemaker:Delete*"], "Resource": "*"}}"#)]
        #expect(IAMPolicyEvaluator.evaluate(policies, Self.request("DescribeCluster", Self.cluster)) == .allow)
        #expect(IAMPolicyEvaluator.evaluate(policies, Self.request("DeleteCluster", Self.cluster)) == .explicitDeny)
        #expect(IAMPolicyEvaluator.evaluate([], Self.request("DescribeCluster")) == .implicitDeny)
        #expect(IAMPolicyEvaluator.evaluate([try Self.policy(#"{"Statement": []}"#)], Self.request("DescribeCluster")) == .implicitDeny)
    }

    @Test func notAction_AndNotResource_MatchEverythingElse() throws {
        let policy = try Self.policy(#"{"Statement": [{"Effect": "Allow", "NotAction": "sagemaker:Delete*", "NotResource": "arn:aws:sagemaker:*:*:training-plan/*"}]}"#)
        #expect(IAMPolicyEvaluator.evaluate([policy], Self.request("UpdateCluster", Self.cluster)) == .allow)
        #expect(IAMPolicyEvaluator.evaluate([policy], Self.request("DeleteCluster", Self.cluster)) == .implicitDeny)
        #expect(IAMPolicyEvaluator.evaluate([policy], Self.request("DescribeTrainingPlan", "arn:aws:sagemaker:us-east-1:1:training-plan/p")) == .implicitDeny)
    }

    @Test func conditions_AbsentKeys_NegatedOperators_IfExists_AndSetQualifiers() throws {
        func decide(_ condition: String, _ context: [String: [String]]) throws -> IAMPolicyEvaluator.Decision {
            let policy = try Self.policy(#"{"Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*", "Condition": \#(condition)}]}"#)
            return IAMPolicyEvaluator.evaluate([policy], Self.request("CreateCluster", "*", context))
        }
        let tagged = ["aws:resourcetag/team": ["a"]]
        #expect(try decide(#"{"StringEquals": {"aws:ResourceTag/Team": "a"}}"#, tagged) == .allow)  // key names ignore case
        #expect(try decide(#"{"StringEquals": {"aws:ResourceTag/team": "A"}}"#, tagged) == .implicitDeny)  // values do not
        #expect(try decide(#"{"StringEqualsIgnoreCase": {"aws:ResourceTag/team": "A"}}"#, tagged) == .allow)
        #expect(try decide(#"{"StringEquals": {"aws:ResourceTag/team": "a"}}"#, [:]) == .implicitDeny)  // absent: false
        #expect(try decide(#"{"StringNotEquals": {"aws:ResourceTag/team": "a"}}"#, [:]) == .allow)  // negated, absent: true
        #expect(try decide(#"{"StringEqualsIfExists": {"aws:ResourceTag/team": "b"}}"#, [:]) == .allow)
        #expect(try decide(#"{"StringLike": {"aws:RequestedRegion": "us-*"}}"#, ["aws:requestedregion": ["us-west-2"]]) == .allow)
        #expect(try decide(#"{"StringLike": {"aws:RequestedRegion": ["eu-*", "ap-?"]}}"#, ["aws:requestedregion": ["us-west-2"]]) == .implicitDeny)
        // Every key of a block, and every block, must hold.
        #expect(try decide(#"{"StringEquals": {"aws:ResourceTag/team": "a", "aws:RequestedRegion": "us-east-1"}}"#,
                           tagged.merging(["aws:requestedregion": ["eu-west-1"]]) { $1 }) == .implicitDeny)
        let keys = ["aws:tagkeys": ["team", "owner"]]
        #expect(try decide(#"{"ForAllValues:StringEquals": {"aws:TagKeys": ["team", "owner", "cost"]}}"#, keys) == .allow)
        #expect(try decide(#"{"ForAllValues:StringEquals": {"aws:TagKeys": ["team"]}}"#, keys) == .implicitDeny)
        #expect(try decide(#"{"ForAllValues:StringEquals": {"aws:TagKeys": ["team"]}}"#, [:]) == .allow)  // vacuous
        #expect(try decide(#"{"ForAnyValue:StringEquals": {"aws:TagKeys": ["owner"]}}"#, keys) == .allow)
        #expect(try decide(#"{"ForAnyValue:StringEquals": {"aws:TagKeys": ["owner"]}}"#, [:]) == .implicitDeny)
        #expect(try decide(#"{"Null": {"aws:RequestTag/team": "true"}}"#, [:]) == .allow)
        #expect(try decide(#"{"Null": {"aws:RequestTag/team": "false"}}"#, [:]) == .implicitDeny)
        #expect(try decide(#"{"Bool": {"aws:SecureTransport": true}}"#, ["aws:securetransport": ["true"]]) == .allow)
        #expect(try decide(#"{"ArnLike": {"aws:PrincipalArn": "arn:aws:iam::*:user/ops-*"}}"#, ["aws:principalarn": ["arn:aws:iam::1:user/ops-x"]]) == .allow)
    }

    @Test func documentsIAMWouldRefuse_AreRefusedNamingTheElement() {
        func fault(_ text: String) -> String? {
            do {
                _ = try IAMPolicyDocument(json: try JSONParser.parse(text), path: "policy")
                return nil
            } catch let error as IdentitiesFileError {
                return error.description
            } catch { return "not JSON" }
        }
        #expect(fault(#"{"Statement": [{"Effect": "Permit", "Action": "*", "Resource": "*"}]}"#) == #"policy.Statement[0].Effect must be "Allow" or "Deny""#)
        #expect(fault(#"{"Statement": [{"Effect": "Allow", "Resource": "*"}]}"#) == "policy.Statement[0] needs Action or NotAction")
        #expect(fault(#"{"Statement": [{"Effect": "Allow", "Action": "*", "NotAction": "x:y", "Resource": "*"}]}"#)
                == "policy.Statement[0] has both Action and NotAction")
        #expect(fault(#"{"Statement": [{"Effect": "Allow", "Action": "DescribeCluster", "Resource": "*"}]}"#)
                == #"policy.Statement[0].Action "DescribeCluster" must be "*" or "<service>:<action>""#)
        #expect(fault(#"{"Version": "2020-01-01", "Statement": []}"#) == #"policy.Version must be "2012-10-17" or "2008-10-17""#)
        #expect(fault(#"{"Statement": [{"Effect": "Allow", "Action": "*", "Resource": []}]}"#)
                == "policy.Statement[0].Resource must be a string or a non-empty list of strings")
        #expect(fault(#"{"Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*", "Condition": {"DateLessThan": {"aws:CurrentTime": "2020"}}}]}"#)?
                    .hasPrefix(#"policy.Statement[0].Condition.DateLessThan: unsupported condition operator "DateLessThan""#) == true)
        #expect(fault(#"{"Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*", "Condition": {"NullIfExists": {"k": "true"}}}]}"#) != nil)
        #expect(fault(#"[1]"#) == "policy must be a policy document (a JSON object)")
    }
}
