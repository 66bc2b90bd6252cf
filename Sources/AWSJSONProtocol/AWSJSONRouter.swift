import HTTP1
import JSON

/// An operation's implementation: input already decoded (a JSON object), output a JSON object.
/// Throws an `AWSErrorConvertible` for an AWS error; any other error becomes a 500 `InternalFailure`.
public typealias AWSOperationHandler = @Sendable (JSONObject, AWSRequestContext) throws -> JSONObject

/// An operation that answers with output already encoded as a JSON object's bytes (a cached answer).
public typealias AWSEncodedOperationHandler = @Sendable (JSONObject, AWSRequestContext) throws -> [UInt8]

/// What the router did with a request, for the request log.
public struct AWSJSONOutcome: Sendable {
    public var response: HTTPResponse
    /// The model operation, when the target named one.
    public var operation: String?
    /// The `__type` of an error response.
    public var errorCode: String?
    /// For a 500: the unexpected error, to log with the request id.
    public var internalError: String?
    /// Members the model does not have, ignored (spec R9: logged as a warning with the request id).
    public var unknownMembers: [ShapeValidator.UnknownMember] = []
    /// The handler cannot answer on this thread (`AWSJSONRouter.Deferred`): run the request through the full router
    /// where the state lives. `response` is then meaningless.
    public var deferred = false
}

/// Routes AWS JSON 1.1 requests (`POST /`, `X-Amz-Target: SageMaker.<Operation>`) to operation handlers.
///
/// Pipeline (spec R10): route and target (R1, R4) → identity (R24–R28) → body decoding (R8) → JSON types (R8) →
/// unknown members (R9) → model validation (R14–R22) → handler (501 when the operation has none, spec R4). The
/// cluster operations of the model are validated even before they have a handler. Error bodies per R5–R7.
/// Responses carry `Content-Type: application/x-amz-json-1.1`.
public struct AWSJSONRouter: Sendable {
    /// Handlers by the model's operation name. Every key must be an operation of the model.
    public let handlers: [String: AWSOperationHandler]
    /// Handlers that answer pre-encoded JSON, tried before `handlers`.
    public let encodedHandlers: [String: AWSEncodedOperationHandler]
    public let authMode: AWSAuthMode
    public let defaultAccountID: String
    public let defaultRegion: String
    public let validator: ShapeValidator
    /// Reject members the model does not have (spec R9) instead of ignoring them.
    public let strictMembers: Bool
    /// A model operation without a handler is deferred instead of answered 501 (a fast-path router that answers only
    /// what it can without the state queue).
    public let deferUnhandled: Bool

    /// Thrown by a handler that cannot answer where it was called (e.g. a cache miss on the event loop).
    public struct Deferred: Error {
        public init() {}
    }
    /// Check every successful response against the operation's output shape (spec R11); a mismatch answers 500.
    /// On in debug builds and tests.
    public let checkResponses: Bool

    public static let contentType = "application/x-amz-json-1.1"

    /// - Precondition: every key of `handlers` is in `SageMakerOperations.names`.
    public init(
        handlers: [String: AWSOperationHandler], authMode: AWSAuthMode, defaultAccountID: String, defaultRegion: String,
        model: ServiceModel = .sageMakerClusters, strictMembers: Bool = false, checkResponses: Bool = AWSJSONRouter.isDebugBuild,
        deferUnhandled: Bool = false, encodedHandlers: [String: AWSEncodedOperationHandler] = [:]
    ) {
        for name in handlers.keys { precondition(SageMakerOperations.names.contains(name), "\(name) is not a SageMaker operation") }
        self.handlers = handlers
        self.encodedHandlers = encodedHandlers
        self.authMode = authMode
        self.defaultAccountID = defaultAccountID
        self.defaultRegion = defaultRegion
        self.validator = ShapeValidator(model: model)
        self.strictMembers = strictMembers
        self.checkResponses = checkResponses
        self.deferUnhandled = deferUnhandled
    }

    /// True in debug builds, where responses are checked against the model by default.
    public static var isDebugBuild: Bool {
        #if DEBUG
        true
        #else
        false
        #endif
    }

    /// Answers one request; never throws.
    public func handle(_ request: HTTPRequest, requestID: String) -> AWSJSONOutcome {
        guard request.method == "POST", request.path == "/" else {
            return failure(.unknownRoute(method: request.method, path: request.path), requestID: requestID, operation: nil)
        }
        guard let targetHeader = request.headers["X-Amz-Target"] else {
            return failure(.missingTarget, requestID: requestID, operation: nil)
        }
        guard let operation = AmzTarget(targetHeader)?.sageMakerOperation else {
            return failure(.unknownOperation(targetHeader), requestID: requestID, operation: nil)
        }
        let identity = AWSIdentity.resolve(request, mode: authMode, defaultAccountID: defaultAccountID, defaultRegion: defaultRegion)
        let input: JSONObject
        switch Self.decodeBody(request.body) {
        case .success(let object): input = object
        case .failure(let error): return failure(error, requestID: requestID, operation: operation)
        }
        var unknownMembers: [ShapeValidator.UnknownMember] = []
        if let inputShape = validator.model.operations[operation]?.input {
            let outcome = validator.validate(input, shape: inputShape, strictMembers: strictMembers)
            unknownMembers = outcome.unknownMembers
            if let error = outcome.error {
                var result = failure(error, requestID: requestID, operation: operation)
                result.unknownMembers = unknownMembers
                return result
            }
        }
        var outcome = route(operation, input: input, identity: identity, requestID: requestID)
        outcome.unknownMembers = unknownMembers
        return outcome
    }

    private func route(_ operation: String, input: JSONObject, identity: AWSIdentity, requestID: String) -> AWSJSONOutcome {
        let context = AWSRequestContext(requestID: requestID, operation: operation, identity: identity)
        if let encoded = encodedHandlers[operation] {
            return answer(operation, requestID: requestID) { try encoded(input, context) }
        }
        guard let handler = handlers[operation] else {
            if deferUnhandled { return Self.deferredOutcome(operation) }
            return failure(.notImplemented(operation), requestID: requestID, operation: operation)
        }
        return answer(operation, requestID: requestID) {
            let output = try handler(input, context)
            if checkResponses, let outputShape = validator.model.operations[operation]?.output {
                let problems = OutputShapeChecker(model: validator.model).problems(output, shape: outputShape)
                if !problems.isEmpty { throw ResponseShapeMismatch(shape: outputShape, problems: problems) }
            }
            return JSONWriter.encode(.object(output))
        }
    }

    /// A handler's output that does not match its output shape (spec R11): a bug, answered 500.
    struct ResponseShapeMismatch: Error, CustomStringConvertible {
        let shape: String
        let problems: [String]
        var description: String { "response does not match \(shape): " + problems.joined(separator: "; ") }
    }

    /// Runs a handler that produces the encoded output, and turns what it throws into the outcome: deferred, the AWS
    /// error it renders, or a 500 `InternalFailure` for anything unexpected (spec R7).
    private func answer(_ operation: String, requestID: String, _ body: () throws -> [UInt8]) -> AWSJSONOutcome {
        do {
            let encoded = try body()
            return AWSJSONOutcome(
                response: HTTPResponse(status: .ok, headers: ["x-amzn-RequestId": requestID, "Content-Type": Self.contentType], body: encoded),
                operation: operation
            )
        } catch is Deferred {
            return Self.deferredOutcome(operation)
        } catch let error as any AWSErrorConvertible {
            return failure(error.awsError, requestID: requestID, operation: operation)
        } catch {
            var outcome = failure(.internalFailure(requestID: requestID), requestID: requestID, operation: operation)
            outcome.internalError = String(describing: error)
            return outcome
        }
    }

    static func deferredOutcome(_ operation: String) -> AWSJSONOutcome {
        var outcome = AWSJSONOutcome(response: HTTPResponse(status: .internalServerError), operation: operation)
        outcome.deferred = true
        return outcome
    }

    /// Decodes a request body (spec R8): empty = `{}`; it must be JSON, and a JSON object.
    public static func decodeBody(_ body: [UInt8]) -> Result<JSONObject, AWSError> {
        if body.allSatisfy({ $0 == 0x20 || $0 == 0x09 || $0 == 0x0A || $0 == 0x0D }) { return .success(JSONObject()) }
        guard let value = try? JSONParser.parse(body) else {
            return .failure(.serialization("Unable to parse request body as JSON"))
        }
        guard case .object(let object) = value else {
            return .failure(.serialization("Request body must be a JSON object"))
        }
        return .success(object)
    }

    /// The response for `error` (spec R5, R6): `{"__type": code, "Message"|"message": text}` with `x-amzn-ErrorType`.
    public static func errorResponse(_ error: AWSError, requestID: String) -> HTTPResponse {
        var body = JSONObject()
        body["__type"] = .string(error.code)
        body[error.messageMemberName] = .string(error.message)
        return HTTPResponse(
            status: error.status,
            headers: ["x-amzn-RequestId": requestID, "x-amzn-ErrorType": error.code, "Content-Type": contentType],
            body: JSONWriter.encode(.object(body))
        )
    }

    /// Wraps a typed operation: the input is decoded into `Input` after validation (a failure there is a bug, so a 500),
    /// the output encoded from `Output`.
    public static func operation<Input: JSONRepresentable, Output: JSONRepresentable>(
        _ body: @escaping @Sendable (Input, AWSRequestContext) throws -> Output
    ) -> AWSOperationHandler {
        { input, context in
            let output = try body(try Input(json: .object(input)), context)
            guard case .object(let object) = output.jsonValue else {
                throw JSONDecodingError(reason: "an operation output must be a JSON object")
            }
            return object
        }
    }

    private func failure(_ error: AWSError, requestID: String, operation: String?) -> AWSJSONOutcome {
        AWSJSONOutcome(response: Self.errorResponse(error, requestID: requestID), operation: operation, errorCode: error.code)
    }
}
