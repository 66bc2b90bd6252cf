/// The HTTP version of a request line.
public enum HTTPVersion: Sendable, Equatable {
    case http1_0
    case http1_1

    var text: String {
        switch self {
        case .http1_0: "HTTP/1.0"
        case .http1_1: "HTTP/1.1"
        }
    }
}

/// A complete HTTP/1.1 request as the parser hands it over: framing undone (chunked decoded, gzip inflated).
public struct HTTPRequest: Sendable {
    /// The method token, case-sensitive (`POST`, `GET`, …).
    public var method: String
    /// The request target as sent (origin form, e.g. `/` or `/_hyperpod/health?x=1`).
    public var target: String
    public var version: HTTPVersion
    public var headers: HTTPHeaders
    /// The body, framing undone; still gzip/deflate-encoded while `bodyIsEncoded`.
    public var body: [UInt8]
    /// The body still carries its `Content-Encoding` (gzip or deflate); `decodingContent(limit:)` inflates it.
    public var bodyIsEncoded = false
    /// After `decodingContent(limit:)` inflated the body: the body as received, still encoded (a SigV4 signature covers
    /// these bytes). Nil otherwise.
    public var contentEncodedBody: [UInt8]?

    public init(method: String, target: String, version: HTTPVersion = .http1_1, headers: HTTPHeaders = [:], body: [UInt8] = []) {
        self.method = method
        self.target = target
        self.version = version
        self.headers = headers
        self.body = body
    }

    /// This request with its body inflated (a no-op when it is not encoded).
    /// - Parameter limit: the largest inflated body accepted, in bytes.
    /// - Throws: `HTTPParserError` 400 for a body that is not valid gzip/zlib, 413 over `limit`.
    public func decodingContent(limit: Int) throws(HTTPParserError) -> HTTPRequest {
        guard bodyIsEncoded else { return self }
        var decoded = self
        decoded.body = try Gzip.inflate(body, limit: limit)
        decoded.contentEncodedBody = body
        decoded.bodyIsEncoded = false
        return decoded
    }

    /// The target without its query string; for an absolute-form target (`http://host/path`, RFC 9112 §3.2.2) the
    /// path part.
    public var path: Substring {
        var rest = target[...]
        if rest.utf8.first == UInt8(ascii: "/") {  // origin form, the usual one: no scheme to look for
            if let q = rest.utf8.firstIndex(of: UInt8(ascii: "?")) { return rest[..<q] }
            return rest
        }
        for scheme in ["http://", "https://"] where rest.lowercased().hasPrefix(scheme) {
            rest = rest.dropFirst(scheme.count)
            guard let slash = rest.firstIndex(where: { $0 == "/" || $0 == "?" }) else { return "/" }
            rest = rest[slash...]
            if rest.first == "?" { return "/" }
        }
        if let q = rest.firstIndex(of: "?") { return rest[..<q] }
        return rest
    }

    /// The query string (after `?`), empty when there is none.
    public var query: Substring {
        if let q = target.firstIndex(of: "?") { return target[target.index(after: q)...] }
        return ""
    }

    /// Whether the connection stays open after this request (RFC 9112 §9.3): HTTP/1.1 unless `Connection: close`;
    /// HTTP/1.0 only with `Connection: keep-alive`.
    public var keepAlive: Bool {
        let tokens = headers.tokens("Connection")
        switch version {
        case .http1_1: return !tokens.contains("close")
        case .http1_0: return tokens.contains("keep-alive") && !tokens.contains("close")
        }
    }

    /// Whether `Accept-Encoding` admits gzip (a `gzip`, `x-gzip` or `*` coding whose q-value is not 0).
    public var acceptsGzip: Bool {
        for token in headers.tokens("Accept-Encoding") {
            let parts = token.split(separator: ";").map { $0.trimmingASCIIWhitespace() }
            guard let coding = parts.first, coding == "gzip" || coding == "x-gzip" || coding == "*" else { continue }
            let q = parts.dropFirst().first { $0.hasPrefix("q=") }.flatMap { Double($0.dropFirst(2)) } ?? 1
            if q > 0 { return true }
        }
        return false
    }
}
