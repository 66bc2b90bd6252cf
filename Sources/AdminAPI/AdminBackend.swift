import HTTP1
import JSON

/// What the admin routes need from the emulator (implemented by the application layer). Bodies are JSON objects as the
/// spec's §14a gives them.
public protocol AdminBackend: Sendable {
    /// RA3 body: `{"now", "mode", "timeScale", "timing"}`.
    func clockBody() -> JSONObject
    /// RA3 `advanceSeconds` (≥ 0): due timers fire in order. - Throws: `AdminError` 400/409.
    func advanceClock(seconds: Double) throws(AdminError)
    /// RA3 `set` (epoch seconds ≥ now). - Throws: `AdminError` 409 when it would go backwards.
    func setClock(epochSeconds: Double) throws(AdminError)
    /// RA3 `timeScale` (> 0, real mode only). - Throws: `AdminError` 400/409.
    func setTimeScale(_ scale: Double) throws(AdminError)
    /// RA11: advance from due timer to due timer until settled or `maxSeconds` passed.
    /// - Returns: `{"settled": Bool, "setAside": [transition]}`: whether everything settled, and the transitions set
    ///   aside after failing (each `{"resourceArn", "event", "dueAt", "attempts", "lastError", "setAside": true}`).
    func settle(maxSeconds: Double) throws(AdminError) -> JSONObject
    /// RA2: empty all state, or one partition's.
    func reset(account: String?, region: String?) throws(AdminError)
    /// RA9: the partition's clusters, nodes, tags and pending timers.
    func stateDump(account: String?, region: String?) throws(AdminError) -> JSONObject
    /// Issue #20 (the dashboard's overview): `{"partitions": [{"account", "region", "clusters": [<summary>]}]}`, every
    /// partition that holds a cluster plus the server's default one; a summary has `ClusterName`, `ClusterArn`,
    /// `ClusterStatus`, `Orchestrator` (`Eks`/`Slurm`, absent when neither), `NodeProvisioningMode`, `CreationTime`
    /// (virtual epoch seconds), `CurrentCount` and `TargetCount` (summed over the instance groups).
    func partitionsBody() throws(AdminError) -> JSONObject
    /// Issue #20 (the dashboard's timeline): `{"events": [<ClusterEventSummary>], "truncated": Bool}`, the newest `limit`
    /// events of the cluster named (by name or ARN) in the partition, oldest first, as ListClusterEvents shows them.
    /// - Throws: `AdminError` 404 for an unknown cluster.
    func eventsBody(account: String?, region: String?, cluster: String, limit: Int) throws(AdminError) -> JSONObject
    /// RA6: the effective timing table.
    func timingBody() -> JSONObject
    /// RA6: override durations (`{"T_launch": 5}`). - Throws: `AdminError` 400 for an unknown key or a bad value.
    func overrideTiming(_ overrides: JSONObject) throws(AdminError)
    /// RA4 GET: the partition's pools with their size, use and free instances.
    func capacityBody(account: String?, region: String?) throws(AdminError) -> JSONObject
    /// RA4 PUT: replaces the partition's pools (`{"<type>": n}` or `{"<type>": {"<zone>": n}}`, n free instances;
    /// `{}` unlimited); waiting launches retry at once. - Throws: `AdminError` 400 for a bad body.
    func replaceCapacity(_ body: JSONObject) throws(AdminError)
    /// RA5 GET: quota names with value, usage and unit.
    func quotasBody(account: String?, region: String?) throws(AdminError) -> JSONObject
    /// RA5 PUT: sets quota values (`{"<quota name>": n}`). - Throws: `AdminError` 400 for an unknown name or bad value.
    func setQuotas(_ body: JSONObject) throws(AdminError)
    /// RA10: the Prometheus text exposition (format 0.0.4).
    func metricsText() -> String
    /// RA8 GET: the partition's settings.
    func settingsBody(account: String?, region: String?) throws(AdminError) -> JSONObject
    /// RA8 PUT: `{"restrictedInstanceGroupsOnCreate": "reject" | "allow"}` for a partition. - Throws: `AdminError` 400.
    func putSettings(_ body: JSONObject) throws(AdminError)
    /// RA7 POST: adds a fault. - Returns: its id. - Throws: `AdminError` 400 for a bad body or an unknown target.
    /// RA20: a partition's extension catalogue, `{"account", "region", "extensions": {<name>: {<version>: {defaults, enums,
    /// optional}}}}`. - Throws: `AdminError` 500 on a store failure.
    func extensionCatalogueBody(account: String?, region: String?) throws(AdminError) -> JSONObject
    /// RA20: replaces a partition's extension catalogue with `catalogue` (that form). - Throws: `AdminError` 400 for a
    /// catalogue not of that form.
    func replaceExtensionCatalogue(_ catalogue: JSONObject, account: String?, region: String?) throws(AdminError)
    /// RA21: a partition's HyperPod AMI releases, `{"account", "region", "releases": [{version, architecture, security,
    /// publishedAt, imageId}], "endOfLife": {"x86_64": ["1.0"]}}`. - Throws: `AdminError` 500 on a store failure.
    func amiReleasesBody(account: String?, region: String?) throws(AdminError) -> JSONObject
    /// RA21: `{"version", "architecture", "security"}` publishes a release (409 unless higher than every release of its
    /// architecture); `{"endOfLife": "<MAJOR.MINOR>", "architecture"?}` ends a line. - Throws: `AdminError` 400/409.
    func changeAMIReleases(_ body: JSONObject) throws(AdminError)
    func addFault(_ body: JSONObject) throws(AdminError) -> String
    /// RA7 GET: the active faults.
    func faultsBody() -> JSONObject
    /// RA7 DELETE: clears every fault.
    func clearFaults() throws(AdminError)
    /// RA22 DELETE `/_hyperpod/faults/<id>`: ends one fault's effect. - Returns: false when there is no such fault.
    func removeFault(id: String) throws(AdminError) -> Bool
    /// RA12 `/_hyperpod/reservable-capacity`, RA13 `/_hyperpod/training-plan-offerings`, RA14
    /// `/_hyperpod/training-plan-settings` (spec §17.6): `route` is the path after `/_hyperpod/`, the partition that of
    /// the query string (C-§14a). - Returns: the answer's status (`.ok`, or `.created` for a published offering) and body.
    func trainingPlanRoute(method: String, route: String, body: JSONObject, account: String?, region: String?) throws(AdminError)
        -> (created: Bool, body: JSONObject)
}

/// The admin routes of authentication (issue #18): the identities file in effect and its reload.
public protocol AdminAuthBackend: Sendable {
    /// `GET /_hyperpod/auth`: `{"mode", "identitiesFile", "principals": {<arn>: {account, policies, statements}},
    /// "credentials": [{accessKeyId, secretAccessKey (masked), principal, sessionToken (masked)}]}`.
    func authBody() -> JSONObject
    /// `POST /_hyperpod/auth/reload`: reads the identities file again; requests that arrive afterwards use it.
    /// - Returns: the `authBody()` after the reload.
    /// - Throws: `AdminError` 409 when the server has no identities file; 400 naming the fault when the file cannot be
    ///   read or parsed (the identities in effect are kept).
    func reloadIdentities() throws(AdminError) -> JSONObject
}

/// An admin request refused: answered `{"error": message}` with `status`.
public struct AdminError: Error, Sendable, Equatable {
    public let status: HTTPStatus
    public let message: String

    public init(_ status: HTTPStatus, _ message: String) {
        self.status = status
        self.message = message
    }

    public static func badBody(_ message: String) -> AdminError { AdminError(.badRequest, message) }
    public static func conflict(_ message: String) -> AdminError { AdminError(.conflict, message) }
}
