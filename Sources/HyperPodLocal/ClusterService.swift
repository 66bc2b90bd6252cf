import AWSJSONProtocol
import Dispatch
import HyperPodStore
import HyperPodDomain
import JSON
import Logging
import SageMakerShapes
import Synchronization

/// The emulator's state engine: the database, the virtual clock, the timing profile and the persisted scheduler.
///
/// Every API and admin call that changes state runs on `queue`, one at a time (one write transaction each). Before a
/// call, the transitions due on the virtual clock fire in due order (spec R39); in real-clock mode a Dispatch timer also
/// fires them when they fall due. Read-only calls may also run on `readQueue`, several at once, each on a snapshot of
/// the committed state in which no transition is due (otherwise they go to `queue`: `read(_:)`).
///
/// `@unchecked Sendable` because: `timer` is touched only on `queue` (asserted with `dispatchPrecondition`); every other
/// stored property is immutable or a `Mutex`.
public final class ClusterService: @unchecked Sendable {
    public let database: EmulatorDatabase
    public let clock: VirtualClock
    public let queue = DispatchQueue(label: "hyperpod-local.state")
    /// Where read-only calls may run concurrently, off `queue` (see `read(_:)`).
    public let readQueue = DispatchQueue(label: "hyperpod-local.reads", attributes: .concurrent)
    /// Marks `queue`, so `read(_:)` knows which way it was called.
    private let stateQueueKey = DispatchSpecificKey<Bool>()
    let logger: Logger
    /// The partition of requests without identity (spec R24, R25), for the admin API's defaults.
    let defaultAccountID: String
    let defaultRegion: String
    let timingState: Mutex<TimingProfile>
    /// Capacity pool sizes of partitions that did not set their own (`--capacity`; spec R116):
    /// `[instance type: [zone or "*": instances]]`; `[:]` is unlimited.
    let configuredCapacity: [String: [String: Int]]
    /// Quota values of partitions that did not set their own (`--quota`; spec R84), by quota name.
    let configuredQuotas: [String: Int]
    /// Active request and alarm faults (spec RA7), mirrored from the `faults` table.
    public let faults = FaultRegistry()
    /// Request counters and latencies (spec RA10), fed by the HTTP handler.
    public let metrics = RequestMetrics()
    let generator: Mutex<SeededGenerator>
    /// `--seed`: the generator's state is saved per seed with every change and resumed at start, so a restart with the
    /// same seed on the same database continues the sequence instead of repeating ids it already stored.
    let generatorSeed: UInt64?
    private(set) var scheduler: TransitionScheduler!
    private var timer: DispatchSourceTimer?
    /// The earliest pending due time, known without a query (architecture §5: due timers are found from an in-memory
    /// index, not a query per request). Refreshed after every write and every firing; touched only on `queue`.
    private var nextDue: VirtualTime?
    /// DescribeCluster answers by caller partition and the name or ARN asked for, valid until the next change (every
    /// committed write and every fired timer clears it; architecture §5). Touched only on `queue`.
    var describeCache: [String: DescribeClusterResponse] = [:]
    /// What the event loop and `readQueue` may read without the queue: the earliest due time and the DescribeCluster
    /// answers, mirrored from the queue's state after every change.
    let loopCache = Mutex(LoopCache())

    struct LoopCache {
        var nextDue: VirtualTime?
        var describe: [String: [UInt8]] = [:]
        /// Counts the clearings: an answer read off the queue is cached only if no change was committed since its read
        /// began (a change commits, then clears; a read that began before the clearing may hold the old state).
        var epoch: UInt64 = 0
    }

    /// Opens the state: resumes the persisted clock (its mode and scale come from the configuration when they differ).
    /// - Throws: database errors.
    public init(database: EmulatorDatabase, clockMode: VirtualClock.Mode, timeScale: Double, timing: TimingProfile,
                seed: UInt64?, defaultAccountID: String = "000000000000", defaultRegion: String = "us-east-1",
                capacity: [String: [String: Int]] = [:], quotas: [String: Int] = [:],
                wall: any WallClock = SystemWallClock(), logger: Logger) throws {
        self.configuredCapacity = capacity
        self.configuredQuotas = quotas
        self.database = database
        self.logger = logger
        self.defaultAccountID = defaultAccountID
        self.defaultRegion = defaultRegion
        self.timingState = Mutex(timing)
        self.generatorSeed = seed
        if let seed {
            let saved = try database.read { try ServerStore.generatorState(seed: seed, db: $0) }
            self.generator = Mutex(saved.map(SeededGenerator.init(resuming:)) ?? SeededGenerator(seed: seed))
        } else {
            self.generator = Mutex(SeededGenerator())
        }
        queue.setSpecific(key: stateQueueKey, value: true)
        if var saved = try database.read({ try ServerStore.clock(db: $0) }) {
            if saved.mode != clockMode || saved.timeScale != timeScale {
                let resumed = VirtualClock(state: saved, wall: wall).snapshot()
                saved = VirtualClock.State(mode: clockMode, timeScale: timeScale, anchorVirtual: resumed.anchorVirtual,
                                           anchorWallMilliseconds: resumed.anchorWallMilliseconds)
            }
            clock = VirtualClock(state: saved, wall: wall)
        } else {
            clock = VirtualClock.starting(mode: clockMode, timeScale: timeScale, wall: wall)
        }
        scheduler = TransitionScheduler(database: database) { [unowned self] transition, db in
            try self.fire(transition, db: db)
        }
        try database.write { try ServerStore.saveClock(clock.snapshot(), db: $0) }
        try loadFaults()
    }

    /// Mirrors the `faults` table into `faults`.
    func loadFaults() throws {
        try database.read { db in try reloadFaults(db) }
    }

    /// Mirrors the `faults` table into `faults`, inside the caller's transaction (a rolled-back transaction leaves the
    /// mirror ahead of the table only until the next reload; faults act on later calls either way).
    func reloadFaults(_ db: StoreTransaction) throws {
        faults.replace(try ServerStore.faults(db: db).map { FaultRegistry.Fault(id: $0.id, body: $0.body) })
    }

    /// The timing profile in force (spec R40, RA6).
    public var timing: TimingProfile { timingState.withLock { $0 } }

    /// Fires what is overdue (the catch-up after a restart) and arms the timer. Call once, before serving.
    ///
    /// Queued, not waited for: the server listens at once however much is overdue (a restart after many clusters'
    /// launches fell due), and every call queued after it, or reading a snapshot in which something is due, sees the
    /// catch-up done first (R39).
    public func start() {
        queue.async { [self] in
            refreshNextDue()
            processDue()
        }
    }

    /// Stops the background timer.
    public func stop() {
        queue.sync {
            timer?.cancel()
            timer = nil
        }
    }

    // MARK: Running calls

    /// Runs `body` in one write transaction at the current virtual time, after the due transitions fired.
    /// Must be called on `queue`.
    public func perform<T>(_ body: (StoreTransaction, VirtualTime) throws -> T) throws -> T {
        dispatchPrecondition(condition: .onQueue(queue))
        processDue()
        let now = clock.now()
        let result: T
        do {
            result = try database.write { db in
                let result = try body(db, now)
                try persistGenerator(db)
                return result
            }
        } catch {
            try? loadFaults()  // a rolled-back transaction may have consumed injected faults in the mirror only
            throw error
        }
        refreshNextDue()
        armTimer()
        return result
    }

    /// A read at the current virtual time, after the due transitions fired.
    ///
    /// On `queue`: fires what is due, then reads. Anywhere else (`readQueue`): reads a snapshot of the committed state,
    /// as of now, if no transition is due in it — the same answer the queue would give, since nothing would fire
    /// first; otherwise it waits for `queue`, which fires what is due and then reads.
    public func read<T>(_ body: (StoreTransaction, VirtualTime) throws -> T) throws -> T {
        if onStateQueue {
            processDue()
            let now = clock.now()
            return try database.read { db in try body(db, now) }
        }
        let now = clock.now()
        var transitionDue = false
        let answer = try database.read { db -> T? in
            if let due = try TransitionStore.nextDue(db: db), due <= now {
                transitionDue = true
                return nil
            }
            return try body(db, now)
        }
        if !transitionDue { return answer! }
        // A transition is due in this snapshot: the state queue fires it first, then reads (R39). The state queue never
        // waits for `readQueue`, so this wait cannot deadlock.
        return try queue.sync { try read(body) }
    }

    /// Whether the caller runs on `queue`.
    var onStateQueue: Bool { DispatchQueue.getSpecific(key: stateQueueKey) == true }

    /// Fires every transition due now. A transition that fails is rolled back and retried later, or set aside after
    /// `TransitionScheduler.maxAttempts` failures; each failed attempt is logged once (`scheduler.transition_failed`,
    /// or `scheduler.transition_set_aside` for the last), and the other due transitions fire regardless.
    /// - Returns: how many transitions fired.
    @discardableResult
    func processDue() -> Int {
        dispatchPrecondition(condition: .onQueue(queue))
        guard let due = nextDue, due <= clock.now() else { return 0 }
        var fired = 0
        do {
            let report = try scheduler.runDue(until: clock.now())
            fired = report.fired
            for failure in report.failures { log(failure) }
            if !report.failures.isEmpty { try? loadFaults() }
        } catch {
            // The scheduled_transitions table itself could not be read or updated: nothing fired or was rescheduled.
            logger.error("scheduler.unavailable", metadata: ["error": "\(error)"])
            try? loadFaults()
        }
        refreshNextDue()
        armTimer()
        return fired
    }

    private func log(_ failure: TransitionFailure) {
        var metadata: Logger.Metadata = [
            "resource": "\(failure.transition.resourceARN)", "event": "\(failure.transition.event)",
            "due_at": "\(failure.transition.dueAt)", "attempt": "\(failure.attempt)", "error": "\(failure.error)",
        ]
        if let retryAt = failure.retryAt {
            metadata["retry_at"] = "\(retryAt)"
            logger.warning("scheduler.transition_failed", metadata: metadata)
        } else {
            logger.error("scheduler.transition_set_aside", metadata: metadata)
        }
    }

    /// After anything that may have changed the state (a write, fired timers, a reset): forgets cached answers and
    /// re-reads the earliest pending due time.
    func refreshNextDue() {
        dispatchPrecondition(condition: .onQueue(queue))
        describeCache.removeAll(keepingCapacity: true)
        nextDue = (try? scheduler.nextDue()) ?? nil
        let due = nextDue
        loopCache.withLock {
            $0.nextDue = due
            $0.describe.removeAll(keepingCapacity: true)
            $0.epoch &+= 1
        }
    }

    /// The cache's epoch now: take it before a read begins.
    var cacheEpoch: UInt64 { loopCache.withLock { $0.epoch } }

    /// Caches a DescribeCluster answer's encoded JSON for the event loop, unless a change was committed since `epoch`
    /// (on `queue` nothing can be: only the queue changes state).
    func cacheDescribe(_ response: DescribeClusterResponse, key: String, readSince epoch: UInt64) {
        let encoded = JSONWriter.encode(response.jsonValue)
        loopCache.withLock { if $0.epoch == epoch { $0.describe[key] = encoded } }
    }

    /// A cached DescribeCluster answer as JSON bytes, from any thread; `nil` when there is none or a transition is due
    /// (the answer may be stale then).
    func cachedDescribe(key: String) -> [UInt8]? {
        let now = clock.now()
        return loopCache.withLock { cache in
            if let due = cache.nextDue, due <= now { return nil }
            return cache.describe[key]
        }
    }

    /// Real-clock mode: one Dispatch timer for the earliest pending transition.
    private func armTimer() {
        dispatchPrecondition(condition: .onQueue(queue))
        guard clock.mode == .real, let due = nextDue else {
            timer?.cancel()
            timer = nil
            return
        }
        let virtualDelay = Double(max(0, due.milliseconds - clock.now().milliseconds)) / 1000
        let wallDelay = virtualDelay / clock.timeScale
        if timer == nil {
            let source = DispatchSource.makeTimerSource(queue: queue)
            source.setEventHandler { [unowned self] in self.processDue() }
            source.resume()
            timer = source
        }
        timer?.schedule(deadline: .now() + .milliseconds(Int(min(wallDelay, 86_400) * 1000) + 1), leeway: .milliseconds(1))
    }

    /// Applies one fired transition (the scheduler's applier): a stale one (cluster gone, or generation moved on) is a
    /// no-op.
    private func fire(_ transition: ScheduledTransition, db: StoreTransaction) throws -> [NewTransition] {
        if Self.isPlanTimer(transition.resourceARN) {  // a training plan's timer (spec §17)
            let timers = try firePlan(transition, db: db)
            try persistGenerator(db)
            return timers
        }
        if Self.isGovernanceTimer(transition.resourceARN) {  // a task governance policy's timer (spec §18)
            return try fireGovernance(transition, db: db)
        }
        guard let loaded = try ClusterStore.load(transition.resourceARN, db: db),
              loaded.cluster.generation == transition.generation else { return [] }
        guard let event = LifecycleEvent(encoded: transition.event) else { throw UnknownTransition(event: transition.event) }
        if case .movedNodesDetached(let nodes) = event {  // the one transition that changes two clusters (R324)
            let timers = try handOffMovedNodes(nodes, from: loaded, at: transition.dueAt, db: db)
            try persistGenerator(db)
            return timers
        }
        var lifecycle = loaded
        let timers = try self.transition(&lifecycle, at: transition.dueAt, db: db) { l, c in ((), l.handle(event, context: &c)) }.timers
        try persistGenerator(db)
        return timers
    }

    /// A current transition whose event this build cannot read (a damaged row): it fails, so the scheduler retries it
    /// and then sets it aside, instead of dropping it without a word.
    struct UnknownTransition: Error, CustomStringConvertible {
        let event: String
        var description: String { "unknown transition event '\(event)'" }
    }

    /// Saves the generator's state under `--seed` (inside the caller's transaction: it commits with the ids it made).
    func persistGenerator(_ db: StoreTransaction) throws {
        guard let seed = generatorSeed else { return }
        try ServerStore.saveGeneratorState(generator.withLock { $0.state }, seed: seed, db: db)
    }

    /// Stores a changed cluster and turns its effects into timers (or its removal); records the operation `recording`
    /// asks for (R303), writes the change's events with their operation ids (R306) and moves the cluster's operations
    /// on (R305).
    func apply(
        _ effects: [LifecycleEffect], to lifecycle: ClusterLifecycle, previous: ClusterLifecycle? = nil, at time: VirtualTime,
        db: StoreTransaction, records recording: OperationRecording = .none
    ) throws -> [NewTransition] {
        var timers: [NewTransition] = []
        var removed = false
        for effect in effects {
            switch effect {
            case .schedule(let event, let seconds):
                timers.append(NewTransition(resourceARN: lifecycle.cluster.arn, generation: lifecycle.cluster.generation,
                                            event: event.encoded, dueAt: time.adding(seconds: seconds)))
            case .removeCluster:
                removed = true
            case .cancel(let event):
                try TransitionStore.cancel(resourceARN: lifecycle.cluster.arn, event: event.encoded, db: db)
            }
        }
        if removed {
            try ClusterStore.remove(lifecycle.cluster.arn, db: db)
            try TransitionStore.cancel(resourceARN: lifecycle.cluster.arn, db: db)
            return []
        }
        try ClusterStore.save(lifecycle, previous: previous, db: db)
        try recordOperation(recording, from: previous, to: lifecycle, at: time, db: db)  // R303, now that the row exists
        // R305: every change of a Continuous cluster may finish (or supersede) its operations. The events of this change
        // carry the operation they worked on (R306), decided before the change finishes it.
        var operations: [ClusterOperationRecord] = []
        if lifecycle.cluster.isContinuous {
            operations = try ClusterOperationStore.inProgress(of: lifecycle.cluster.arn, db: db)
        }
        for event in lifecycle.newEvents {
            let id = generator.withLock { Identifiers.uuid(using: &$0) }
            try ClusterStore.addEvent(event, id: id, cluster: lifecycle.cluster.arn, at: time,
                                      operationID: Self.operation(of: event, among: operations, in: lifecycle), db: db)
        }
        for var operation in operations where operation.reconcile(with: lifecycle) {
            try ClusterOperationStore.save(operation, db: db)
        }
        if let previous {  // R326: moves this change ended before their hand-off
            let withdrawn = lifecycle.withdrawnMoves(since: previous)
            if !withdrawn.isEmpty { try withdrawMoves(withdrawn, from: lifecycle, at: time, db: db) }
        }
        return timers
    }

    /// The operation an event was recorded while working on (spec R306): an `InstanceGroup` or `Instance` event of a
    /// group with an `InProgress` Scaling detail carries that operation's id; an `Instance` event of a node an
    /// `InProgress` DeepHealthCheck operation checks carries that one's. Cluster events carry none.
    static func operation(of event: ClusterEventRecord, among operations: [ClusterOperationRecord], in lifecycle: ClusterLifecycle) -> String? {
        guard event.resourceType != .cluster, let group = event.instanceGroupName else { return nil }
        if event.resourceType == .instance, let instance = event.instanceID,
           let node = lifecycle.nodes.first(where: { $0.instanceID == instance }),
           let check = operations.first(where: { $0.kind == .deepHealthCheck && $0.checkedNodes.contains(node.logicalID) }) {
            return check.operationID
        }
        return operations.last { operation in
            operation.kind == .scaling
                && operation.scalingDetails.contains { $0.instanceGroupName == group && $0.status == .inProgress }
        }?.operationID
    }

    struct Allocator: NodeAllocator {
        var generator: SeededGenerator
        var addresses: Placement.AddressAllocator
        /// A failed read of the addresses in use; `finishTransition` throws it, rolling the transition back.
        let failure: FailureBox
        mutating func newLogicalID() -> String { Identifiers.uuid(using: &generator) }
        mutating func newInstanceID() -> String { Identifiers.instanceID(using: &generator) }
        mutating func newAddress(subnet: String?) -> UInt32 { addresses.next(subnet: subnet) }
        mutating func randomIndex(below upperBound: Int) -> Int { Int.random(in: 0..<upperBound, using: &generator) }
    }

    /// The first error of a lookup that cannot throw where it happens (the domain's allocator calls); one transaction's.
    final class FailureBox {
        var error: (any Error)?
    }

    /// What a transition of `cluster` at `now` works with: the free capacity of its partition and an allocator over
    /// the partition's used addresses (read per block, on demand) and the shared generator.
    /// `planKeys`: plans (lower-cased ARNs) a change may launch from besides those the cluster's groups name now (an
    /// UpdateCluster that sets a plan, R222).
    func makeContext(for cluster: ClusterRecord, at now: VirtualTime, db: StoreTransaction, planKeys: Set<String> = []) throws -> LifecycleContext {
        let partition = ClusterStore.Partition(account: cluster.account, region: cluster.region)
        // The addresses in use are read per /20 block when a launch first needs one (R35), not for every transition.
        let failure = FailureBox()
        let allocator = Allocator(generator: generator.withLock { $0 }, addresses: Placement.AddressAllocator { base in
            do {
                let low = base + Placement.firstOffset, high = base + Placement.endOffset - 1
                if try ClusterStore.addressesInUse(in: partition, from: low, through: high, db: db) >= Placement.AddressAllocator.blockCapacity {
                    return .full
                }
                return .used(try ClusterStore.usedAddresses(in: partition, from: low, through: high, db: db))
            } catch {
                if failure.error == nil { failure.error = error }
                return .full
            }
        }, failure: failure)
        var context = LifecycleContext(now: now, timing: timing, capacity: try capacityPools(in: partition, db: db),
                                       allocator: allocator, alarmsInAlarm: faults.alarmsInAlarm())
        context.images = try imageCatalogue(in: partition, db: db)
        context.plans = try planCapacity(for: cluster, at: now, db: db, also: planKeys)  // R223
        for fault in faults.all {
            switch fault.kind {
            case "launch-failure":
                guard let type = fault.body["instanceType"]?.stringValue,
                      let cause = fault.body["cause"]?.stringValue.flatMap(LifecycleContext.LaunchFault.Cause.init(rawValue:)) else { continue }
                context.launchFaults.append(.init(id: fault.id, instanceType: type, cause: cause, remaining: fault.body["count"]?.intValue ?? 1))
            case "lifecycle-bucket-missing":
                if let prefix = fault.body["sourceS3Uri"]?.stringValue { context.missingBuckets.append(prefix) }
            case "node-busy":  // RA22, for the named cluster of its partition (R340)
                if self.fault(fault, names: cluster), let node = fault.body["nodeId"]?.stringValue { context.busyNodes.insert(node) }
            case "accounting-db-failure":  // RA22, for the named cluster of its partition (R342)
                guard self.fault(fault, names: cluster) else { continue }
                context.accountingDatabaseFailure = .init(
                    rollbackStatus: fault.body["rollbackStatus"]?.stringValue.flatMap(DatabaseConfigurationRollbackStatus.init(rawValue:)) ?? .notApplicable,
                    message: fault.body["message"]?.stringValue ?? "The accounting database could not be configured.")
            default:
                break
            }
        }
        return context
    }

    /// Whether a fault that names a cluster (`cluster`, with optional `account` and `region`, default the server's)
    /// names `cluster` (RA22).
    func fault(_ fault: FaultRegistry.Fault, names cluster: ClusterRecord) -> Bool {
        fault.body["cluster"]?.stringValue == cluster.name
            && (fault.body["account"]?.stringValue ?? defaultAccountID) == cluster.account
            && (fault.body["region"]?.stringValue ?? defaultRegion) == cluster.region
    }

    /// After a transition: keeps the generator's state (ids stay reproducible under `--seed`) and stores what is left
    /// of the injected launch failures it consumed (RA7).
    func finishTransition(_ context: LifecycleContext, db: StoreTransaction) throws {
        if let allocator = context.allocator as? Allocator {
            if let error = allocator.failure.error { throw error }
            generator.withLock { $0 = allocator.generator }
        }
        var changed = false
        for fault in context.launchFaults {
            guard let stored = faults.all.first(where: { $0.id == fault.id }), stored.body["count"]?.intValue != fault.remaining else { continue }
            changed = true
            if fault.remaining <= 0 {
                try ServerStore.removeFault(id: fault.id, db: db)
            } else {
                var body = stored.body
                body["count"] = .integer(Int64(fault.remaining))
                try ServerStore.updateFault(id: fault.id, body: body, db: db)
            }
        }
        if changed { try reloadFaults(db) }
    }

    // MARK: HyperPod AMI releases (spec R334, RA21)

    /// A partition's AMI releases: the stored catalogue (RA21), else the one a region starts with.
    /// - Throws: SQLite errors; `StoreError` for a stored catalogue that no longer decodes.
    func imageCatalogue(in partition: ClusterStore.Partition, db: StoreTransaction) throws -> ImageCatalogue {
        guard let stored = try PartitionSettings.value(PartitionSettings.amiReleases, in: partition, db: db) else {
            return .initial(region: partition.region)
        }
        guard let catalogue = ImageCatalogue(json: stored, region: partition.region) else {
            throw StoreError.corrupt("AMI releases of \(partition.account)/\(partition.region)")
        }
        return catalogue
    }

    // MARK: Capacity and quotas (spec R84, R116, RA4, RA5)

    /// A partition's pool sizes: its admin setting (RA4), else `--capacity`.
    func capacityLimits(in partition: ClusterStore.Partition, db: StoreTransaction) throws -> [String: [String: Int]] {
        if let stored = try PartitionSettings.value(PartitionSettings.capacity, in: partition, db: db) {
            return PartitionSettings.decodePools(stored)
        }
        return configuredCapacity
    }

    /// Instances of `type` held against the pool of `zone` (`*`: every zone), from `ClusterStore.instancesHeld`.
    static func held(_ inUse: [String: [String: Int]], type: String, zone: String) -> Int {
        zone == CapacityPools.allZones ? (inUse[type] ?? [:]).values.reduce(0, +) : inUse[type]?[zone] ?? 0
    }

    /// Free capacity of a partition: pool size minus what is held (spec R116). Unlimited types need no query.
    func capacityPools(in partition: ClusterStore.Partition, db: StoreTransaction) throws -> CapacityPools {
        let limits = try capacityLimits(in: partition, db: db)
        guard !limits.isEmpty else { return .unlimited }
        let inUse = try ClusterStore.instancesHeld(in: partition, db: db)
        var free: [String: [String: Int]] = [:]
        for (type, sizes) in limits {
            var pools: [String: Int] = [:]
            for (zone, size) in sizes { pools[zone] = max(0, size - Self.held(inUse, type: type, zone: zone)) }
            free[type] = pools
        }
        return CapacityPools(free: free)
    }

    /// A partition's quota values: `--quota` overlaid by its admin setting (RA5).
    func quotaLimits(in partition: ClusterStore.Partition, db: StoreTransaction) throws -> [String: Int] {
        var limits = configuredQuotas
        for (name, value) in try PartitionSettings.value(PartitionSettings.quotas, in: partition, db: db)?.objectValue?.members ?? [] {
            if let n = value.intValue { limits[name] = n }
        }
        return limits
    }

    // MARK: Admin: clock, settle, reset (spec RA2, RA3, RA11)

    /// Moves the clock forward and fires what falls due, in order. Must be called on `queue`.
    /// - Throws: `VirtualClock.Refusal` for a negative amount.
    public func advance(bySeconds seconds: Double) throws {
        dispatchPrecondition(condition: .onQueue(queue))
        guard seconds.isFinite, seconds >= 0 else { try clock.advance(seconds: seconds); return }
        // Step from due time to due time, so each transition sees the clock at its own instant.
        try stepClock(to: clock.now().adding(seconds: seconds))
    }

    /// Sets the clock to a later instant, firing what falls due on the way. Must be called on `queue`.
    public func setClock(to target: VirtualTime) throws {
        dispatchPrecondition(condition: .onQueue(queue))
        guard target >= clock.now() else { try clock.set(to: target); return }
        try stepClock(to: target)
    }

    private func stepClock(to target: VirtualTime) throws {
        try fireDue(upTo: target)
        if target > clock.now() { try clock.set(to: target) }
        try saveClock()
    }

    /// Fires every transition due up to `target` in due order, moving the clock to each due time in turn. A failing
    /// transition does not stop the clock: it is retried at later due times, then set aside (`processDue`).
    private func fireDue(upTo target: VirtualTime) throws {
        processDue()
        while let due = nextDue, due <= target {
            if due > clock.now() {
                try clock.set(to: due)
                // Stored before the transitions of that instant fire: a kill in between leaves no transition that fired
                // ahead of the stored clock (they would otherwise come back due in the past, their timers in the future).
                try saveClock()
            }
            processDue()
        }
    }

    /// What a settle did (RA11).
    public struct SettleReport: Sendable {
        /// Nothing transitional pending, and no cluster left in a transitional state.
        public var settled: Bool
        /// Transitions set aside after failing (of every partition): they never fire, so their clusters may stay
        /// transitional; listed so a test sees why it did not settle.
        public var setAside: [ScheduledTransition]
    }

    /// Advances from due time to due time until nothing transitional is pending or `maxSeconds` of virtual time have
    /// passed (RA11); MinInstanceCount timeouts (R73) do not count as transitional, though they fire if they fall due
    /// on the way. The clock stays at the last transition when everything settled. A failing transition is retried as
    /// time moves and set aside after `TransitionScheduler.maxAttempts` attempts; it is reported, not thrown.
    public func settleTimers(maxSeconds: Double) throws -> SettleReport {
        dispatchPrecondition(condition: .onQueue(queue))
        var limit = clock.now().adding(seconds: maxSeconds)
        processDue()
        // R231: a settle never runs the clock to a training plan's window start, drain or end: it stops 1 ms short of
        // the next one (a test moves the clock there itself).
        if let boundary = try database.read({ try TransitionStore.nextDue(withEventPrefixes: PlanEvent.notTransitional, db: $0) }),
           boundary > clock.now() {
            limit = min(limit, boundary.adding(seconds: -0.001))
        }
        while let due = try nextTransitionalInstant(), due <= limit {
            if due > clock.now() {
                try clock.set(to: due)
                try saveClock()  // before that instant's transitions fire (as in `fireDue`)
            }
            processDue()
        }
        // Settled: nothing transitional pending, and no cluster left in a transitional state (a stuck one is not settled).
        let settled = try nextTransitionalInstant() == nil && (try transitionalClusters()) == 0
        if !settled && limit > clock.now() { try fireDue(upTo: limit); try clock.set(to: limit) }
        try saveClock()
        return SettleReport(settled: settled, setAside: try scheduler.pending().filter(\.isSetAside))
    }

    /// The next instant something transitional happens: a due transition, an attachment that settles
    /// (`attaching`/`detaching`) or an extension step that ends (R346); nil when nothing is pending.
    func nextTransitionalInstant() throws -> VirtualTime? {
        let timer = try scheduler.nextDue(excludingEventPrefixes: Self.notTransitional)
        let now = clock.now()
        let (attachment, extensionStep) = try database.read { db in
            (try AttachmentStore.nextSettle(after: now, db: db), try ExtensionStore.nextStepEnd(after: now, db: db))
        }
        return [timer, attachment, extensionStep].compactMap { $0 }.min()
    }

    /// Clusters in a transitional ClusterStatus (RA11), over every partition.
    func transitionalClusters() throws -> Int {
        try database.read { db in
            try ClusterStore.count(withStatus: [.creating, .updating, .rollingBack, .systemUpdating, .deleting], db: db)
        }
    }

    /// Timer texts that are timeouts or schedules rather than transitional states (RA11).
    static let notTransitional = [
        LifecycleEvent.minCountTimeout(group: "", token: 0), LifecycleEvent.scheduledUpdate(group: "", token: 0),
        LifecycleEvent.autoPatchDue(group: "", token: 0), LifecycleEvent.autoPatchScheduleApplied(group: "", token: 0),  // R346
    ].map { $0.encoded.prefix(while: { $0 != "," }).description } + PlanEvent.notTransitional  // R231
        + GovernanceEvent.notTransitional  // R286

    /// Persists the clock so a restart resumes it (spec R38).
    public func saveClock() throws {
        try database.write { try ServerStore.saveClock(clock.snapshot(), db: $0) }
    }

    /// Empties all state, or one partition's (RA2): clusters with their nodes, events, tags and timers, the
    /// partition settings (capacity pools, quotas, RA8 settings) and, for a full reset, the faults. Timing overrides
    /// (RA6) and the clock are server configuration and stay. Must be called on `queue`.
    public func reset(partition: ClusterStore.Partition?) throws {
        dispatchPrecondition(condition: .onQueue(queue))
        try database.write { db in
            try ServerStore.reset(partition, db: db)
            try reloadFaults(db)
        }
        refreshNextDue()
        armTimer()
    }
}
