import AWSJSONProtocol
import HyperPodDomain
import HyperPodStore

/// How an operation reports the domain's `UpdateRejection`s: with the code AWS uses for that operation.
enum RejectionCodes {
    /// UpdateCluster and UpdateClusterSoftware: a state conflict is `ConflictException` (R69, R85, R105), anything
    /// else `ValidationException`.
    case conflictOrValidation
    /// The node operations and StartClusterHealthCheck: AWS answers both with `ValidationException` (R97, R104).
    case validationOnly

    func error(_ rejection: UpdateRejection) -> AWSError {
        switch (self, rejection) {
        case (.conflictOrValidation, .conflict(let message)): .conflict(message)
        case (_, .conflict(let message)), (_, .validation(let message)): .validation(message)
        }
    }
}

extension ClusterService {
    /// Runs a domain call that may reject the request; a rejection becomes the AWS error `codes` gives it.
    /// - Throws: that `AWSError`, or what `body` throws otherwise.
    func checked<T>(_ codes: RejectionCodes, _ body: () throws -> T) throws -> T {
        do {
            return try body()
        } catch let rejection as UpdateRejection {
            throw codes.error(rejection)
        }
    }

    /// The one path by which a change to a stored cluster is committed, inside the caller's transaction: a context
    /// at `now` (free capacity, addresses, generator, faults) → the domain's change → the context's leftovers kept
    /// (generator state, consumed launch faults) → the cluster saved with its events → its timers. `lifecycle` is
    /// the cluster as loaded; on return it holds the changed one.
    /// - Parameters:
    ///   - codes: how a rejection of the change is answered.
    ///   - onlyIfChanged: save nothing (and schedule nothing) when the change left the cluster as it was.
    /// - Returns: the change's result and the timers to schedule (the caller schedules them, or hands them to the
    ///   scheduler that fired this transition).
    /// - Throws: the AWS error of a rejection; store errors.
    func transition<R>(
        _ lifecycle: inout ClusterLifecycle, at now: VirtualTime, db: StoreTransaction, codes: RejectionCodes = .conflictOrValidation,
        onlyIfChanged: Bool = false, _ change: (inout ClusterLifecycle, inout LifecycleContext) throws -> (R, [LifecycleEffect])
    ) throws -> (result: R, timers: [NewTransition]) {
        let previous = lifecycle
        var context = try makeContext(for: lifecycle.cluster, at: now, db: db)
        let (result, effects) = try checked(codes) { try change(&lifecycle, &context) }
        try finishTransition(context, db: db)
        if onlyIfChanged && lifecycle == previous { return (result, []) }
        return (result, try apply(effects, to: lifecycle, previous: previous, at: now, db: db))
    }

    /// `transition`, with its timers scheduled at once (an API call's change).
    /// - Returns: the change's result.
    @discardableResult
    func commit<R>(
        _ lifecycle: inout ClusterLifecycle, at now: VirtualTime, db: StoreTransaction, codes: RejectionCodes = .conflictOrValidation,
        onlyIfChanged: Bool = false, _ change: (inout ClusterLifecycle, inout LifecycleContext) throws -> (R, [LifecycleEffect])
    ) throws -> R {
        let (result, timers) = try transition(&lifecycle, at: now, db: db, codes: codes, onlyIfChanged: onlyIfChanged, change)
        try TransitionStore.schedule(timers, db: db)
        return result
    }
}
