#if canImport(Glibc)
import Glibc
#endif

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
        var contentCoding: ContentCoding = .identity
        /// The framing fields, noted while the head is read (no second lookup): `Content-Length` values,
        /// whether `Transfer-Encoding` and `Expect` are present.
        var contentLengths: [String] = []
        var hasTransferEncoding = false
        var hasExpect = false
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
        let limit = requestStart + limits.maxHeaderBytes  // the first byte that would make the head too long
        let scanned: Int = try buffer.withUnsafeBufferPointer { bytes throws(HTTPParserError) -> Int in
            guard let base = bytes.baseAddress else { return 0 }
            var i = max(scanFrom, readIndex)
            let stop = min(bytes.count, limit)
            // Line feeds are found with memchr (vectorised): the head is scanned a line, not a byte, at a time.
            while i < stop, let found = memchr(base + i, Int32(UInt8(ascii: "\n")), stop - i) {
                i = UnsafePointer<UInt8>(found.assumingMemoryBound(to: UInt8.self)) - base
                guard i > lineStart, base[i - 1] == UInt8(ascii: "\r") else { throw .badRequest("Bare LF in request head") }
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
                i += 1
            }
            // Byte `limit` would make the head (blank lines before it included) longer than the limit.
            if bytes.count > limit { throw .headersTooLarge(limit: limits.maxHeaderBytes) }
            return bytes.count
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

    /// Parses request line and header fields from `bytes` (the head without its final empty line's CRLF: every line
    /// ends in CRLF, and `parseHead` has verified that no LF stands without its CR). One pass over the bytes, through
    /// a raw pointer; the fields that frame the body are noted on the way, not looked up again.
    private static func decodeHead(_ bytes: UnsafeBufferPointer<UInt8>) throws(HTTPParserError) -> Head {
        guard let base = bytes.baseAddress, let firstLF = memchr(base, Int32(UInt8(ascii: "\n")), bytes.count) else {
            throw .badRequest("Malformed request line")
        }
        let count = bytes.count
        var lineEnd = UnsafePointer<UInt8>(firstLF.assumingMemoryBound(to: UInt8.self)) - base  // the line's LF
        let (method, target, version) = try decodeRequestLine(UnsafeBufferPointer(start: base, count: lineEnd - 1))
        var head = Head(method: method, target: target, version: version, headers: HTTPHeaders(capacity: 8))
        var hosts = 0
        var hasContentEncoding = false
        var start = lineEnd + 1
        while start < count {
            guard let lf = memchr(base + start, Int32(UInt8(ascii: "\n")), count - start) else { break }
            lineEnd = UnsafePointer<UInt8>(lf.assumingMemoryBound(to: UInt8.self)) - base
            let line = base + start, length = lineEnd - 1 - start
            start = lineEnd + 1
            guard length > 0 else { throw .badRequest("Empty header line") }
            if line[0] == UInt8(ascii: " ") || line[0] == UInt8(ascii: "\t") {
                throw .badRequest("Obsolete line folding in header section")
            }
            var colon = 0
            while colon < length && line[colon] != UInt8(ascii: ":") {
                guard isTokenByte(line[colon]) else {
                    // A byte that is no token byte before any colon: a bad name, or no colon at all.
                    if memchr(line + colon, Int32(UInt8(ascii: ":")), length - colon) == nil {
                        throw .badRequest("Header field without a colon")
                    }
                    throw .badRequest("Invalid header field name")
                }
                colon += 1
            }
            guard colon < length else { throw .badRequest("Header field without a colon") }
            guard colon > 0 else { throw .badRequest("Invalid header field name") }
            var valueStart = colon + 1
            var valueEnd = length
            while valueStart < valueEnd && isWhitespace(line[valueStart]) { valueStart += 1 }
            while valueEnd > valueStart && isWhitespace(line[valueEnd - 1]) { valueEnd -= 1 }
            if !areFieldValueBytes(line + valueStart, count: valueEnd - valueStart) {
                throw .badRequest("Invalid character in header field value")
            }
            let name = UnsafeBufferPointer(start: line, count: colon)
            let value = UnsafeBufferPointer(start: line + valueStart, count: valueEnd - valueStart)
            if equalsIgnoringCase(name, "host") {
                hosts += 1
                // RFC 9110 §7.2: Host = uri-host [ ":" port ] — one authority, no list, no spaces.
                if value.contains(where: { $0 == UInt8(ascii: ",") || $0 == UInt8(ascii: " ") || $0 == UInt8(ascii: "\t")
                                           || $0 == UInt8(ascii: "/") || $0 == UInt8(ascii: "@") }) {
                    throw .badRequest("Invalid Host header")
                }
            } else if equalsIgnoringCase(name, "content-length") {
                head.contentLengths.append(String(decoding: value, as: UTF8.self))
            } else if equalsIgnoringCase(name, "content-encoding") {
                hasContentEncoding = true
            } else if equalsIgnoringCase(name, "transfer-encoding") {
                head.hasTransferEncoding = true
            } else if equalsIgnoringCase(name, "expect") {
                head.hasExpect = true
            }
            head.headers.add(String(decoding: name, as: UTF8.self), String(decoding: value, as: UTF8.self))
        }
        // RFC 9112 §3.2: an HTTP/1.1 request has exactly one Host field.
        if hosts > 1 { throw .badRequest("More than one Host header") }
        if version == .http1_1 && hosts == 0 { throw .badRequest("Missing Host header") }
        if hasContentEncoding {
            switch head.headers.tokens("Content-Encoding").filter({ $0 != "identity" }) {
            case []: break
            case ["gzip"], ["x-gzip"], ["deflate"]: head.contentCoding = .compressed
            case let codings:
                throw HTTPParserError(.unsupportedMediaType, "Unsupported Content-Encoding: \(codings.joined(separator: ", "))")
            }
        }
        return head
    }

    /// Whether `bytes` is `lowercase` (ASCII letters, digits and `-`) ignoring ASCII case; with `exact`, byte for byte.
    @inline(__always)
    private static func equalsIgnoringCase(_ bytes: UnsafeBufferPointer<UInt8>, _ lowercase: StaticString, exact: Bool = false) -> Bool {
        guard bytes.count == lowercase.utf8CodeUnitCount else { return false }
        let expected = lowercase.utf8Start
        if exact { return bytes.count == 0 || memcmp(bytes.baseAddress!, expected, bytes.count) == 0 }
        for i in 0..<bytes.count where bytes[i] | 0x20 != expected[i] { return false }
        return true
    }

    private static func decodeRequestLine(_ line: UnsafeBufferPointer<UInt8>) throws(HTTPParserError) -> (String, String, HTTPVersion) {
        // method SP request-target SP HTTP-version: exactly two spaces (found with memchr, no array of parts).
        guard let base = line.baseAddress,
              let first = memchr(base, Int32(UInt8(ascii: " ")), line.count).map({ UnsafePointer<UInt8>($0.assumingMemoryBound(to: UInt8.self)) - base }),
              let second = memchr(base + first + 1, Int32(UInt8(ascii: " ")), line.count - first - 1)
                  .map({ UnsafePointer<UInt8>($0.assumingMemoryBound(to: UInt8.self)) - base }),
              memchr(base + second + 1, Int32(UInt8(ascii: " ")), line.count - second - 1) == nil,
              first > 0, second > first + 1
        else { throw .badRequest("Malformed request line") }
        let method = UnsafeBufferPointer(start: base, count: first)
        let target = UnsafeBufferPointer(start: base + first + 1, count: second - first - 1)
        let versionBytes = UnsafeBufferPointer(start: base + second + 1, count: line.count - second - 1)
        guard method.allSatisfy(isTokenByte) else { throw .badRequest("Invalid method") }
        guard target.allSatisfy({ $0 > 0x20 && $0 < 0x7F }) else { throw .badRequest("Invalid request target") }
        let version: HTTPVersion
        if equalsIgnoringCase(versionBytes, "HTTP/1.1", exact: true) {
            version = .http1_1
        } else if equalsIgnoringCase(versionBytes, "HTTP/1.0", exact: true) {
            version = .http1_0
        } else {
            let utf8 = Array(versionBytes)
            let versionText = String(decoding: utf8, as: UTF8.self)
            if utf8.count == 8, versionText.hasPrefix("HTTP/"), utf8[6] == UInt8(ascii: "."),
               isDigit(utf8[5]), isDigit(utf8[7]) {
                throw HTTPParserError(.httpVersionNotSupported, "HTTP version \(versionText) is not supported")
            }
            throw .badRequest("Invalid HTTP version")
        }
        return (String(decoding: method, as: UTF8.self), String(decoding: target, as: UTF8.self), version)
    }

    // MARK: - Body framing (RFC 9112 §6)

    private mutating func startBody(_ head: Head) throws(HTTPParserError) {
        let contentLengths = head.contentLengths
        var expectsBody = false
        if head.hasTransferEncoding {
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
        if head.hasExpect, let expect = head.headers["Expect"], head.version == .http1_1 {
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

    /// Whether every one of `count` bytes at `bytes` `isFieldValueByte`: eight at a time (a word with no byte under
    /// 0x20 and none equal to 0x7F is all valid), byte by byte only for a word that has a candidate (a tab, say).
    static func areFieldValueBytes(_ bytes: UnsafePointer<UInt8>, count: Int) -> Bool {
        let ones: UInt64 = 0x0101_0101_0101_0101, highs: UInt64 = 0x8080_8080_8080_8080
        var i = 0
        while i + 8 <= count {
            let word = UnsafeRawPointer(bytes + i).loadUnaligned(as: UInt64.self)
            let below20 = (word &- ones &* 0x20) & ~word & highs  // some byte < 0x20 (exact when none is >= 0x80)
            let del = word ^ (ones &* 0x7F)
            let is7F = (del &- ones) & ~del & highs              // some byte == 0x7F
            if below20 | is7F != 0 || word & highs != 0 {
                for j in i..<(i + 8) where !isFieldValueByte(bytes[j]) { return false }
            }
            i += 8
        }
        while i < count {
            if !isFieldValueByte(bytes[i]) { return false }
            i += 1
        }
        return true
    }

    /// field-vchar / SP / HTAB, obs-text allowed; no other control characters.
    @inline(__always) static func isFieldValueByte(_ b: UInt8) -> Bool {
        b == UInt8(ascii: "\t") || (b >= 0x20 && b != 0x7F)
    }
}
