import HTTP1

/// The credential scope of an AWS Signature Version 4 request:
/// `Credential=<access key id>/<yyyymmdd>/<region>/<service>/aws4_request`.
///
/// Read from the `Authorization` header (`AWS4-HMAC-SHA256 Credential=…, SignedHeaders=…, Signature=…`) or from the
/// `X-Amz-Credential` query parameter (presigned form). Source: https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_sigv-auth-methods.html
public struct SigV4CredentialScope: Sendable, Equatable {
    public let accessKeyID: String
    /// `yyyymmdd`, as signed.
    public let date: String
    public let region: String
    public let service: String

    public init(accessKeyID: String, date: String, region: String, service: String) {
        self.accessKeyID = accessKeyID
        self.date = date
        self.region = region
        self.service = service
    }

    /// Parses `<akid>/<date>/<region>/<service>/aws4_request`; nil when it does not have that form.
    public init?(credential: Substring) {
        let parts = credential.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 5, parts[4] == "aws4_request", !parts[0].isEmpty, parts[1].count == 8,
              parts[1].allSatisfy(\.isNumber), !parts[2].isEmpty, !parts[3].isEmpty
        else { return nil }
        self.init(accessKeyID: String(parts[0]), date: String(parts[1]), region: String(parts[2]), service: String(parts[3]))
    }

    /// The scope of an `Authorization` header value; nil for another scheme or a malformed header.
    public init?(authorization: String) {
        let scheme = "AWS4-HMAC-SHA256"
        guard authorization.hasPrefix(scheme) else { return nil }
        let parameters = authorization.dropFirst(scheme.count)
        guard parameters.first == " " else { return nil }
        for parameter in parameters.split(separator: ",") {
            let trimmed = parameter.drop { $0 == " " }
            if trimmed.hasPrefix("Credential=") {
                self.init(credential: trimmed.dropFirst("Credential=".count))
                return
            }
        }
        return nil
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
