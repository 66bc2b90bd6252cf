/// Base64 (RFC 4648): the standard alphabet with `=` padding (§4, e.g. a Content-Security-Policy hash) and the URL-safe
/// alphabet without padding (§5, e.g. opaque page tokens).
public enum Base64 {
    public enum Alphabet: Sendable {
        /// `A–Z a–z 0–9 + /`, padded with `=` to a multiple of 4.
        case standard
        /// `A–Z a–z 0–9 - _`, unpadded.
        case url

        var digits: [UInt8] {
            switch self {
            case .standard: Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)
            case .url: Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_".utf8)
            }
        }
    }

    public static func encode(_ bytes: some Collection<UInt8>, alphabet: Alphabet) -> String {
        let digits = alphabet.digits, bytes = Array(bytes)
        var out: [UInt8] = []
        out.reserveCapacity((bytes.count + 2) / 3 * 4)
        var i = 0
        while i < bytes.count {
            let count = min(3, bytes.count - i)
            let n = UInt32(bytes[i]) << 16 | UInt32(count > 1 ? bytes[i + 1] : 0) << 8 | UInt32(count > 2 ? bytes[i + 2] : 0)
            for j in 0...count { out.append(digits[Int((n >> (18 - 6 * UInt32(j))) & 63)]) }
            if alphabet == .standard { out += repeatElement(UInt8(ascii: "="), count: 3 - count) }
            i += 3
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// The bytes of a base64 text of `alphabet`, padded or not; nil for a character outside it or a length no encoding
    /// gives.
    public static func decode(_ text: String, alphabet: Alphabet) -> [UInt8]? {
        let digits = alphabet.digits
        var values: [UInt32] = []
        for byte in text.utf8 where byte != UInt8(ascii: "=") {
            guard let index = digits.firstIndex(of: byte) else { return nil }
            values.append(UInt32(index))
        }
        guard values.count % 4 != 1 else { return nil }
        var out: [UInt8] = []
        var i = 0
        while i < values.count {
            let group = values[i..<min(i + 4, values.count)]
            var n: UInt32 = 0
            for j in 0..<4 { n = (n << 6) | (j < group.count ? group[group.startIndex + j] : 0) }
            for j in 0..<(group.count - 1) { out.append(UInt8((n >> (16 - 8 * UInt32(j))) & 255)) }
            i += 4
        }
        return out
    }
}
