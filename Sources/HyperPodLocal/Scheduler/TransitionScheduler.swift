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
    /// When, on the virtual clock.
    public var dueAt: VirtualTime

    /// A row of `scheduled_transitions`.
    init(row: Row) {
        id = row["id"]
        resourceARN = row["resource_arn"]
        generation = row["generation"]
        event = row["event"]
        dueAt = VirtualTime(milliseconds: row["due_at_ms"])
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

/// Fires persisted transitions in due order on the virtual clock (spec R39; architecture §3.2).
///
/// `runDue(until:)` is synchronous: each due row is applied in its own write transaction (the applier updates the
/// resource, the row is deleted, follow-ups are inserted), so a follow-up due at the same instant fires in the same call
/// and a crash between two rows loses nothing. Timestamps a transition records are its due time, not the time it was
/// processed.
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

    /// Inserts transitions (inside the caller's transaction, next to the change that creates them).
    public static func schedule(_ transitions: [NewTransition], in db: Database) throws {
        guard !transitions.isEmpty else { return }
        let insert = try db.cachedStatement(
            sql: "INSERT INTO scheduled_transitions (resource_arn, generation, event, due_at_ms) VALUES (?, ?, ?, ?)")
        for t in transitions { try insert.execute(arguments: [t.resourceARN, t.generation, t.event, t.dueAt.milliseconds]) }
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
        try Int64.fetchOne(db.cachedStatement(sql: "SELECT MIN(due_at_ms) FROM scheduled_transitions")).map(VirtualTime.init(milliseconds:))
    }

    /// The earliest pending due time of transitions whose event text does not start with one of `prefixes` (RA11:
    /// timeouts that are not "transitional states"), nil when none is pending.
    public func nextDue(excludingEventPrefixes prefixes: [String]) throws -> VirtualTime? {
        try database.writer.read { db in
            let clause = prefixes.map { _ in " AND substr(event, 1, ?) <> ?" }.joined()
            var arguments: [any DatabaseValueConvertible] = []
            for prefix in prefixes { arguments += [prefix.utf8.count, prefix] }
            return try Int64.fetchOne(db, sql: "SELECT MIN(due_at_ms) FROM scheduled_transitions WHERE 1" + clause,
                                      arguments: StatementArguments(arguments)).map(VirtualTime.init(milliseconds:))
        }
    }

    /// Fires every transition due at or before `now`, in due order (ties: creation order), follow-ups included.
    /// - Returns: how many fired.
    /// - Throws: what the applier throws (that row stays pending).
    @discardableResult
    public func runDue(until now: VirtualTime) throws -> Int {
        var fired = 0
        while true {
            let done = try database.writer.write { db -> Bool in
                guard let row = try Row.fetchOne(db.cachedStatement(sql: """
                    SELECT id, resource_arn, generation, event, due_at_ms FROM scheduled_transitions
                    WHERE due_at_ms <= ? ORDER BY due_at_ms, id LIMIT 1
                    """), arguments: [now.milliseconds]) else { return true }
                let transition = ScheduledTransition(row: row)
                try db.cachedStatement(sql: "DELETE FROM scheduled_transitions WHERE id = ?").execute(arguments: [transition.id])
                try Self.schedule(try apply(transition, db), in: db)
                return false
            }
            if done { return fired }
            fired += 1
        }
    }

    /// Every pending transition, in due order (state dump, tests).
    public func pending() throws -> [ScheduledTransition] {
        try database.writer.read { db in try Self.pending(in: db) }
    }

    /// Every pending transition, in due order, read inside the caller's transaction (GRDB's database access is not
    /// reentrant: never open a second `read` inside one).
    public static func pending(in db: Database) throws -> [ScheduledTransition] {
        try Row.fetchAll(db, sql: "SELECT * FROM scheduled_transitions ORDER BY due_at_ms, id").map(ScheduledTransition.init(row:))
    }
}
