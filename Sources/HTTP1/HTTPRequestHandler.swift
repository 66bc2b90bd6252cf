/// What the server calls for each request. Implemented by the application layer.
public protocol HTTPRequestHandler: Sendable {
    /// Handles one request, body decoded. Called on the event-loop thread — or, for a body that had a
    /// `Content-Encoding`, on the server's inflation queue — in the order requests arrive on a connection; it must not
    /// block. Answer through `responder`, at once or later from any thread (e.g. after a database write); the server
    /// keeps pipelined responses in request order either way. Every request must be answered exactly once.
    func handle(_ request: HTTPRequest, responder: HTTPResponder)

    /// The response for a request the server refuses by itself: a parse error (400, 413, 415, 417, 431, 501, 505),
    /// a header timeout (408) or too many connections (503). The connection closes after it.
    func makeProtocolErrorResponse(status: HTTPStatus, reason: String) -> HTTPResponse
}

extension HTTPRequestHandler {
    public func makeProtocolErrorResponse(status: HTTPStatus, reason: String) -> HTTPResponse {
        HTTPResponse(status: status, headers: ["Content-Type": "text/plain; charset=utf-8"], body: Array((reason + "\n").utf8))
    }
}

/// Answers one request. Sendable: may be passed to any thread and called from there, once.
public struct HTTPResponder: Sendable {
    let server: HTTPServer
    let connectionID: UInt64
    let sequence: UInt64
    let version: HTTPVersion
    let keepAlive: Bool
    let acceptsGzip: Bool
    let isHEAD: Bool
    /// When the request was dispatched, an earlier request on its connection (pipelined ahead of it) was not answered
    /// yet. When false, every earlier request of the connection has been answered: for a handler that answers after
    /// committing, whatever they changed is committed, and this one may be answered from any snapshot taken from now on.
    public let followsUnanswered: Bool

    init(server: HTTPServer, connectionID: UInt64, sequence: UInt64, request: HTTPRequest, followsUnanswered: Bool) {
        self.followsUnanswered = followsUnanswered
        self.server = server
        self.connectionID = connectionID
        self.sequence = sequence
        self.version = request.version
        self.keepAlive = request.keepAlive
        self.acceptsGzip = request.acceptsGzip
        self.isHEAD = request.method == "HEAD"
    }

    /// Answers with the handler's protocol-error response for `status` and closes the connection afterwards.
    func refuse(status: HTTPStatus, reason: String) {
        let response = server.handler.makeProtocolErrorResponse(status: status, reason: reason)
        let bytes = HTTPResponseEncoder.encode(response, version: .http1_1, keepAlive: false, acceptsGzip: false)
        server.deliver(connectionID: connectionID, sequence: sequence, bytes: bytes, close: true)
    }

    /// Encodes and sends `response` (on the calling thread; the socket write happens on the event loop).
    public func respond(_ response: HTTPResponse) {
        let keepAlive = self.keepAlive && !server.isDraining
        let bytes = HTTPResponseEncoder.encode(
            response, version: version, keepAlive: keepAlive, acceptsGzip: acceptsGzip, omitBody: isHEAD
        )
        server.deliver(connectionID: connectionID, sequence: sequence, bytes: bytes, close: !keepAlive)
    }
}
