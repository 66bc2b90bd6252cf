import Synchronization

/// Request counters and a latency histogram for `GET /_hyperpod/metrics` (spec RA10). Thread-safe.
public final class RequestMetrics: Sendable {
    /// Upper bounds of the latency buckets, in milliseconds of wall-clock time.
    public static let bucketBounds: [Double] = [1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500]

    struct State {
        /// Counts by operation and status.
        var requests: [Key: Int] = [:]
        var buckets = [Int](repeating: 0, count: RequestMetrics.bucketBounds.count + 1)
        var count = 0
        var sum = 0.0
    }

    struct Key: Hashable {
        var operation: String
        var status: Int
    }

    let state = Mutex(State())

    public init() {}

    /// Counts one answered request. Admin routes count as operation `admin`, the health check as `health`.
    public func record(operation: String, status: Int, milliseconds: Double) {
        var name = operation
        if operation.utf8.first == UInt8(ascii: "a") && operation.hasPrefix("admin") {
            name = operation.hasPrefix("admin GET /_hyperpod/health") ? "health" : "admin"
        }
        let key = Key(operation: name, status: status)
        state.withLock { s in
            s.requests[key, default: 0] += 1
            let bucket = Self.bucketBounds.firstIndex { milliseconds <= $0 } ?? Self.bucketBounds.count
            s.buckets[bucket] += 1
            s.count += 1
            s.sum += milliseconds / 1000
        }
    }

    /// The request families in the Prometheus text format 0.0.4.
    public func exposition() -> String {
        let s = state.withLock { $0 }
        var out = "# HELP hyperpod_requests_total Requests answered, by operation and HTTP status.\n# TYPE hyperpod_requests_total counter\n"
        for key in s.requests.keys.sorted(by: { ($0.operation, $0.status) < ($1.operation, $1.status) }) {
            out += "hyperpod_requests_total{operation=\"\(Self.escape(key.operation))\",status=\"\(key.status)\"} \(s.requests[key]!)\n"
        }
        out += "# HELP hyperpod_request_duration_seconds Time from a request's arrival at the handler to its answer.\n"
        out += "# TYPE hyperpod_request_duration_seconds histogram\n"
        var cumulative = 0
        for (i, bound) in Self.bucketBounds.enumerated() {
            cumulative += s.buckets[i]
            out += "hyperpod_request_duration_seconds_bucket{le=\"\(bound / 1000)\"} \(cumulative)\n"
        }
        out += "hyperpod_request_duration_seconds_bucket{le=\"+Inf\"} \(s.count)\n"
        out += "hyperpod_request_duration_seconds_sum \(s.sum)\nhyperpod_request_duration_seconds_count \(s.count)\n"
        return out
    }

    static func escape(_ text: String) -> String {
        String(text.flatMap { c -> [Character] in c == "\\" || c == "\"" ? ["\\", c] : c == "\n" ? ["\\", "n"] : [c] })
    }
}
