import Crypto
import HTTP1

/// AWS Signature Version 4 as a server recomputes it (`SigV4Verifier`, issue #18's `verify` mode, builds on it): the canonical request
/// over the signed headers and the SHA-256 of the body, the string to sign, the derived signing key and the HMAC.
/// Pure: no clock, no credential store; the caller supplies the secret and judges the date.
///
/// Source: https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_sigv-create-signed-request.html
public enum SigV4Signature {
    /// Lowercase hex of bytes.
    static func hex<D: Sequence>(_ bytes: D) -> String where D.Element == UInt8 {
        let digits = Array("0123456789abcdef".utf8)
        var out: [UInt8] = []
        for byte in bytes {
            out.append(digits[Int(byte >> 4)])
            out.append(digits[Int(byte & 0x0F)])
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// SHA-256 of a payload as lowercase hex.
    public static func payloadHash(_ body: [UInt8]) -> String { hex(SHA256.hash(data: body)) }

    /// RFC 3986 encoding as SigV4 wants it: unreserved characters kept, everything else `%XX` (uppercase).
    static func encode(_ text: Substring, keepSlash: Bool) -> String {
        var out = ""
        for byte in text.utf8 {
            let c = Character(Unicode.Scalar(byte))
            if (byte >= 0x41 && byte <= 0x5A) || (byte >= 0x61 && byte <= 0x7A) || (byte >= 0x30 && byte <= 0x39)
                || c == "-" || c == "_" || c == "." || c == "~" || (keepSlash && c == "/") {
                out.append(c)
            } else {
                out += "%" + String(byte, radix: 16, uppercase: true).leftPadded(to: 2)
            }
        }
        return out
    }

    /// Decodes `%XX` escapes (and nothing else: `+` stays `+`, as SigV4 treats it).
    static func decode(_ text: Substring) -> Substring {
        guard text.contains("%") else { return text }
        var bytes: [UInt8] = []
        var utf8 = Array(text.utf8)[...]
        while let byte = utf8.popFirst() {
            if byte == UInt8(ascii: "%"), utf8.count >= 2, let value = UInt8(String(decoding: utf8.prefix(2), as: UTF8.self), radix: 16) {
                bytes.append(value)
                utf8 = utf8.dropFirst(2)
            } else {
                bytes.append(byte)
            }
        }
        return Substring(String(decoding: bytes, as: UTF8.self))
    }

    /// The canonical request: method, canonical URI (each segment encoded once), canonical query (parameters sorted by
    /// encoded name then value), the signed headers as `name:value` (values trimmed, inner runs of spaces collapsed,
    /// repeated headers joined with `,`), the signed-header list and the payload hash.
    public static func canonicalRequest(method: String, target: String, headers: HTTPHeaders, signedHeaders: [String], payloadHash: String) -> String {
        let path = target.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false)
        let uri = path[0].isEmpty ? "/" : encode(decode(path[0]), keepSlash: true)
        var query: [(String, String)] = []
        if path.count == 2 {
            for pair in path[1].split(separator: "&") where !pair.isEmpty {
                let kv = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
                query.append((encode(decode(kv[0]), keepSlash: false), kv.count == 2 ? encode(decode(kv[1]), keepSlash: false) : ""))
            }
        }
        query.sort { $0.0 == $1.0 ? $0.1 < $1.1 : $0.0 < $1.0 }
        var lines = [method, uri, query.map { "\($0.0)=\($0.1)" }.joined(separator: "&")]
        for name in signedHeaders {
            let values = headers.values(name).map { value in
                value.split(separator: " ", omittingEmptySubsequences: true).joined(separator: " ")
            }
            lines.append("\(name):\(values.joined(separator: ","))")
        }
        lines.append("")
        lines.append(signedHeaders.joined(separator: ";"))
        lines.append(payloadHash)
        return lines.joined(separator: "\n")
    }

    /// The string to sign for a canonical request at `amzDate` (`yyyymmddThhmmssZ`) in a credential scope.
    public static func stringToSign(canonicalRequest: String, amzDate: String, scope: SigV4CredentialScope) -> String {
        let hashed = hex(SHA256.hash(data: Array(canonicalRequest.utf8)))
        return "AWS4-HMAC-SHA256\n\(amzDate)\n\(scope.date)/\(scope.region)/\(scope.service)/aws4_request\n\(hashed)"
    }

    /// The signing key: HMAC-SHA256 chained over the scope's date, region, service and `aws4_request` from
    /// `AWS4<secret>`.
    public static func signingKey(secretAccessKey: String, scope: SigV4CredentialScope) -> SymmetricKey {
        func hmac(_ key: SymmetricKey, _ text: Substring) -> SymmetricKey {
            SymmetricKey(data: Array(HMAC<SHA256>.authenticationCode(for: Array(text.utf8), using: key)))
        }
        var key = SymmetricKey(data: Array(("AWS4" + secretAccessKey).utf8))
        for part in [scope.date, scope.region, scope.service, "aws4_request"] { key = hmac(key, part) }
        return key
    }

    /// The signature of a string to sign with a signing key: HMAC-SHA256, lowercase hex.
    public static func signature(stringToSign: String, signingKey: SymmetricKey) -> String {
        hex(HMAC<SHA256>.authenticationCode(for: Array(stringToSign.utf8), using: signingKey))
    }

    /// The signature of a string to sign with the signing key a secret gives for a scope; lowercase hex.
    public static func signature(stringToSign: String, secretAccessKey: String, scope: SigV4CredentialScope) -> String {
        signature(stringToSign: stringToSign, signingKey: signingKey(secretAccessKey: secretAccessKey, scope: scope))
    }

    /// Whether two signatures are equal, in time that depends only on their lengths (no early exit on the first
    /// differing byte).
    public static func constantTimeEqual(_ a: String, _ b: String) -> Bool {
        let x = Array(a.utf8), y = Array(b.utf8)
        guard x.count == y.count else { return false }
        var difference: UInt8 = 0
        for i in 0..<x.count { difference |= x[i] ^ y[i] }
        return difference == 0
    }
}

extension String {
    fileprivate func leftPadded(to width: Int) -> String { count >= width ? self : String(repeating: "0", count: width - count) + self }
}
