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
        let utf8 = credential.utf8
        // The four fields before `aws4_request`, as index ranges; a fifth slash, or fewer than four, is no scope.
        var ranges: (Range<Substring.Index>?, Range<Substring.Index>?, Range<Substring.Index>?, Range<Substring.Index>?)
        var start = utf8.startIndex, slashes = 0
        var index = start
        while index != utf8.endIndex {
            if utf8[index] == UInt8(ascii: "/") {
                switch slashes {
                case 0: ranges.0 = start..<index
                case 1: ranges.1 = start..<index
                case 2: ranges.2 = start..<index
                case 3: ranges.3 = start..<index
                default: return nil
                }
                slashes += 1
                start = utf8.index(after: index)
            }
            index = utf8.index(after: index)
        }
        guard slashes == 4, let key = ranges.0, let date = ranges.1, let region = ranges.2, let service = ranges.3,
              utf8[start...].elementsEqual("aws4_request".utf8), !key.isEmpty, utf8[date].count == 8,
              utf8[date].allSatisfy({ $0 >= 48 && $0 <= 57 }), !region.isEmpty, !service.isEmpty
        else { return nil }
        self.init(accessKeyID: credential[key], date: credential[date], region: credential[region], service: credential[service])
    }

    /// The scope of an `Authorization` header value; nil for another scheme or a malformed header. Finds the
    /// `Credential=` parameter by scanning, without splitting the header.
    public init?(authorization: String) {
        let scheme = "AWS4-HMAC-SHA256 "
        guard authorization.utf8.starts(with: scheme.utf8) else { return nil }
        var parameters = Substring(authorization).utf8.dropFirst(scheme.utf8.count)
        while true {
            while parameters.first == UInt8(ascii: " ") { parameters = parameters.dropFirst() }
            let end = parameters.firstIndex(of: UInt8(ascii: ",")) ?? parameters.endIndex
            let parameter = parameters[parameters.startIndex..<end]
            if parameter.starts(with: "Credential=".utf8) {
                self.init(credential: Substring(parameter.dropFirst("Credential=".utf8.count)))
                return
            }
            guard end != parameters.endIndex else { return nil }
            parameters = parameters[parameters.index(after: end)...]
        }
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
