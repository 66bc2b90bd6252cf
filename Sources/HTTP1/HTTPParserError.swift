/// A request the parser refuses. The server answers it with `status` and `Connection: close`.
///
/// Statuses: 400 (malformed framing: bare LF, obs-fold, bad or duplicate `Content-Length`, `Content-Length` with
/// `Transfer-Encoding`, bad chunk size), 408 (header timeout, raised by the connection), 413 (body over the limit),
/// 415 (unknown `Content-Encoding`), 417 (unknown `Expect`), 431 (head or trailers over the limit),
/// 501 (unknown transfer coding), 505 (HTTP version other than 1.0/1.1).
public struct HTTPParserError: Error, Sendable, Equatable, CustomStringConvertible {
    public let status: HTTPStatus
    /// A short human-readable reason, safe to send to the client.
    public let reason: String

    public init(_ status: HTTPStatus, _ reason: String) {
        self.status = status
        self.reason = reason
    }

    public var description: String { "\(status.code) \(reason)" }

    static func badRequest(_ reason: String) -> HTTPParserError { HTTPParserError(.badRequest, reason) }
    static func tooLarge(limit: Int) -> HTTPParserError {
        HTTPParserError(.contentTooLarge, "Request body is larger than \(limit) bytes")
    }
    static func headersTooLarge(limit: Int) -> HTTPParserError {
        HTTPParserError(.requestHeaderFieldsTooLarge, "Request line and headers are larger than \(limit) bytes")
    }
}
