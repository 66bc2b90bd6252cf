// One executable, five libFuzzer targets; the first argument names the target, the rest go to libFuzzer:
//   FuzzTargets http-parser|chunked|gzip|json-validator|sigv4 [libFuzzer flags] [corpus dir]
// A target must never crash or trap: every input either parses or is refused with an error.
import AWSJSONProtocol
import Glibc
import HTTP1
import JSON

@_silgen_name("LLVMFuzzerRunDriver")
func LLVMFuzzerRunDriver(
    _ argc: UnsafeMutablePointer<Int32>, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>>,
    _ callback: @convention(c) (UnsafePointer<UInt8>?, Int) -> Int32
) -> Int32

/// The HTTP/1.1 request parser fed the input in two pieces (split at the first byte's value), then drained.
func fuzzHTTPParser(_ bytes: [UInt8]) {
    var limits = HTTPLimits()
    limits.maxBodyBytes = 1 << 16
    var parser = HTTPRequestParser(limits: limits)
    let split = bytes.isEmpty ? 0 : Int(bytes[0]) % (bytes.count + 1)
    for piece in [bytes[..<split], bytes[split...]] {
        parser.append(piece)
        for _ in 0..<64 {
            guard let event = try? parser.next() else { return }
            if case .needMoreData = event { break }
        }
    }
}

/// The chunked decoder, byte by byte for the first half and in one piece for the rest.
func fuzzChunked(_ bytes: [UInt8]) {
    var decoder = HTTPChunkedDecoder(maxBodyBytes: 1 << 16, maxTrailerBytes: 4096)
    var body: [UInt8] = []
    var offset = 0
    while offset < bytes.count {
        let end = offset < bytes.count / 2 ? offset + 1 : bytes.count
        let consumed: Int
        do {
            consumed = try bytes[offset..<end].withUnsafeBufferPointer { try decoder.decode($0, into: &body) }
        } catch { return }
        if consumed == 0 && end == bytes.count { return }
        offset += max(consumed, end - offset == 1 ? 1 : consumed)
    }
}

/// gzip/deflate inflation with a small output limit, and a round trip of the input.
func fuzzGzip(_ bytes: [UInt8]) {
    _ = try? Gzip.inflate(bytes, limit: 1 << 20)
    let compressed = Gzip.compress(bytes)
    guard let back = try? Gzip.inflate(compressed, limit: bytes.count + 1), back == bytes else { fatalError("gzip round trip") }
}

let model = ServiceModel.sageMakerClusters
let validator = ShapeValidator(model: model)
let shapes = ["CreateClusterRequest", "UpdateClusterRequest", "ListClusterNodesRequest", "BatchAddClusterNodesRequest",
              "UpdateClusterSoftwareRequest"]

/// JSON decoding, then the model validator on a request shape chosen by the first byte.
func fuzzJSONValidator(_ bytes: [UInt8]) {
    guard let first = bytes.first, let value = try? JSONParser.parse(Array(bytes.dropFirst())), let object = value.objectValue else { return }
    _ = validator.validate(object, shape: shapes[Int(first) % shapes.count], strictMembers: first & 0x80 != 0)
    _ = JSONWriter.encode(value)
}

/// SigV4 `Authorization` header parsing.
func fuzzSigV4(_ bytes: [UInt8]) {
    _ = SigV4CredentialScope(authorization: String(decoding: bytes, as: UTF8.self))
}

let targets: [String: ([UInt8]) -> Void] = [
    "http-parser": fuzzHTTPParser, "chunked": fuzzChunked, "gzip": fuzzGzip, "json-validator": fuzzJSONValidator,
    "sigv4": fuzzSigV4,
]
var arguments = CommandLine.arguments
guard arguments.count >= 2, let chosen = targets[arguments[1]] else {
    print("usage: FuzzTargets \(targets.keys.sorted().joined(separator: "|")) [libFuzzer flags] [corpus dir]")
    exit(2)
}
nonisolated(unsafe) var target: ([UInt8]) -> Void = chosen  // set once before fuzzing starts; libFuzzer runs one thread
arguments.remove(at: 1)
var cArguments = arguments.map { strdup($0) }
var argc = Int32(cArguments.count)
let status = cArguments.withUnsafeMutableBufferPointer { buffer -> Int32 in
    var argv = buffer.baseAddress!
    return LLVMFuzzerRunDriver(&argc, &argv) { data, size in
        target(Array(UnsafeBufferPointer(start: data, count: size)))
        return 0
    }
}
exit(status)
