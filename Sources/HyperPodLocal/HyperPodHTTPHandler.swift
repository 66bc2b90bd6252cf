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
    /// Where read-only operations run, several at once, on snapshots of the committed state (the service hands a read
    /// to `stateQueue` itself when a transition is due in its snapshot; see `ClusterService.read(_:)`). Nil: every
    /// call runs on `stateQueue`.
    let readQueue: DispatchQueue?
    /// An answer already encoded for a call, from any thread (the event loop): a cached DescribeCluster.
    let cachedAnswer: (@Sendable (AWSCall) -> [UInt8]?)?
    let logger: Logger
    /// Injected API errors and latency (spec RA7).
    let faults: FaultRegistry
    /// Origins allowed by CORS (`--cors`; spec R1); empty: CORS off, `*`: any origin.
    let corsOrigins: [String]
    /// Request and latency counters for `GET /_hyperpod/metrics` (spec RA10).
    let metrics: RequestMetrics
    /// The operations that change nothing: they may run on `readQueue`.
    static let readOnlyOperations: Set<String> = [
        "DescribeCluster", "ListClusters", "ListClusterNodes", "DescribeClusterNode", "ListClusterEvents", "DescribeClusterEvent",
        "ListTags", "ListClusterOperations", "DescribeClusterOperation", "DescribeClusterExtension", "ListClusterExtensions",
        "ListClusterExtensionVersions", "DescribeTrainingPlan", "ListTrainingPlans", "DescribeTrainingPlanExtensionHistory",
        "DescribeReservedCapacity", "ListUltraServersByReservedCapacity", "DescribeClusterSchedulerConfig", "ListClusterSchedulerConfigs",
        "DescribeComputeQuota", "ListComputeQuotas",
    ]

    public init(aws: AWSJSONRouter, admin: AdminRouter, stateQueue: DispatchQueue, readQueue: DispatchQueue? = nil,
                cachedAnswer: (@Sendable (AWSCall) -> [UInt8]?)? = nil,
                faults: FaultRegistry = FaultRegistry(), corsOrigins: [String] = [], metrics: RequestMetrics = RequestMetrics(),
                logger: Logger) {
        self.readQueue = readQueue
        self.cachedAnswer = cachedAnswer
        self.faults = faults
        self.corsOrigins = corsOrigins
        self.metrics = metrics
        self.aws = aws
        self.admin = admin
        self.stateQueue = stateQueue
        self.logger = logger
    }

    /// Bodies larger than this are decoded and validated off the event loop (on the queue they run on), so a large
    /// request does not stall the loop for other clients.
    static let fastPathBodyBytes = 64 * 1024

    public func handle(_ request: HTTPRequest, responder plain: HTTPResponder) {
        let origin = allowedOrigin(request)
        if request.method == "OPTIONS" && !corsOrigins.isEmpty {
            CORSResponder(inner: plain, allowOrigin: origin).respond(preflight(request))  // R1: never reaches the router
            return
        }
        // RA7: an injected error answers instead; an injected latency holds back the answer, however it is made.
        let isAdmin = AdminRouter.matches(request)
        var operation = "", effect: (error: AWSError?, delayMilliseconds: Int) = (nil, 0)
        if faults.active.load(ordering: .acquiring) > 0, !isAdmin, let target = request.headers["X-Amz-Target"],
           target.hasPrefix("SageMaker.") {
            operation = String(target.dropFirst("SageMaker.".count))
            effect = faults.effect(on: operation)
        }
        let responder = CORSResponder(inner: plain, allowOrigin: origin, delayMilliseconds: effect.delayMilliseconds)
        // Under `verify` and `enforce` a request that fails authentication is refused as such, injected fault or not:
        // AWS authenticates before anything else answers.
        if effect.error != nil, aws.authMode >= .verify, let authentication = aws.authentication,
           case .failure(let refusal) = authentication.authenticate(request) {
            let requestID = RequestID.make()
            metrics.record(operation: operation, status: refusal.status.code, milliseconds: 0)
            responder.respond(AWSJSONRouter.errorResponse(refusal, requestID: requestID))
            return
        }
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
        let ordered = plain.followsUnanswered || isAdmin
        if isAdmin && AdminRouter.isHealth(request) {
            responder.respond(respond(to: request))  // never waits for the state
            return
        }
        if isAdmin || request.body.count > Self.fastPathBodyBytes {
            stateQueue.async { responder.respond(self.respond(to: request)) }
            return
        }
        // One request path: decoded and validated once, here on the event loop; where the call runs follows from it.
        let started = Self.monotonicSeconds()
        let requestID = RequestID.make()
        let call: AWSCall
        switch aws.decode(request, requestID: requestID) {
        case .failure(let refusal):
            // A browser opening the server's address gets the dashboard (issue #20); decided only after the AWS router
            // refused the request, so API requests take no extra step.
            if admin.enabled, Dashboard.isBrowserRoot(request) {
                responder.respond(Dashboard.redirect)
                return
            }
            responder.respond(finish(refusal.outcome, requestID: requestID, started: started))
            return
        case .success(let decoded):
            call = decoded
        }
        if !ordered, let cachedAnswer, let encoded = cachedAnswer(call) {
            responder.respond(finish(AWSJSONRouter.answer(call, encoded: encoded), requestID: requestID, started: started))
        } else if !ordered, let readQueue, Self.readOnlyOperations.contains(call.operation) {
            readQueue.async { responder.respond(self.finish(self.aws.execute(call), requestID: requestID, started: started)) }
        } else {
            stateQueue.async { responder.respond(self.finish(self.aws.execute(call), requestID: requestID, started: started)) }
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

    /// Answers `request` synchronously, on the calling thread (the state queue, and the in-process test entry point).
    public func respond(to request: HTTPRequest) -> HTTPResponse {
        let started = Self.monotonicSeconds()
        let requestID = RequestID.make()
        if AdminRouter.matches(request) {
            var response = admin.handle(request)
            response.headers.add("x-amzn-RequestId", requestID)
            let outcome = AWSJSONOutcome(response: response, operation: "admin \(request.method) \(request.path)")
            // The dashboard's polls (marked by the page) are logged at debug: an open page must not drown the log of the
            // calls under test. Its actions, and every other admin call, stay at info.
            let poll = request.method == "GET" && request.headers["X-Hyperpod-Dashboard"] != nil
            return finish(outcome, requestID: requestID, started: started, level: poll ? .debug : .info)
        }
        return finish(aws.handle(request, requestID: requestID), requestID: requestID, started: started)
    }

    /// Logs the request (one line; a notice for ignored members, an error for a 500) and counts it in the metrics.
    func finish(_ outcome: AWSJSONOutcome, requestID: String, started: Double, level: Logger.Level = .info) -> HTTPResponse {
        let operation = outcome.operation ?? "-"
        if !outcome.unknownMembers.isEmpty {
            logger.notice("request.unknown_members", metadata: [  // R9: once per request, each member with its path
                "request.id": "\(requestID)", "aws.operation": "\(operation)",
                "members": "\(outcome.unknownMembers.map { "\($0.location).\($0.name)" }.joined(separator: ","))",
            ])
        }
        if let internalError = outcome.internalError {
            logger.error("request.internal_failure", metadata: [
                "request.id": "\(requestID)", "aws.operation": "\(operation)", "error": "\(internalError)",
            ])
        }
        let latency = (Self.monotonicSeconds() - started) * 1000
        metrics.record(operation: operation, status: outcome.response.status.code, milliseconds: latency)
        logger.log(level: level, "request", metadata: [  // an autoclosure: built only when the level is enabled
            "aws.operation": .string(operation),
            "http.status": .string(String(outcome.response.status.code)),
            "aws.error_code": .string(outcome.errorCode ?? "-"),
            "latency_ms": .string(Self.milliseconds(latency)),
            "request.id": .string(requestID),
        ])
        return outcome.response
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

    /// Milliseconds with up to three decimals, as the request log shows them (`0.042`, `12.5`), without formatting a
    /// `Double`.
    static func milliseconds(_ value: Double) -> String {
        let micros = max(0, Int((value * 1000).rounded(.down)))
        let whole = micros / 1000
        var fraction = micros % 1000, places = 3
        while places > 1 && fraction % 10 == 0 { fraction /= 10; places -= 1 }  // no trailing zeros, at least one place
        var wholeDigits = 1, divisor = 1
        while divisor <= whole / 10 { divisor *= 10; wholeDigits += 1 }
        // Written into the string's own storage: this runs once per request.
        return String(unsafeUninitializedCapacity: wholeDigits + 1 + places) { out in
            var v = whole, i = 0
            while divisor > 0 { out[i] = UInt8(ascii: "0") + UInt8(v / divisor); v %= divisor; divisor /= 10; i += 1 }
            out[i] = UInt8(ascii: ".")
            for place in 0..<places {
                var d = fraction
                for _ in 0..<(places - 1 - place) { d /= 10 }
                out[i + 1 + place] = UInt8(ascii: "0") + UInt8(d % 10)
            }
            return wholeDigits + 1 + places
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
