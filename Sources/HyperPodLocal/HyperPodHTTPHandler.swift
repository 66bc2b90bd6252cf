import AWSJSONProtocol
import AdminAPI
import Dispatch
import HTTP1
import Synchronization
import JSON
import Logging

#if canImport(Glibc)
import Glibc
#endif

/// The application's HTTP handler: `/_hyperpod/…` to the admin API, everything else to the AWS JSON 1.1 router.
///
/// Every response gets an `x-amzn-RequestId` (spec R5), and every request one log line with operation, status, error
/// code, latency and request id (metadata keys `aws.operation`, `http.status`, `aws.error_code`, `latency_ms`,
/// `request.id`). A 500 also logs the unexpected error with its request id (spec R7).
public struct HyperPodHTTPHandler: HTTPRequestHandler {
    let aws: AWSJSONRouter
    let admin: AdminRouter
    /// Where calls that read or change the emulator's state run, one at a time.
    let stateQueue: DispatchQueue
    /// Answers what it can on the event loop (validation errors, cached reads) and defers the rest to `stateQueue`.
    let fastAWS: AWSJSONRouter?
    /// Answers read-only operations on `readQueue`, several at once, from snapshots of the committed state; defers to
    /// `stateQueue` when a transition is due (see `ClusterService.read(_:)`).
    let readAWS: AWSJSONRouter?
    let readQueue: DispatchQueue?
    let logger: Logger
    /// Injected API errors and latency (spec RA7).
    let faults: FaultRegistry
    /// Origins allowed by CORS (`--cors`; spec R1); empty: CORS off, `*`: any origin.
    let corsOrigins: [String]
    /// Request and latency counters for `GET /_hyperpod/metrics` (spec RA10).
    let metrics: RequestMetrics
    /// The operations `readAWS` answers: they change nothing.
    static let readOnlyTargets: Set<String> = [
        "SageMaker.DescribeCluster", "SageMaker.ListClusters", "SageMaker.ListClusterNodes", "SageMaker.DescribeClusterNode",
        "SageMaker.ListClusterEvents", "SageMaker.DescribeClusterEvent", "SageMaker.ListTags",
    ]

    public init(aws: AWSJSONRouter, admin: AdminRouter, stateQueue: DispatchQueue, fastAWS: AWSJSONRouter? = nil,
                readAWS: AWSJSONRouter? = nil, readQueue: DispatchQueue? = nil,
                faults: FaultRegistry = FaultRegistry(), corsOrigins: [String] = [], metrics: RequestMetrics = RequestMetrics(),
                logger: Logger) {
        self.readAWS = readAWS
        self.readQueue = readQueue
        self.faults = faults
        self.corsOrigins = corsOrigins
        self.metrics = metrics
        self.aws = aws
        self.admin = admin
        self.stateQueue = stateQueue
        self.fastAWS = fastAWS
        self.logger = logger
    }

    /// Bodies larger than this never take the event-loop fast path: decoding and validating them is work for the
    /// state queue, so a large request does not stall the loop for other clients.
    static let fastPathBodyBytes = 64 * 1024

    public func handle(_ request: HTTPRequest, responder plain: HTTPResponder) {
        let origin = allowedOrigin(request)
        if request.method == "OPTIONS" && !corsOrigins.isEmpty {
            CORSResponder(inner: plain, allowOrigin: origin).respond(preflight(request))  // R1: never reaches the router
            return
        }
        // RA7: an injected error answers instead; an injected latency holds back the answer, however it is made.
        var operation = "", effect: (error: AWSError?, delayMilliseconds: Int) = (nil, 0)
        if faults.active.load(ordering: .acquiring) > 0, !AdminRouter.matches(request), let target = request.headers["X-Amz-Target"],
           target.hasPrefix("SageMaker.") {
            operation = String(target.dropFirst("SageMaker.".count))
            effect = faults.effect(on: operation)
        }
        let responder = CORSResponder(inner: plain, allowOrigin: origin, delayMilliseconds: effect.delayMilliseconds)
        if let error = effect.error {
            let requestID = RequestID.make()
            logger.info("request.injected_fault", metadata: ["aws.error_code": "\(error.code)", "request.id": "\(requestID)"])
            metrics.record(operation: operation, status: error.status.code, milliseconds: 0)
            responder.respond(AWSJSONRouter.errorResponse(error, requestID: requestID))
            return
        }
        // A request pipelined behind an unanswered one of its connection must see what that one changes: it goes to
        // the state queue (FIFO) behind it. Otherwise everything it may see is committed, and a read may be answered
        // from the cache or a snapshot.
        let ordered = plain.followsUnanswered || AdminRouter.matches(request)
        if AdminRouter.isHealth(request) {
            responder.respond(respond(to: request))  // never waits for the state
        } else if let fastAWS, !ordered, request.body.count <= Self.fastPathBodyBytes,
                  let response = respond(to: request, router: fastAWS) {
            responder.respond(response)
        } else if let readAWS, let readQueue, !ordered, let target = request.headers["X-Amz-Target"],
                  Self.readOnlyTargets.contains(target) {
            readQueue.async {
                if let response = self.respond(to: request, router: readAWS) {
                    responder.respond(response)
                } else {
                    self.stateQueue.async { responder.respond(self.respond(to: request)) }
                }
            }
        } else {
            stateQueue.async { responder.respond(self.respond(to: request)) }
        }
    }

    /// The `Access-Control-Allow-Origin` value for a request: its `Origin` when allowed (`*` when any is), else nil.
    func allowedOrigin(_ request: HTTPRequest) -> String? {
        guard !corsOrigins.isEmpty, let origin = request.headers["Origin"] else { return nil }
        if corsOrigins.contains("*") { return "*" }
        return corsOrigins.contains(origin) ? origin : nil
    }

    /// A CORS preflight answer (spec R1): 204 with the allowed methods and headers when the origin is allowed; 403
    /// without them otherwise.
    func preflight(_ request: HTTPRequest) -> HTTPResponse {
        guard allowedOrigin(request) != nil else {
            return HTTPResponse(status: .forbidden, headers: ["Content-Type": "application/json"],
                                body: Array(#"{"error":"CORS origin not allowed"}"#.utf8))
        }
        var headers: HTTPHeaders = [
            "Access-Control-Allow-Methods": "GET, POST, PUT, DELETE, OPTIONS",
            "Access-Control-Max-Age": "600",
        ]
        headers.add("Access-Control-Allow-Headers", request.headers["Access-Control-Request-Headers"]
            ?? "Authorization, Content-Type, Content-Encoding, X-Amz-Target, X-Amz-Date, X-Amz-Security-Token, X-Amz-User-Agent, amz-sdk-invocation-id, amz-sdk-request, X-Hyperpod-Admin-Token")
        return HTTPResponse(status: .noContent, headers: headers)
    }

    /// Answers `request` synchronously (also the in-process test entry point).
    public func respond(to request: HTTPRequest) -> HTTPResponse {
        respond(to: request, router: aws)!
    }

    /// Answers `request` through `router`; nil when the router deferred it.
    func respond(to request: HTTPRequest, router: AWSJSONRouter) -> HTTPResponse? {
        let started = Self.monotonicSeconds()
        let requestID = RequestID.make()
        var response: HTTPResponse
        var operation: String
        var errorCode: String? = nil
        if AdminRouter.matches(request) {
            response = admin.handle(request)
            response.headers.add("x-amzn-RequestId", requestID)
            operation = "admin \(request.method) \(request.path)"
        } else {
            let outcome = router.handle(request, requestID: requestID)
            if outcome.deferred { return nil }
            response = outcome.response
            operation = outcome.operation ?? "-"
            errorCode = outcome.errorCode
            if !outcome.unknownMembers.isEmpty {
                logger.warning("request.unknown_members", metadata: [
                    "request.id": "\(requestID)", "aws.operation": "\(operation)",
                    "members": "\(outcome.unknownMembers.map { "\($0.location).\($0.name)" }.joined(separator: ","))",
                ])
            }
            if let internalError = outcome.internalError {
                logger.error("request.internal_failure", metadata: [
                    "request.id": "\(requestID)", "aws.operation": "\(operation)", "error": "\(internalError)",
                ])
            }
        }
        let latency = (Self.monotonicSeconds() - started) * 1000
        metrics.record(operation: operation, status: response.status.code, milliseconds: latency)
        logger.info("request", metadata: [
            "aws.operation": "\(operation)",
            "http.status": "\(response.status.code)",
            "aws.error_code": "\(errorCode ?? "-")",
            "latency_ms": "\(Double(Int(latency * 1000)) / 1000)",
            "request.id": "\(requestID)",
        ])
        return response
    }

    /// Refusals by the HTTP layer (400, 408, 413, 415, 417, 431, 501, 503, 505) as AWS-shaped JSON errors, so SDKs
    /// parse them like any other error.
    public func makeProtocolErrorResponse(status: HTTPStatus, reason: String) -> HTTPResponse {
        let requestID = RequestID.make()
        let code = Self.protocolErrorCode(status)
        logger.info("request.refused", metadata: [
            "http.status": "\(status.code)", "aws.error_code": "\(code)", "reason": "\(reason)", "request.id": "\(requestID)",
        ])
        return AWSJSONRouter.errorResponse(AWSError(code: code, message: reason, status: status), requestID: requestID)
    }

    static func protocolErrorCode(_ status: HTTPStatus) -> String {
        switch status.code {
        case 408: "RequestTimeoutException"
        case 413: "RequestEntityTooLargeException"
        case 415: "UnsupportedMediaTypeException"
        case 417: "ExpectationFailedException"
        case 431: "RequestHeaderFieldsTooLargeException"
        case 501: "NotImplementedException"
        case 503: "ServiceUnavailable"
        case 505: "HttpVersionNotSupportedException"
        default: "BadRequestException"
        }
    }

    static func monotonicSeconds() -> Double {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
    }
}

/// Delivers an answer: with the CORS response headers (spec R1) for a request from an allowed origin, after an
/// injected latency (RA7) when there is one.
struct CORSResponder: Sendable {
    let inner: HTTPResponder
    let allowOrigin: String?
    /// Wall-clock milliseconds to hold the answer back.
    var delayMilliseconds = 0

    func respond(_ response: HTTPResponse) {
        var response = response
        if let allowOrigin {
            response.headers.add("Access-Control-Allow-Origin", allowOrigin)
            response.headers.add("Access-Control-Expose-Headers", "x-amzn-RequestId, x-amzn-ErrorType, Content-Encoding")
            if allowOrigin != "*" { response.headers.add("Vary", "Origin") }
        }
        if delayMilliseconds > 0 {
            let inner = inner, answer = response
            DispatchQueue.global().asyncAfter(deadline: .now() + .milliseconds(delayMilliseconds)) { inner.respond(answer) }
        } else {
            inner.respond(response)
        }
    }
}
