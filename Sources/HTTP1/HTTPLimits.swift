/// Framing and connection limits of the HTTP/1.1 server, in one value (the defaults are issue #2's).
///
/// Durations are wall-clock seconds (never the emulator's virtual clock).
public struct HTTPLimits: Sendable, Equatable {
    /// Largest request line plus header section, in bytes; over it → 431 (and for trailers of a chunked body).
    public var maxHeaderBytes: Int
    /// Largest request body in bytes, after any `Content-Encoding` is undone; over it → 413, sent before the body is read.
    public var maxBodyBytes: Int
    /// Seconds a client has from the first byte of a request (or from connecting) to the end of its header section → 408.
    public var headerTimeout: Double
    /// Seconds an idle keep-alive connection (or a stalled body) is kept before it is closed.
    public var idleTimeout: Double
    /// Open client connections at most; the next one is answered 503 and closed.
    public var maxConnections: Int
    /// Requests read ahead of their responses on one connection (pipelining) before reading pauses.
    public var maxPipelinedRequests: Int

    public init(
        maxHeaderBytes: Int = 16 * 1024,
        maxBodyBytes: Int = 8 * 1024 * 1024,
        headerTimeout: Double = 10,
        idleTimeout: Double = 60,
        maxConnections: Int = 1024,
        maxPipelinedRequests: Int = 64
    ) {
        self.maxHeaderBytes = maxHeaderBytes
        self.maxBodyBytes = maxBodyBytes
        self.headerTimeout = headerTimeout
        self.idleTimeout = idleTimeout
        self.maxConnections = maxConnections
        self.maxPipelinedRequests = maxPipelinedRequests
    }
}
