import SageMakerShapes

/// An UpdateClusterSoftware run (spec R108, R109): groups patched one at a time, in batches, with a baking period after
/// each batch while the rollback alarms are watched.
public struct SoftwareUpdateRun: Sendable, Equatable {
    public enum Phase: String, Sendable {
        case patching, baking, rollingBack
    }

    /// Groups still to patch after the current one, in order.
    public var queue: [String]
    /// The group being patched (or rolled back).
    public var current: String?
    /// The AMI the run installs.
    public var targetImage: String
    /// The current group's image before the run (what a rollback returns to).
    public var previousImage: String
    public var deployment: DeploymentConfiguration?
    /// Nodes of the current group patched so far (a rollback reverts them).
    public var patched: [String]
    public var phase: Phase
    /// Batches of the current group started so far.
    public var batches: Int

    public init(queue: [String], current: String?, targetImage: String, previousImage: String, deployment: DeploymentConfiguration?,
                patched: [String] = [], phase: Phase = .patching, batches: Int = 0) {
        self.queue = queue
        self.current = current
        self.targetImage = targetImage
        self.previousImage = previousImage
        self.deployment = deployment
        self.patched = patched
        self.phase = phase
        self.batches = batches
    }
}

extension InstanceGroupRecord {
    /// The image the group's nodes run now (spec R108).
    public func currentImage(region: String) -> String { currentImageID ?? PlatformImages.image(for: spec.imageId, region: region) }
    /// The image the group's nodes should run (spec R72, R108).
    public func desiredImage(region: String) -> String { desiredImageID ?? PlatformImages.image(for: spec.imageId, region: region) }
}

extension ClusterLifecycle {
    mutating func recordGroupText(_ group: String, _ description: String, level: ClusterEventLevel = .info) {
        newEvents.append(ClusterEventRecord(resourceType: .instanceGroup, level: level, description: description, instanceGroupName: group))
    }

    /// The image a node runs.
    public func image(of node: NodeRecord) -> String {
        node.imageID ?? cluster.groups.first { $0.name == node.groupName }?.currentImage(region: cluster.region)
            ?? PlatformImages.latest(region: cluster.region)
    }

    /// UpdateClusterSoftware (spec R105–R108): checks, then the run starts at once (C10, S1, S2).
    /// - Parameters:
    ///   - groupNames: the groups to patch (nil: all), in order.
    ///   - imageID: the request's `ImageId` (`default` = the latest platform AMI).
    /// - Returns: the timers to set; empty for a no-op (every targeted group already runs the target AMI).
    /// - Throws: `UpdateRejection.conflict` (R105), `.validation` (R106, R107).
    public mutating func startSoftwareUpdate(
        groupNames: [String]?, imageID: String?, deployment: DeploymentConfiguration?, releases: [String: String] = [:],
        context: inout LifecycleContext
    ) throws(UpdateRejection) -> [LifecycleEffect] {
        let patchFailed = cluster.status == .failed && cluster.groups.contains { $0.softwareUpdateStatus == .failed }
        guard cluster.status == .inService || patchFailed else {
            throw .conflict("Cluster \(cluster.name) is in \(cluster.status.rawValue) state and cannot be patched.")
        }
        var targets: [String] = []
        for name in groupNames ?? cluster.groups.filter({ $0.status != .deleting }).map(\.name) where !targets.contains(name) {
            guard cluster.groups.contains(where: { $0.name == name && $0.status != .deleting }) else {
                throw .validation("Instance group \(name) not found in cluster \(cluster.name).")
            }
            targets.append(name)
        }
        if let patching = targets.first(where: { name in cluster.groups.first { $0.name == name }?.autoPatch?.started == true }) {
            throw .conflict("Instance group \(patching) is being patched automatically (AutoPatchConfig) and cannot be updated until the patch ends.")
        }
        // R336, C-R336: a group's ImageReleaseVersion is its target (it may be lower than the current one); it cannot
        // come with a custom top-level ImageId. Other groups: the top-level ImageId, `default` (or none) being the
        // latest release of the group's architecture (R334).
        let catalogue = images(context)
        let customTarget = imageID.flatMap { $0 == "default" ? nil : $0 }
        if customTarget != nil && !releases.isEmpty {
            throw .validation("ImageReleaseVersion cannot be specified together with a custom ImageId.")
        }
        var targetImages: [String: String] = [:]
        for name in targets {
            let group = cluster.groups.first { $0.name == name }!
            let custom = group.spec.imageId.flatMap { $0 == "default" ? nil : $0 }
            if let version = releases[name] {
                if custom != nil { throw .validation("ImageReleaseVersion cannot be combined with a custom ImageId for instance group \(name).") }
                guard let release = catalogue.release(version, group.spec.architecture) else {
                    throw .validation("ImageReleaseVersion \(version) is not available for instance group \(name).")
                }
                targetImages[name] = release.imageID
            } else if let customTarget {
                targetImages[name] = customTarget
            } else {
                if imageID == nil && custom != nil {
                    throw .validation("Instance group \(name) uses a custom AMI; specify ImageId or 'default'.")
                }
                targetImages[name] = catalogue.latest(group.spec.architecture).imageID
            }
        }
        if deployment != nil && !cluster.isEKS {
            throw .validation("DeploymentConfig is only supported for clusters with an Eks orchestrator.")
        }
        targets = targets.filter { name in
            let g = groupIndex(name)!, target = targetImages[name]!
            return cluster.groups[g].currentImage(region: cluster.region) != target
                || nodes.contains { $0.groupName == name && $0.instanceID != nil && image(of: $0) != target }
        }
        guard !targets.isEmpty else { return [] }  // R106: a no-op
        cluster.failureMessage = nil  // R47
        cluster.status = .systemUpdating  // C10
        recordCluster("update", .started)
        for name in targets {
            let g = groupIndex(name)!
            cluster.groups[g].desiredImageID = targetImages[name]
            bootOnDesiredImage(name)
            cluster.groups[g].softwareUpdateStatus = .pending  // S1
            recordGroupText(name, "InstanceGroup \(name) in Cluster \(c) has been scheduled for UpdateClusterSoftware to latest.", level: .info)
        }
        let first = targetImages[targets[0]]!
        cluster.softwareUpdate = SoftwareUpdateRun(queue: targets, current: nil, targetImage: first, previousImage: first,
                                                   deployment: deployment)
        return startNextSoftwareGroup(context: &context)
    }

    /// Nodes of a group still launching (`Pending`, not a reboot) have not booted yet: they come up on the group's
    /// DesiredImageId (R108: new nodes use it), so a patch run that ends before they are `Running` leaves none behind.
    mutating func bootOnDesiredImage(_ group: String) {
        guard let g = groupIndex(group) else { return }
        let desired = cluster.groups[g].desiredImage(region: cluster.region)
        for i in nodes.indices where nodes[i].groupName == group && nodes[i].status == .pending && !nodes[i].rebooting {
            nodes[i].imageID = desired
        }
    }

    /// S2: the next queued group's turn; C11 when none is left.
    mutating func startNextSoftwareGroup(context: inout LifecycleContext) -> [LifecycleEffect] {
        guard var run = cluster.softwareUpdate else { return [] }
        guard !run.queue.isEmpty else {
            cluster.softwareUpdate = nil
            cluster.status = .inService  // C11
            recordCluster("update", .completed)
            return []
        }
        let name = run.queue.removeFirst()
        let g = groupIndex(name)!
        run.current = name
        run.targetImage = cluster.groups[g].desiredImage(region: cluster.region)  // each group's own target (R336)
        run.previousImage = cluster.groups[g].currentImage(region: cluster.region)
        run.patched = []
        run.batches = 0
        run.phase = .patching
        cluster.softwareUpdate = run
        cluster.groups[g].status = .systemUpdating  // G7
        cluster.groups[g].softwareUpdateStatus = .inProgress
        let strategy = run.deployment?.rollingUpdatePolicy != nil ? "rolling" : "all-at-once"
        recordGroupText(name, "UpdateClusterSoftware initiated for IG \(name) in Cluster \(c) using \(strategy) strategy.", level: .info)
        return patchNextBatch(context: &context)
    }

    /// A batch's size (R108): `INSTANCE_COUNT` Value nodes, `CAPACITY_PERCENTAGE` ceil(Value % of the group), at least
    /// 1; no policy: the whole group.
    func batchSize(_ config: CapacitySizeConfig?, groupSize: Int) -> Int {
        guard let config else { return max(1, groupSize) }
        switch config.type {
        case .instanceCount: return max(1, config.value)
        case .capacityPercentage: return max(1, (config.value * groupSize + 99) / 100)
        }
    }

    /// N8: the next batch of the current group's nodes not yet on the target AMI goes `SystemUpdating`; S3 when none is
    /// left.
    mutating func patchNextBatch(context: inout LifecycleContext) -> [LifecycleEffect] {
        guard var run = cluster.softwareUpdate, let name = run.current, let g = groupIndex(name) else { return [] }
        let group = nodes.filter { $0.groupName == name && $0.status != .shuttingDown }
        let remaining = group.filter { $0.status == .running && image(of: $0) != run.targetImage && !run.patched.contains($0.logicalID) }
        guard !remaining.isEmpty else {
            cluster.groups[g].softwareUpdateStatus = .succeeded  // S3
            cluster.groups[g].currentImageID = run.targetImage
            cluster.groups[g].status = settledStatus(of: name)  // G6: a node left in Failure keeps the group Degraded
            recordGroupText(name, "UpdateClusterSoftware completed successfully for IG \(name) in Cluster \(c).", level: .info)
            return startNextSoftwareGroup(context: &context)
        }
        if run.batches > 0 {
            recordGroupText(name, "Next update batch selected for IG \(name) in Cluster \(c).", level: .info)
        }
        let size = batchSize(run.deployment?.rollingUpdatePolicy?.maximumBatchSize, groupSize: group.count)
        let batch = remaining.prefix(size).map(\.logicalID)
        let members = Set(batch)
        for i in nodes.indices where members.contains(nodes[i].logicalID) { nodes[i].status = .systemUpdating }
        run.batches += 1
        run.phase = .patching
        cluster.softwareUpdate = run
        return [.schedule(.softwarePatched(group: name, nodes: batch), afterSeconds: context.timing[.patch])]
    }

    /// A patch batch ended: its nodes run the target AMI (scripts re-run: a script fault fails the update, S4/R109);
    /// the baking period starts (R108) — or the rollback at once, when a watched alarm is already in ALARM.
    mutating func finishPatchBatch(_ name: String, _ batch: [String], context: inout LifecycleContext) -> [LifecycleEffect] {
        guard var run = cluster.softwareUpdate, run.current == name, run.phase == .patching else { return [] }
        let members = Set(batch)
        var failedInstance: String?
        for i in nodes.indices where members.contains(nodes[i].logicalID) && nodes[i].status == .systemUpdating {
            nodes[i].status = .running
            nodes[i].imageID = run.targetImage
            nodes[i].lastSoftwareUpdateTime = context.now
            run.patched.append(nodes[i].logicalID)
            if failedInstance == nil, context.launchError(for: nodes[i]) != nil {
                failedInstance = nodes[i].instanceID ?? nodes[i].logicalID
                recordInstance(nodes[i], "Instance lifecycle script execution for EC2 Instance \(nodes[i].instanceID ?? "") has Failed", level: .error)
                continue
            }
            recordInstance(nodes[i], "Instance \(nodes[i].instanceID ?? "") in IG \(name) updated successfully.")
        }
        cluster.softwareUpdate = run
        if let failedInstance {
            return startSoftwareRollback(name, reason: "lifecycle scripts failed on instance \(failedInstance)", context: &context)
        }
        let wait = run.deployment?.waitIntervalInSeconds ?? 0
        let alarms = run.deployment?.autoRollbackConfiguration?.map(\.alarmName) ?? []
        if !alarms.isEmpty {
            let list = alarms.joined(separator: ", ")
            recordGroupText(name, "Baking period started for IG \(name) in Cluster \(c). Monitoring alarms [\(list)] for \(wait) seconds.")
        }
        run.phase = .baking
        cluster.softwareUpdate = run
        let firing = checkAlarms(context: &context)
        if !firing.isEmpty { return firing }
        return [.schedule(.softwareBaked(group: name), afterSeconds: Double(wait))]
    }

    /// While a batch bakes, a watched alarm in ALARM starts the rollback at once (S4). Called when a batch starts
    /// baking and whenever an alarm is set through the admin API (RA7).
    public mutating func checkAlarms(context: inout LifecycleContext) -> [LifecycleEffect] {
        guard let run = cluster.softwareUpdate, run.phase == .baking, let name = run.current else { return [] }
        let alarms = run.deployment?.autoRollbackConfiguration?.map(\.alarmName) ?? []
        let firing = alarms.filter { context.alarmsInAlarm.contains($0) }
        guard !firing.isEmpty else { return [] }
        let list = firing.joined(separator: ", ")
        recordGroupText(name, "Baking period failed for IG \(name) in Cluster \(c). Alarms [\(list)] entered ALARM state. Initiating auto-rollback.",
                        level: .error)
        return startSoftwareRollback(name, reason: "alarm \(firing[0]) entered ALARM state", context: &context)
    }

    /// The baking period ended without an alarm: the next batch (R108).
    mutating func finishBaking(_ name: String, context: inout LifecycleContext) -> [LifecycleEffect] {
        guard let run = cluster.softwareUpdate, run.current == name, run.phase == .baking else { return [] }
        let firing = checkAlarms(context: &context)
        if !firing.isEmpty { return firing }
        let wait = run.deployment?.waitIntervalInSeconds ?? 0
        if !(run.deployment?.autoRollbackConfiguration ?? []).isEmpty {
            recordGroupText(name, "Baking period completed for IG \(name) in Cluster \(c). No alarms triggered during the \(wait)-second baking period.")
        }
        return patchNextBatch(context: &context)
    }

    /// S4, C12 (R109): the current group rolls back; groups still queued are left alone: their DesiredImageId returns
    /// to what they run, and they keep the `SoftwareUpdateStatus` they had (`Pending`), as AWS shows it (R46, issue #15).
    mutating func startSoftwareRollback(_ name: String, reason: String, context: inout LifecycleContext) -> [LifecycleEffect] {
        guard var run = cluster.softwareUpdate, let g = groupIndex(name) else { return [] }
        recordGroupText(name, "UpdateClusterSoftware failed for IG \(name) in Cluster \(c). Initiating rollback.", level: .error)
        let message = "UpdateClusterSoftware failed for instance group \(name): \(reason)"
        recordCluster("update", .failed, failure: message)
        cluster.status = .rollingBack  // C12
        cluster.failureMessage = message
        cluster.groups[g].softwareUpdateStatus = .rollbackInProgress  // S4
        cluster.groups[g].desiredImageID = run.previousImage  // Current/Desired swap
        for queued in run.queue {
            guard let q = groupIndex(queued) else { continue }
            cluster.groups[q].desiredImageID = cluster.groups[q].currentImage(region: cluster.region)
        }
        run.queue = []
        run.phase = .rollingBack
        cluster.softwareUpdate = run
        return revertNextBatch(context: &context)
    }

    /// S5: patched nodes return to the previous AMI in batches of `RollbackMaximumBatchSize`.
    mutating func revertNextBatch(context: inout LifecycleContext) -> [LifecycleEffect] {
        guard let run = cluster.softwareUpdate, let name = run.current, let g = groupIndex(name) else { return [] }
        let patched = Set(run.patched)
        let remaining = nodes.filter { patched.contains($0.logicalID) && $0.status == .running }
        guard !remaining.isEmpty else {
            cluster.groups[g].softwareUpdateStatus = .rollbackComplete  // S5
            cluster.groups[g].currentImageID = run.previousImage
            cluster.groups[g].status = settledStatus(of: name)
            cluster.status = .inService
            cluster.softwareUpdate = nil
            return []
        }
        let policy = run.deployment?.rollingUpdatePolicy
        let size = batchSize(policy?.rollbackMaximumBatchSize ?? policy?.maximumBatchSize,
                             groupSize: nodes.filter { $0.groupName == name }.count)
        let batch = remaining.prefix(size).map(\.logicalID)
        let members = Set(batch)
        for i in nodes.indices where members.contains(nodes[i].logicalID) { nodes[i].status = .systemUpdating }
        return [.schedule(.softwareReverted(group: name, nodes: batch), afterSeconds: context.timing[.patch])]
    }

    /// A rollback batch ended: its nodes run the previous AMI again, unless their scripts' bucket is still missing —
    /// then the rollback fails (S6): group and cluster `Failed` (R109).
    mutating func finishRevertBatch(_ name: String, _ batch: [String], context: inout LifecycleContext) -> [LifecycleEffect] {
        guard var run = cluster.softwareUpdate, run.current == name, run.phase == .rollingBack, let g = groupIndex(name) else { return [] }
        let members = Set(batch)
        var missingBucket: String?
        for i in nodes.indices where members.contains(nodes[i].logicalID) && nodes[i].status == .systemUpdating {
            nodes[i].status = .running
            nodes[i].imageID = run.previousImage
            nodes[i].lastSoftwareUpdateTime = context.now
            if let uri = nodes[i].lifeCycleConfig?.sourceS3Uri, context.missingBuckets.contains(where: { uri.hasPrefix($0) }) {
                missingBucket = String(uri.dropFirst("s3://".count).prefix { $0 != "/" })
            }
        }
        run.patched.removeAll { members.contains($0) }
        cluster.softwareUpdate = run
        if let bucket = missingBucket {
            recordGroupText(name, "Rollback failed for IG \(name) in Cluster \(c). Some instances may be in FailedMaintenance state.", level: .error)
            cluster.groups[g].softwareUpdateStatus = .failed  // S6
            cluster.groups[g].status = .failed
            cluster.status = .failed
            cluster.failureMessage = "The lifecycle configuration bucket \(bucket) was not found or does not exist"
            cluster.softwareUpdate = nil
            return []
        }
        return revertNextBatch(context: &context)
    }

    // MARK: Scheduled updates (R110)

    /// Sets the group's next `ScheduledUpdateConfig` timer (a new token: earlier timers go stale).
    mutating func restartSchedule(_ g: Int, at now: VirtualTime) -> [LifecycleEffect] {
        cluster.groups[g].scheduleToken = nextToken()
        guard let expression = cluster.groups[g].spec.scheduledUpdateConfig?.scheduleExpression,
              let schedule = CronSchedule(expression), let next = schedule.next(after: now) else { return [] }
        let seconds = Double(next.milliseconds - now.milliseconds) / 1000
        return [.schedule(.scheduledUpdate(group: cluster.groups[g].name, token: cluster.groups[g].scheduleToken), afterSeconds: seconds)]
    }

    /// R110: at a match, a group not on the latest platform AMI gets a software update with the schedule's
    /// DeploymentConfig if the cluster is `InService`; otherwise the occurrence is skipped. The next one is set either way.
    mutating func runScheduledUpdate(_ g: Int, context: inout LifecycleContext) -> [LifecycleEffect] {
        var effects = restartSchedule(g, at: context.now)
        let group = cluster.groups[g]
        let latest = images(context).latest(group.spec.architecture).imageID
        let onPlatformImages = group.spec.imageId == nil || group.spec.imageId == "default"  // custom AMIs are not patched
        guard cluster.status == .inService, group.status == .inService, onPlatformImages,
              group.currentImage(region: cluster.region) != latest else {
            return effects
        }
        let deployment = cluster.isEKS ? group.spec.scheduledUpdateConfig?.deploymentConfig : nil
        effects += (try? startSoftwareUpdate(groupNames: [group.name], imageID: "default", deployment: deployment, context: &context)) ?? []
        return effects
    }
}
