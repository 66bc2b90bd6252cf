#if canImport(Glibc)
import Glibc
#endif
import HTTP1

/// The credential scope of an AWS Signature Version 4 request:
/// `Credential=<access key id>/<yyyymmdd>/<region>/<service>/aws4_request`.
///
/// Read from the `Authorization` header (`AWS4-HMAC-SHA256 Credential=…, SignedHeaders=…, Signature=…`) or from the
/// `X-Amz-Credential` query parameter (presigned form). Source: https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_sigv-auth-methods.html
///
/// The fields are slices of the header's own text: reading a scope allocates nothing.
public struct SigV4CredentialScope: Sendable, Equatable {
    public let accessKeyID: Substring
    /// `yyyymmdd`, as signed.
    public let date: Substring
    public let region: Substring
    public let service: Substring

    public init(accessKeyID: Substring, date: Substring, region: Substring, service: Substring) {
        self.accessKeyID = accessKeyID
        self.date = date
        self.region = region
        self.service = service
    }

    /// Parses `<akid>/<date>/<region>/<service>/aws4_request`; nil when it does not have that form. Walks the UTF-8
    /// bytes once, without splitting into arrays or copying the fields.
    public init?(credential: Substring) {
        var credential = credential
        guard let fields = credential.withUTF8({ Self.scopeFields($0) }) else { return nil }
        self.init(accessKeyID: credential.utf8Slice(fields.0), date: credential.utf8Slice(fields.1),
                  region: credential.utf8Slice(fields.2), service: credential.utf8Slice(fields.3))
    }

    /// The byte ranges of the four fields of `<akid>/<date>/<region>/<service>/aws4_request` in `bytes`; nil when they
    /// do not have that form (a fifth slash or fewer than four, an empty field, a date that is not 8 digits).
    static func scopeFields(_ bytes: UnsafeBufferPointer<UInt8>) -> (Range<Int>, Range<Int>, Range<Int>, Range<Int>)? {
        var ranges: (Range<Int>, Range<Int>, Range<Int>, Range<Int>) = (0..<0, 0..<0, 0..<0, 0..<0)
        var start = 0, slashes = 0
        for index in 0..<bytes.count where bytes[index] == UInt8(ascii: "/") {
            switch slashes {
            case 0: ranges.0 = start..<index
            case 1: ranges.1 = start..<index
            case 2: ranges.2 = start..<index
            case 3: ranges.3 = start..<index
            default: return nil
            }
            slashes += 1
            start = index + 1
        }
        guard slashes == 4, bytes.count - start == 12, bytes.hasPrefix("aws4_request", at: start),
              !ranges.0.isEmpty, ranges.1.count == 8, bytes[ranges.1].allSatisfy({ $0 >= 48 && $0 <= 57 }),
              !ranges.2.isEmpty, !ranges.3.isEmpty
        else { return nil }
        return ranges
    }

    /// The scope of an `Authorization` header value; nil for another scheme or a malformed header. Finds the
    /// `Credential=` parameter by scanning the bytes, without splitting the header.
    public init?(authorization: String) {
        var header = authorization
        let found: (Range<Int>, Range<Int>, Range<Int>, Range<Int>)? = header.withUTF8 { bytes in
            let scheme: StaticString = "AWS4-HMAC-SHA256 ", key: StaticString = "Credential="
            guard bytes.hasPrefix(scheme, at: 0) else { return nil }
            var index = scheme.utf8CodeUnitCount
            while index < bytes.count {
                while index < bytes.count && bytes[index] == UInt8(ascii: " ") { index += 1 }
                var end = index
                while end < bytes.count && bytes[end] != UInt8(ascii: ",") { end += 1 }
                if end - index >= key.utf8CodeUnitCount && bytes.hasPrefix(key, at: index) {
                    let offset = index + key.utf8CodeUnitCount
                    guard let fields = Self.scopeFields(UnsafeBufferPointer(rebasing: bytes[offset..<end])) else { return nil }
                    func shifted(_ r: Range<Int>) -> Range<Int> { (r.lowerBound + offset)..<(r.upperBound + offset) }
                    return (shifted(fields.0), shifted(fields.1), shifted(fields.2), shifted(fields.3))
                }
                index = end + 1
            }
            return nil
        }
        guard let found else { return nil }
        let whole = header[...]
        self.init(accessKeyID: whole.utf8Slice(found.0), date: whole.utf8Slice(found.1), region: whole.utf8Slice(found.2),
                  service: whole.utf8Slice(found.3))
    }

    /// The scope of a request: its `Authorization` header, else its `X-Amz-Credential` query parameter.
    public init?(request: HTTPRequest) {
        if let header = request.headers["Authorization"] {
            self.init(authorization: header)
            return
        }
        for pair in request.query.split(separator: "&") where pair.hasPrefix("X-Amz-Credential=") {
            guard let decoded = Self.percentDecode(pair.dropFirst("X-Amz-Credential=".count)) else { return nil }
            self.init(credential: decoded[...])
            return
        }
        return nil
    }

    static func percentDecode(_ text: Substring) -> String? {
        var bytes: [UInt8] = []
        var iterator = text.utf8.makeIterator()
        while let byte = iterator.next() {
            if byte == UInt8(ascii: "%") {
                guard let high = iterator.next(), let low = iterator.next(),
                      let value = UInt8(String(decoding: [high, low], as: UTF8.self), radix: 16) else { return nil }
                bytes.append(value)
            } else {
                bytes.append(byte == UInt8(ascii: "+") ? UInt8(ascii: " ") : byte)
            }
        }
        return String(validating: bytes, as: UTF8.self)
    }
}

extension Substring {
    /// The part of this substring at UTF-8 offsets `range` (relative to its start); the offsets fall on ASCII bytes,
    /// so they are character boundaries.
    @inline(__always)
    func utf8Slice(_ range: Range<Int>) -> Substring {
        let lower = utf8.index(startIndex, offsetBy: range.lowerBound)
        return self[lower..<utf8.index(lower, offsetBy: range.count)]
    }
}

extension UnsafeBufferPointer<UInt8> {
    /// Whether the bytes at `offset` start with `prefix` (a byte comparison: `memcmp`, no iteration of a UTF-8 view).
    @inline(__always)
    func hasPrefix(_ prefix: StaticString, at offset: Int) -> Bool {
        let length = prefix.utf8CodeUnitCount
        guard offset >= 0, count - offset >= length, let base = baseAddress else { return length == 0 }
        return memcmp(base + offset, prefix.utf8Start, length) == 0
    }
}
