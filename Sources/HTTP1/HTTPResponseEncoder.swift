#if canImport(Glibc)
import Glibc
#endif
import Synchronization

/// Turns an `HTTPResponse` into bytes on the wire (RFC 9112 §4, §6).
///
/// Adds `Date` (RFC 9110 §6.6.1, IMF-fixdate from the host's real clock: SDKs correct their clock skew from it),
/// `Content-Length`, `Connection: close` when the connection will close (`keep-alive` for HTTP/1.0 clients that asked),
/// and gzips the body when the client accepts gzip and the body is over `gzipThreshold` bytes.
public enum HTTPResponseEncoder {
    /// Bodies larger than this many bytes are gzipped for clients that send `Accept-Encoding: gzip`.
    public static let gzipThreshold = 1024

    /// The interim response sent for `Expect: 100-continue`.
    public static let continueResponse: [UInt8] = Array("HTTP/1.1 100 Continue\r\n\r\n".utf8)

    /// Encodes `response` for a request of `version`.
    /// - Parameters:
    ///   - keepAlive: whether the connection stays open afterwards; `false` adds `Connection: close`.
    ///   - acceptsGzip: the request's `Accept-Encoding` admits gzip.
    ///   - omitBody: a response to `HEAD`: headers describe the body, which is not sent.
    public static func encode(
        _ response: HTTPResponse, version: HTTPVersion, keepAlive: Bool, acceptsGzip: Bool, omitBody: Bool = false
    ) -> [UInt8] {
        var headers = response.headers
        var body = response.body
        if acceptsGzip, body.count > gzipThreshold, !headers.contains("Content-Encoding") {
            body = Gzip.compress(body)
            headers.add("Content-Encoding", "gzip")
            headers.add("Vary", "Accept-Encoding")
        }
        var out: [UInt8] = []
        out.reserveCapacity(160 + headers.count * 40 + body.count)
        out.append(contentsOf: version == .http1_1 ? http11 : http10)
        out.append(UInt8(ascii: " "))
        appendDecimal(response.status.code, to: &out)
        out.append(UInt8(ascii: " "))
        var reason = response.status.reasonPhrase
        reason.withUTF8 { out.append(contentsOf: $0) }
        out.append(contentsOf: crlf)
        for field in headers.fields {
            appendField(field.name, field.value, to: &out)
        }
        appendDateField(to: &out)
        let status = response.status.code
        if status >= 200 && status != 204 && status != 304 {
            out.append(contentsOf: "Content-Length: ".utf8)
            appendDecimal(body.count, to: &out)
            out.append(contentsOf: crlf)
        }
        if !keepAlive {
            out.append(contentsOf: "Connection: close\r\n".utf8)
        } else if version == .http1_0 {
            out.append(contentsOf: "Connection: keep-alive\r\n".utf8)
        }
        out.append(contentsOf: crlf)
        if !omitBody { out.append(contentsOf: body) }
        return out
    }

    private static let crlf: [UInt8] = [13, 10]
    private static let http11 = Array("HTTP/1.1".utf8), http10 = Array("HTTP/1.0".utf8)

    /// `Date: <IMF-fixdate>\r\n` for the current second; the line is formatted once per second, not per response.
    static func appendDateField(to out: inout [UInt8]) {
        let now = time(nil)
        let line: [UInt8] = dateLine.withLock { cached in
            if cached.second != now {
                var text = Array("Date: ".utf8)
                appendIMFFixdate(now, to: &text)
                text += crlf
                cached = (now, text)
            }
            return cached.text
        }
        out.append(contentsOf: line)
    }

    private static let dateLine = Mutex<(second: time_t, text: [UInt8])>((-1, []))

    private static func appendField(_ name: String, _ value: String, to out: inout [UInt8]) {
        var name = name, value = value
        name.withUTF8 { out.append(contentsOf: $0) }
        out.append(UInt8(ascii: ":"))
        out.append(UInt8(ascii: " "))
        value.withUTF8 { bytes in
            // Never let a header value inject a line: CR and LF become spaces.
            if bytes.contains(where: { $0 == 13 || $0 == 10 }) {
                for byte in bytes { out.append(byte == 13 || byte == 10 ? 32 : byte) }
            } else {
                out.append(contentsOf: bytes)
            }
        }
        out.append(13)
        out.append(10)
    }

    static func appendDecimal(_ value: Int, to out: inout [UInt8]) {
        if value == 0 { out.append(UInt8(ascii: "0")); return }
        var divisor = 1
        while divisor <= value / 10 { divisor *= 10 }  // the place of the leading digit; no buffer of digits
        var v = value
        while divisor > 0 {
            out.append(UInt8(ascii: "0") + UInt8(v / divisor))
            v %= divisor
            divisor /= 10
        }
    }

    private static let dayNames = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"]
    private static let monthNames = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]

    /// `Sun, 06 Nov 1994 08:49:37 GMT` (RFC 9110 §5.6.7).
    static func appendIMFFixdate(_ seconds: time_t, to out: inout [UInt8]) {
        var t = seconds
        var tm = Glibc.tm()
        gmtime_r(&t, &tm)
        func two(_ v: Int32) { out.append(UInt8(ascii: "0") + UInt8(v / 10)); out.append(UInt8(ascii: "0") + UInt8(v % 10)) }
        out.append(contentsOf: dayNames[Int(tm.tm_wday)].utf8)
        out.append(contentsOf: ", ".utf8)
        two(tm.tm_mday)
        out.append(UInt8(ascii: " "))
        out.append(contentsOf: monthNames[Int(tm.tm_mon)].utf8)
        out.append(UInt8(ascii: " "))
        appendDecimal(Int(tm.tm_year) + 1900, to: &out)
        out.append(UInt8(ascii: " "))
        two(tm.tm_hour)
        out.append(UInt8(ascii: ":"))
        two(tm.tm_min)
        out.append(UInt8(ascii: ":"))
        two(tm.tm_sec)
        out.append(contentsOf: " GMT".utf8)
    }
}
