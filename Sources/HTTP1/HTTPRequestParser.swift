/// An incremental HTTP/1.1 request parser (RFC 9112): a value that is fed bytes and hands back requests.
///
/// It does no I/O. Feed it with `append(_:)`, then call `next()` until it answers `.needMoreData`. Bytes after a
/// complete request stay buffered for the next one (pipelining). After a thrown `HTTPParserError` the parser stays
/// failed: the connection must answer the error's status and close.
///
/// ```swift
/// var parser = HTTPRequestParser(limits: HTTPLimits())
/// parser.append(Array("GET / HTTP/1.1\r\nHost: x\r\n\r\n".utf8))
/// if case .request(let request) = try parser.next() { … }
/// ```
public struct HTTPRequestParser: Sendable {
    /// What `next()` found.
    public enum Event: Sendable {
        /// No complete request is buffered yet.
        case needMoreData
        /// The head of a request with `Expect: 100-continue` was read and its body has not all arrived:
        /// the connection should send `100 Continue` now (RFC 9110 §10.1.1). Reported once per request.
        case sendContinue
        /// A complete request, framing undone (its `Content-Encoding` not yet: see `HTTPRequest.bodyIsEncoded`).
        case request(HTTPRequest)
    }

    /// Where the parser is in the current request, for the connection's timeouts.
    public enum Progress: Sendable, Equatable {
        /// No byte of a next request is buffered.
        case idle
        /// Part of a request line or header section is buffered.
        case head
        /// The head was read; the body is being read.
        case body
    }

    private struct Head: Sendable {
        var method: String
        var target: String
        var version: HTTPVersion
        var headers: HTTPHeaders
        var contentCoding: ContentCoding
    }

    private enum ContentCoding: Sendable { case identity, compressed }

    private enum State: Sendable {
        /// Looking for the end of the header section; `scanFrom` is where the search resumes, `lineStart` where the
        /// current line began (absolute indices into `buffer`).
        case head(scanFrom: Int, lineStart: Int)
        case fixedBody(Head, remaining: Int, body: [UInt8])
        case chunkedBody(Head, decoder: HTTPChunkedDecoder, body: [UInt8])
        case failed(HTTPParserError)
    }

    public let limits: HTTPLimits
    private var buffer: [UInt8] = []
    private var readIndex = 0
    /// Where the current request's bytes began, empty lines before its request line included: the head limit and the
    /// connection's header timeout count from here.
    private var requestStart = 0
    private var state: State
    private var continuePending = false

    public init(limits: HTTPLimits) {
        self.limits = limits
        self.state = .head(scanFrom: 0, lineStart: 0)
    }

    /// Adds received bytes.
    public mutating func append(_ bytes: UnsafeRawBufferPointer) {
        buffer.append(contentsOf: bytes)
    }

    /// Adds received bytes.
    public mutating func append<Bytes: Sequence<UInt8>>(_ bytes: Bytes) {
        buffer.append(contentsOf: bytes)
    }

    /// Bytes received but not yet consumed by a complete request.
    public var bufferedByteCount: Int { buffer.count - readIndex }

    public var progress: Progress {
        switch state {
        case .head: requestStart == buffer.count ? .idle : .head
        case .fixedBody, .chunkedBody: .body
        case .failed: .head
        }
    }

    /// Parses as far as the buffered bytes allow.
    /// - Throws: `HTTPParserError` for a request that must be refused (see that type for the statuses).
    public mutating func next() throws(HTTPParserError) -> Event {
        while true {
            switch state {
            case .failed(let error):
                throw error
            case .head(let scanFrom, let lineStart):
                let head: Head
                do {
                    guard let parsed = try parseHead(scanFrom: scanFrom, lineStart: lineStart) else { return .needMoreData }
                    head = parsed
                    try startBody(head)
                } catch {
                    state = .failed(error)
                    throw error
                }
                if continuePending {
                    continuePending = false
                    // Only worth it when the client is waiting: none of the body has arrived yet.
                    if readIndex == buffer.count { return .sendContinue }
                }
            case .fixedBody(let head, let remaining, var body):
                state = .head(scanFrom: 0, lineStart: 0)  // release `body` from `state` while it grows
                let take = min(remaining, buffer.count - readIndex)
                if take > 0 {
                    body.append(contentsOf: buffer[readIndex..<(readIndex + take)])
                    readIndex += take
                }
                if take < remaining {
                    state = .fixedBody(head, remaining: remaining - take, body: body)
                    compactConsumedBytes()
                    return .needMoreData
                }
                return try finish(head, body: body)
            case .chunkedBody(let head, var decoder, var body):
                state = .head(scanFrom: 0, lineStart: 0)  // release `body` from `state` while it grows
                let consumed: Int
                do {
                    consumed = try buffer.withUnsafeBufferPointer { all throws(HTTPParserError) -> Int in
                        try decoder.decode(UnsafeBufferPointer(rebasing: all[readIndex...]), into: &body)
                    }
                } catch {
                    state = .failed(error)
                    throw error
                }
                readIndex += consumed
                guard decoder.isFinished else {
                    state = .chunkedBody(head, decoder: decoder, body: body)
                    compactConsumedBytes()
                    return .needMoreData
                }
                return try finish(head, body: body)
            }
        }
    }

    // MARK: - Head

    /// Finds the end of the header section and parses it; nil when it is not all buffered yet.
    private mutating func parseHead(scanFrom: Int, lineStart: Int) throws(HTTPParserError) -> Head? {
        var lineStart = lineStart
        var end: Int? = nil
        let cr = UInt8(ascii: "\r"), lf = UInt8(ascii: "\n")
        let scanned: Int = try buffer.withUnsafeBufferPointer { bytes throws(HTTPParserError) -> Int in
            var i = max(scanFrom, readIndex)
            while i < bytes.count {
                // Byte i would make the head (blank lines before it included) longer than the limit.
                if i - requestStart >= limits.maxHeaderBytes { throw .headersTooLarge(limit: limits.maxHeaderBytes) }
                if bytes[i] == lf {
                    guard i > lineStart, bytes[i - 1] == cr else { throw .badRequest("Bare LF in request head") }
                    if i - 1 == lineStart {  // an empty line
                        if lineStart == readIndex {
                            // RFC 9112 §2.2: ignore empty lines before the request line.
                            readIndex = i + 1
                        } else {
                            end = i + 1
                            return i + 1
                        }
                    }
                    lineStart = i + 1
                }
                i += 1
            }
            return i
        }
        guard let end else {
            state = .head(scanFrom: scanned, lineStart: lineStart)
            return nil
        }
        let head = try buffer.withUnsafeBufferPointer { bytes throws(HTTPParserError) in
            try Self.decodeHead(UnsafeBufferPointer(rebasing: bytes[readIndex..<(end - 2)]))
        }
        readIndex = end
        return head
    }

    /// Parses request line and header fields from `bytes` (the head without its final empty line's CRLF).
    private static func decodeHead(_ bytes: UnsafeBufferPointer<UInt8>) throws(HTTPParserError) -> Head {
        // Split into lines; each ends in CRLF except the last (already verified: no bare LF).
        var lines: [Range<Int>] = []
        lines.reserveCapacity(16)
        var start = 0
        var i = 0
        while i < bytes.count {
            if bytes[i] == UInt8(ascii: "\r") && i + 1 < bytes.count && bytes[i + 1] == UInt8(ascii: "\n") {
                lines.append(start..<i)
                i += 2
                start = i
            } else {
                i += 1
            }
        }
        lines.append(start..<bytes.count)
        // Drop the CRLF that ended the last header line.
        if let last = lines.last, last.isEmpty { lines.removeLast() }

        let (method, target, version) = try decodeRequestLine(UnsafeBufferPointer(rebasing: bytes[lines[0]]))
        var headers = HTTPHeaders()
        for range in lines.dropFirst() {
            let line = UnsafeBufferPointer(rebasing: bytes[range])
            guard let first = line.first else { throw .badRequest("Empty header line") }
            if first == UInt8(ascii: " ") || first == UInt8(ascii: "\t") {
                throw .badRequest("Obsolete line folding in header section")
            }
            guard let colon = line.firstIndex(of: UInt8(ascii: ":")) else { throw .badRequest("Header field without a colon") }
            guard colon > 0, line[..<colon].allSatisfy(isTokenByte) else { throw .badRequest("Invalid header field name") }
            var valueStart = colon + 1
            var valueEnd = line.count
            while valueStart < valueEnd && isWhitespace(line[valueStart]) { valueStart += 1 }
            while valueEnd > valueStart && isWhitespace(line[valueEnd - 1]) { valueEnd -= 1 }
            for byte in line[valueStart..<valueEnd] where !isFieldValueByte(byte) {
                throw .badRequest("Invalid character in header field value")
            }
            headers.add(
                String(decoding: UnsafeBufferPointer(rebasing: line[..<colon]), as: UTF8.self),
                String(decoding: UnsafeBufferPointer(rebasing: line[valueStart..<valueEnd]), as: UTF8.self)
            )
        }
        // RFC 9112 §3.2: an HTTP/1.1 request has exactly one Host field.
        let hosts = headers.values("Host")
        if hosts.count > 1 { throw .badRequest("More than one Host header") }
        if version == .http1_1 && hosts.isEmpty { throw .badRequest("Missing Host header") }
        // RFC 9110 §7.2: Host = uri-host [ ":" port ] — one authority, no list, no spaces.
        if let host = hosts.first, host.contains(where: { $0 == "," || $0 == " " || $0 == "\t" || $0 == "/" || $0 == "@" }) {
            throw .badRequest("Invalid Host header")
        }
        let contentCoding: ContentCoding
        switch headers.contains("Content-Encoding") ? headers.tokens("Content-Encoding").filter({ $0 != "identity" }) : [] {
        case []: contentCoding = .identity
        case ["gzip"], ["x-gzip"], ["deflate"]: contentCoding = .compressed
        case let codings:
            throw HTTPParserError(.unsupportedMediaType, "Unsupported Content-Encoding: \(codings.joined(separator: ", "))")
        }
        return Head(method: method, target: target, version: version, headers: headers, contentCoding: contentCoding)
    }

    private static func decodeRequestLine(_ line: UnsafeBufferPointer<UInt8>) throws(HTTPParserError) -> (String, String, HTTPVersion) {
        let parts = line.split(separator: UInt8(ascii: " "), omittingEmptySubsequences: false)
        guard parts.count == 3, !parts[0].isEmpty, !parts[1].isEmpty else { throw .badRequest("Malformed request line") }
        guard parts[0].allSatisfy(isTokenByte) else { throw .badRequest("Invalid method") }
        guard parts[1].allSatisfy({ $0 > 0x20 && $0 < 0x7F }) else { throw .badRequest("Invalid request target") }
        let versionText = String(decoding: UnsafeBufferPointer(rebasing: parts[2]), as: UTF8.self)
        let version: HTTPVersion
        switch versionText {
        case "HTTP/1.1": version = .http1_1
        case "HTTP/1.0": version = .http1_0
        default:
            let utf8 = Array(versionText.utf8)
            if utf8.count == 8, versionText.hasPrefix("HTTP/"), utf8[6] == UInt8(ascii: "."),
               isDigit(utf8[5]), isDigit(utf8[7]) {
                throw HTTPParserError(.httpVersionNotSupported, "HTTP version \(versionText) is not supported")
            }
            throw .badRequest("Invalid HTTP version")
        }
        return (
            String(decoding: UnsafeBufferPointer(rebasing: parts[0]), as: UTF8.self),
            String(decoding: UnsafeBufferPointer(rebasing: parts[1]), as: UTF8.self),
            version
        )
    }

    // MARK: - Body framing (RFC 9112 §6)

    private mutating func startBody(_ head: Head) throws(HTTPParserError) {
        let transferEncodings = head.headers.values("Transfer-Encoding")
        let contentLengths = head.headers.values("Content-Length")
        var expectsBody = false
        if !transferEncodings.isEmpty {
            guard contentLengths.isEmpty else { throw .badRequest("Both Content-Length and Transfer-Encoding are present") }
            guard head.version == .http1_1 else { throw .badRequest("Transfer-Encoding in an HTTP/1.0 request") }
            let codings = head.headers.tokens("Transfer-Encoding")
            guard codings.last == "chunked", codings.filter({ $0 == "chunked" }).count == 1 else {
                throw .badRequest("Transfer-Encoding does not end in chunked")
            }
            if codings.count > 1 {
                throw HTTPParserError(.notImplemented, "Transfer coding \(codings.dropLast().joined(separator: ", ")) is not supported")
            }
            state = .chunkedBody(
                head,
                decoder: HTTPChunkedDecoder(maxBodyBytes: limits.maxBodyBytes, maxTrailerBytes: limits.maxHeaderBytes),
                body: []
            )
            expectsBody = true
        } else if contentLengths.count > 1 {
            throw .badRequest("Duplicate Content-Length")
        } else if let text = contentLengths.first {
            guard !text.isEmpty, text.utf8.allSatisfy(Self.isDigit) else { throw .badRequest("Invalid Content-Length") }
            var length = 0
            for digit in text.utf8 {
                let (times10, overflow1) = length.multipliedReportingOverflow(by: 10)
                let (next, overflow2) = times10.addingReportingOverflow(Int(digit - UInt8(ascii: "0")))
                guard !overflow1, !overflow2, next <= limits.maxBodyBytes else { throw .tooLarge(limit: limits.maxBodyBytes) }
                length = next
            }
            var body: [UInt8] = []
            body.reserveCapacity(min(length, 1 << 20))  // never trust a header for a large allocation
            state = .fixedBody(head, remaining: length, body: body)
            expectsBody = length > 0
        } else {
            state = .fixedBody(head, remaining: 0, body: [])
        }
        if let expect = head.headers["Expect"], head.version == .http1_1 {
            guard expect.lowercased() == "100-continue" else {
                throw HTTPParserError(.expectationFailed, "Unsupported expectation: \(expect)")
            }
            continuePending = expectsBody
        }
    }

    /// Completes a request, resets for the next one, compacts the buffer. A body with a `Content-Encoding` is handed
    /// over still encoded (`bodyIsEncoded`): inflating is work, done off the event loop (`HTTPRequest.decodingContent`).
    private mutating func finish(_ head: Head, body: [UInt8]) throws(HTTPParserError) -> Event {
        continuePending = false
        compactConsumedBytes()
        requestStart = readIndex
        state = .head(scanFrom: readIndex, lineStart: readIndex)
        var request = HTTPRequest(method: head.method, target: head.target, version: head.version, headers: head.headers, body: body)
        request.bodyIsEncoded = head.contentCoding == .compressed && !body.isEmpty
        return .request(request)
    }

    /// Drops consumed bytes once they are at least half the buffer (amortised O(1) per byte; a long pipeline or a
    /// large body never keeps its consumed bytes). Only between requests or inside a body, where no head index points
    /// into the buffer.
    private mutating func compactConsumedBytes() {
        if readIndex == buffer.count {
            buffer.removeAll(keepingCapacity: buffer.capacity <= 64 * 1024)
            readIndex = 0
        } else if readIndex >= 4096 && readIndex * 2 >= buffer.count {
            buffer.removeFirst(readIndex)
            readIndex = 0
        }
    }

    // MARK: - Character classes (RFC 9110 §5.6.2, §5.5)

    @inline(__always) static func isDigit(_ b: UInt8) -> Bool { b >= UInt8(ascii: "0") && b <= UInt8(ascii: "9") }

    @inline(__always) static func isWhitespace(_ b: UInt8) -> Bool { b == UInt8(ascii: " ") || b == UInt8(ascii: "\t") }

    /// tchar = "!" / "#" / "$" / "%" / "&" / "'" / "*" / "+" / "-" / "." / "^" / "_" / "`" / "|" / "~" / DIGIT / ALPHA
    @inline(__always) static func isTokenByte(_ b: UInt8) -> Bool {
        switch b {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"):
            true
        case UInt8(ascii: "!"), UInt8(ascii: "#"), UInt8(ascii: "$"), UInt8(ascii: "%"), UInt8(ascii: "&"), UInt8(ascii: "'"),
             UInt8(ascii: "*"), UInt8(ascii: "+"), UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "^"), UInt8(ascii: "_"),
             UInt8(ascii: "`"), UInt8(ascii: "|"), UInt8(ascii: "~"):
            true
        default:
            false
        }
    }

    /// field-vchar / SP / HTAB, obs-text allowed; no other control characters.
    @inline(__always) static func isFieldValueByte(_ b: UInt8) -> Bool {
        b == UInt8(ascii: "\t") || (b >= 0x20 && b != 0x7F)
    }
}
