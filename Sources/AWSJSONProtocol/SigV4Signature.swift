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
        var out: [UInt8] = []
        out.reserveCapacity(64)
        appendHex(bytes, to: &out)
        return String(decoding: out, as: UTF8.self)
    }

    static func appendHex<D: Sequence>(_ bytes: D, to out: inout [UInt8]) where D.Element == UInt8 {
        let digits: StaticString = "0123456789abcdef"
        digits.withUTF8Buffer { digit in
            for byte in bytes {
                out.append(digit[Int(byte >> 4)])
                out.append(digit[Int(byte & 0x0F)])
            }
        }
    }

    /// Lowercase hex of a digest or MAC, read through its bytes (not its generic iterator: this runs three times per
    /// verified request).
    static func appendHex(digest: SHA256Digest, to out: inout [UInt8]) {
        digest.withUnsafeBytes { appendHex(raw: $0, to: &out) }
    }

    static func appendHex(digest: HashedAuthenticationCode<SHA256>, to out: inout [UInt8]) {
        digest.withUnsafeBytes { appendHex(raw: $0, to: &out) }
    }

    /// Writes the hex digits into a stack buffer, then appends them in one copy.
    private static func appendHex(raw: UnsafeRawBufferPointer, to out: inout [UInt8]) {
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: raw.count * 2) { buffer in
            let digit = ("0123456789abcdef" as StaticString).utf8Start
            var i = 0
            for byte in raw {
                buffer[i] = digit[Int(byte >> 4)]
                buffer[i + 1] = digit[Int(byte & 0x0F)]
                i += 2
            }
            out.append(contentsOf: UnsafeBufferPointer(rebasing: buffer[0..<i]))
        }
    }

    /// SHA-256 of a payload as lowercase hex.
    public static func payloadHash(_ body: [UInt8]) -> String {
        var out: [UInt8] = []
        appendSHA256Hex(of: body, to: &out)
        return String(decoding: out, as: UTF8.self)
    }

    /// Appends the lowercase hex SHA-256 of `bytes` (fed through its buffer, not swift-crypto's generic `DataProtocol`
    /// path: this runs twice per verified request).
    static func appendSHA256Hex(of bytes: [UInt8], to out: inout [UInt8]) {
        var hasher = SHA256()
        bytes.withUnsafeBytes { hasher.update(bufferPointer: $0) }
        appendHex(digest: hasher.finalize(), to: &out)
    }

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
        String(decoding: canonicalRequestBytes(method: method, target: target, headers: headers,
                                               signedHeaders: signedHeaders.map { Array($0.utf8) }, payloadHash: Array(payloadHash.utf8)),
               as: UTF8.self)
    }

    /// `canonicalRequest` as UTF-8 bytes, built in one buffer (it is hashed once per verified request). A request with
    /// many header fields has them indexed by name first, so the work grows with the fields plus the signed names, not
    /// their product.
    /// - Parameter signedHeaders: the lower-case names, as bytes (slices of the `Authorization` header).
    static func canonicalRequestBytes<Names: Collection>(method: String, target: String, headers: HTTPHeaders, signedHeaders: Names,
                                                         payloadHash: [UInt8]) -> [UInt8]
    where Names.Element: Collection, Names.Element.Element == UInt8 {
        var byName: [[UInt8]: [String]]?
        if headers.count > 32 {
            var index: [[UInt8]: [String]] = [:]
            for field in headers { index[Array(field.name.lowercased().utf8), default: []].append(field.value) }
            byName = index
        }
        let newline = UInt8(ascii: "\n")
        var out: [UInt8] = []
        out.reserveCapacity(512 + target.utf8.count)
        out += method.utf8
        out.append(newline)
        let question = target.utf8.firstIndex(of: UInt8(ascii: "?"))
        let path = target[..<(question ?? target.endIndex)]
        if path.isEmpty || path == "/" {
            out.append(UInt8(ascii: "/"))
        } else {
            out += encode(decode(path), keepSlash: true).utf8
        }
        out.append(newline)
        if let question {
            var query: [(String, String)] = []
            let rest = target[target.utf8.index(after: question)...]
            for pair in rest.split(separator: "&") where !pair.isEmpty {
                let kv = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
                query.append((encode(decode(kv[0]), keepSlash: false), kv.count == 2 ? encode(decode(kv[1]), keepSlash: false) : ""))
            }
            query.sort { $0.0 == $1.0 ? $0.1 < $1.1 : $0.0 < $1.0 }
            for (index, (name, value)) in query.enumerated() {
                if index > 0 { out.append(UInt8(ascii: "&")) }
                out += name.utf8
                out.append(UInt8(ascii: "="))
                out += value.utf8
            }
        }
        out.append(newline)
        for name in signedHeaders {
            out += name
            out.append(UInt8(ascii: ":"))
            // The values of the fields called `name` (lower case), comma-separated.
            if let byName {
                for (index, value) in (byName[Array(name)] ?? []).enumerated() {
                    if index > 0 { out.append(UInt8(ascii: ",")) }
                    appendCollapsingSpaces(value, to: &out)
                }
            } else {
                // Fields by index: no copy of each field (and no retain of its strings) for the many that are not `name`.
                let fields = headers.fields
                var first = true
                for index in fields.indices where fields[index].name.utf8.count == name.count && equalsLowercased(fields[index].name, name) {
                    if !first { out.append(UInt8(ascii: ",")) }
                    first = false
                    appendCollapsingSpaces(fields[index].value, to: &out)
                }
            }
            out.append(newline)
        }
        out.append(newline)
        for (index, name) in signedHeaders.enumerated() {
            if index > 0 { out.append(UInt8(ascii: ";")) }
            out += name
        }
        out.append(newline)
        out += payloadHash
        return out
    }

    /// Whether a header field name is `lowercased` ignoring ASCII case (field names are ASCII tokens).
    static func equalsLowercased<Name: Collection>(_ name: String, _ lowercased: Name) -> Bool where Name.Element == UInt8 {
        guard name.utf8.count == lowercased.count else { return false }
        var name = name
        return name.withUTF8 { bytes in
            var j = lowercased.startIndex
            for x in bytes {
                let y = lowercased[j]
                if x != y && !(x >= 0x41 && x <= 0x5A && x + 32 == y) { return false }
                j = lowercased.index(after: j)
            }
            return true
        }
    }

    /// A header value trimmed of spaces, its inner runs of spaces collapsed to one. A value with nothing to trim or
    /// collapse (nearly all) is copied in one piece.
    static func appendCollapsingSpaces(_ value: String, to out: inout [UInt8]) {
        var value = value
        value.withUTF8 { bytes in
            let space = UInt8(ascii: " ")
            var clean = bytes.first != space && bytes.last != space
            if clean {
                for i in bytes.indices.dropFirst() where bytes[i] == space && bytes[i - 1] == space {
                    clean = false
                    break
                }
            }
            if clean {
                out.append(contentsOf: bytes)
                return
            }
            var pendingSpace = false, started = false
            for byte in bytes {
                if byte == space {
                    pendingSpace = started
                    continue
                }
                if pendingSpace { out.append(space) }
                pendingSpace = false
                started = true
                out.append(byte)
            }
        }
    }

    /// The string to sign for a canonical request at `amzDate` (`yyyymmddThhmmssZ`) in a credential scope.
    public static func stringToSign(canonicalRequest: String, amzDate: String, scope: SigV4CredentialScope) -> String {
        let scopeText = "\(scope.date)/\(scope.region)/\(scope.service)/aws4_request"
        return String(decoding: stringToSignBytes(canonicalRequest: Array(canonicalRequest.utf8), amzDate: amzDate, scope: scopeText.utf8),
                      as: UTF8.self)
    }

    /// `AWS4-HMAC-SHA256 \n <amzDate> \n <scope> \n <hex SHA-256 of the canonical request>`.
    /// - Parameter scope: `<day>/<region>/<service>/aws4_request` as bytes (the verifier passes the credential's own).
    static func stringToSignBytes(canonicalRequest: [UInt8], amzDate: String, scope: some Collection<UInt8>) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(160)
        out += "AWS4-HMAC-SHA256\n".utf8
        out += amzDate.utf8
        out.append(UInt8(ascii: "\n"))
        out += scope
        out.append(UInt8(ascii: "\n"))
        appendSHA256Hex(of: canonicalRequest, to: &out)
        return out
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
        signature(stringToSign: Array(stringToSign.utf8), signingKey: signingKey)
    }

    static func signature(stringToSign: [UInt8], signingKey: SymmetricKey) -> String {
        hex(HMAC<SHA256>.authenticationCode(for: stringToSign, using: signingKey))
    }

    /// The signature of a string to sign with the signing key a secret gives for a scope; lowercase hex.
    public static func signature(stringToSign: String, secretAccessKey: String, scope: SigV4CredentialScope) -> String {
        signature(stringToSign: stringToSign, signingKey: signingKey(secretAccessKey: secretAccessKey, scope: scope))
    }

    /// Whether two signatures are equal, in time that depends only on their lengths (no early exit on the first
    /// differing byte).
    public static func constantTimeEqual(_ a: String, _ b: String) -> Bool { constantTimeEqual(a.utf8, b.utf8) }

    static func constantTimeEqual<A: Collection, B: Collection>(_ a: A, _ b: B) -> Bool where A.Element == UInt8, B.Element == UInt8 {
        guard a.count == b.count else { return false }
        var difference: UInt8 = 0
        for (x, y) in zip(a, b) { difference |= x ^ y }
        return difference == 0
    }

    /// `constantTimeEqual` of a computed signature and the one sent, read by index (it runs once per verified request).
    static func constantTimeEqual(_ a: [UInt8], _ b: UnsafeBufferPointer<UInt8>) -> Bool {
        guard a.count == b.count else { return false }
        var difference: UInt8 = 0
        for i in 0..<a.count { difference |= a[i] ^ b[i] }
        return difference == 0
    }
}

extension String {
    fileprivate func leftPadded(to width: Int) -> String { count >= width ? self : String(repeating: "0", count: width - count) + self }
}
