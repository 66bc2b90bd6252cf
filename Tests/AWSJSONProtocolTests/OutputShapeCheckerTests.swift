import HTTP1
import JSON
import Testing
@testable import AWSJSONProtocol

struct OutputShapeCheckerTests {
    let checker = OutputShapeChecker(model: .sageMakerClusters)
    static let arn = "arn:aws:sagemaker:us-east-1:111122223333:cluster/abcdef012345"

    func summary(_ changes: [String: JSONValue?] = [:]) -> JSONObject {
        var object: JSONObject = [
            "ClusterArn": .string(Self.arn), "ClusterName": .string("c"),
            "CreationTime": .double(1_764_547_200.123), "ClusterStatus": .string("Creating"),
        ]
        for (key, value) in changes { object[key] = value }
        return object
    }

    func list(_ summaries: [JSONObject]) -> JSONObject {
        ["ClusterSummaries": .array(summaries.map { .object($0) }), "NextToken": .string("")]
    }

    @Test func conformingOutput_HasNoProblems() {
        #expect(checker.problems(list([summary()]), shape: "ListClustersResponse").isEmpty)
        #expect(checker.problems(["ClusterArn": .string("arn:aws:sagemaker:us-east-1:1:cluster/NOT-A-PATTERN-MATCH")], shape: "UpdateClusterResponse").isEmpty,
                "patterns are not checked")
    }

    @Test(arguments: [
        (["ClusterStatus": nil] as [String: JSONValue?], "ListClustersResponse.ClusterSummaries[0].ClusterStatus: required member missing"),
        (["ClusterStatus": .string("Sleeping")], "ListClustersResponse.ClusterSummaries[0].ClusterStatus: 'Sleeping' is not a ClusterStatus value"),
        (["CreationTime": .string("2026-11-30")], "ListClustersResponse.ClusterSummaries[0].CreationTime: expected number, found string"),
        (["ClusterName": .null], "ListClustersResponse.ClusterSummaries[0].ClusterName: null is never sent (docs/behaviour.md#r11)"),
        (["Extra": .bool(true)], "ListClustersResponse.ClusterSummaries[0].Extra: not a member of ClusterSummary"),
    ])
    func nonConformingOutput_IsReported(_ example: ([String: JSONValue?], String)) {
        #expect(checker.problems(list([summary(example.0)]), shape: "ListClustersResponse") == [example.1])
    }

    @Test func nodeSummaryWithoutInstanceId_IsTheOneAllowedOmission() {
        let node: JSONObject = [
            "InstanceGroupName": .string("g"), "InstanceType": .string("ml.c5.xlarge"),
            "LaunchTime": .integer(1), "InstanceStatus": .object(["Status": .string("Pending"), "Message": .string("")]),
        ]
        let output: JSONObject = ["ClusterNodeSummaries": .array([.object(node)]), "NextToken": .string("")]
        #expect(checker.problems(output, shape: "ListClusterNodesResponse").isEmpty)
    }

    @Test func routerWithCheckResponses_AnswersAMismatchWith500() throws {
        let bad: AWSOperationHandler = { _, _ in ["ClusterArn": .integer(1)] }
        let checking = AWSJSONRouter(handlers: ["UpdateCluster": bad], authMode: .off, defaultAccountID: "000000000000",
                                     defaultRegion: "us-east-1", checkResponses: true)
        let outcome = checking.handle(.makeAWS(target: "SageMaker.UpdateCluster", body: #"{"ClusterName":"c"}"#), requestID: "r")
        #expect(outcome.response.status.code == 500)
        #expect(outcome.internalError == "response does not match UpdateClusterResponse: UpdateClusterResponse.ClusterArn: expected string, found number")

        let lenient = AWSJSONRouter(handlers: ["UpdateCluster": bad], authMode: .off, defaultAccountID: "000000000000",
                                    defaultRegion: "us-east-1", checkResponses: false)
        #expect(lenient.handle(.makeAWS(target: "SageMaker.UpdateCluster", body: #"{"ClusterName":"c"}"#), requestID: "r").response.status == .ok)
    }
}
