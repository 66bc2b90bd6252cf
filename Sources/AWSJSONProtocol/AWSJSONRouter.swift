import HTTP1
import JSON
import Synchronization

/// An operation's implementation: input already decoded (a JSON object), output a JSON object.
/// Throws an `AWSErrorConvertible` for an AWS error; any other error becomes a 500 `InternalFailure`.
public typealias AWSOperationHandler = @Sendable (JSONObject, AWSRequestContext) throws -> JSONObject

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

    public init(response: HTTPResponse, operation: String? = nil, errorCode: String? = nil) {
        self.response = response
        self.operation = operation
        self.errorCode = errorCode
    }
}

/// A request that passed the protocol pipeline up to the handler: routed, its identity resolved, its body decoded and
/// validated against the model, once. Where it runs (event loop, read queue, state queue) is the caller's choice;
/// `AWSJSONRouter.execute` then answers it.
public struct AWSCall: Sendable {
    /// The model's operation name.
    public var operation: String
    /// The validated input (members the model does not have are still in it; handlers decode what they know).
    public var input: JSONObject
    public var context: AWSRequestContext
    /// Members the model does not have, ignored (R9).
    public var unknownMembers: [ShapeValidator.UnknownMember]
    /// `verify`/`enforce`: the identities the signature was verified against; `enforce` evaluates the same ones, so a
    /// reload between the two never mixes two files in one call.
    public var identities: AWSIdentities?
}

/// Routes AWS JSON 1.1 requests (`POST /`, `X-Amz-Target: SageMaker.<Operation>`) to operation handlers.
///
/// Pipeline (spec R10): route and target (R1, R4) → identity (R24–R28; the signature in `verify` and `enforce`, issue
/// #18) → body decoding (R8) → JSON types (R8) →
/// unknown members (R9) → model validation (R14–R22) → IAM policies (`enforce`) → handler (501 when the operation has
/// none, spec R4). The
/// cluster operations of the model are validated even before they have a handler. Error bodies per R5–R7.
/// Responses carry `Content-Type: application/x-amz-json-1.1`.
public struct AWSJSONRouter: Sendable {
    /// Handlers by the model's operation name. Every key must be an operation of the model.
    public let handlers: [String: AWSOperationHandler]
    public let authMode: AWSAuthMode
    /// The identities, verifier and resource resolver of `verify` and `enforce` (required in those modes).
    public let authentication: AWSAuthentication?
    public let defaultAccountID: String
    public let defaultRegion: String
    public let validator: ShapeValidator
    /// Reject members the model does not have (spec R9) instead of ignoring them.
    public let strictMembers: Bool
    /// Bodies that passed validation, by target and bytes (a waiter polls DescribeCluster with the same body).
    let validated = ValidatedBodies()
    /// Check every successful response against the operation's output shape (spec R11); a mismatch answers 500.
    /// On in debug builds and tests.
    public let checkResponses: Bool

    public static let contentType = "application/x-amz-json-1.1"

    /// - Precondition: every key of `handlers` is in `SageMakerOperations.names`; `authentication` is given when
    ///   `authMode` is `verify` or `enforce`.
    public init(
        handlers: [String: AWSOperationHandler], authMode: AWSAuthMode, authentication: AWSAuthentication? = nil,
        defaultAccountID: String, defaultRegion: String,
        model: ServiceModel = .sageMakerClusters, strictMembers: Bool = false, checkResponses: Bool = AWSJSONRouter.isDebugBuild
    ) {
        for name in handlers.keys { precondition(SageMakerOperations.names.contains(name), "\(name) is not a SageMaker operation") }
        precondition(authMode < .verify || authentication != nil, "--auth \(authMode.rawValue) needs identities")
        self.handlers = handlers
        self.authMode = authMode
        self.authentication = authentication
        self.defaultAccountID = defaultAccountID
        self.defaultRegion = defaultRegion
        self.validator = ShapeValidator(model: model)
        self.strictMembers = strictMembers
        self.checkResponses = checkResponses
    }

    /// True in debug builds, where responses are checked against the model by default.
    public static var isDebugBuild: Bool {
        #if DEBUG
        true
        #else
        false
        #endif
    }

    /// Answers one request, decoding and executing it on the calling thread; never throws.
    public func handle(_ request: HTTPRequest, requestID: String) -> AWSJSONOutcome {
        switch decode(request, requestID: requestID) {
        case .success(let call): execute(call)
        case .failure(let refusal): refusal.outcome
        }
    }

    /// A request the protocol pipeline refused before any handler: its error answer.
    public struct Refusal: Error {
        public var outcome: AWSJSONOutcome
    }

    /// The protocol pipeline up to the handler (R10): route and target (R1, R4) → identity (R24–R28) → body (R8) →
    /// unknown members (R9) → model validation (R14–R22). Pure: any thread.
    /// - Returns: the call, or the refusal to answer with.
    public func decode(_ request: HTTPRequest, requestID: String) -> Result<AWSCall, Refusal> {
        guard request.method == "POST", request.path == "/" else {
            return .failure(refusal(.unknownRoute(method: request.method, path: request.path), requestID: requestID, operation: nil))
        }
        guard let targetHeader = request.headers["X-Amz-Target"] else {
            return .failure(refusal(.missingTarget, requestID: requestID, operation: nil))
        }
        let identity: AWSIdentity
        var identities: AWSIdentities?
        if authMode >= .verify, let authentication {
            switch authentication.authenticate(request) {
            case .success(let verified): (identity, identities) = verified
            case .failure(let error): return .failure(refusal(error, requestID: requestID, operation: AmzTarget(targetHeader)?.sageMakerOperation))
            }
        } else {
            identity = AWSIdentity.resolve(request, mode: authMode, defaultAccountID: defaultAccountID, defaultRegion: defaultRegion)
        }
        if let known = validated.lookup(target: targetHeader, body: request.body) {
            let context = AWSRequestContext(requestID: requestID, operation: known.operation, identity: identity)
            return .success(AWSCall(operation: known.operation, input: known.input, context: context, unknownMembers: known.unknownMembers,
                                    identities: identities))
        }
        guard let operation = AmzTarget(targetHeader)?.sageMakerOperation else {
            return .failure(refusal(.unknownOperation(targetHeader), requestID: requestID, operation: nil))
        }
        let input: JSONObject
        switch Self.decodeBody(request.body) {
        case .success(let object): input = object
        case .failure(let error): return .failure(refusal(error, requestID: requestID, operation: operation))
        }
        var unknownMembers: [ShapeValidator.UnknownMember] = []
        if let inputShape = validator.model.operations[operation]?.input {
            let outcome = validator.validate(input, shape: inputShape, strictMembers: strictMembers)
            unknownMembers = outcome.unknownMembers
            if let error = outcome.error {
                var result = refusal(error, requestID: requestID, operation: operation)
                result.outcome.unknownMembers = unknownMembers
                return .failure(result)
            }
        }
        validated.remember(target: targetHeader, body: request.body,
                           .init(operation: operation, input: input, unknownMembers: unknownMembers))
        let context = AWSRequestContext(requestID: requestID, operation: operation, identity: identity)
        return .success(AWSCall(operation: operation, input: input, context: context, unknownMembers: unknownMembers, identities: identities))
    }

    /// Runs a decoded call's handler (501 when the operation has none, R4) and renders its answer or error (R5–R7). In
    /// `enforce` mode the caller's policies are evaluated first: a refused call reaches no handler, so changes nothing.
    public func execute(_ call: AWSCall) -> AWSJSONOutcome {
        let operation = call.operation, requestID = call.context.requestID
        var outcome: AWSJSONOutcome
        if let handler = handlers[operation] {
            outcome = answer(operation, requestID: requestID) {
                if authMode == .enforce { try authentication?.authorize(call) }
                let output = try handler(call.input, call.context)
                if checkResponses, let outputShape = validator.model.operations[operation]?.output {
                    let problems = OutputShapeChecker(model: validator.model).problems(output, shape: outputShape)
                    if !problems.isEmpty { throw ResponseShapeMismatch(shape: outputShape, problems: problems) }
                }
                return JSONWriter.encode(.object(output))
            }
        } else {
            outcome = failure(.notImplemented(operation), requestID: requestID, operation: operation)
        }
        outcome.unknownMembers = call.unknownMembers
        return outcome
    }

    /// The answer to a call from bytes already encoded (a cached answer).
    public static func answer(_ call: AWSCall, encoded: [UInt8]) -> AWSJSONOutcome {
        AWSJSONOutcome(
            response: HTTPResponse(status: .ok, headers: ["x-amzn-RequestId": call.context.requestID, "Content-Type": contentType],
                                   body: encoded),
            operation: call.operation)
    }

    /// A handler's output that does not match its output shape (spec R11): a bug, answered 500.
    struct ResponseShapeMismatch: Error, CustomStringConvertible {
        let shape: String
        let problems: [String]
        var description: String { "response does not match \(shape): " + problems.joined(separator: "; ") }
    }

    /// Runs a handler that produces the encoded output, and turns what it throws into the outcome: the AWS error it
    /// renders, or a 500 `InternalFailure` for anything unexpected (spec R7).
    private func answer(_ operation: String, requestID: String, _ body: () throws -> [UInt8]) -> AWSJSONOutcome {
        do {
            let encoded = try body()
            return AWSJSONOutcome(
                response: HTTPResponse(status: .ok, headers: ["x-amzn-RequestId": requestID, "Content-Type": Self.contentType], body: encoded),
                operation: operation
            )
        } catch let error as any AWSErrorConvertible {
            return failure(error.awsError, requestID: requestID, operation: operation)
        } catch {
            var outcome = failure(.internalFailure(requestID: requestID), requestID: requestID, operation: operation)
            outcome.internalError = String(describing: error)
            return outcome
        }
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

    private func refusal(_ error: AWSError, requestID: String, operation: String?) -> Refusal {
        Refusal(outcome: failure(error, requestID: requestID, operation: operation))
    }
}

/// Request bodies that passed the pipeline, by `X-Amz-Target` and body bytes: the same bytes to the same operation
/// decode and validate the same way (the router's settings are fixed), so they are done once. SDK waiters poll
/// DescribeCluster with one body for minutes. Small bodies only, a bounded number (emptied when full). Thread-safe.
final class ValidatedBodies: Sendable {
    struct Entry: Sendable {
        let operation: String
        let input: JSONObject
        let unknownMembers: [ShapeValidator.UnknownMember]
    }

    private struct Key: Hashable {
        let target: String
        let body: [UInt8]
    }

    /// Bodies larger than this are not kept.
    static let largestBody = 512
    /// Entries kept at most.
    static let capacity = 1024

    private let entries = Mutex<[Key: Entry]>([:])

    func lookup(target: String, body: [UInt8]) -> Entry? {
        guard body.count <= Self.largestBody else { return nil }
        let key = Key(target: target, body: body)
        return entries.withLock { $0[key] }
    }

    func remember(target: String, body: [UInt8], _ entry: Entry) {
        guard body.count <= Self.largestBody else { return }
        entries.withLock {
            if $0.count >= Self.capacity { $0.removeAll(keepingCapacity: true) }
            $0[Key(target: target, body: body)] = entry
        }
    }
}
