import SageMakerShapes

/// A group's automatic patch (spec R339, R340): the PATCH release it will install, when, and — once it runs — how far
/// it got. Times are virtual.
public struct AutoPatchRun: Sendable, Equatable {
    /// The release the patch installs (the highest PATCH release of the group's MAJOR.MINOR line).
    public var targetVersion: String
    /// The target release's AMI id.
    public var targetImage: String
    /// `CurrentPatchSchedule.NextPatchDate`.
    public var nextPatchDate: VirtualTime
    /// `DesiredPatchSchedule.NextPatchDate`: a reschedule shows here at once and becomes current after T_config.
    public var desiredPatchDate: VirtualTime
    /// Timers of this run carry it; a reschedule or a new release hands out a new one.
    public var token: Int
    /// The run started (NextPatchDate was reached).
    public var started: Bool = false
    /// Nodes (NodeLogicalIds) patched so far, being patched now (or draining, DrainFirst), and skipped (DrainFirst with
    /// `Skip`).
    public var patched: [String] = []
    public var inFlight: [String] = []
    public var skipped: [String] = []
    /// The idle window ended (WhenIdle, WhenAllIdle).
    public var windowEnded: Bool = false
    /// WhenAllIdle found a busy node and recorded that it waits (C-R339).
    public var postponed: Bool = false

    public init(targetVersion: String, targetImage: String, nextPatchDate: VirtualTime, token: Int) {
        self.targetVersion = targetVersion
        self.targetImage = targetImage
        self.nextPatchDate = nextPatchDate
        self.desiredPatchDate = nextPatchDate
        self.token = token
    }
}

/// R338: the checks of an instance group's `AutoPatchConfig`, and its defaults.
public enum AutoPatchRules {
    /// The first failing rule's message (R338 order), nil when the group passes.
    public static func violation(_ spec: ClusterInstanceGroupSpecification, eks: Bool, images: ImageCatalogue) -> String? {
        guard let config = spec.autoPatchConfig else { return nil }
        let name = spec.instanceGroupName
        // A custom AMI is one that is no HyperPod AMI (an ImageId naming a release's AMI is that release).
        if let custom = spec.imageId, custom != "default", images.release(ofImage: custom) == nil {
            return "AutoPatchConfig is not supported for instance group \(name) because it uses a custom AMI."
        }
        let drainFirst = config.patchingStrategy == .drainFirst
        if drainFirst && !eks { return "PatchingStrategy DrainFirst is only supported for clusters with an Eks orchestrator." }
        if drainFirst && config.deploymentConfig?.rollingUpdatePolicy?.maximumBatchSize == nil {
            return "PatchingStrategy DrainFirst requires DeploymentConfig with a RollingUpdatePolicy MaximumBatchSize."
        }
        if config.drainPolicy != nil && !drainFirst { return "DrainPolicy is only valid when PatchingStrategy is DrainFirst." }
        if config.idleWaitWindowInSeconds != nil && drainFirst {
            return "IdleWaitWindowInSeconds is only valid when PatchingStrategy is WhenIdle or WhenAllIdle."
        }
        if config.deploymentConfig != nil && !eks { return "DeploymentConfig is only supported for clusters with an Eks orchestrator." }
        return nil
    }

    /// Default idle window of the idle strategies: a day (R338).
    public static let defaultIdleWaitWindowSeconds = 86_400
    /// Default drain policy of DrainFirst (R338).
    public static let defaultDrainPolicy = ClusterDrainPolicy(drainTimeoutInSeconds: 3_600, onDrainTimeout: .skip)
    /// How long after a release is detected a patch runs: `T_patch_notice`, 7 days in every timing mode (R339, R346).
    public static let noticeSeconds = 7.0 * 86_400

    /// The configuration as DescribeCluster shows it (`ClusterAutoPatchConfigDetails`): defaults filled, the schedule
    /// as Current/Desired (R338, R339).
    public static func details(_ config: ClusterAutoPatchConfig, run: AutoPatchRun?) -> ClusterAutoPatchConfigDetails {
        let idle = config.patchingStrategy != .drainFirst
        var drain = config.drainPolicy ?? defaultDrainPolicy
        drain.drainTimeoutInSeconds = drain.drainTimeoutInSeconds ?? 3_600
        drain.onDrainTimeout = drain.onDrainTimeout ?? .skip
        return ClusterAutoPatchConfigDetails(
            patchingStrategy: config.patchingStrategy,
            currentPatchSchedule: run.map { ClusterPatchScheduleDetails(nextPatchDate: $0.nextPatchDate.epochSeconds) },
            desiredPatchSchedule: run.map { ClusterPatchScheduleDetails(nextPatchDate: $0.desiredPatchDate.epochSeconds) },
            deploymentConfig: config.deploymentConfig,
            idleWaitWindowInSeconds: idle ? (config.idleWaitWindowInSeconds ?? defaultIdleWaitWindowSeconds) : nil,
            drainPolicy: idle ? nil : drain)
    }
}

extension ClusterLifecycle {
    /// R339: a newly published release. Every group with AutoPatchConfig on a HyperPod AMI whose MAJOR.MINOR line has
    /// a higher PATCH release gets (or moves to) that target, NextPatchDate = now + T_patch_notice; a run already under
    /// way is left alone.
    public mutating func detectPatches(context: inout LifecycleContext) -> [LifecycleEffect] {
        detectPatches(images: images(context), now: context.now)
    }

    /// `detectPatches` with the catalogue and instant given (CreateCluster has no context yet).
    mutating func detectPatches(images catalogue: ImageCatalogue, now: VirtualTime) -> [LifecycleEffect] {
        guard cluster.status != .deleting else { return [] }
        var effects: [LifecycleEffect] = []
        for g in cluster.groups.indices where cluster.groups[g].spec.autoPatchConfig != nil && cluster.groups[g].restrictedSpec == nil
            && cluster.groups[g].status != .deleting {
            let group = cluster.groups[g]
            guard let running = catalogue.release(ofImage: group.currentImage(region: cluster.region)) else { continue }
            let candidates = catalogue.releases.filter {
                $0.architecture == running.architecture && $0.line == running.line && ImageCatalogue.precedes(running.version, $0.version)
            }
            guard let target = candidates.max(by: { ImageCatalogue.precedes($0.version, $1.version) }) else { continue }
            if var run = group.autoPatch {
                guard !run.started, run.targetVersion != target.version else { continue }
                run.targetVersion = target.version  // a higher release before the date: same date, new target
                run.targetImage = target.imageID
                cluster.groups[g].autoPatch = run
                continue
            }
            let token = nextToken()
            let due = now.adding(seconds: AutoPatchRules.noticeSeconds)
            cluster.groups[g].autoPatch = AutoPatchRun(targetVersion: target.version, targetImage: target.imageID, nextPatchDate: due, token: token)
            recordGroupText(group.name, "InstanceGroup \(group.name) in Cluster \(c) has been scheduled for UpdateClusterSoftware to \(target.version).")
            effects.append(.schedule(.autoPatchDue(group: group.name, token: token), afterSeconds: AutoPatchRules.noticeSeconds))
        }
        return effects
    }

    /// R339: UpdateCluster's `PatchSchedule.NextPatchDate` for a group: Desired at once, Current after T_config.
    mutating func reschedulePatch(_ g: Int, to date: VirtualTime, context: inout LifecycleContext) -> [LifecycleEffect] {
        guard var run = cluster.groups[g].autoPatch, !run.started else { return [] }
        run.desiredPatchDate = date
        run.token = nextToken()
        cluster.groups[g].autoPatch = run
        return [.schedule(.autoPatchScheduleApplied(group: cluster.groups[g].name, token: run.token), afterSeconds: context.timing[.config])]
    }

    /// The rescheduled date takes effect (T_config after the request): the patch runs then.
    mutating func applyPatchSchedule(_ g: Int, token: Int, context: inout LifecycleContext) -> [LifecycleEffect] {
        guard var run = cluster.groups[g].autoPatch, run.token == token, !run.started else { return [] }
        run.nextPatchDate = run.desiredPatchDate
        run.token = nextToken()
        cluster.groups[g].autoPatch = run
        let seconds = max(0, Double(run.nextPatchDate.milliseconds - context.now.milliseconds) / 1000)
        return [.schedule(.autoPatchDue(group: cluster.groups[g].name, token: run.token), afterSeconds: seconds)]
    }

    /// R340: NextPatchDate reached. The cluster status does not change; the group's SoftwareUpdateStatus is
    /// `InProgress` and the strategy decides which nodes go `SystemUpdating` when.
    mutating func startAutoPatch(_ g: Int, token: Int, context: inout LifecycleContext) -> [LifecycleEffect] {
        guard var run = cluster.groups[g].autoPatch, run.token == token, !run.started, let config = cluster.groups[g].spec.autoPatchConfig,
              cluster.status != .deleting, cluster.groups[g].status != .deleting else { return [] }
        let name = cluster.groups[g].name
        // An UpdateClusterSoftware since the patch was scheduled may have put the group on its target or past it: the
        // patch has nothing left to do.
        if let current = images(context).release(ofImage: cluster.groups[g].currentImage(region: cluster.region)),
           !ImageCatalogue.precedes(current.version, run.targetVersion) {
            cluster.groups[g].autoPatch = nil
            return []
        }
        if let update = cluster.softwareUpdate, update.current == name || update.queue.contains(name) {
            // An UpdateClusterSoftware run has the group: the patch waits for it, trying again after T_patch.
            run.token = nextToken()
            cluster.groups[g].autoPatch = run
            return [.schedule(.autoPatchDue(group: name, token: run.token), afterSeconds: context.timing[.patch])]
        }
        run.started = true
        cluster.groups[g].autoPatch = run
        cluster.groups[g].softwareUpdateStatus = .inProgress
        cluster.groups[g].desiredImageID = run.targetImage
        bootOnDesiredImage(name)
        recordGroupText(name, "UpdateClusterSoftware initiated for IG \(name) in Cluster \(c) using \(config.patchingStrategy.rawValue) strategy.")
        var effects: [LifecycleEffect] = []
        if config.patchingStrategy != .drainFirst {
            let window = Double(config.idleWaitWindowInSeconds ?? AutoPatchRules.defaultIdleWaitWindowSeconds)
            effects.append(.schedule(.autoPatchWindowEnded(group: name, token: run.token), afterSeconds: window))
        }
        return effects + continueAutoPatch(g, context: &context)
    }

    /// Running nodes of a group the run has not patched (nor skipped), not being patched now.
    func unpatched(_ g: Int) -> [NodeRecord] {
        guard let run = cluster.groups[g].autoPatch else { return [] }
        let name = cluster.groups[g].name
        return nodes.filter {
            $0.groupName == name && $0.status == .running && !run.patched.contains($0.logicalID) && !run.inFlight.contains($0.logicalID)
                && !run.skipped.contains($0.logicalID) && image(of: $0) != run.targetImage
        }
    }

    /// Whether RA22 marks a node busy (by InstanceId or NodeLogicalId).
    func isBusy(_ node: NodeRecord, _ context: LifecycleContext) -> Bool {
        context.busyNodes.contains(node.logicalID) || node.instanceID.map(context.busyNodes.contains) == true
    }

    /// The next step of a started run: patches what its strategy allows now, or ends it.
    mutating func continueAutoPatch(_ g: Int, context: inout LifecycleContext) -> [LifecycleEffect] {
        guard var run = cluster.groups[g].autoPatch, run.started, let config = cluster.groups[g].spec.autoPatchConfig else { return [] }
        let name = cluster.groups[g].name
        let waiting = unpatched(g)
        switch config.patchingStrategy {
        case .whenIdle:
            if waiting.isEmpty && run.inFlight.isEmpty { return finishAutoPatch(g) }  // C-R339: all patched
            guard !run.windowEnded else { return run.inFlight.isEmpty ? finishAutoPatch(g) : [] }
            return patch(g, waiting.filter { !isBusy($0, context) }, context: &context)
        case .whenAllIdle:
            if !run.patched.isEmpty || !run.inFlight.isEmpty {
                return run.inFlight.isEmpty ? finishAutoPatch(g) : []
            }
            if run.windowEnded { return finishAutoPatch(g) }
            if waiting.contains(where: { isBusy($0, context) }) {
                if !run.postponed {  // C-R339: one Warn event for the postponement
                    run.postponed = true
                    cluster.groups[g].autoPatch = run
                    recordGroupText(name, "Auto-patching of InstanceGroup \(name) in Cluster \(c) was postponed: not all nodes were idle.", level: .warn)
                }
                return []
            }
            if waiting.isEmpty { return finishAutoPatch(g) }
            return patch(g, waiting, context: &context)
        case .drainFirst:
            guard run.inFlight.isEmpty else { return [] }
            if waiting.isEmpty { return finishAutoPatch(g) }
            let size = batchSize(config.deploymentConfig?.rollingUpdatePolicy?.maximumBatchSize,
                                 groupSize: nodes.filter { $0.groupName == name && $0.status != .shuttingDown }.count)
            let batch = Array(waiting.prefix(size))
            if !run.patched.isEmpty || !run.skipped.isEmpty {
                recordGroupText(name, "Next update batch selected for IG \(name) in Cluster \(c).")
            }
            if batch.contains(where: { isBusy($0, context) }) {  // busy nodes get DrainTimeoutInSeconds to drain
                run.inFlight = batch.map(\.logicalID)
                cluster.groups[g].autoPatch = run
                let timeout = Double(config.drainPolicy?.drainTimeoutInSeconds ?? 3_600)
                return [.schedule(.autoPatchDrained(group: name, nodes: run.inFlight, token: run.token), afterSeconds: timeout)]
            }
            return patch(g, batch, context: &context)
        }
    }

    /// DrainFirst: the drain timeout of a batch with busy nodes ended; nodes still busy are skipped (`Skip`) or patched
    /// anyway (`Force`).
    mutating func finishDrain(_ g: Int, _ ids: [String], token: Int, context: inout LifecycleContext) -> [LifecycleEffect] {
        guard var run = cluster.groups[g].autoPatch, run.token == token, run.started,
              let config = cluster.groups[g].spec.autoPatchConfig else { return [] }
        let members = Set(ids)
        run.inFlight.removeAll { members.contains($0) }
        var batch: [NodeRecord] = []
        for node in nodes where members.contains(node.logicalID) && node.status == .running {
            if isBusy(node, context) && (config.drainPolicy?.onDrainTimeout ?? .skip) == .skip {
                run.skipped.append(node.logicalID)
            } else {
                batch.append(node)
            }
        }
        cluster.groups[g].autoPatch = run
        return batch.isEmpty ? continueAutoPatch(g, context: &context) : patch(g, batch, context: &context)
    }

    /// Nodes go `SystemUpdating` for T_patch (N8).
    private mutating func patch(_ g: Int, _ batch: [NodeRecord], context: inout LifecycleContext) -> [LifecycleEffect] {
        guard var run = cluster.groups[g].autoPatch, !batch.isEmpty else { return [] }
        let members = Set(batch.map(\.logicalID))
        for i in nodes.indices where members.contains(nodes[i].logicalID) { nodes[i].status = .systemUpdating }
        run.inFlight += batch.map(\.logicalID)
        cluster.groups[g].autoPatch = run
        return [.schedule(.autoPatchNodesPatched(group: cluster.groups[g].name, nodes: batch.map(\.logicalID), token: run.token),
                          afterSeconds: context.timing[.patch])]
    }

    /// N8's end for auto-patched nodes: `Running` on the target release.
    mutating func finishAutoPatchBatch(_ g: Int, _ ids: [String], token: Int, context: inout LifecycleContext) -> [LifecycleEffect] {
        guard var run = cluster.groups[g].autoPatch, run.token == token else { return [] }
        let members = Set(ids)
        for i in nodes.indices where members.contains(nodes[i].logicalID) && nodes[i].status == .systemUpdating {
            nodes[i].status = .running
            nodes[i].imageID = run.targetImage
            nodes[i].lastSoftwareUpdateTime = context.now
            run.patched.append(nodes[i].logicalID)
            recordInstance(nodes[i], "Instance \(nodes[i].instanceID ?? "") in IG \(cluster.groups[g].name) updated successfully.")
        }
        run.inFlight.removeAll { members.contains($0) }
        cluster.groups[g].autoPatch = run
        return continueAutoPatch(g, context: &context)
    }

    /// The idle window ended (WhenIdle, WhenAllIdle): what is not patched stays as it is.
    mutating func endIdleWindow(_ g: Int, token: Int, context: inout LifecycleContext) -> [LifecycleEffect] {
        guard var run = cluster.groups[g].autoPatch, run.token == token, run.started else { return [] }
        run.windowEnded = true
        cluster.groups[g].autoPatch = run
        return continueAutoPatch(g, context: &context)
    }

    /// After any change: started runs with nothing in flight take their next step (a busy node removed or replaced
    /// may have left every other node patched: R340's "as soon as every node is patched").
    public mutating func advanceAutoPatches(context: inout LifecycleContext) -> [LifecycleEffect] {
        var effects: [LifecycleEffect] = []
        for g in cluster.groups.indices {
            guard let run = cluster.groups[g].autoPatch, run.started, run.inFlight.isEmpty else { continue }
            effects += continueAutoPatch(g, context: &context)
        }
        return effects
    }

    /// RA22: a `node-busy` fault was deleted; started runs patch the nodes that are idle now.
    public mutating func nodesBecameIdle(context: inout LifecycleContext) -> [LifecycleEffect] {
        var effects: [LifecycleEffect] = []
        for g in cluster.groups.indices where cluster.groups[g].autoPatch?.started == true {
            effects += continueAutoPatch(g, context: &context)
        }
        return effects
    }

    /// The end of a run (R340): `Succeeded` when every node runs the target (the group's CurrentImageId moves too),
    /// `PartiallySucceeded` when some do, `Failed` when none does (a Warn event; the cluster is unaffected).
    private mutating func finishAutoPatch(_ g: Int) -> [LifecycleEffect] {
        guard let run = cluster.groups[g].autoPatch else { return [] }
        let name = cluster.groups[g].name
        let ended: [LifecycleEffect] = run.windowEnded ? [] : [.cancel(.autoPatchWindowEnded(group: name, token: run.token))]
        defer { settle() }
        // Nodes leaving the group (terminating, or moving to another one) no longer count (R340).
        let members = nodes.filter { $0.groupName == name && $0.status != .shuttingDown && $0.status != .detachInProgress }
        let onTarget = members.filter { image(of: $0) == run.targetImage }.count
        cluster.groups[g].autoPatch = nil
        if onTarget == members.count {
            cluster.groups[g].softwareUpdateStatus = .succeeded
            cluster.groups[g].currentImageID = run.targetImage
            recordGroupText(name, "UpdateClusterSoftware completed successfully for IG \(name) in Cluster \(c).")
        } else if onTarget > 0 {
            cluster.groups[g].softwareUpdateStatus = .partiallySucceeded
            recordGroupText(name, "UpdateClusterSoftware completed for \(onTarget) of \(members.count) instances of IG \(name) in Cluster \(c).",
                            level: .warn)
        } else {
            cluster.groups[g].softwareUpdateStatus = .failed
            cluster.groups[g].desiredImageID = cluster.groups[g].currentImageID
            recordGroupText(name, "Auto-patching of InstanceGroup \(name) in Cluster \(c) did not run: not all nodes were idle.", level: .warn)
        }
        return ended
    }
}
