import HTTP1

/// An error that renders itself as an AWS JSON 1.1 error response.
public protocol AWSErrorConvertible: Error {
    var awsError: AWSError { get }
}

/// An AWS JSON 1.1 error: `__type` code, message and HTTP status (spec R5–R7).
///
/// The four errors the SageMaker model defines carry their text in `Message`; every other code in `message` (spec R6).
public struct AWSError: Error, AWSErrorConvertible, Sendable, Equatable, CustomStringConvertible {
    public let code: String
    public let message: String
    public let status: HTTPStatus

    public init(code: String, message: String, status: HTTPStatus = .badRequest) {
        self.code = code
        self.message = message
        self.status = status
    }

    public var awsError: AWSError { self }
    public var description: String { "\(code): \(message)" }

    /// The error shapes of the SageMaker model whose single member is `Message` (AWS doc D1).
    public static let modeledCodes: Set<String> = ["ConflictException", "ResourceNotFound", "ResourceInUse", "ResourceLimitExceeded"]

    /// `Message` for modeled errors, `message` otherwise (spec R6).
    public var messageMemberName: String { Self.modeledCodes.contains(code) ? "Message" : "message" }

    // MARK: Protocol-level errors (spec R4, R7, R8)

    /// 400 `UnknownOperationException` `Missing X-Amz-Target header` (spec R4).
    public static let missingTarget = AWSError(code: "UnknownOperationException", message: "Missing X-Amz-Target header")

    /// 400 `UnknownOperationException` `Unknown operation <target>` (spec R4).
    public static func unknownOperation(_ target: String) -> AWSError {
        AWSError(code: "UnknownOperationException", message: "Unknown operation \(target)")
    }

    /// 404 `UnknownOperationException` for a method or path other than `POST /` (spec R1).
    public static func unknownRoute(method: String, path: Substring) -> AWSError {
        AWSError(code: "UnknownOperationException", message: "Unknown operation \(method) \(path)", status: .notFound)
    }

    /// 501 `NotImplementedException` for an operation of the model that hyperpod-local does not implement (spec R4).
    public static func notImplemented(_ operation: String) -> AWSError {
        AWSError(
            code: "NotImplementedException", message: "Operation \(operation) is not implemented by hyperpod-local",
            status: .notImplemented
        )
    }

    /// 400 `SerializationException` (spec R8).
    public static func serialization(_ message: String) -> AWSError {
        AWSError(code: "SerializationException", message: message)
    }

    /// 400 `ValidationException` (spec §2, R23).
    public static func validation(_ message: String) -> AWSError {
        AWSError(code: "ValidationException", message: message)
    }

    // MARK: The model's errors (AWS doc D1: `Message` member)

    /// 400 `ConflictException`: the resource's state does not allow the call now (e.g. R69, R85).
    public static func conflict(_ message: String) -> AWSError { AWSError(code: "ConflictException", message: message) }

    /// 400 `ResourceNotFound` (e.g. R32).
    public static func resourceNotFound(_ message: String) -> AWSError { AWSError(code: "ResourceNotFound", message: message) }

    /// 400 `ResourceInUse`: the name or resource is taken (e.g. R56).
    public static func resourceInUse(_ message: String) -> AWSError { AWSError(code: "ResourceInUse", message: message) }

    /// 400 `ResourceLimitExceeded`: an account quota (R84).
    public static func resourceLimitExceeded(_ message: String) -> AWSError {
        AWSError(code: "ResourceLimitExceeded", message: message)
    }

    /// 500 `InternalFailure`: an unexpected fault, always a bug (spec R7).
    public static func internalFailure(requestID: String) -> AWSError {
        AWSError(
            code: "InternalFailure", message: "Internal error; see hyperpod-local log for request \(requestID)",
            status: .internalServerError
        )
    }
}
