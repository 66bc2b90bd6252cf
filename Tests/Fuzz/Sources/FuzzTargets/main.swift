// One executable, eight libFuzzer targets; the first argument names the target, the rest go to libFuzzer:
//   FuzzTargets http-parser|chunked|gzip|json-validator|sigv4|identities|iam-policy|sigv4-verify [libFuzzer flags] [corpus dir]
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

/// The `--identities` file parser (issue #18), then every principal's policies evaluated against a request and the
/// masked listing.
func fuzzIdentities(_ bytes: [UInt8]) {
    guard let identities = try? AWSIdentities(parsing: bytes) else { return }
    let request = IAMRequest(action: "sagemaker:DescribeCluster", resource: "arn:aws:sagemaker:us-east-1:123456789012:cluster/abc",
                             context: ["aws:requestedregion": ["us-east-1"], "aws:tagkeys": ["team", "owner"]])
    for principal in identities.principals.values { _ = IAMPolicyEvaluator.evaluate(principal.policies, request) }
    _ = JSONWriter.encode(.object(identities.listing()))
}

/// One IAM policy document and a request, both from the input: the first three lines are the action, the resource and a
/// `key=value,value` condition context; the rest is the policy. Also the wildcard matcher on the action and resource
/// lines as pattern and value, both ways.
func fuzzIAMPolicy(_ bytes: [UInt8]) {
    let lines = bytes.split(separator: UInt8(ascii: "\n"), maxSplits: 3, omittingEmptySubsequences: false)
    guard lines.count == 4 else { return }
    let action = String(decoding: lines[0], as: UTF8.self), resource = String(decoding: lines[1], as: UTF8.self)
    _ = IAMWildcard.matches(pattern: action, resource, ignoringCase: true)
    _ = IAMWildcard.matches(pattern: resource, action, ignoringCase: false)
    var context: [String: [String]] = [:]
    let pair = String(decoding: lines[2], as: UTF8.self).split(separator: "=", maxSplits: 1)
    if pair.count == 2 { context[pair[0].lowercased()] = pair[1].split(separator: ",").map(String.init) }
    guard let json = try? JSONParser.parse(Array(lines[3])), let policy = try? IAMPolicyDocument(json: json, path: "policy") else { return }
    _ = IAMPolicyEvaluator.evaluate([policy], IAMRequest(action: action, resource: resource, context: context))
}

let verifier = SigV4Verifier()
let verifierIdentities = try! AWSIdentities(parsing: Array(#"""
    {"principals": {"arn:aws:iam::123456789012:user/fuzz": {}},
     "credentials": [{"accessKeyId": "AKIDFUZZ", "secretAccessKey": "fuzz-secret", "principal": "arn:aws:iam::123456789012:user/fuzz"},
                     {"accessKeyId": "ASIAFUZZ", "secretAccessKey": "fuzz-secret", "principal": "arn:aws:iam::123456789012:user/fuzz",
                      "sessionToken": "fuzz-token"}]}
    """#.utf8))

/// The signature verifier (issue #18) on a whole HTTP request parsed from the input (so the headers it reads are the
/// parser's), judged at 2026-12-06T12:00:00Z; also with the body taken as the inflated form of itself.
func fuzzSigV4Verify(_ bytes: [UInt8]) {
    var parser = HTTPRequestParser(limits: HTTPLimits())
    parser.append(bytes[...])
    guard case .request(var request)? = try? parser.next() else { return }
    _ = verifier.verify(request, identities: verifierIdentities, nowEpochSeconds: 1_796_558_400)
    request.contentEncodedBody = Array(request.body.reversed())
    _ = verifier.verify(request, identities: verifierIdentities, nowEpochSeconds: 1_796_558_400)
}

let targets: [String: ([UInt8]) -> Void] = [
    "http-parser": fuzzHTTPParser, "chunked": fuzzChunked, "gzip": fuzzGzip, "json-validator": fuzzJSONValidator,
    "sigv4": fuzzSigV4, "identities": fuzzIdentities, "iam-policy": fuzzIAMPolicy, "sigv4-verify": fuzzSigV4Verify,
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
