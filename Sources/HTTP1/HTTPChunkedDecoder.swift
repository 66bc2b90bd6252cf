/// Decodes a `Transfer-Encoding: chunked` body (RFC 9112 §7.1), fed any number of bytes at a time.
///
/// Chunk extensions are accepted and ignored; trailer fields are checked for framing (bare LF, obs-fold, size) and
/// dropped. Errors: 400 for a bad chunk-size line or missing CRLF after chunk data, 413 when the decoded body would
/// exceed `maxBodyBytes`, 431 when the trailer section exceeds `maxTrailerBytes`.
public struct HTTPChunkedDecoder: Sendable {
    /// Longest chunk-size line (size plus extensions) accepted, in bytes.
    static let maxSizeLineBytes = 4096

    private enum State: Sendable {
        case sizeDigits(value: Int, digits: Int, lineBytes: Int)
        case sizeExtension(value: Int, lineBytes: Int)
        case sizeLF(value: Int)
        case data(remaining: Int)
        case dataCR
        case dataLF
        case trailerLineStart(bytes: Int)
        case trailerLine(bytes: Int)
        case trailerLF(bytes: Int, emptyLine: Bool)
        case done
    }

    private var state: State = .sizeDigits(value: 0, digits: 0, lineBytes: 0)
    private var decodedBytes = 0
    /// Bytes consumed on the wire, framing included: bounded too, or one-byte chunks with long extensions could make
    /// a body's framing thousands of times its size.
    private var wireBytes = 0
    let maxBodyBytes: Int
    let maxTrailerBytes: Int

    public init(maxBodyBytes: Int, maxTrailerBytes: Int) {
        self.maxBodyBytes = maxBodyBytes
        self.maxTrailerBytes = maxTrailerBytes
    }

    /// True once the last chunk and the trailer section have been read.
    public var isFinished: Bool {
        if case .done = state { return true }
        return false
    }

    /// Bytes of framing (sizes, extensions, CRLFs, trailers) accepted beyond the size of the body itself.
    public static let maxFramingBytes = 64 * 1024

    /// Consumes bytes of `input`, appending chunk data to `body`.
    /// - Returns: how many bytes of `input` were consumed; fewer than `input.count` only when the body ended
    ///   (what follows belongs to the next request).
    /// - Throws: `HTTPParserError` (400, 413, 431) as described on the type.
    public mutating func decode(_ input: UnsafeBufferPointer<UInt8>, into body: inout [UInt8]) throws(HTTPParserError) -> Int {
        let consumed = try decodeFraming(input, into: &body)
        wireBytes += consumed
        // Framing may be up to 16 times the body plus a fixed allowance: even 1-byte chunks (5 bytes of framing each)
        // pass, 4 KB of extension per byte of body does not.
        if wireBytes - decodedBytes > Self.maxFramingBytes + 16 * decodedBytes + maxTrailerBytes {
            throw .badRequest("Chunk sizes and extensions are out of proportion to the body they carry")
        }
        return consumed
    }

    private mutating func decodeFraming(_ input: UnsafeBufferPointer<UInt8>, into body: inout [UInt8]) throws(HTTPParserError) -> Int {
        var i = 0
        let cr = UInt8(ascii: "\r"), lf = UInt8(ascii: "\n")
        while i < input.count {
            let byte = input[i]
            switch state {
            case .sizeDigits(let value, let digits, let lineBytes):
                guard lineBytes < Self.maxSizeLineBytes else { throw .badRequest("Chunk size line is too long") }
                if let digit = Self.hexValue(byte) {
                    guard digits < 15 else { throw .badRequest("Invalid chunk size") }
                    let next = value * 16 + digit
                    guard next <= maxBodyBytes - decodedBytes else { throw .tooLarge(limit: maxBodyBytes) }
                    state = .sizeDigits(value: next, digits: digits + 1, lineBytes: lineBytes + 1)
                } else if digits > 0 && (byte == UInt8(ascii: ";") || byte == UInt8(ascii: " ") || byte == UInt8(ascii: "\t")) {
                    state = .sizeExtension(value: value, lineBytes: lineBytes + 1)
                } else if digits > 0 && byte == cr {
                    state = .sizeLF(value: value)
                } else if byte == lf {
                    throw .badRequest("Bare LF in chunk size line")
                } else {
                    throw .badRequest("Invalid chunk size")
                }
                i += 1
            case .sizeExtension(let value, let lineBytes):
                guard lineBytes < Self.maxSizeLineBytes else { throw .badRequest("Chunk size line is too long") }
                if byte == cr {
                    state = .sizeLF(value: value)
                } else if byte == lf || (byte < 0x20 && byte != UInt8(ascii: "\t")) || byte == 0x7F {
                    throw .badRequest("Invalid chunk extension")
                } else {
                    state = .sizeExtension(value: value, lineBytes: lineBytes + 1)
                }
                i += 1
            case .sizeLF(let value):
                guard byte == lf else { throw .badRequest("Invalid chunk size line ending") }
                state = value == 0 ? .trailerLineStart(bytes: 0) : .data(remaining: value)
                i += 1
            case .data(let remaining):
                let take = min(remaining, input.count - i)
                body.append(contentsOf: UnsafeBufferPointer(rebasing: input[i..<(i + take)]))
                decodedBytes += take
                i += take
                state = take == remaining ? .dataCR : .data(remaining: remaining - take)
            case .dataCR:
                guard byte == cr else { throw .badRequest("Missing CRLF after chunk data") }
                state = .dataLF
                i += 1
            case .dataLF:
                guard byte == lf else { throw .badRequest("Missing CRLF after chunk data") }
                state = .sizeDigits(value: 0, digits: 0, lineBytes: 0)
                i += 1
            case .trailerLineStart(let bytes):
                if byte == cr {
                    state = .trailerLF(bytes: bytes + 1, emptyLine: true)
                } else if byte == UInt8(ascii: " ") || byte == UInt8(ascii: "\t") {
                    throw .badRequest("Obsolete line folding in trailer section")
                } else if byte == lf {
                    throw .badRequest("Bare LF in trailer section")
                } else {
                    state = .trailerLine(bytes: bytes + 1)
                }
                i += 1
            case .trailerLine(let bytes):
                guard bytes < maxTrailerBytes else {
                    throw HTTPParserError(.requestHeaderFieldsTooLarge, "Trailer section is larger than \(maxTrailerBytes) bytes")
                }
                if byte == cr {
                    state = .trailerLF(bytes: bytes + 1, emptyLine: false)
                } else if byte == lf || (byte < 0x20 && byte != UInt8(ascii: "\t")) || byte == 0x7F {
                    throw .badRequest("Invalid byte in trailer section")
                } else {
                    state = .trailerLine(bytes: bytes + 1)
                }
                i += 1
            case .trailerLF(let bytes, let emptyLine):
                guard byte == lf else { throw .badRequest("Invalid line ending in trailer section") }
                i += 1
                if emptyLine {
                    state = .done
                    return i
                }
                state = .trailerLineStart(bytes: bytes + 1)
            case .done:
                return i
            }
        }
        return i
    }

    @inline(__always)
    static func hexValue(_ byte: UInt8) -> Int? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): Int(byte - UInt8(ascii: "0"))
        case UInt8(ascii: "a")...UInt8(ascii: "f"): Int(byte - UInt8(ascii: "a") + 10)
        case UInt8(ascii: "A")...UInt8(ascii: "F"): Int(byte - UInt8(ascii: "A") + 10)
        default: nil
        }
    }
}
