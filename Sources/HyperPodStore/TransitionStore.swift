import GRDB
import HyperPodDomain

/// A pending delayed transition (spec R39): a row of `scheduled_transitions`, written in the same transaction as the
/// change that created it, so a restart loses none.
public struct ScheduledTransition: Sendable, Equatable {
    /// Row id: ties between equal due times fire in creation order.
    public var id: Int64
    /// The resource the transition belongs to (a cluster ARN).
    public var resourceARN: String
    /// The resource's generation when the timer was set; a timer whose resource has moved on is stale (no-op).
    public var generation: Int64
    /// What happens, as the domain encodes it.
    public var event: String
    /// When, on the virtual clock: the instant the transition records (its timestamps), also after a retry.
    public var dueAt: VirtualTime
    /// When it may fire next on the virtual clock: `dueAt`, later after a failed attempt (backoff), nil once set aside.
    public var fireAt: VirtualTime?
    /// Failed attempts so far.
    public var attempts: Int
    /// The error of the last failed attempt.
    public var lastError: String?

    /// Set aside after `TransitionScheduler.maxAttempts` failures: kept (listed by the admin state route) but never
    /// fired again.
    public var isSetAside: Bool { fireAt == nil }

    /// A row of `scheduled_transitions`.
    init(row: Row) {
        id = row["id"]
        resourceARN = row["resource_arn"]
        generation = row["generation"]
        event = row["event"]
        dueAt = VirtualTime(milliseconds: row["due_at_ms"])
        fireAt = (row["fire_at_ms"] as Int64?).map(VirtualTime.init(milliseconds:))
        attempts = row["attempts"]
        lastError = row["last_error"]
    }
}

/// A transition to schedule: the domain's `after:` turned into a due time by the caller.
public struct NewTransition: Sendable, Equatable {
    public var resourceARN: String
    public var generation: Int64
    public var event: String
    public var dueAt: VirtualTime

    public init(resourceARN: String, generation: Int64, event: String, dueAt: VirtualTime) {
        self.resourceARN = resourceARN
        self.generation = generation
        self.event = event
        self.dueAt = dueAt
    }
}

/// The persisted transitions (`scheduled_transitions`, R39), inside the caller's transaction: written with the change
/// that creates them, so a restart loses none. Firing them is `TransitionScheduler`'s.
public enum TransitionStore {
    /// Inserts transitions, each to fire at its due time.
    public static func schedule(_ transitions: [NewTransition], db: StoreTransaction) throws {
        guard !transitions.isEmpty else { return }
        let insert = try db.database.cachedStatement(sql: """
            INSERT INTO scheduled_transitions (resource_arn, generation, event, due_at_ms, fire_at_ms) VALUES (?, ?, ?, ?, ?)
            """)
        for t in transitions {
            try insert.execute(arguments: [t.resourceARN, t.generation, t.event, t.dueAt.milliseconds, t.dueAt.milliseconds])
        }
    }

    /// Moves a pending transition to another due time (seeds settle this way); a set-aside one fires again.
    public static func reschedule(id: Int64, to dueAt: VirtualTime, db: StoreTransaction) throws {
        try db.database.cachedStatement(sql: "UPDATE scheduled_transitions SET due_at_ms = ?, fire_at_ms = ? WHERE id = ?").execute(
                                arguments: [dueAt.milliseconds, dueAt.milliseconds, id])
    }

    /// Deletes every pending transition of a resource: its plan was replaced, or it is gone.
    public static func cancel(resourceARN: String, db: StoreTransaction) throws {
        try db.database.cachedStatement(sql: "DELETE FROM scheduled_transitions WHERE resource_arn = ?").execute(arguments: [resourceARN])
    }

    /// Deletes a resource's pending transitions with this event text.
    public static func cancel(resourceARN: String, event: String, db: StoreTransaction) throws {
        try db.database.cachedStatement(sql: "DELETE FROM scheduled_transitions WHERE resource_arn = ? AND event = ?").execute(
                                arguments: [resourceARN, event])
    }

    /// Deletes one transition (it fired).
    public static func remove(id: Int64, db: StoreTransaction) throws {
        try db.database.cachedStatement(sql: "DELETE FROM scheduled_transitions WHERE id = ?").execute(arguments: [id])
    }

    /// Records a failed attempt: the count, the error, and when it may fire again (nil: set aside).
    public static func recordFailure(id: Int64, attempts: Int, error: String, retryAt: VirtualTime?, db: StoreTransaction) throws {
        try db.database.cachedStatement(sql: "UPDATE scheduled_transitions SET attempts = ?, last_error = ?, fire_at_ms = ? WHERE id = ?").execute(
                                arguments: [attempts, error, retryAt?.milliseconds, id])
    }

    /// The transition that fires next if it may fire at or before `now` (ties: creation order), nil when none may.
    public static func next(firingBy now: VirtualTime, db: StoreTransaction) throws -> ScheduledTransition? {
        try Row.fetchOne(db.database.cachedStatement(sql: """
            SELECT * FROM scheduled_transitions WHERE fire_at_ms <= ? ORDER BY fire_at_ms, id LIMIT 1
            """), arguments: [now.milliseconds]).map(ScheduledTransition.init(row:))
    }

    /// The earliest time a pending transition may fire, nil when none may (set-aside ones never do).
    public static func nextDue(db: StoreTransaction) throws -> VirtualTime? {
        try Int64.fetchOne(db.database.cachedStatement(sql: "SELECT MIN(fire_at_ms) FROM scheduled_transitions"))
            .map(VirtualTime.init(milliseconds:))
    }

    /// The earliest firing time of transitions whose event text does not start with one of `prefixes` (RA11: timeouts
    /// that are not transitional states), nil when none is pending.
    public static func nextDue(excludingEventPrefixes prefixes: [String], db: StoreTransaction) throws -> VirtualTime? {
        let clause = prefixes.map { _ in " AND substr(event, 1, ?) <> ?" }.joined()
        var arguments: [any DatabaseValueConvertible] = []
        for prefix in prefixes { arguments += [prefix.utf8.count, prefix] }
        return try Int64.fetchOne(db.database, sql: "SELECT MIN(fire_at_ms) FROM scheduled_transitions WHERE 1" + clause,
                                  arguments: StatementArguments(arguments)).map(VirtualTime.init(milliseconds:))
    }

    /// The earliest firing time of transitions whose event text starts with one of `prefixes`, nil when none is
    /// pending (R231: the plan windows a settle stops short of).
    public static func nextDue(withEventPrefixes prefixes: [String], db: StoreTransaction) throws -> VirtualTime? {
        guard !prefixes.isEmpty else { return nil }
        let clause = prefixes.map { _ in "substr(event, 1, ?) = ?" }.joined(separator: " OR ")
        var arguments: [any DatabaseValueConvertible] = []
        for prefix in prefixes { arguments += [prefix.utf8.count, prefix] }
        return try Int64.fetchOne(db.database, sql: "SELECT MIN(fire_at_ms) FROM scheduled_transitions WHERE " + clause,
                                  arguments: StatementArguments(arguments)).map(VirtualTime.init(milliseconds:))
    }

    /// Every pending transition in firing order, the set-aside ones last.
    public static func pending(db: StoreTransaction) throws -> [ScheduledTransition] {
        try Row.fetchAll(db.database.cachedStatement(sql: "SELECT * FROM scheduled_transitions ORDER BY fire_at_ms IS NULL, fire_at_ms, id"))
            .map(ScheduledTransition.init(row:))
    }
}
