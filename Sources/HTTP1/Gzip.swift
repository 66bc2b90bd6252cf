import CZlib

/// gzip (RFC 1952) and zlib (RFC 1950) through the system zlib: request bodies in, responses out.
public enum Gzip {
    /// Inflates a gzip body (several members allowed) or a zlib-wrapped `deflate` body.
    /// - Parameter limit: the largest inflated size accepted, in bytes (the body limit: a zip bomb stops here).
    /// - Throws: `HTTPParserError` 400 for data that is not valid gzip/zlib, 413 when the output exceeds `limit`.
    public static func inflate(_ input: [UInt8], limit: Int) throws(HTTPParserError) -> [UInt8] {
        if input.isEmpty { return [] }
        var stream = z_stream()
        // 15 + 32: window of 32 KiB, detect a gzip or zlib header automatically.
        guard czlib_inflate_init2(&stream, 15 + 32) == Z_OK else {
            throw HTTPParserError(.badRequest, "Could not start gzip decoding")
        }
        defer { inflateEnd(&stream) }
        var output: [UInt8] = []
        output.reserveCapacity(min(limit, max(input.count * 4, 256)))
        var chunk = [UInt8](repeating: 0, count: 64 * 1024)
        let result: Result<Void, HTTPParserError> = input.withUnsafeBufferPointer { inBuf in
            stream.next_in = UnsafeMutablePointer(mutating: inBuf.baseAddress)
            stream.avail_in = UInt32(inBuf.count)
            while true {
                let (status, produced) = chunk.withUnsafeMutableBufferPointer { out -> (Int32, Int) in
                    stream.next_out = out.baseAddress
                    stream.avail_out = UInt32(out.count)
                    let status = CZlib.inflate(&stream, Z_NO_FLUSH)
                    return (status, out.count - Int(stream.avail_out))
                }
                if output.count + produced > limit { return .failure(.tooLarge(limit: limit)) }
                output.append(contentsOf: chunk[0..<produced])
                switch status {
                case Z_STREAM_END:
                    if stream.avail_in == 0 { return .success(()) }
                    // Another gzip member follows (RFC 1952 §2.2).
                    guard inflateReset(&stream) == Z_OK else { return .failure(.badRequest("Invalid gzip body")) }
                case Z_OK:
                    continue
                case Z_BUF_ERROR where stream.avail_in == 0:
                    return .failure(.badRequest("Truncated gzip body"))
                default:
                    return .failure(.badRequest("Invalid gzip body"))
                }
            }
        }
        try result.get()
        return output
    }

    /// Compresses `input` as one gzip member.
    /// - Parameter level: zlib level 1 (fastest) … 9 (smallest); 6 is zlib's default.
    public static func compress(_ input: [UInt8], level: Int32 = 6) -> [UInt8] {
        var stream = z_stream()
        guard czlib_deflate_init_gzip(&stream, level) == Z_OK else { return input }
        defer { deflateEnd(&stream) }
        let bound = Int(deflateBound(&stream, UInt(input.count)))
        var output = [UInt8](repeating: 0, count: bound)
        let written: Int = input.withUnsafeBufferPointer { inBuf in
            output.withUnsafeMutableBufferPointer { outBuf in
                stream.next_in = UnsafeMutablePointer(mutating: inBuf.baseAddress)
                stream.avail_in = UInt32(inBuf.count)
                stream.next_out = outBuf.baseAddress
                stream.avail_out = UInt32(outBuf.count)
                _ = deflate(&stream, Z_FINISH)
                return outBuf.count - Int(stream.avail_out)
            }
        }
        output.removeLast(output.count - written)
        return output
    }
}
