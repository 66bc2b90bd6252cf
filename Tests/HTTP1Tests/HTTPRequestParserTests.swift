import Testing
@testable import HTTP1

/// Feeds `input` in one piece or one byte at a time and collects what the parser reports.
private func parse(_ input: [UInt8], byteByByte: Bool, limits: HTTPLimits = HTTPLimits()) throws(HTTPParserError) -> [HTTPRequestParser.Event] {
    var parser = HTTPRequestParser(limits: limits)
    var events: [HTTPRequestParser.Event] = []
    func drain() throws(HTTPParserError) {
        while true {
            let event = try parser.next()
            if case .needMoreData = event { return }
            events.append(event)
        }
    }
    if byteByByte {
        for byte in input {
            parser.append([byte])
            try drain()
        }
    } else {
        parser.append(input)
        try drain()
    }
    return events
}

private func parse(_ text: String, byteByByte: Bool, limits: HTTPLimits = HTTPLimits()) throws(HTTPParserError) -> [HTTPRequestParser.Event] {
    try parse(Array(text.utf8), byteByByte: byteByByte, limits: limits)
}

private func requests(_ events: [HTTPRequestParser.Event]) -> [HTTPRequest] {
    events.compactMap { if case .request(let r) = $0 { r } else { nil } }
}

/// The status of the error the parser throws for `input`, nil when it throws none.
private func errorStatus(_ input: [UInt8], byteByByte: Bool, limits: HTTPLimits = HTTPLimits()) -> Int? {
    do {
        _ = try parse(input, byteByByte: byteByByte, limits: limits)
        return nil
    } catch {
        return error.status.code
    }
}

private func errorStatus(_ text: String, byteByByte: Bool, limits: HTTPLimits = HTTPLimits()) -> Int? {
    errorStatus(Array(text.utf8), byteByByte: byteByByte, limits: limits)
}

struct HTTPRequestParserTests {
    static let modes = [false, true]

    @Test(arguments: modes)
    func keepAliveRequest_IsParsedWithHeadersInOrder(byteByByte: Bool) throws {
        let events = try parse("GET /_hyperpod/health?x=1 HTTP/1.1\r\nHost: localhost\r\nX-A: 1\r\nx-a: 2\r\n\r\n", byteByByte: byteByByte)
        let all = requests(events)
        #expect(all.count == 1)
        let request = try #require(all.first)
        #expect(request.method == "GET")
        #expect(request.target == "/_hyperpod/health?x=1")
        #expect(request.path == "/_hyperpod/health")
        #expect(request.query == "x=1")
        #expect(request.version == .http1_1)
        #expect(request.keepAlive)
        #expect(request.headers.values("X-A") == ["1", "2"])
        #expect(request.headers["host"] == "localhost")
        #expect(request.body.isEmpty)
    }

    @Test(arguments: modes)
    func pipelinedRequests_AreReturnedInOrder(byteByByte: Bool) throws {
        let text = "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}"
            + "POST /second HTTP/1.1\r\nHost: x\r\nContent-Length: 7\r\nConnection: close\r\n\r\n{\"a\":1}"
        let all = requests(try parse(text, byteByByte: byteByByte))
        #expect(all.map(\.target) == ["/", "/second"])
        #expect(all.map { String(decoding: $0.body, as: UTF8.self) } == ["{}", "{\"a\":1}"])
        #expect(all.map(\.keepAlive) == [true, false])
    }

    @Test(arguments: modes)
    func chunkedBody_WithExtensionsAndTrailers_IsDecoded(byteByByte: Bool) throws {
        let text = "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
            + "4;name=value\r\n{\"Cl\r\n"
            + "A ; other\r\nusterName\"\r\n"
            + "5\r\n:\"x\"}\r\n"
            + "0\r\nX-Checksum: abc\r\nX-Other: 1\r\n\r\n"
            + "GET /next HTTP/1.1\r\nHost: x\r\n\r\n"
        let all = requests(try parse(text, byteByByte: byteByByte))
        #expect(all.count == 2)
        #expect(String(decoding: all[0].body, as: UTF8.self) == "{\"ClusterName\":\"x\"}")
        #expect(all[1].target == "/next")
    }

    @Test(arguments: modes)
    func gzipBody_IsInflated(byteByByte: Bool) throws {
        let json = Array("{\"ClusterName\":\"gzip-cluster\"}".utf8)
        let compressed = Gzip.compress(json)
        let head = "POST / HTTP/1.1\r\nHost: x\r\nContent-Encoding: gzip\r\nContent-Length: \(compressed.count)\r\n\r\n"
        let request = try #require(requests(try parse(Array(head.utf8) + compressed, byteByByte: byteByByte)).first)
        #expect(request.bodyIsEncoded && request.body == compressed)  // the parser leaves inflating to the caller
        let decoded = try request.decodingContent(limit: 1 << 20)
        #expect(decoded.body == json && !decoded.bodyIsEncoded)
    }

    @Test(arguments: modes)
    func gzipChunkedBody_IsInflated(byteByByte: Bool) throws {
        let json = Array(String(repeating: "{\"a\":\"b\"}", count: 50).utf8)
        let compressed = Gzip.compress(json)
        let hex = String(compressed.count, radix: 16)
        let input = Array("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Encoding: gzip\r\n\r\n\(hex)\r\n".utf8)
            + compressed + Array("\r\n0\r\n\r\n".utf8)
        let request = try #require(requests(try parse(input, byteByByte: byteByByte)).first)
        #expect(try request.decodingContent(limit: 1 << 20).body == json)
    }

    @Test func expectContinue_IsReportedBeforeTheBodyArrives() throws {
        var parser = HTTPRequestParser(limits: HTTPLimits())
        parser.append(Array("POST / HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\n".utf8))
        guard case .sendContinue = try parser.next() else { Issue.record("expected sendContinue"); return }
        guard case .needMoreData = try parser.next() else { Issue.record("expected needMoreData"); return }
        parser.append(Array("{}".utf8))
        guard case .request(let request) = try parser.next() else { Issue.record("expected request"); return }
        #expect(request.body == Array("{}".utf8))
    }

    @Test(arguments: modes)
    func expectContinue_WithTheBodyAlreadySent_SkipsTheInterimResponse(byteByByte: Bool) throws {
        let events = try parse("POST / HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\n{}", byteByByte: byteByByte)
        let continues = events.filter { if case .sendContinue = $0 { true } else { false } }.count
        // Byte by byte the head completes before any body byte is there, so the client is waiting: send it.
        #expect(continues == (byteByByte ? 1 : 0))
        #expect(requests(events).count == 1)
    }

    @Test(arguments: modes)
    func http10_ClosesUnlessKeepAliveIsAsked(byteByByte: Bool) throws {
        let all = requests(try parse("GET / HTTP/1.0\r\n\r\nGET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", byteByByte: byteByByte))
        #expect(all.map(\.version) == [.http1_0, .http1_0])
        #expect(all.map(\.keepAlive) == [false, true])
    }

    @Test(arguments: modes)
    func emptyLinesBeforeTheRequestLine_AreIgnored(byteByByte: Bool) throws {
        let all = requests(try parse("\r\n\r\nGET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", byteByByte: byteByByte))
        #expect(all.count == 1)
        #expect(all.first?.keepAlive == false)
    }

    @Test(arguments: modes)
    func headerValues_AreTrimmed_AndMayHoldObsText(byteByByte: Bool) throws {
        let input = Array("GET / HTTP/1.1\r\nHost: x\r\nX-Name: \t caf".utf8) + [0xC3, 0xA9] + Array(" \t\r\n\r\n".utf8)
        let request = try #require(requests(try parse(input, byteByByte: byteByByte)).first)
        #expect(request.headers["x-name"] == "café")
    }

    // MARK: Malformed input and its status

    static let malformed: [(name: String, input: String, status: Int)] = [
        ("Content-Length and Transfer-Encoding", "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400),
        ("duplicate Content-Length", "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\n{}", 400),
        ("Content-Length list", "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 2, 2\r\n\r\n{}", 400),
        ("negative Content-Length", "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n", 400),
        ("non-numeric Content-Length", "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n", 400),
        ("empty Content-Length", "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: \r\n\r\n", 400),
        ("Content-Length with a plus", "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: +2\r\n\r\n{}", 400),
        ("chunk size not hex", "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", 400),
        ("chunk size empty", "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n\r\n", 400),
        ("chunk size 0x prefix", "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n0x2\r\n{}\r\n0\r\n\r\n", 400),
        ("chunk size negative", "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n-2\r\n{}\r\n0\r\n\r\n", 400),
        ("chunk data without CRLF", "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}xx0\r\n\r\n", 400),
        ("bare LF after chunk size", "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n2\n{}\r\n0\r\n\r\n", 400),
        ("bare LF in headers", "GET / HTTP/1.1\r\nHost: x\nX-A: 1\r\n\r\n", 400),
        ("bare LF ending the head", "GET / HTTP/1.1\r\nHost: x\r\n\n", 400),
        ("bare LF after the request line", "GET / HTTP/1.1\nHost: x\r\n\r\n", 400),
        ("obs-fold", "GET / HTTP/1.1\r\nHost: x\r\nX-A: 1\r\n  continued\r\n\r\n", 400),
        ("obs-fold with tab", "GET / HTTP/1.1\r\nHost: x\r\nX-A: 1\r\n\tcontinued\r\n\r\n", 400),
        ("space before colon", "GET / HTTP/1.1\r\nHost : x\r\n\r\n", 400),
        ("header without colon", "GET / HTTP/1.1\r\nHost\r\n\r\n", 400),
        ("control character in value", "GET / HTTP/1.1\r\nHost: x\r\nX-A: a\u{01}b\r\n\r\n", 400),
        ("malformed request line", "GET /\r\n\r\n", 400),
        ("double space in request line", "GET  / HTTP/1.1\r\nHost: x\r\n\r\n", 400),
        ("invalid method", "G(T / HTTP/1.1\r\nHost: x\r\n\r\n", 400),
        ("garbage version", "GET / HTTQ/1.1\r\n\r\n", 400),
        ("HTTP/2.0", "GET / HTTP/2.0\r\n\r\n", 505),
        ("Transfer-Encoding not ending in chunked", "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked, gzip\r\n\r\n", 400),
        ("unknown transfer coding", "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n", 501),
        ("Transfer-Encoding in HTTP/1.0", "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400),
        ("unknown content coding", "POST / HTTP/1.1\r\nHost: x\r\nContent-Encoding: br\r\nContent-Length: 2\r\n\r\n{}", 415),
        ("unknown expectation", "POST / HTTP/1.1\r\nHost: x\r\nExpect: 200-ok\r\nContent-Length: 2\r\n\r\n{}", 417),
    ]

    @Test(arguments: malformed, modes)
    func malformedRequest_IsRefusedWithItsStatus(_ example: (name: String, input: String, status: Int), byteByByte: Bool) {
        #expect(errorStatus(example.input, byteByByte: byteByByte) == example.status, "\(example.name)")
    }

    @Test(arguments: modes)
    func headOverTheLimit_Is431(byteByByte: Bool) {
        let limits = HTTPLimits(maxHeaderBytes: 1024)
        let big = "GET / HTTP/1.1\r\nHost: x\r\nX-Big: \(String(repeating: "a", count: 1100))\r\n\r\n"
        #expect(errorStatus(big, byteByByte: byteByByte, limits: limits) == 431)
        let longLine = "GET /\(String(repeating: "a", count: 2000)) HTTP/1.1\r\nHost: x\r\n\r\n"
        #expect(errorStatus(longLine, byteByByte: byteByByte, limits: limits) == 431)
        // Just under the limit is fine.
        let fits = "GET / HTTP/1.1\r\nHost: x\r\nX-Big: \(String(repeating: "a", count: 900))\r\n\r\n"
        #expect(errorStatus(fits, byteByByte: byteByByte, limits: limits) == nil)
    }

    @Test func headOverTheLimit_Is431_BeforeTheHeadEnds() throws {
        var parser = HTTPRequestParser(limits: HTTPLimits(maxHeaderBytes: 1024))
        parser.append(Array(("GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + String(repeating: "a", count: 2000)).utf8))
        #expect(throws: HTTPParserError.headersTooLarge(limit: 1024)) { try parser.next() }
    }

    @Test func contentLengthOverTheLimit_Is413_BeforeAnyBodyByte() {
        var parser = HTTPRequestParser(limits: HTTPLimits(maxBodyBytes: 100))
        parser.append(Array("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 101\r\n\r\n".utf8))
        #expect(throws: HTTPParserError.tooLarge(limit: 100)) { try parser.next() }
        var huge = HTTPRequestParser(limits: HTTPLimits(maxBodyBytes: 100))
        huge.append(Array("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999999999999999999\r\n\r\n".utf8))
        #expect(throws: HTTPParserError.tooLarge(limit: 100)) { try huge.next() }
    }

    @Test(arguments: modes)
    func chunkedBodyOverTheLimit_Is413(byteByByte: Bool) {
        let limits = HTTPLimits(maxBodyBytes: 10)
        let oneBigChunk = "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nb\r\n"
        #expect(errorStatus(oneBigChunk, byteByByte: byteByByte, limits: limits) == 413)
        let manySmall = "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n6\r\n123456\r\n6\r\n123456\r\n0\r\n\r\n"
        #expect(errorStatus(manySmall, byteByByte: byteByByte, limits: limits) == 413)
    }

    @Test func gzipBomb_Is413_WhenDecoded() throws {
        let inflated = [UInt8](repeating: 0x61, count: 1_000_000)
        let compressed = Gzip.compress(inflated, level: 9)
        let input = Array("POST / HTTP/1.1\r\nHost: x\r\nContent-Encoding: gzip\r\nContent-Length: \(compressed.count)\r\n\r\n".utf8) + compressed
        #expect(compressed.count < 10_000)
        let request = try #require(requests(try parse(input, byteByByte: false, limits: HTTPLimits(maxBodyBytes: 100_000))).first)
        #expect(throws: HTTPParserError.tooLarge(limit: 100_000)) { try request.decodingContent(limit: 100_000) }
    }

    @Test func gzipThatIsNotGzip_Is400_WhenDecoded() throws {
        let input = "POST / HTTP/1.1\r\nHost: x\r\nContent-Encoding: gzip\r\nContent-Length: 4\r\n\r\nabcd"
        let request = try #require(requests(try parse(input, byteByByte: false)).first)
        #expect(throws: HTTPParserError.self) { try request.decodingContent(limit: 1000) }
        #expect((try? request.decodingContent(limit: 1000)) == nil)
    }

    @Test func trailerSectionOverTheLimit_Is431() {
        let input = "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nX-T: \(String(repeating: "b", count: 600))\r\n\r\n"
        #expect(errorStatus(input, byteByByte: false, limits: HTTPLimits(maxHeaderBytes: 512)) == 431)
    }

    // MARK: Regressions found by attacking the server

    @Test(arguments: modes)
    func http11WithoutOrWithTwoHosts_Is400_HTTP10WithoutHostIsFine(byteByByte: Bool) {
        #expect(errorStatus("GET / HTTP/1.1\r\n\r\n", byteByByte: byteByByte) == 400)
        #expect(errorStatus("GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", byteByByte: byteByByte) == 400)
        #expect(errorStatus("GET / HTTP/1.0\r\n\r\n", byteByByte: byteByByte) == nil)
        #expect(errorStatus("GET / HTTP/1.1\r\nHost: a, b\r\n\r\n", byteByByte: byteByByte) == 400)
        #expect(errorStatus("GET / HTTP/1.1\r\nHost: [::1]:4580\r\n\r\n", byteByByte: byteByByte) == nil)
    }

    @Test func headLimit_IsExact() {
        let limits = HTTPLimits(maxHeaderBytes: 256)
        func head(totalBytes: Int) -> String {
            let fixed = "GET / HTTP/1.1\r\nHost: x\r\nX-Pad: \r\n\r\n".utf8.count
            return "GET / HTTP/1.1\r\nHost: x\r\nX-Pad: \(String(repeating: "a", count: totalBytes - fixed))\r\n\r\n"
        }
        #expect(head(totalBytes: 256).utf8.count == 256)
        #expect(errorStatus(head(totalBytes: 256), byteByByte: false, limits: limits) == nil)
        #expect(errorStatus(head(totalBytes: 257), byteByByte: false, limits: limits) == 431)
    }

    @Test func blankLinesBeforeTheRequestLine_CountTowardTheHeadLimit_AndTheTimeout() throws {
        var parser = HTTPRequestParser(limits: HTTPLimits(maxHeaderBytes: 1024))
        parser.append(Array(String(repeating: "\r\n", count: 100).utf8))
        guard case .needMoreData = try parser.next() else { Issue.record("expected needMoreData"); return }
        #expect(parser.progress == .head)  // not idle: the header timeout runs
        parser.append(Array(String(repeating: "\r\n", count: 500).utf8))
        #expect(throws: HTTPParserError.headersTooLarge(limit: 1024)) { try parser.next() }
    }

    @Test func consumedBodyBytes_AreNotKept() throws {
        var parser = HTTPRequestParser(limits: HTTPLimits(maxBodyBytes: 10_000_000))
        parser.append(Array("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5000000\r\n\r\n".utf8))
        _ = try parser.next()
        for _ in 0..<50 {
            parser.append([UInt8](repeating: 0x20, count: 100_000))
            _ = try parser.next()
            #expect(parser.bufferedByteCount < 8192)
        }
    }

    @Test func chunkFramingFarLargerThanTheBody_IsRefused() {
        let chunk = "1;" + String(repeating: "e", count: 4000) + "\r\nx\r\n"
        let input = "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n" + String(repeating: chunk, count: 40)
        #expect(errorStatus(input, byteByByte: false) == 400)
        // Ordinary small chunks are fine, even 1-byte ones.
        let tiny = String(repeating: "1\r\na\r\n", count: 50_000)
        #expect(errorStatus("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n" + tiny + "0\r\n\r\n", byteByByte: false) == nil)
        let small = String(repeating: "2\r\nab\r\n", count: 5000)
        #expect(errorStatus("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n" + small + "0\r\n\r\n", byteByByte: false) == nil)
    }

    @Test func contentLengthOverflow_WithAHugeLimit_Is413NotACrash() {
        let limits = HTTPLimits(maxBodyBytes: Int.max)
        #expect(errorStatus("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999999999999999\r\n\r\n", byteByByte: false, limits: limits) == 413)
        // A large but representable length is not allocated up front.
        var parser = HTTPRequestParser(limits: limits)
        parser.append(Array("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 60000000000\r\n\r\n".utf8))
        #expect(throws: Never.self) { _ = try parser.next() }
    }

    @Test func absoluteFormTarget_HasItsPath() {
        #expect(HTTPRequest(method: "POST", target: "http://localhost:4580/").path == "/")
        #expect(HTTPRequest(method: "GET", target: "http://x/_hyperpod/health?a=1").path == "/_hyperpod/health")
        #expect(HTTPRequest(method: "GET", target: "https://x").path == "/")
        #expect(HTTPRequest(method: "GET", target: "/plain?q").path == "/plain")
    }

    @Test func afterAnError_TheParserStaysFailed() {
        var parser = HTTPRequestParser(limits: HTTPLimits())
        parser.append(Array("GET / HTTP/1.1\nHost: x\r\n\r\n".utf8))
        #expect(throws: HTTPParserError.self) { try parser.next() }
        parser.append(Array("GET / HTTP/1.1\r\nHost: x\r\n\r\n".utf8))
        #expect(throws: HTTPParserError.self) { try parser.next() }
    }

    @Test func progress_TracksIdleHeadAndBody() throws {
        var parser = HTTPRequestParser(limits: HTTPLimits())
        #expect(parser.progress == .idle)
        parser.append(Array("POST / HTTP/1.1\r\nHost: x\r\nContent-".utf8))
        _ = try parser.next()
        #expect(parser.progress == .head)
        parser.append(Array("Length: 4\r\n\r\n{}".utf8))
        _ = try parser.next()
        #expect(parser.progress == .body)
        parser.append(Array("{}".utf8))
        guard case .request = try parser.next() else { Issue.record("expected a request"); return }
        #expect(parser.progress == .idle)
    }
}
