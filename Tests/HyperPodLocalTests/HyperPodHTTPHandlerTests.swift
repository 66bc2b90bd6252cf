import AWSJSONProtocol
import Dispatch
import AdminAPI
import HTTP1
import JSON
import Logging
import Testing
@testable import HyperPodLocal

struct HyperPodHTTPHandlerTests {
    let handler = HyperPodHTTPHandler(
        aws: AWSJSONRouter(handlers: [:], authMode: .parse, defaultAccountID: "000000000000", defaultRegion: "us-east-1"),
        admin: AdminRouter(version: "9.9.9", uptimeSeconds: { 42.7 }),
        stateQueue: DispatchQueue(label: "test.state"),
        logger: Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() })
    )

    @Test func health_ReportsStatusVersionAndUptime() throws {
        let response = handler.respond(to: HTTPRequest(method: "GET", target: "/_hyperpod/health"))
        #expect(response.status == .ok)
        #expect(response.headers["Content-Type"] == "application/json")
        #expect(try JSONParser.parse(response.body) == .object([
            "status": .string("running"), "version": .string("9.9.9"), "uptimeSeconds": .integer(42),
        ]))
    }

    /// The request log line's `latency_ms`: milliseconds to the microsecond, without trailing zeros, at least one place.
    @Test(arguments: [(0.0, "0.0"), (0.5, "0.5"), (0.25, "0.25"), (0.125, "0.125"), (1024.0, "1024.0"), (7.0625, "7.062"),
                      (10.5, "10.5"), (99.75, "99.75"), (0.0004, "0.0")])
    func latency_IsWrittenInMillisecondsWithoutTrailingZeros(_ value: Double, _ text: String) {
        #expect(HyperPodHTTPHandler.milliseconds(value) == text)
    }

    @Test(arguments: ["/_hyperpod", "/_hyperpod/", "/_hyperpod/state", "/_hyperpod?x=1", "http://h:1/_hyperpod/state"])
    func adminTargets_AreAdmin(_ target: String) {
        #expect(AdminRouter.matches(HTTPRequest(method: "GET", target: target)))
    }

    @Test(arguments: ["/", "/_hyperpodx", "/_hyper", "/x/_hyperpod", "http://h:1/", "*"])
    func otherTargets_AreNotAdmin(_ target: String) {
        #expect(!AdminRouter.matches(HTTPRequest(method: "GET", target: target)))
    }

    @Test func unknownAdminRoute_Is404WithAnErrorMember() throws {
        let response = handler.respond(to: HTTPRequest(method: "GET", target: "/_hyperpod/nope"))
        #expect(response.status.code == 404)
        #expect(try JSONParser.parse(response.body)["error"]?.stringValue == "No admin route GET /_hyperpod/nope")
    }

    @Test(arguments: [
        HTTPRequest(method: "GET", target: "/_hyperpod/health"),
        HTTPRequest(method: "GET", target: "/_hyperpod/nope"),
        HTTPRequest(method: "GET", target: "/"),
        HTTPRequest(method: "POST", target: "/", headers: ["X-Amz-Target": "SageMaker.DescribeCluster"]),
    ])
    func everyResponse_CarriesARequestID(_ request: HTTPRequest) {
        let id = handler.respond(to: request).headers["x-amzn-RequestId"]
        #expect(id?.count == 36)
    }

    @Test(arguments: [(400, "BadRequestException"), (408, "RequestTimeoutException"), (413, "RequestEntityTooLargeException"), (417, "ExpectationFailedException"), (431, "RequestHeaderFieldsTooLargeException"), (503, "ServiceUnavailable")])
    func protocolErrors_AreAWSShapedJSON(_ example: (Int, String)) throws {
        let response = handler.makeProtocolErrorResponse(status: .make(code: example.0), reason: "why")
        #expect(response.status.code == example.0)
        #expect(response.headers["x-amzn-ErrorType"] == example.1)
        #expect(try JSONParser.parse(response.body) == .object(["__type": .string(example.1), "message": .string("why")]))
    }
}
