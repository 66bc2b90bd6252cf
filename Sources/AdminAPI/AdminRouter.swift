import HTTP1
import JSON

/// The emulator's own control surface under `/_hyperpod/` (spec §14a). JSON in and out
/// (`Content-Type: application/json`), never SigV4-checked; errors are `{"error": "<text>"}` with 400, 404 or 409.
///
/// Routes so far: `GET /_hyperpod/health` (RA1). Later issues add reset, clock, capacity, quotas, timing, faults,
/// settings, state, metrics and settle.
public struct AdminRouter: Sendable {
    /// Path prefix of every admin route.
    public static let pathPrefix = "/_hyperpod/"

    /// The emulator's semantic version, reported by `health`.
    public let version: String
    /// Seconds of wall-clock time since the server started (not virtual time).
    public let uptimeSeconds: @Sendable () -> Double

    public init(version: String, uptimeSeconds: @escaping @Sendable () -> Double) {
        self.version = version
        self.uptimeSeconds = uptimeSeconds
    }

    /// Whether `request` is addressed to the admin API.
    public static func matches(_ request: HTTPRequest) -> Bool {
        request.path.hasPrefix(pathPrefix) || request.path == "/_hyperpod"
    }

    /// Answers an admin request; unknown routes → 404 `{"error": …}`.
    public func handle(_ request: HTTPRequest) -> HTTPResponse {
        switch (request.method, request.path) {
        case ("GET", "/_hyperpod/health"), ("HEAD", "/_hyperpod/health"):
            return health()
        default:
            return Self.error(.notFound, "No admin route \(request.method) \(request.path)")
        }
    }

    /// RA1: `{"status":"running","version":"<semver>","uptimeSeconds":<n>}` (whole seconds).
    func health() -> HTTPResponse {
        let body: JSONObject = [
            "status": .string("running"),
            "version": .string(version),
            "uptimeSeconds": .integer(Int64(max(0, uptimeSeconds()))),
        ]
        return Self.json(.ok, body)
    }

    static func json(_ status: HTTPStatus, _ body: JSONObject) -> HTTPResponse {
        HTTPResponse(status: status, headers: ["Content-Type": "application/json"], body: JSONWriter.encode(.object(body)))
    }

    static func error(_ status: HTTPStatus, _ text: String) -> HTTPResponse {
        json(status, ["error": .string(text)])
    }
}
