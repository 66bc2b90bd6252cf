import HTTP1
import JSON

/// The emulator's own control surface under `/_hyperpod/` (spec §14a). JSON in and out
/// (`Content-Type: application/json`), never SigV4-checked; errors are `{"error": "<text>"}` with 400, 404 or 409.
///
/// Routes: `GET /_hyperpod/health` (RA1), `POST /_hyperpod/reset` (RA2), `GET`/`POST /_hyperpod/clock` (RA3),
/// `GET`/`PUT /_hyperpod/capacity` (RA4), `GET`/`PUT /_hyperpod/quotas` (RA5), `POST`/`GET`/`DELETE /_hyperpod/faults` (RA7), `DELETE /_hyperpod/faults/<id>` (RA22), `GET`/`PUT /_hyperpod/settings` (RA8), `GET /_hyperpod/metrics` (RA10), `GET`/`PUT /_hyperpod/timing` (RA6),
/// `GET /_hyperpod/state` (RA9), `POST /_hyperpod/settle` (RA11), `GET /_hyperpod/auth` and
/// `POST /_hyperpod/auth/reload` (issue #18), `GET /_hyperpod/ui` (the dashboard), `GET /_hyperpod/partitions` and
/// `GET /_hyperpod/events` (what it reads; issue #20), and `POST /moto-api/reset`, moto's reset route, as an alias of
/// `POST /_hyperpod/reset` (issue #19: moto's `@mock_aws` in server mode calls it around every test). With the admin
/// API off only `health` answers; with a token every route but `health` needs `X-Hyperpod-Admin-Token`.
public struct AdminRouter: Sendable {
    /// Path prefix of every admin route.
    public static let pathPrefix = "/_hyperpod/"

    /// The emulator's semantic version, reported by `health`.
    public let version: String
    /// Seconds of wall-clock time since the server started (not virtual time).
    public let uptimeSeconds: @Sendable () -> Double
    /// The emulator behind the routes other than `health`; nil: only `health`.
    public let backend: (any AdminBackend)?
    /// `--admin off`: only `health`.
    public let enabled: Bool
    /// `--admin-token`: required on every route but `health`.
    public let token: String?
    /// `GET /_hyperpod/auth` and `POST /_hyperpod/auth/reload` (issue #18); nil: those routes are 404.
    public let auth: (any AdminAuthBackend)?
    /// The dashboard's page (issue #20) for developing it, a file read on each request (`--ui-file`); nil: the copy
    /// compiled into the binary.
    public let dashboardPage: (@Sendable () -> [UInt8])?
    /// The server listens on loopback only: an admin request must then name a loopback host in `Host` (a guard against
    /// DNS rebinding, by which a web page could otherwise read and drive the server through a name of its own).
    public let loopbackOnly: Bool
    /// Origins besides the server's own whose pages may call the admin API (`--cors`; `*`: any).
    public let allowedOrigins: [String]

    public init(version: String, uptimeSeconds: @escaping @Sendable () -> Double, backend: (any AdminBackend)? = nil,
                enabled: Bool = true, token: String? = nil, auth: (any AdminAuthBackend)? = nil,
                dashboardPage: (@Sendable () -> [UInt8])? = nil, loopbackOnly: Bool = false, allowedOrigins: [String] = []) {
        self.version = version
        self.uptimeSeconds = uptimeSeconds
        self.backend = backend
        self.enabled = enabled
        self.token = token
        self.auth = auth
        self.dashboardPage = dashboardPage
        self.loopbackOnly = loopbackOnly
        self.allowedOrigins = allowedOrigins
    }

    /// Whether `host` (an address or name, IPv6 in brackets or not) is loopback: `localhost`, `127.x.x.x`, `::1`.
    public static func isLoopback(_ host: some StringProtocol) -> Bool {
        var host = Substring(host).lowercased()[...]
        if host.hasPrefix("["), host.hasSuffix("]") { host = host.dropFirst().dropLast() }
        if host == "localhost" || host == "::1" || host == "0:0:0:0:0:0:0:1" { return true }
        let octets = host.split(separator: ".", omittingEmptySubsequences: false)
        return octets.count == 4 && octets[0] == "127" && octets.allSatisfy { UInt8($0) != nil }
    }

    /// 403 for an admin request a browser sends on behalf of a page of another site, which the server must not obey
    /// (issue #20: the dashboard put the admin API in browsers' reach): an `Origin` that is neither this server (the
    /// `Host` it was addressed by) nor allowed by `--cors`; or, on a loopback-only server, a `Host` that is not a loopback
    /// name (DNS rebinding). Clients that are not browsers send no `Origin`, and address a loopback server by a loopback
    /// name, so they are never refused here.
    func crossSiteRefusal(_ request: HTTPRequest) -> HTTPResponse? {
        let host = request.headers["Host"]
        if loopbackOnly, let host, !Self.isLoopback(Self.hostName(of: host)) {
            return Self.error(.forbidden, "Admin request refused: Host \(host) is not a loopback name, and this server listens on loopback only (a guard against DNS rebinding; reach it as 127.0.0.1 or localhost)")
        }
        if let origin = request.headers["Origin"], !allowedOrigins.contains("*"), !allowedOrigins.contains(origin) {
            let own = host.map { origin.lowercased() == "http://" + $0.lowercased() } ?? false
            if !own {
                return Self.error(.forbidden, "Cross-origin admin request refused: Origin \(origin) is not this server (allow it with --cors)")
            }
        }
        return nil
    }

    /// The name or address part of a `Host` value (`[::1]:4580` → `[::1]`, `localhost:4580` → `localhost`).
    static func hostName(of host: String) -> Substring {
        if host.hasPrefix("["), let close = host.firstIndex(of: "]") { return host[...close] }
        return host.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false).first ?? host[...]
    }

    /// Whether the request carries exactly the admin token: equal lengths, then every byte compared, in time that does
    /// not depend on where they differ.
    static func carries(_ token: String, _ request: HTTPRequest) -> Bool {
        guard let sent = request.headers["X-Hyperpod-Admin-Token"], sent.utf8.count == token.utf8.count else { return false }
        var difference: UInt8 = 0
        for (x, y) in zip(sent.utf8, token.utf8) { difference |= x ^ y }
        return difference == 0
    }

    /// Whether `request` is the health check (answered on the event loop; everything else may touch the state).
    public static func isHealth(_ request: HTTPRequest) -> Bool {
        request.path == "/_hyperpod/health" && (request.method == "GET" || request.method == "HEAD")
    }

    /// moto's reset route (`ServerModeMockAWS.reset` posts to it), answered as `POST /_hyperpod/reset` (issue #19).
    public static let motoResetPath = "/moto-api/reset"

    /// Whether `request` is addressed to the admin API (`/_hyperpod/…`, or moto's reset route).
    public static func matches(_ request: HTTPRequest) -> Bool {
        var target = request.target
        // The usual origin form is decided on the bytes (this runs for every request); an absolute form takes `path`.
        let originForm: Bool? = target.withUTF8 { bytes in
            guard bytes.first == UInt8(ascii: "/") else { return nil }
            let root = "/_hyperpod".utf8
            guard bytes.count >= root.count, bytes.starts(with: root) else {
                return bytes.starts(with: motoResetPath.utf8) && request.path == motoResetPath
            }
            return bytes.count == root.count || bytes[root.count] == UInt8(ascii: "/") || bytes[root.count] == UInt8(ascii: "?")
        }
        return originForm ?? (request.path.hasPrefix(pathPrefix) || request.path == "/_hyperpod" || request.path == motoResetPath)
    }

    /// Answers an admin request; unknown routes → 404 `{"error": …}`.
    public func handle(_ request: HTTPRequest) -> HTTPResponse {
        if Self.isHealth(request) { return health() }
        let notFound = Self.error(.notFound, "No admin route \(request.method) \(request.path)")
        guard enabled, let backend else { return notFound }
        if let refusal = crossSiteRefusal(request) { return refusal }
        // The page itself holds no state and is served without the token: it asks for the token and sends it on every
        // call it makes (issue #20).
        if request.method == "GET" || request.method == "HEAD", request.path == Dashboard.path || request.path == Dashboard.path + "/" {
            return dashboardPage.map { Dashboard.response($0()) } ?? Dashboard.builtInResponse
        }
        if let token, !Self.carries(token, request) {
            return Self.error(.forbidden, "Missing or wrong X-Hyperpod-Admin-Token header")
        }
        do {
            let body = try Self.body(request)
            let query = Self.queryParameters(request)
            // The partition a route names: a 12-digit account, a region without blanks or slashes (§14a). The body of
            // the extension catalogue is a map of names (C-§14a): there `account` and `region` are extension names.
            let catalogueBody = (request.method == "PUT" && request.path == "/_hyperpod/extensions") || request.path == "/_hyperpod/reservable-capacity"
            try Self.checkPartition(account: catalogueBody ? nil : body["account"], region: catalogueBody ? nil : body["region"])
            try Self.checkPartition(account: query["account"].map(JSONValue.string), region: query["region"].map(JSONValue.string))
            switch (request.method, request.path) {
            case ("GET", "/_hyperpod/clock"):
                return Self.json(.ok, backend.clockBody())
            case ("POST", "/_hyperpod/clock"):
                let keys = Set(body.keys)
                if keys == ["advanceSeconds"] {
                    try backend.advanceClock(seconds: try Self.number(body, "advanceSeconds"))
                } else if keys == ["set"] {
                    try backend.setClock(epochSeconds: try Self.number(body, "set"))
                } else if keys == ["timeScale"] {
                    try backend.setTimeScale(try Self.number(body, "timeScale"))
                } else {
                    throw AdminError.badBody("Send exactly one of advanceSeconds, set, timeScale")
                }
                return Self.json(.ok, backend.clockBody())
            case ("POST", "/_hyperpod/settle"):
                let maxSeconds = body["maxSeconds"] == nil ? 86_400 : try Self.number(body, "maxSeconds")
                guard maxSeconds >= 0 else { throw AdminError.badBody("maxSeconds must be ≥ 0") }
                let report = try backend.settle(maxSeconds: maxSeconds)
                var out = backend.clockBody()
                for (key, value) in report.members { out[key] = value }
                return Self.json(.ok, out)
            case ("POST", "/_hyperpod/reset"), ("POST", Self.motoResetPath):
                try backend.reset(account: body["account"]?.stringValue, region: body["region"]?.stringValue)
                return Self.json(.ok, ["reset": .bool(true)])
            case ("GET", "/_hyperpod/partitions"):  // issue #20: the dashboard's overview
                return Self.json(.ok, try backend.partitionsBody())
            case ("GET", "/_hyperpod/events"):  // issue #20: the dashboard's timeline
                guard let cluster = query["cluster"], !cluster.isEmpty else { throw AdminError.badBody("Name the cluster: ?cluster=<name or ARN>") }
                var limit = 500
                if let text = query["limit"] {
                    guard let value = Int(text), (1...10_000).contains(value) else { throw AdminError.badBody("limit must be a whole number from 1 to 10000") }
                    limit = value
                }
                return Self.json(.ok, try backend.eventsBody(account: query["account"], region: query["region"], cluster: cluster, limit: limit))
            case ("GET", "/_hyperpod/state"):
                return Self.json(.ok, try backend.stateDump(account: query["account"], region: query["region"]))
            case ("GET", "/_hyperpod/timing"):
                return Self.json(.ok, backend.timingBody())
            case ("PUT", "/_hyperpod/timing"):
                try backend.overrideTiming(body)
                return Self.json(.ok, backend.timingBody())
            case ("GET", "/_hyperpod/capacity"):
                return Self.json(.ok, try backend.capacityBody(account: query["account"], region: query["region"]))
            case ("PUT", "/_hyperpod/capacity"):
                try backend.replaceCapacity(body)
                return Self.json(.ok, try backend.capacityBody(account: body["account"]?.stringValue, region: body["region"]?.stringValue))
            case ("GET", "/_hyperpod/metrics"):
                return HTTPResponse(status: .ok, headers: ["Content-Type": "text/plain; version=0.0.4; charset=utf-8"],
                                    body: Array(backend.metricsText().utf8))
            case ("GET", "/_hyperpod/settings"):
                return Self.json(.ok, try backend.settingsBody(account: query["account"], region: query["region"]))
            case ("PUT", "/_hyperpod/settings"):
                try backend.putSettings(body)
                return Self.json(.ok, try backend.settingsBody(account: body["account"]?.stringValue, region: body["region"]?.stringValue))
            case ("POST", "/_hyperpod/faults"):
                return Self.json(.created, ["id": .string(try backend.addFault(body))])
            case ("GET", "/_hyperpod/faults"):
                return Self.json(.ok, backend.faultsBody())
            case ("DELETE", "/_hyperpod/faults"):
                try backend.clearFaults()
                return Self.json(.ok, backend.faultsBody())
            case ("DELETE", let path) where path.hasPrefix("/_hyperpod/faults/"):  // RA22: one fault, by id
                guard try backend.removeFault(id: String(path.dropFirst("/_hyperpod/faults/".count))) else {
                    return Self.error(.notFound, "No fault \(path.dropFirst("/_hyperpod/faults/".count))")
                }
                return Self.json(.ok, backend.faultsBody())
            case ("GET", "/_hyperpod/extensions"):  // RA20; the partition comes from the query only (C-§14a)
                return Self.json(.ok, try backend.extensionCatalogueBody(account: query["account"], region: query["region"]))
            case ("PUT", "/_hyperpod/extensions"):
                guard request.body.contains(where: { ![0x20, 0x0A, 0x0D, 0x09].contains($0) }) else { throw AdminError.badBody("Send the catalogue: a JSON object of extension names") }
                try backend.replaceExtensionCatalogue(body, account: query["account"], region: query["region"])
                return Self.json(.ok, try backend.extensionCatalogueBody(account: query["account"], region: query["region"]))
            case ("GET", "/_hyperpod/ami-releases"):  // RA21
                return Self.json(.ok, try backend.amiReleasesBody(account: query["account"], region: query["region"]))
            case ("POST", "/_hyperpod/ami-releases"):
                try backend.changeAMIReleases(body)
                return Self.json(.ok, try backend.amiReleasesBody(account: body["account"]?.stringValue, region: body["region"]?.stringValue))
            case ("GET", "/_hyperpod/reservable-capacity"), ("PUT", "/_hyperpod/reservable-capacity"),  // RA12-RA14 (§17.6)
                 ("GET", "/_hyperpod/training-plan-offerings"), ("POST", "/_hyperpod/training-plan-offerings"),
                 ("DELETE", "/_hyperpod/training-plan-offerings"), ("GET", "/_hyperpod/training-plan-settings"),
                 ("PUT", "/_hyperpod/training-plan-settings"):
                let answer = try backend.trainingPlanRoute(method: request.method, route: String(request.path.dropFirst("/_hyperpod/".count)),
                                                           body: body, account: query["account"], region: query["region"])
                return Self.json(answer.created ? .created : .ok, answer.body)
            case ("GET", "/_hyperpod/auth") where auth != nil:  // issue #18: the identities in effect, secrets masked
                return Self.json(.ok, auth!.authBody())
            case ("POST", "/_hyperpod/auth/reload") where auth != nil:
                return Self.json(.ok, try auth!.reloadIdentities())
            case ("GET", "/_hyperpod/quotas"):
                return Self.json(.ok, try backend.quotasBody(account: query["account"], region: query["region"]))
            case ("PUT", "/_hyperpod/quotas"):
                try backend.setQuotas(body)
                return Self.json(.ok, try backend.quotasBody(account: body["account"]?.stringValue, region: body["region"]?.stringValue))
            default:
                return notFound
            }
        } catch let error as AdminError {
            return Self.error(error.status, error.message)
        } catch {
            return Self.error(.internalServerError, "\(error)")
        }
    }

    static func body(_ request: HTTPRequest) throws(AdminError) -> JSONObject {
        if request.body.allSatisfy({ $0 == 0x20 || $0 == 0x0A || $0 == 0x0D || $0 == 0x09 }) { return JSONObject() }
        guard let object = (try? JSONParser.parse(request.body))?.objectValue else {
            throw AdminError.badBody("The body must be a JSON object")
        }
        return object
    }

    /// A partition's `account` must be 12 digits and its `region` a non-empty name without blanks or slashes; either
    /// may be absent (the server's default).
    /// - Throws: `AdminError` 400 naming the member.
    static func checkPartition(account: JSONValue?, region: JSONValue?) throws(AdminError) {
        if let account {
            guard let text = account.stringValue, text.utf8.count == 12, text.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }) else {
                throw AdminError.badBody("account must be a 12-digit account id (a string)")
            }
        }
        if let region {
            guard let text = region.stringValue, !text.isEmpty, text.utf8.count <= 64,
                  !text.utf8.contains(where: { $0 <= 0x20 || $0 == 0x2F || $0 >= 0x7F }) else {
                throw AdminError.badBody("region must be a region name such as us-east-1 (a string)")
            }
        }
    }

    static func number(_ body: JSONObject, _ name: String) throws(AdminError) -> Double {
        switch body[name] {
        case .integer(let i): return Double(i)
        case .double(let d): return d
        default: throw AdminError.badBody("\(name) must be a number")
        }
    }

    /// The query's `name=value` pairs, percent-decoded (`+` is a space, as browsers' `URLSearchParams` write it); a
    /// malformed escape is kept as sent.
    static func queryParameters(_ request: HTTPRequest) -> [String: String] {
        var out: [String: String] = [:]
        for pair in request.query.split(separator: "&") {
            let parts = pair.split(separator: "=", maxSplits: 1)
            if parts.count == 2 { out[percentDecoded(parts[0])] = percentDecoded(parts[1]) }
        }
        return out
    }

    static func percentDecoded(_ text: Substring) -> String {
        guard text.utf8.contains(where: { $0 == UInt8(ascii: "%") || $0 == UInt8(ascii: "+") }) else { return String(text) }
        func hexValue(_ byte: UInt8) -> UInt8? {
            switch byte {
            case 0x30...0x39: byte - 0x30
            case 0x41...0x46: byte - 0x41 + 10
            case 0x61...0x66: byte - 0x61 + 10
            default: nil
            }
        }
        let bytes = Array(text.utf8)
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count)
        var i = 0
        while i < bytes.count {
            if bytes[i] == UInt8(ascii: "%"), i + 2 < bytes.count,
               let high = hexValue(bytes[i + 1]), let low = hexValue(bytes[i + 2]) {
                out.append(high << 4 | low)
                i += 3
            } else {
                out.append(bytes[i] == UInt8(ascii: "+") ? UInt8(ascii: " ") : bytes[i])
                i += 1
            }
        }
        return String(decoding: out, as: UTF8.self)
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
