import AWSJSONProtocol
import HyperPodDomain
import HyperPodStore
import SageMakerShapes

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

/// What a change records as a cluster operation (spec R303): nothing (a fired transition), a `Scaling` operation when
/// the change moved some group's TargetCount or MinCount (an API call), or the `DeepHealthCheck` of a
/// StartClusterHealthCheck.
enum OperationRecording {
    case none
    case scaling
    case deepHealthCheck([InstanceGroupHealthCheckConfiguration])
}

extension ClusterService {
    /// Records the operation of a request that took a cluster from `previous` (nil: CreateCluster) to `next`, when it
    /// makes one (R303, R304): an earlier `InProgress` detail of a group it changes is `Superseded` (R305), operations
    /// R309 purged are removed, and the new one is saved `InProgress`. `apply` calls it once the cluster row is written
    /// and before the change's events, so they carry the new operation's id (R306).
    func recordOperation(_ recording: OperationRecording, from previous: ClusterLifecycle?, to next: ClusterLifecycle, at now: VirtualTime,
                         db: StoreTransaction) throws {
        var recorded: ClusterOperationRecord?
        switch recording {
        case .none: return
        case .scaling: recorded = ClusterOperationRecord.scaling(id: "", from: previous, to: next, at: now)
        case .deepHealthCheck(let configurations):
            guard let previous else { return }
            recorded = ClusterOperationRecord.deepHealthCheck(id: "", configurations: configurations, from: previous, to: next, at: now)
        }
        guard var operation = recorded else { return }
        operation.operationID = generator.withLock { Identifiers.uuid(using: &$0) }  // drawn only when one is recorded
        if operation.kind == .scaling {
            let groups = Set(operation.scalingDetails.map(\.instanceGroupName))
            for var earlier in try ClusterOperationStore.inProgress(of: next.cluster.arn, db: db) where earlier.supersede(groups: groups) {
                try ClusterOperationStore.save(earlier, db: db)
            }
        }
        try ClusterOperationStore.purge(of: next.cluster.arn, at: now, db: db)
        try ClusterOperationStore.save(operation, db: db)
    }

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
    ///   - planKeys: plans the change may launch from that the cluster's groups do not name yet (R222).
    func transition<R>(
        _ lifecycle: inout ClusterLifecycle, at now: VirtualTime, db: StoreTransaction, codes: RejectionCodes = .conflictOrValidation,
        onlyIfChanged: Bool = false, records recording: OperationRecording = .none, planKeys: Set<String> = [],
        _ change: (inout ClusterLifecycle, inout LifecycleContext) throws -> (R, [LifecycleEffect])
    ) throws -> (result: R, timers: [NewTransition]) {
        let previous = lifecycle
        var context = try makeContext(for: lifecycle.cluster, at: now, db: db, planKeys: planKeys)
        var (result, effects) = try checked(codes) { try change(&lifecycle, &context) }
        effects += lifecycle.advanceAutoPatches(context: &context)  // R340: any change may end a patch run (a node left)
        try finishTransition(context, db: db)
        if onlyIfChanged && lifecycle == previous { return (result, []) }
        let timers = try apply(effects, to: lifecycle, previous: previous, at: now, db: db, records: recording)
        // R225: units given back to an RC let launches waiting on its plan retry at once (in every cluster).
        return (result, timers + (context.plans.released.isEmpty ? [] : try planWakeTimers(for: context.plans.released, at: now, db: db)))
    }

    /// `transition`, with its timers scheduled at once (an API call's change): a change of some group's TargetCount or
    /// MinCount records a `Scaling` operation (R303) unless `recording` says otherwise.
    /// - Returns: the change's result.
    @discardableResult
    func commit<R>(
        _ lifecycle: inout ClusterLifecycle, at now: VirtualTime, db: StoreTransaction, codes: RejectionCodes = .conflictOrValidation,
        onlyIfChanged: Bool = false, records recording: OperationRecording = .scaling, planKeys: Set<String> = [],
        _ change: (inout ClusterLifecycle, inout LifecycleContext) throws -> (R, [LifecycleEffect])
    ) throws -> R {
        let (result, timers) = try transition(&lifecycle, at: now, db: db, codes: codes, onlyIfChanged: onlyIfChanged,
                                              records: recording, planKeys: planKeys, change)
        try TransitionStore.schedule(timers, db: db)
        return result
    }
}
