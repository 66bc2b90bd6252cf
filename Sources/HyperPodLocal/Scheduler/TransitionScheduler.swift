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

/// A transition whose application threw: its transaction was rolled back and the row now waits for a retry, or is set
/// aside. One per failed attempt (the log line of that attempt).
public struct TransitionFailure: Sendable, Equatable {
    public var transition: ScheduledTransition
    /// The attempt that failed, from 1.
    public var attempt: Int
    public var error: String
    /// When it is tried again (virtual clock), nil when it was set aside by this failure.
    public var retryAt: VirtualTime?
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

/// Fires persisted transitions in due order on the virtual clock (R39; architecture §3.2).
///
/// `runDue(until:)` is synchronous: each due row is applied in its own write transaction (the applier updates the
/// resource, the row is deleted, follow-ups are inserted), so a follow-up due at the same instant fires in the same call
/// and a crash between two rows loses nothing. Timestamps a transition records are its due time, not the time it was
/// processed.
///
/// A failure is isolated (emulator decision, docs/behaviour.md#r39): a transition whose applier throws is rolled back,
/// its row records the attempt and the error and waits `retryDelay(afterAttempt:)` of virtual time (1, 2, 4, 8 s …,
/// at most 60 s), while the other due transitions keep firing in order; after `maxAttempts` failures it is set aside —
/// kept, listed by the admin state route, never fired again — and its cluster keeps the state it has.
public final class TransitionScheduler: Sendable {
    /// Applies one transition inside the transaction; returns the follow-ups to schedule. Throwing rolls the
    /// transaction back (the row stays and the error propagates).
    public typealias Applier = @Sendable (ScheduledTransition, Database) throws -> [NewTransition]

    let database: EmulatorDatabase
    let apply: Applier

    public init(database: EmulatorDatabase, apply: @escaping Applier) {
        self.database = database
        self.apply = apply
    }

    /// Failed attempts after which a transition is set aside.
    public static let maxAttempts = 5

    /// Virtual seconds between failed attempt `attempt` (from 1) and the next: 1, 2, 4, 8, … at most 60.
    public static func retryDelay(afterAttempt attempt: Int) -> Double {
        min(60, Double(1 << min(max(attempt - 1, 0), 6)))
    }

    /// Inserts transitions (inside the caller's transaction, next to the change that creates them).
    public static func schedule(_ transitions: [NewTransition], in db: Database) throws {
        guard !transitions.isEmpty else { return }
        let insert = try db.cachedStatement(sql: """
            INSERT INTO scheduled_transitions (resource_arn, generation, event, due_at_ms, fire_at_ms) VALUES (?, ?, ?, ?, ?)
            """)
        for t in transitions {
            try insert.execute(arguments: [t.resourceARN, t.generation, t.event, t.dueAt.milliseconds, t.dueAt.milliseconds])
        }
    }

    /// Moves a pending transition to another due time (inside the caller's transaction; seeds settle this way).
    public static func reschedule(id: Int64, to dueAt: VirtualTime, in db: Database) throws {
        try db.execute(sql: "UPDATE scheduled_transitions SET due_at_ms = ?, fire_at_ms = ? WHERE id = ?",
                       arguments: [dueAt.milliseconds, dueAt.milliseconds, id])
    }

    /// Deletes every pending transition of a resource (inside the caller's transaction): its plan was replaced.
    public static func cancel(resourceARN: String, in db: Database) throws {
        try db.execute(sql: "DELETE FROM scheduled_transitions WHERE resource_arn = ?", arguments: [resourceARN])
    }

    /// The earliest pending due time, nil when nothing is pending.
    public func nextDue() throws -> VirtualTime? {
        try database.writer.read { db in try Self.nextDue(in: db) }
    }

    /// The earliest pending due time in the caller's transaction, nil when nothing is pending.
    public static func nextDue(in db: Database) throws -> VirtualTime? {
        try Int64.fetchOne(db.cachedStatement(sql: "SELECT MIN(fire_at_ms) FROM scheduled_transitions")).map(VirtualTime.init(milliseconds:))
    }

    /// The earliest pending due time of transitions whose event text does not start with one of `prefixes` (RA11:
    /// timeouts that are not "transitional states"), nil when none is pending.
    public func nextDue(excludingEventPrefixes prefixes: [String]) throws -> VirtualTime? {
        try database.writer.read { db in
            let clause = prefixes.map { _ in " AND substr(event, 1, ?) <> ?" }.joined()
            var arguments: [any DatabaseValueConvertible] = []
            for prefix in prefixes { arguments += [prefix.utf8.count, prefix] }
            return try Int64.fetchOne(db, sql: "SELECT MIN(fire_at_ms) FROM scheduled_transitions WHERE 1" + clause,
                                      arguments: StatementArguments(arguments)).map(VirtualTime.init(milliseconds:))
        }
    }

    /// What one `runDue(until:)` did.
    public struct Report: Sendable, Equatable {
        /// Transitions applied (stale ones, which change nothing, included).
        public var fired = 0
        /// Failed attempts, in order; each row now waits for its retry or is set aside.
        public var failures: [TransitionFailure] = []
    }

    /// Fires every transition that may fire at or before `now`, in order (ties: creation order), follow-ups included.
    /// A transition that throws is rolled back and rescheduled (or set aside), and the others go on.
    /// - Throws: only a failure to read or update the table itself (a database error).
    @discardableResult
    public func runDue(until now: VirtualTime) throws -> Report {
        var report = Report()
        while true {
            guard let transition = try database.writer.read({ db in
                try Row.fetchOne(db.cachedStatement(sql: """
                    SELECT * FROM scheduled_transitions WHERE fire_at_ms <= ? ORDER BY fire_at_ms, id LIMIT 1
                    """), arguments: [now.milliseconds]).map(ScheduledTransition.init(row:))
            }) else { return report }
            do {
                try database.writer.write { db in
                    try db.cachedStatement(sql: "DELETE FROM scheduled_transitions WHERE id = ?").execute(arguments: [transition.id])
                    try Self.schedule(try apply(transition, db), in: db)
                }
                report.fired += 1
            } catch {
                let attempt = transition.attempts + 1
                let retryAt = attempt < Self.maxAttempts ? now.adding(seconds: Self.retryDelay(afterAttempt: attempt)) : nil
                let message = "\(error)"
                try database.writer.write { db in
                    try db.execute(sql: "UPDATE scheduled_transitions SET attempts = ?, last_error = ?, fire_at_ms = ? WHERE id = ?",
                                   arguments: [attempt, message, retryAt?.milliseconds, transition.id])
                }
                report.failures.append(TransitionFailure(transition: transition, attempt: attempt, error: message, retryAt: retryAt))
            }
        }
    }

    /// Every pending transition, in firing order, the set-aside ones last (state dump, tests).
    public func pending() throws -> [ScheduledTransition] {
        try database.writer.read { db in try Self.pending(in: db) }
    }

    /// Every pending transition, in firing order, the set-aside ones last, read inside the caller's transaction (GRDB's database access is not
    /// reentrant: never open a second `read` inside one).
    public static func pending(in db: Database) throws -> [ScheduledTransition] {
        try Row.fetchAll(db, sql: "SELECT * FROM scheduled_transitions ORDER BY fire_at_ms IS NULL, fire_at_ms, id")
            .map(ScheduledTransition.init(row:))
    }
}
