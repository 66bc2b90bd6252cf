import AWSJSONProtocol
@testable import AdminAPI
import Dispatch
import HTTP1
import HyperPodDomain
import HyperPodStore
import JSON
import Logging
import SageMakerShapes
import Crypto
import Testing
@testable import HyperPodLocal

/// The admin routes the dashboard reads (issue #20; docs/admin-api.md), the page route, moto's reset alias (issue #19)
/// and the query decoding they rely on, through the handler on a manual clock.
struct DashboardRoutesTests {
    let service: ClusterService
    let handler: HyperPodHTTPHandler
    let context = AWSRequestContext(requestID: "r", operation: "CreateCluster",
                                    identity: AWSIdentity(accountID: "000000000000", region: "us-east-1"))

    init() throws {
        service = try ClusterService(
            database: try EmulatorDatabase(path: nil), clockMode: .manual, timeScale: 1, timing: TimingProfile(.fast),
            seed: 1, wall: ManualWallClock(), logger: Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() }))
        handler = HyperPodHTTPHandler(
            aws: AWSJSONRouter(handlers: [:], authMode: .parse, defaultAccountID: "000000000000", defaultRegion: "us-east-1"),
            admin: AdminRouter(version: "9.9.9", uptimeSeconds: { 1 }, backend: service, token: "s3cret",
                               dashboardPage: { Array("<!doctype html><p>page</p>".utf8) }),
            stateQueue: service.queue, logger: Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() }))
    }

    func get(_ target: String, token: Bool = true) throws -> (Int, JSONObject) {
        let request = HTTPRequest(method: "GET", target: target, headers: token ? ["X-Hyperpod-Admin-Token": "s3cret"] : [:])
        let response = respond(request)
        return (response.status.code, try JSONParser.parse(response.body).objectValue ?? [:])
    }

    /// As the server runs admin requests: on the state queue.
    func respond(_ request: HTTPRequest) -> HTTPResponse { service.queue.sync { handler.respond(to: request) } }

    func createCluster(_ name: String, count: Int) throws {
        let request = try CreateClusterRequest(json: try JSONParser.parse(Array(#"{"ClusterName":"\#(name)","InstanceGroups":[{"InstanceGroupName":"g","InstanceType":"ml.c5.xlarge","InstanceCount":\#(count),"ExecutionRole":"arn:aws:iam::111122223333:role/r"}]}"#.utf8)))
        _ = try service.queue.sync { try service.createCluster(request, context: context) }
    }

    @Test func thePage_IsServedWithoutTheToken_AsHTMLThatOnlyTalksToItsOrigin() {
        let response = respond(HTTPRequest(method: "GET", target: "/_hyperpod/ui"))
        #expect(response.status == .ok)
        #expect(response.headers["Content-Type"] == "text/html; charset=utf-8")
        #expect(response.headers["Content-Security-Policy"]?.contains("connect-src 'self'") == true)
        #expect(response.headers["Content-Security-Policy"]?.contains("frame-ancestors 'none'") == true)
        #expect(String(decoding: response.body, as: UTF8.self) == "<!doctype html><p>page</p>")
    }

    @Test func theBuiltInPage_IsAnHTMLDocument() {
        let page = String(decoding: Dashboard.page, as: UTF8.self)
        #expect(page.lowercased().hasPrefix("<!doctype html>"))
        // Nothing loaded from elsewhere (no CDN): no external script, style sheet, image or import.
        for external in [#"src="http"#, #"src='http"#, #"href="http"#, #"href='http"#, "@import", "url(http", "//cdn"] {
            #expect(!page.lowercased().contains(external), "the page loads \(external)…")
        }
    }

    @Test func theDataRoutes_NeedTheToken() throws {
        #expect(try get("/_hyperpod/partitions", token: false).0 == 403)
        #expect(try get("/_hyperpod/events?cluster=x", token: false).0 == 403)
    }

    @Test func partitions_ListTheDefaultPartitionEvenEmpty_AndEveryPartitionWithClustersWithTheirCounts() throws {
        var (status, body) = try get("/_hyperpod/partitions")
        #expect(status == 200)
        #expect(body["partitions"] == .array([.object(["account": .string("000000000000"), "region": .string("us-east-1"),
                                                       "clusters": .array([])])]))
        try createCluster("demo", count: 3)
        try service.queue.sync { _ = try service.settleTimers(maxSeconds: 3600) }
        (status, body) = try get("/_hyperpod/partitions")
        let cluster = try #require(body["partitions"]?.arrayValue?.first?.objectValue?["clusters"]?.arrayValue?.first?.objectValue)
        #expect(cluster["ClusterName"] == .string("demo"))
        #expect(cluster["ClusterStatus"] == .string("InService"))
        #expect(cluster["CurrentCount"] == .integer(3) && cluster["TargetCount"] == .integer(3))
        #expect(cluster["NodeProvisioningMode"] == .string("Legacy"))
        #expect(cluster["Orchestrator"] == nil)  // neither Eks nor Slurm
    }

    @Test func events_AreTheNewestOldestFirst_WithALimit_AndAnUnknownClusterIs404() throws {
        try createCluster("demo", count: 1)
        try service.queue.sync { _ = try service.settleTimers(maxSeconds: 3600) }
        let (status, all) = try get("/_hyperpod/events?cluster=demo")
        #expect(status == 200 && all["truncated"] == .bool(false))
        let events = try #require(all["events"]?.arrayValue)
        #expect(events.count >= 3)
        let times = events.compactMap { $0.objectValue?["EventTime"]?.numberValue }
        #expect(times == times.sorted())
        #expect(events.first?.objectValue?["Description"] == .string("Cluster demo create started successfully"))
        let (_, two) = try get("/_hyperpod/events?cluster=de%6Do&limit=2")  // percent-decoded: demo
        #expect(two["events"]?.arrayValue.map(Array.init) == Array(events.suffix(2)))
        #expect(two["truncated"] == .bool(true))
        let (missing, error) = try get("/_hyperpod/events?cluster=nope")
        #expect(missing == 404 && error["error"] == .string("No cluster nope in account 000000000000, region us-east-1"))
        #expect(try get("/_hyperpod/events?cluster=demo&limit=0").0 == 400)
        #expect(try get("/_hyperpod/events").0 == 400)
    }

    @Test func theStateDump_SaysWhereEachNodeRuns() throws {
        try createCluster("demo", count: 1)
        try service.queue.sync { _ = try service.settleTimers(maxSeconds: 3600) }
        let (_, state) = try get("/_hyperpod/state")
        let node = try #require(state["clusters"]?.arrayValue?.first?.objectValue?["Nodes"]?.arrayValue?.first?.objectValue)
        #expect(node["AvailabilityZone"]?.stringValue?.hasPrefix("us-east-1") == true)
        #expect(node["InstanceType"] == .string("ml.c5.xlarge"))
        #expect(node["LaunchTime"]?.numberValue != nil)
    }

    @Test func motosResetRoute_EmptiesEverything_AsTheResetRouteDoes() throws {
        try createCluster("demo", count: 1)
        #expect(AdminRouter.matches(HTTPRequest(method: "POST", target: "/moto-api/reset")))
        #expect(!AdminRouter.matches(HTTPRequest(method: "POST", target: "/moto-api/resets")))
        let refused = respond(HTTPRequest(method: "POST", target: "/moto-api/reset"))
        #expect(refused.status.code == 403)  // the admin token, where set, is needed here too
        let response = respond(HTTPRequest(method: "POST", target: "/moto-api/reset", headers: ["X-Hyperpod-Admin-Token": "s3cret"]))
        #expect(response.status == .ok)
        let (_, state) = try get("/_hyperpod/state")
        #expect(state["clusters"] == .array([]))
    }

    @Test func aBrowsersRoot_IsRecognisedByItsAccept_AndNothingElse() {
        #expect(Dashboard.isBrowserRoot(HTTPRequest(method: "GET", target: "/", headers: ["Accept": "text/html,application/xhtml+xml;q=0.9"])))
        #expect(!Dashboard.isBrowserRoot(HTTPRequest(method: "GET", target: "/", headers: ["Accept": "*/*"])))
        #expect(!Dashboard.isBrowserRoot(HTTPRequest(method: "GET", target: "/")))
        #expect(!Dashboard.isBrowserRoot(HTTPRequest(method: "POST", target: "/", headers: ["Accept": "text/html"])))
        #expect(!Dashboard.isBrowserRoot(HTTPRequest(method: "GET", target: "/x", headers: ["Accept": "text/html"])))
    }

    /// A guard for a server on loopback, open to its own page and to `--cors` origins (issue #20's review: a page of
    /// another site must not drive the admin API through a visitor's browser).
    func guardedRouter(allowedOrigins: [String] = []) -> AdminRouter {
        AdminRouter(version: "1", uptimeSeconds: { 0 }, backend: service, loopbackOnly: true, allowedOrigins: allowedOrigins)
    }

    func status(_ router: AdminRouter, _ headers: HTTPHeaders, method: String = "POST", target: String = "/_hyperpod/clock") -> Int {
        service.queue.sync { router.handle(HTTPRequest(method: method, target: target, headers: headers, body: Array(#"{"advanceSeconds":1}"#.utf8))).status.code }
    }

    @Test func aPageOfAnotherSite_CannotDriveTheAdminAPI() {
        let router = guardedRouter()
        #expect(status(router, ["Host": "127.0.0.1:4580", "Origin": "https://evil.example", "Content-Type": "text/plain"]) == 403)
        #expect(status(router, ["Host": "127.0.0.1:4580", "Origin": "null"]) == 403)
        #expect(status(router, ["Host": "127.0.0.1:4580", "Origin": "http://127.0.0.1:4580"]) == 200)  // its own page
        #expect(status(router, ["Host": "127.0.0.1:4580"]) == 200)  // not a browser: no Origin
        #expect(status(guardedRouter(allowedOrigins: ["https://tools.example"]), ["Host": "127.0.0.1:4580", "Origin": "https://tools.example"]) == 200)
        #expect(status(guardedRouter(allowedOrigins: ["*"]), ["Host": "127.0.0.1:4580", "Origin": "https://any.example"]) == 200)
    }

    @Test func aLoopbackServer_AnswersOnlyLoopbackHostNames() {
        let router = guardedRouter()
        #expect(status(router, ["Host": "evil.example:4580"], method: "GET", target: "/_hyperpod/state") == 403)  // DNS rebinding
        for host in ["localhost:4580", "127.0.0.1:4580", "[::1]:4580", "LOCALHOST", "127.1.2.3"] {
            #expect(status(router, ["Host": host], method: "GET", target: "/_hyperpod/state") == 200, "\(host)")
        }
        #expect(status(router, [:], method: "GET", target: "/_hyperpod/state") == 200)  // HTTP/1.0 without Host
        #expect(status(router, ["Host": "evil.example"], method: "GET", target: "/_hyperpod/health") == 200)  // health is for anyone
        let open = AdminRouter(version: "1", uptimeSeconds: { 0 }, backend: service)  // --host 0.0.0.0: any name
        #expect(status(open, ["Host": "hyperpod:4580"], method: "GET", target: "/_hyperpod/state") == 200)
    }

    @Test func thePagesPolicy_AllowsExactlyItsOwnScripts() throws {
        let page = Array("<!doctype html><script>one()</script><p>x</p><script>two()</script>".utf8)
        let policy = try #require(Dashboard.response(page).headers["Content-Security-Policy"])
        let hashes = ["one()", "two()"].map { Base64.encode(Array(SHA256.hash(data: Array($0.utf8))), alphabet: .standard) }
        #expect(policy.contains("script-src 'sha256-\(hashes[0])' 'sha256-\(hashes[1])';"))
        #expect(!policy.contains("script-src 'unsafe-inline'"))
        #expect(Dashboard.response(Array("<p>no script</p>".utf8)).headers["Content-Security-Policy"]?.contains("script-src 'none'") == true)
        #expect(Dashboard.scriptHashes(Dashboard.page).count == 1)  // the built-in page: one inline script, allowed by hash
    }

    @Test(arguments: [("", ""), ("Zg", "f"), ("Zm8", "fo"), ("Zm9v", "foo"), ("Zm9vYg", "foob")])
    func base64URL_RoundTrips(_ encoded: String, _ text: String) {
        #expect(Base64.encode(Array(text.utf8), alphabet: .url) == encoded)
        #expect(Base64.decode(encoded, alphabet: .url) == Array(text.utf8))
    }

    @Test func base64Standard_IsPadded() {
        #expect(["f", "fo", "foo", "foob"].map { Base64.encode(Array($0.utf8), alphabet: .standard) } == ["Zg==", "Zm8=", "Zm9v", "Zm9vYg=="])
    }

    @Test(arguments: [("a%2Fb", "a/b"), ("a+b", "a b"), ("%41%62", "Ab"), ("100%", "100%"), ("%zz", "%zz"), ("%4", "%4"), ("plain", "plain")])
    func queryValues_ArePercentDecoded(_ sent: String, _ read: String) {
        #expect(AdminRouter.queryParameters(HTTPRequest(method: "GET", target: "/_hyperpod/x?v=\(sent)"))["v"] == read)
    }
}
