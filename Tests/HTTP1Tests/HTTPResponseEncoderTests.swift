import Foundation
import Testing
@testable import HTTP1

struct HTTPResponseEncoderTests {
    private func text(_ bytes: [UInt8]) -> String { String(decoding: bytes, as: UTF8.self) }

    private func head(_ bytes: [UInt8]) -> [String] {
        let all = text(bytes)
        let end = all.range(of: "\r\n\r\n")!.lowerBound
        return all[..<end].components(separatedBy: "\r\n")
    }

    @Test(arguments: [0, 1, 9, 10, 99, 100, 1000, 65_535, 1_000_001])
    func contentLength_IsTheBodysByteCountInDecimal(_ count: Int) {
        let bytes = HTTPResponseEncoder.encode(HTTPResponse(status: .ok, headers: [:], body: Array(repeating: 0x61, count: count)),
                                               version: .http1_1, keepAlive: true, acceptsGzip: false)
        let head = String(decoding: bytes.prefix(200), as: UTF8.self)
        #expect(head.contains("\r\nContent-Length: \(count)\r\n"))
        #expect(bytes.count > count && bytes.suffix(count).allSatisfy { $0 == 0x61 })
    }

    @Test func encode_AddsDateContentLengthAndKeepsHeaders() {
        let bytes = HTTPResponseEncoder.encode(
            HTTPResponse(status: .ok, headers: ["X-A": "1"], body: Array("{}".utf8)),
            version: .http1_1, keepAlive: true, acceptsGzip: false
        )
        let lines = head(bytes)
        #expect(lines[0] == "HTTP/1.1 200 OK")
        #expect(lines.contains("X-A: 1"))
        #expect(lines.contains("Content-Length: 2"))
        #expect(!lines.contains { $0.hasPrefix("Connection:") })
        let date = lines.first { $0.hasPrefix("Date: ") }!
        // IMF-fixdate: "Date: Mon, 30 Nov 2026 21:06:27 GMT"
        #expect(date.count == "Date: Sun, 06 Nov 1994 08:49:37 GMT".count)
        #expect(date.hasSuffix(" GMT"))
        #expect(text(bytes).hasSuffix("\r\n\r\n{}"))
    }

    @Test func encode_ClosingConnection_SaysSo_AndHTTP10KeepAliveSaysKeepAlive() {
        let closing = head(HTTPResponseEncoder.encode(HTTPResponse(status: .badRequest), version: .http1_1, keepAlive: false, acceptsGzip: false))
        #expect(closing.contains("Connection: close"))
        let http10 = head(HTTPResponseEncoder.encode(HTTPResponse(status: .ok), version: .http1_0, keepAlive: true, acceptsGzip: false))
        #expect(http10[0] == "HTTP/1.0 200 OK")
        #expect(http10.contains("Connection: keep-alive"))
    }

    @Test func encode_GzipsBodiesOverOneKiB_OnlyWhenAccepted() throws {
        let body = Array(String(repeating: "x", count: 1025).utf8)
        let gz = HTTPResponseEncoder.encode(HTTPResponse(status: .ok, body: body), version: .http1_1, keepAlive: true, acceptsGzip: true)
        #expect(head(gz).contains("Content-Encoding: gzip"))
        let separator: [UInt8] = [13, 10, 13, 10]
        let headEnd = try #require((0..<(gz.count - 3)).first { Array(gz[$0..<($0 + 4)]) == separator })
        let payload = Array(gz[(headEnd + 4)...])
        #expect(head(gz).contains("Content-Length: \(payload.count)"))
        #expect(try Gzip.inflate(payload, limit: 10_000) == body)

        let plain = HTTPResponseEncoder.encode(HTTPResponse(status: .ok, body: body), version: .http1_1, keepAlive: true, acceptsGzip: false)
        #expect(!head(plain).contains("Content-Encoding: gzip"))
        let small = HTTPResponseEncoder.encode(
            HTTPResponse(status: .ok, body: Array(body.prefix(1024))), version: .http1_1, keepAlive: true, acceptsGzip: true
        )
        #expect(!head(small).contains("Content-Encoding: gzip"))
    }

    @Test func encode_HeaderValuesCannotInjectLines() {
        let bytes = HTTPResponseEncoder.encode(
            HTTPResponse(status: .ok, headers: ["X-A": "a\r\nSet-Cookie: x"]), version: .http1_1, keepAlive: true, acceptsGzip: false
        )
        #expect(!head(bytes).contains("Set-Cookie: x"))
    }

    @Test func acceptsGzip_HonoursQValues() {
        func accepts(_ value: String) -> Bool { HTTPRequest(method: "GET", target: "/", headers: ["Accept-Encoding": value]).acceptsGzip }
        #expect(accepts("gzip"))
        #expect(accepts("br, gzip;q=0.5"))
        #expect(accepts("*"))
        #expect(!accepts("gzip;q=0"))
        #expect(!accepts("identity"))
    }
}
