/// The durations of delayed transitions, in seconds of virtual time (spec R40). Each key can be overridden.
public struct TimingProfile: Sendable, Equatable {
    /// The timing keys of spec R40, by their spec names (`T_setup`, …).
    public enum Key: String, Sendable, CaseIterable, Comparable {
        /// Cluster-level setup before the first launch (create, mode change).
        case setup = "T_setup"
        /// One batch: EC2 launch plus lifecycle scripts.
        case launch = "T_launch"
        /// Deep health check of a batch.
        case deepHealthCheck = "T_dhc"
        /// Non-scaling change, AutoScaling enable/disable, label reconcile.
        case config = "T_config"
        /// Node termination.
        case terminate = "T_term"
        /// Cluster teardown after its last node is gone.
        case delete = "T_delete"
        /// Reboot; also the delay before an automatic replacement.
        case reboot = "T_reboot"
        /// Software update of one batch.
        case patch = "T_patch"
        /// Legacy rollback of a failed create or update.
        case rollback = "T_rollback"
        /// Continuous retry round after failed launches.
        case retry = "T_retry"
        /// MinInstanceCount timeout.
        case minInstanceTimeout = "T_min"
        /// Training plan or extension payment (spec R210, R219, R231).
        case payment = "T_payment"
        /// Lead time of the termination before a reserved capacity ends (spec R226, R231).
        case planDrain = "T_plan_drain"
        /// Reconcile of a task governance policy's create, update or delete (spec R266).
        case policy = "T_policy"
        /// How long a `Deleted` task governance policy stays visible (spec R266, P10).
        case governanceRetention = "T_gov_retain"

        public static func < (a: Key, b: Key) -> Bool {
            allCases.firstIndex(of: a)! < allCases.firstIndex(of: b)!
        }
    }

    /// The named profiles of spec R40.
    public enum Name: String, Sendable, CaseIterable {
        case instant, fast, realistic
    }

    public let name: Name
    /// Seconds per key, overrides applied.
    public private(set) var durations: [Key: Double]

    /// The profile `name` with the spec's durations.
    public init(_ name: Name) {
        self.name = name
        let table: [Key: (instant: Double, fast: Double, realistic: Double)] = [
            .setup: (0, 2, 300), .launch: (0, 1, 720), .deepHealthCheck: (0, 1, 1800), .config: (0, 1, 180),
            .terminate: (0, 1, 180), .delete: (0, 1, 240), .reboot: (0, 1, 300), .patch: (0, 1, 1200),
            .rollback: (0, 1, 300), .retry: (60, 2, 300), .minInstanceTimeout: (10800, 10800, 10800),
            .payment: (0, 1, 120), .planDrain: (1800, 1800, 1800), .policy: (0, 1, 30), .governanceRetention: (3600, 3600, 3600),
        ]
        durations = table.mapValues {
            switch name {
            case .instant: $0.instant
            case .fast: $0.fast
            case .realistic: $0.realistic
            }
        }
    }

    /// Seconds of virtual time for `key`.
    public subscript(_ key: Key) -> Double { durations[key]! }

    /// Overrides one duration.
    /// - Precondition: `seconds` is finite and not negative (callers validate user input first).
    public mutating func override(_ key: Key, seconds: Double) {
        precondition(seconds.isFinite && seconds >= 0, "durations are finite and not negative")
        durations[key] = seconds
    }

    /// Parses `T_launch=5` (also `launch=5`) as given to `--delay`.
    /// - Returns: nil when the key is unknown or the value is not a non-negative number.
    public static func parseOverride(_ text: String) -> (Key, Double)? {
        guard let eq = text.firstIndex(of: "=") else { return nil }
        let name = String(text[..<eq]), value = String(text[text.index(after: eq)...])
        guard let key = Key(rawValue: name) ?? Key(rawValue: "T_" + name), let seconds = Double(value),
              seconds.isFinite, seconds >= 0 else { return nil }
        return (key, seconds)
    }
}
