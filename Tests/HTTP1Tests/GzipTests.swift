import Testing
@testable import HTTP1

struct GzipTests {
    @Test func compressThenInflate_RoundTrips() throws {
        let data = Array("{\"ClusterName\":\"a\"}".utf8)
        #expect(try Gzip.inflate(Gzip.compress(data), limit: 1000) == data)
    }

    @Test func concatenatedMembers_AreAllInflated() throws {
        let a = Array("hello ".utf8), b = Array("world".utf8)
        #expect(try Gzip.inflate(Gzip.compress(a) + Gzip.compress(b), limit: 1000) == a + b)
    }

    @Test func truncatedOrTrailingGarbage_Is400() {
        let full = Gzip.compress(Array(String(repeating: "abc", count: 100).utf8))
        #expect(throws: HTTPParserError.self) { try Gzip.inflate(Array(full.dropLast(5)), limit: 10_000) }
        #expect(throws: HTTPParserError.self) { try Gzip.inflate(full + [1, 2, 3], limit: 10_000) }
    }

    @Test func outputOverTheLimit_Is413() {
        let big = Gzip.compress([UInt8](repeating: 0, count: 200_000))
        #expect(throws: HTTPParserError.tooLarge(limit: 1000)) { try Gzip.inflate(big, limit: 1000) }
    }
}
