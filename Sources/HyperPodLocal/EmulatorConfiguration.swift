import AWSJSONProtocol
import HTTP1
import HyperPodDomain

/// Everything `hyperpod-local serve` can be told (flags, or `HYPERPOD_LOCAL_*` environment variables).
public struct EmulatorConfiguration: Sendable {
    /// Address to bind; `127.0.0.1` by default (spec R1), `0.0.0.0` in the container image.
    public var host: String = "127.0.0.1"
    /// TCP port; 0 picks a free port (the first stdout line says which).
    public var port: UInt16 = 4580
    /// SQLite database file (WAL mode); state survives restarts.
    public var databasePath: String = "./hyperpod-local.sqlite"
    /// Keep state in memory only (no database file).
    public var inMemory = false
    /// Region of requests without a SigV4 credential scope (spec R25).
    public var region = "us-east-1"
    /// Account of requests whose access key id is not 12 digits (spec R24).
    public var accountID = "000000000000"
    /// `off`, `parse` (default), `verify` or `enforce` (spec R28, issue #18).
    public var authMode: AWSAuthMode = .parse
    /// The identities file (`--identities`): credentials and principals' policies. Required by `verify` and `enforce`.
    public var identitiesPath: String?
    /// Reject request members the model does not have (spec R9); by default they are ignored and logged.
    public var strictMembers = false
    /// Check every successful response against the model's output shape (spec R11); a mismatch answers 500.
    public var checkResponses = AWSJSONRouter.isDebugBuild
    public var limits = HTTPLimits()
    /// `real` (virtual time follows the wall clock × `timeScale`) or `manual` (moves only through the admin API).
    public var clockMode: VirtualClock.Mode = .real
    public var timeScale: Double = 1
    /// Durations of delayed transitions (spec R40), overrides applied.
    public var timing = TimingProfile(.fast)
    /// Makes every generated id, address and random choice reproducible (spec R30).
    public var seed: UInt64?
    /// Capacity pool sizes for partitions that set none through the admin API (spec R116, RA4):
    /// `[instance type: [zone or "*": instances]]`; empty = unlimited. A size is how many instances of the type the
    /// partition may hold at once.
    public var capacity: [String: [String: Int]] = [:]
    /// Quota values for partitions that set none through the admin API (spec R84, RA5), by quota name.
    public var quotas: [String: Int] = [:]
    /// Origins allowed by CORS (`--cors`, spec R1); empty: CORS off; `*`: any.
    public var corsOrigins: [String] = []
    /// Directories of seed files loaded at start (`--seed DIR`; issue #7).
    public var seedDirectories: [String] = []
    /// The admin API beyond `health` (spec §14a).
    public var adminEnabled = true
    /// Required as `X-Hyperpod-Admin-Token` on every admin route but `health`.
    public var adminToken: String?
    /// `--admin-open`: serve the admin API without a token on an address other machines can reach, on purpose.
    public var adminOpen = false
    /// `--ui-file`: the dashboard page read from this file on every request instead of the built-in copy (for working
    /// on the page; issue #20).
    public var dashboardFile: String?

    public init() {}
}
