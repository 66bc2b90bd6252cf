import HyperPodDomain
import HyperPodStore

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
    /// transaction back (the row stays, with the failed attempt recorded).
    public typealias Applier = @Sendable (ScheduledTransition, StoreTransaction) throws -> [NewTransition]

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

    /// The earliest time a pending transition may fire, nil when none may.
    public func nextDue() throws -> VirtualTime? {
        try database.read { try TransitionStore.nextDue(db: $0) }
    }

    /// The earliest firing time of transitions whose event text does not start with one of `prefixes` (RA11).
    public func nextDue(excludingEventPrefixes prefixes: [String]) throws -> VirtualTime? {
        try database.read { try TransitionStore.nextDue(excludingEventPrefixes: prefixes, db: $0) }
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
            // One write transaction per transition: find it, delete it, apply it, schedule its follow-ups.
            var current: ScheduledTransition?
            do {
                let fired = try database.write { db -> Bool in
                    guard let transition = try TransitionStore.next(firingBy: now, db: db) else { return false }
                    current = transition
                    try TransitionStore.remove(id: transition.id, db: db)
                    try TransitionStore.schedule(try apply(transition, db), db: db)
                    return true
                }
                guard fired else { return report }
                report.fired += 1
            } catch {
                // Rolled back. Without a transition the table itself failed: that is not the transition's fault.
                guard let transition = current else { throw error }
                let attempt = transition.attempts + 1
                let retryAt = attempt < Self.maxAttempts ? now.adding(seconds: Self.retryDelay(afterAttempt: attempt)) : nil
                let message = "\(error)"
                try database.write { db in
                    try TransitionStore.recordFailure(id: transition.id, attempts: attempt, error: message, retryAt: retryAt, db: db)
                }
                report.failures.append(TransitionFailure(transition: transition, attempt: attempt, error: message, retryAt: retryAt))
            }
        }
    }

    /// Every pending transition, in firing order, the set-aside ones last (state dump, tests).
    public func pending() throws -> [ScheduledTransition] {
        try database.read { try TransitionStore.pending(db: $0) }
    }
}
