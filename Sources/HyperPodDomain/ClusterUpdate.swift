import SageMakerShapes

/// Why `UpdateCluster` refuses a request (spec §7): the error code and its message.
public enum UpdateRejection: Error, Sendable, Equatable {
    /// 400 `ConflictException` (R69, R85).
    case conflict(String)
    /// 400 `ValidationException` (R70 … R83).
    case validation(String)
}

/// An accepted `UpdateCluster` request, checked and resolved against the stored cluster but not applied (spec R68:
/// quotas are checked between the two, on `targetCounts`).
public struct UpdatePlan: Sendable, Equatable {
    /// The request as sent.
    public var request: UpdateClusterRequest
    /// Every group after the update, in creation order (added groups last), deleted ones excluded. Specs are merged:
    /// an omitted optional member keeps its stored value (R72).
    public var groups: [InstanceGroupRecord]
    /// Names of groups the request adds (R70).
    public var added: [String]
    /// Names of existing groups the request names in `InstanceGroups` or `RestrictedInstanceGroups`.
    public var updated: [String]
    /// Names in `InstanceGroupsToDelete`, duplicates collapsed (R75).
    public var deleted: [String]
    /// The cluster-level settings after the update.
    public var settings: CreateClusterRequest
    /// A cluster-level setting changes (R77: a Continuous cluster goes `Updating` for these only).
    public var clusterLevelChange: Bool
    /// A legacy EKS cluster converts to Continuous (R82).
    public var modeConversion: Bool
    /// Nothing would change (R86): the request is accepted and touches nothing.
    public var isNoOp: Bool
    /// R339: groups whose pending automatic patch moves to a new NextPatchDate.
    public var reschedules: [String: VirtualTime] = [:]

    /// TargetCount by charged instance type after the update (spec R84's "after").
    public var targetCounts: [(String, Int)] { groups.map { ($0.spec.quotaInstanceType, $0.targetCount) } }

    public static func == (a: UpdatePlan, b: UpdatePlan) -> Bool {
        a.request == b.request && a.groups == b.groups && a.added == b.added && a.deleted == b.deleted && a.settings == b.settings
    }
}

extension ClusterLifecycle {
    /// TargetCount by charged instance type now (spec R84's "before").
    public var targetCounts: [(String, Int)] {
        cluster.groups.filter { $0.status != .deleting }.map { ($0.spec.quotaInstanceType, $0.targetCount) }
    }

    /// Checks an `UpdateCluster` request in the order of spec R68 — state (R69, R85), then R70 … R83 — and resolves
    /// what it would change. Pure: nothing is modified.
    /// - Parameter healthChecksInProgress: a StartClusterHealthCheck run is in progress (R85).
    /// - Throws: `UpdateRejection` with the spec's message.
    /// - Parameters:
    ///   - images: the partition's AMI releases (R335); nil: the initial catalogue.
    ///   - now: the request's instant, for R339's NextPatchDate check.
    public func planUpdate(_ r: UpdateClusterRequest, healthChecksInProgress: Bool = false,
                           images: ImageCatalogue? = nil, now: VirtualTime = VirtualTime(milliseconds: 0)) throws(UpdateRejection) -> UpdatePlan {
        let c = cluster
        // R69
        let allowed: [ClusterStatus] = c.isContinuous ? [.inService, .updating] : [.inService]
        guard allowed.contains(c.status) else {
            throw .conflict("Cluster \(c.name) is in \(c.status.rawValue) state and cannot be updated.")
        }
        // R85
        if healthChecksInProgress { throw .conflict("Cluster \(c.name) has deep health checks in progress and cannot be updated.") }

        let requested = r.instanceGroups ?? []
        let requestedRestricted = r.restrictedInstanceGroups ?? []
        let live = c.groups.filter { $0.status != .deleting }
        let stored = Dictionary(live.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })

        // R70: duplicates; a name of one kind of group cannot name a group of the other kind.
        var names: Set<String> = []
        for name in requested.map(\.instanceGroupName) + requestedRestricted.map(\.instanceGroupName) where !names.insert(name).inserted {
            throw .validation("Duplicate instance group name \(name).")
        }
        for g in requested where stored[g.instanceGroupName]?.restrictedSpec != nil {
            throw .validation("Duplicate instance group name \(g.instanceGroupName).")
        }
        for g in requestedRestricted where stored[g.instanceGroupName].map({ $0.restrictedSpec == nil }) == true {
            throw .validation("Duplicate instance group name \(g.instanceGroupName).")
        }
        // A group still being deleted cannot be updated or re-created under its name until it is gone (emulator decision).
        for name in names where c.groups.contains(where: { $0.name == name && $0.status == .deleting }) {
            throw .validation("Instance group \(name) is in Deleting status.")
        }

        // R71: immutable fields of existing groups, all offenders in model member order.
        var offending: Set<ImmutableField> = []
        for g in requested { if let old = stored[g.instanceGroupName] { offending.formUnion(Self.immutableChanges(old.spec, g)) } }
        for g in requestedRestricted {
            if let old = stored[g.instanceGroupName]?.restrictedSpec { offending.formUnion(Self.immutableChanges(old, g)) }
        }
        if !offending.isEmpty {
            let fields = ImmutableField.allCases.filter(offending.contains).map(\.rawValue)
            throw .validation("Updating fields \(fields.joined(separator: ", ")) on an InstanceGroup not supported")
        }

        // R72: merge. Existing groups keep their place; added ones follow in request order.
        var settings = c.request
        if let value = r.autoScaling { settings.autoScaling = value }
        if let value = r.clusterRole { settings.clusterRole = value }
        if let value = r.nodeRecovery { settings.nodeRecovery = value }
        if let value = r.tieredStorageConfig { settings.tieredStorageConfig = value }
        if let value = r.restrictedInstanceGroupsConfig { settings.restrictedInstanceGroupsConfig = value }
        if var value = r.orchestrator {
            // R342: an Orchestrator.Slurm without AccountingDatabase keeps the stored one (it is never removed).
            if value.slurm != nil {
                if let given = value.slurm?.accountingDatabase {
                    value.slurm?.accountingDatabase = ClusterLifecycle.withDefaults(given, clusterID: c.clusterID)
                } else {
                    value.slurm?.accountingDatabase = c.request.orchestrator?.slurm?.accountingDatabase
                }
            }
            settings.orchestrator = value
        }
        let modeConversion = r.nodeProvisioningMode == .continuous && !c.isContinuous
        if modeConversion { settings.nodeProvisioningMode = .continuous }
        let continuous = settings.nodeProvisioningMode == .continuous

        var groups = live
        var added: [String] = [], updated: [String] = []
        var requestedSpecs: [ClusterInstanceGroupSpecification] = []
        for g in requested {
            if let index = groups.firstIndex(where: { $0.name == g.instanceGroupName }) {
                let merged = Self.merge(groups[index].spec, g)
                groups[index].spec = merged
                groups[index].targetCount = merged.instanceCount
                updated.append(g.instanceGroupName)
                requestedSpecs.append(merged)
            } else {
                groups.append(InstanceGroupRecord(spec: g, status: .creating, targetCount: g.instanceCount, appliedKubernetesConfig: g.kubernetesConfig))
                added.append(g.instanceGroupName)
                requestedSpecs.append(g)
            }
        }
        for g in requestedRestricted {
            if let index = groups.firstIndex(where: { $0.name == g.instanceGroupName }) {
                groups[index].restrictedSpec = g
                var spec = ClusterInstanceGroupSpecification(restricted: g)
                spec.instanceStorageConfigs = g.instanceStorageConfigs ?? groups[index].spec.instanceStorageConfigs
                spec.onStartDeepHealthChecks = g.onStartDeepHealthChecks ?? groups[index].spec.onStartDeepHealthChecks
                spec.scheduledUpdateConfig = g.scheduledUpdateConfig ?? groups[index].spec.scheduledUpdateConfig
                groups[index].spec = spec
                groups[index].targetCount = g.instanceCount
                updated.append(g.instanceGroupName)
            } else {
                groups.append(InstanceGroupRecord(spec: ClusterInstanceGroupSpecification(restricted: g), status: .creating,
                                                  targetCount: g.instanceCount, restrictedSpec: g))
                added.append(g.instanceGroupName)
            }
        }

        // R73 (the rules of R62 on every group the request names, after the merge).
        if let message = CreateClusterRules.r62(requestedSpecs, continuous: continuous) { throw .validation(message) }

        // R75, each check over every name before the next.
        var deleted: [String] = []
        for name in r.instanceGroupsToDelete ?? [] where !deleted.contains(name) { deleted.append(name) }
        for name in deleted where stored[name] == nil {
            throw .validation("Instance group \(name) in InstanceGroupsToDelete does not exist in cluster \(c.name).")
        }
        for name in deleted where names.contains(name) {
            throw .validation("Instance group \(name) cannot be both updated and deleted in the same request.")
        }
        if let controller = c.slurmControllerGroup, deleted.contains(controller) {
            throw .validation("The Controller instance group \(controller) of a Slurm cluster cannot be deleted.")
        }
        groups.removeAll { deleted.contains($0.name) }
        if groups.isEmpty { throw .validation("Cluster \(c.name) must keep at least one instance group.") }

        // R341: a shared environment the request sets needs a restricted group after it; its FSx size never shrinks.
        if let shared = r.restrictedInstanceGroupsConfig?.sharedEnvironmentConfig {
            if !groups.contains(where: { $0.restrictedSpec != nil }) { throw .validation(CreateClusterRules.sharedEnvironmentWithoutRestrictedGroups) }
            if let before = c.request.restrictedInstanceGroupsConfig?.sharedEnvironmentConfig.fSxLustreConfig.sizeInGiB,
               shared.fSxLustreConfig.sizeInGiB < before {
                throw .validation("SharedEnvironmentConfig FSxLustreConfig SizeInGiB cannot be decreased.")
            }
        }

        // R76: a flexible group keeps every type that still has instances.
        for g in requested {
            guard let old = stored[g.instanceGroupName], let oldTypes = old.spec.instanceRequirements?.instanceTypes,
                  let newTypes = g.instanceRequirements?.instanceTypes else { continue }
            for type in oldTypes where !newTypes.contains(type) {
                if nodes.contains(where: { $0.groupName == old.name && $0.instanceType == type.rawValue && $0.instanceID != nil }) {
                    throw .validation("Cannot remove instance type \(type.rawValue) from instance group \(old.name) while it has running instances.")
                }
            }
        }

        // R79: autoscaling on the resulting configuration, and its lock.
        let storedEnabled = c.request.autoScaling?.mode == .enable
        if storedEnabled && r.autoScaling?.mode != .disable {
            if let role = r.clusterRole, role != c.request.clusterRole {
                throw .validation("ClusterRole cannot be updated while autoscaling is enabled.")
            }
        }
        if settings.autoScaling?.mode == .enable {
            if !c.isEKS { throw .validation("AutoScaling is only supported for clusters with an Eks orchestrator.") }
            if !continuous { throw .validation("AutoScaling requires NodeProvisioningMode to be set to Continuous.") }
            if (settings.nodeRecovery ?? .automatic) != .automatic { throw .validation("AutoScaling requires NodeRecovery to be set to Automatic.") }
            if settings.clusterRole == nil { throw .validation("ClusterRole is required when AutoScaling Mode is Enable.") }
        }

        // R80: the orchestrator's type and EKS cluster are fixed; SlurmConfigStrategy may change (R61 still applies).
        if let orchestrator = r.orchestrator {
            if (orchestrator.eks == nil) == (orchestrator.slurm == nil) { throw .validation("Orchestrator must specify exactly one of Eks or Slurm.") }
            if (orchestrator.eks != nil) != c.isEKS || (orchestrator.eks != nil && orchestrator.eks?.clusterArn != c.request.orchestrator?.eks?.clusterArn) {
                throw .validation("Orchestrator.Eks.ClusterArn cannot be changed after cluster creation.")
            }
            if continuous && orchestrator.slurm?.slurmConfigStrategy != nil {
                throw .validation("SlurmConfigStrategy is not supported for clusters with NodeProvisioningMode set to Continuous.")
            }
            if orchestrator.slurm?.accountingDatabase != nil && !continuous {  // R342
                throw .validation("AccountingDatabase is only supported for clusters with NodeProvisioningMode set to Continuous.")
            }
        }

        // R82
        if modeConversion && !c.isEKS { throw .validation("NodeProvisioningMode cannot be changed to Continuous for Slurm clusters.") }

        // R83: added groups obey the CreateCluster group rules; API-driven Slurm rules on the resulting configuration.
        let addedSpecs = groups.filter { added.contains($0.name) && $0.restrictedSpec == nil }.map(\.spec)
        let vpc = settings.vpcConfig != nil
        if let message = CreateClusterRules.r51(addedSpecs, continuous: continuous)
            ?? CreateClusterRules.r54(addedSpecs, eks: c.isEKS)
            ?? CreateClusterRules.r55(requestedSpecs)
            ?? CreateClusterRules.r58(requestedSpecs, eks: c.isEKS)
            ?? CreateClusterRules.r59(requestedSpecs, vpc: vpc)
            ?? CreateClusterRules.r60(addedSpecs, eks: c.isEKS, vpc: vpc)
            ?? CreateClusterRules.r61(addedSpecs, continuousSlurm: continuous && !c.isEKS && settings.orchestrator?.slurm != nil) {
            throw .validation(message)
        }
        let regular = groups.filter { $0.restrictedSpec == nil }.map(\.spec)
        let slurmGroups = regular.filter { $0.slurmConfig != nil }
        if !c.isEKS && (settings.orchestrator?.slurm != nil || !slurmGroups.isEmpty) && !slurmGroups.isEmpty {
            if slurmGroups.count != regular.count {
                throw .validation("SlurmConfig must be specified for every instance group when any instance group specifies it.")
            }
            let controllers = slurmGroups.filter { $0.slurmConfig?.nodeType == .controller }.count
            if controllers > 1 {
                throw .validation("\(controllers) Controller Groups found: SlurmConfig for InstanceGroups may only have one Controller Group.")
            }
            if controllers == 0 { throw .validation("Cluster \(c.name) has no InstanceGroup with Controller node type.") }
            if slurmGroups.filter({ $0.slurmConfig?.nodeType == .login }).count > 1 {
                throw .validation("Cluster must have at most one InstanceGroup with Login node type")
            }
            if slurmGroups.contains(where: { $0.slurmConfig?.nodeType != .compute && !($0.slurmConfig?.partitionNames ?? []).isEmpty }) {
                throw .validation("Partitions can only be assigned to Compute node types")
            }
        }

        // R335: the release each group the request names selects, on the merged specification.
        let catalogue = images ?? .initial(region: c.region)
        for spec in requestedSpecs { if let message = catalogue.violation(spec) { throw .validation(message) } }
        // R338: AutoPatchConfig of the groups the request names; R339: a NextPatchDate reschedules a pending patch.
        for spec in requestedSpecs {
            if let message = AutoPatchRules.violation(spec, eks: c.isEKS, images: catalogue) { throw .validation(message) }
        }
        var reschedules: [String: VirtualTime] = [:]
        for g in requested {
            guard let date = g.autoPatchConfig?.patchSchedule?.nextPatchDate else { continue }
            guard date.isFinite, date <= VirtualTime.max.epochSeconds else {  // the clock ends at 9999-12-31T23:59:59Z
                throw .validation("NextPatchDate must be before 10000-01-01T00:00:00Z.")
            }
            let when = VirtualTime(epochSeconds: date)
            guard when > now else { throw .validation("NextPatchDate must be in the future.") }
            guard let run = stored[g.instanceGroupName]?.autoPatch, !run.started else {
                throw .validation("No patch is pending for instance group \(g.instanceGroupName); NextPatchDate cannot be set.")
            }
            reschedules[g.instanceGroupName] = when
        }
        for i in groups.indices { groups[i].spec.autoPatchConfig?.patchSchedule = nil }  // shown as Current/Desired instead

        // R110: schedule expressions.
        for spec in requestedSpecs {
            if let expression = spec.scheduledUpdateConfig?.scheduleExpression, CronSchedule(expression) == nil {
                throw .validation(CronSchedule.invalidMessage(expression))
            }
        }

        // R86: does anything change?
        let clusterLevelChange = Self.normalized(settings, continuous: c.isContinuous) != Self.normalized(c.request, continuous: c.isContinuous)
        let groupsChange = !added.isEmpty || !deleted.isEmpty || updated.contains { name in
            guard let old = stored[name], let new = groups.first(where: { $0.name == name }) else { return true }
            return Self.normalized(old.spec) != Self.normalized(new.spec) || old.targetCount != new.targetCount
                || old.restrictedSpec?.environmentConfig != new.restrictedSpec?.environmentConfig
        }
        var plan = UpdatePlan(
            request: r, groups: groups, added: added, updated: updated, deleted: deleted, settings: settings,
            clusterLevelChange: clusterLevelChange, modeConversion: modeConversion, isNoOp: !clusterLevelChange && !groupsChange
        )
        plan.reschedules = reschedules
        return plan
    }

    /// Applies a checked plan at `context.now` (spec R72 … R83, C7, G1, G3, G4, G8). Returns the timers to set.
    public mutating func applyUpdate(_ plan: UpdatePlan, context: inout LifecycleContext) -> [LifecycleEffect] {
        // R339: a reschedule alone changes no status (C-R339).
        var effects: [LifecycleEffect] = []
        for (name, date) in plan.reschedules.sorted(by: { $0.key < $1.key }) {
            if let g = groupIndex(name) { effects += reschedulePatch(g, to: date, context: &context) }
        }
        guard !plan.isNoOp else { return effects }  // R86
        // Group semantics follow the resulting mode: a conversion to Continuous (R82) makes the groups Continuous now.
        let legacy = plan.settings.nodeProvisioningMode != .continuous
        cluster.failureMessage = nil  // R47
        if legacy {
            cluster.status = .updating  // C7
            cluster.rollback = UpdateRollback(request: cluster.request, groups: cluster.groups)
            recordCluster("update", .started)
        } else if plan.clusterLevelChange {
            if cluster.status != .updating { recordCluster("update", .started) }
            cluster.status = .updating  // C7 (R77)
        }
        // A1, A4
        let wasEnabled = cluster.request.autoScaling?.mode == .enable
        switch (wasEnabled, plan.settings.autoScaling?.mode) {
        case (false, .enable?): cluster.autoScalingStatus = .creating
        case (true, .disable?): cluster.autoScalingStatus = .deleting
        default: break
        }
        cluster.request = plan.settings

        var configChange = plan.clusterLevelChange
        // G8: deletions.
        for name in plan.deleted {
            guard let g = groupIndex(name) else { continue }
            cluster.groups[g].status = .deleting
            cluster.groups[g].retryDelay = nil
            cluster.groups[g].operation = nil
            recordGroup(name, .delete, .started)
            if let run = cluster.groups[g].autoPatch {  // its patch ends with it
                if run.started { effects.append(.cancel(.autoPatchWindowEnded(group: name, token: run.token))) }
                cluster.groups[g].autoPatch = nil
            }
            let ids = Set(nodes.filter { $0.groupName == name && $0.status != .shuttingDown }.map(\.logicalID))
            for i in nodes.indices where ids.contains(nodes[i].logicalID) {
                recordTermination(nodes[i])
                nodes[i].status = .shuttingDown
            }
            effects.append(.schedule(.groupDeleted(group: name), afterSeconds: context.timing[.terminate]))
        }
        // Updated groups.
        for name in plan.updated {
            guard let g = groupIndex(name), let new = plan.groups.first(where: { $0.name == name }) else { continue }
            let old = cluster.groups[g]
            var changedSpec = old.spec
            changedSpec.instanceCount = new.spec.instanceCount
            changedSpec.minInstanceCount = new.spec.minInstanceCount
            let nonCountChange = Self.normalized(changedSpec) != Self.normalized(new.spec)
                || old.restrictedSpec?.environmentConfig != new.restrictedSpec?.environmentConfig
            let countChange = old.targetCount != new.targetCount
            // R72, R335: ImageId or ImageReleaseVersion sets DesiredImageId; nodes change only by a patch.
            if old.spec.imageId != new.spec.imageId || old.spec.imageReleaseVersion != new.spec.imageReleaseVersion {
                cluster.groups[g].currentImageID = old.currentImage(region: cluster.region)
                cluster.groups[g].desiredImageID = images(context).image(for: new.spec)
            }
            cluster.groups[g].spec = new.spec
            cluster.groups[g].restrictedSpec = new.restrictedSpec
            cluster.groups[g].targetCount = new.targetCount
            if nonCountChange && old.spec.kubernetesConfig != new.spec.kubernetesConfig { configChange = true }
            if legacy && (nonCountChange || countChange) {
                cluster.groups[g].status = .updating  // G3
                configChange = true
            }
            if old.spec.minInstanceCount != new.spec.minInstanceCount && !legacy {
                effects += restartMinCountTimer(g, timing: context.timing)
                if cluster.groups[g].status == .inService && currentCount(of: name) < (new.spec.minInstanceCount ?? 0) {
                    cluster.groups[g].status = .updating  // G4
                }
            }
            if countChange || nonCountChange || old.spec.minInstanceCount != new.spec.minInstanceCount {
                let operation: GroupOperation = countChange ? .scaling : .update
                if cluster.groups[g].operation != operation || countChange {
                    recordGroup(name, operation, .started)
                }
                cluster.groups[g].operation = operation
            }
            // R78: a legacy update is all-or-nothing, so its scale-downs wait until its launches succeeded.
            if countChange && !(legacy && new.targetCount < old.targetCount) { effects += reconcileCount(g, context: &context) }
            if old.spec.scheduledUpdateConfig != new.spec.scheduledUpdateConfig { effects += restartSchedule(g, at: context.now) }
        }
        // G1: added groups.
        for name in plan.added {
            guard let new = plan.groups.first(where: { $0.name == name }) else { continue }
            var added = new
            added.operation = .create
            added.currentImageID = images(context).image(for: new.spec)
            // R335: on a Continuous cluster a group added on the default AMI inherits the AMI (and release) of the
            // earliest existing group of its architecture.
            if cluster.isContinuous, new.restrictedSpec == nil, new.spec.imageId == nil || new.spec.imageId == "default",
               new.spec.imageReleaseVersion == nil,
               let earliest = cluster.groups.first(where: {
                   $0.restrictedSpec == nil && $0.status != .deleting && $0.spec.architecture == new.spec.architecture
               }) {
                added.currentImageID = earliest.currentImage(region: cluster.region)
            }
            added.desiredImageID = added.currentImageID
            cluster.groups.append(added)
            let g = cluster.groups.count - 1
            recordGroup(name, .create, .started)
            if legacy { configChange = true }
            if !legacy && (new.spec.minInstanceCount ?? 0) > 0 { effects += restartMinCountTimer(g, timing: context.timing) }
            effects += restartSchedule(g, at: context.now)
            effects += reconcileCount(g, context: &context)
        }
        effects += startDeferredTerminations(context: &context)
        if configChange {
            cluster.configTokens += 1
            cluster.pendingConfigToken = cluster.configTokens
            let delay = plan.modeConversion ? context.timing[.setup] : context.timing[.config]
            effects.append(.schedule(.configApplied(token: cluster.configTokens), afterSeconds: delay))
        }
        effects += detectPatches(context: &context)  // R339: AutoPatchConfig added to a group below its line's patch
        settle()
        return effects
    }

    /// R78: once a legacy update's launches have all succeeded, its scale-downs start (victims of R74).
    mutating func startDeferredTerminations(context: inout LifecycleContext) -> [LifecycleEffect] {
        guard !cluster.isContinuous, cluster.status == .updating, cluster.rollback != nil,
              !nodes.contains(where: { $0.status == .pending || $0.status == .deepHealthCheckInProgress }) else { return [] }
        var effects: [LifecycleEffect] = []
        for g in cluster.groups.indices where cluster.groups[g].status != .deleting {
            let live = nodes.reduce(0) { $0 + ($1.groupName == cluster.groups[g].name && $1.status != .shuttingDown ? 1 : 0) }
            if live > cluster.groups[g].targetCount { effects += reconcileCount(g, context: &context) }
        }
        return effects
    }

    /// R73: every change of a group's minimum restarts its T_min timer.
    mutating func restartMinCountTimer(_ g: Int, timing: TimingProfile) -> [LifecycleEffect] {
        cluster.groups[g].minCountToken = nextToken()
        guard (cluster.groups[g].spec.minInstanceCount ?? 0) > 0 else { return [] }
        return [.schedule(.minCountTimeout(group: cluster.groups[g].name, token: cluster.groups[g].minCountToken),
                          afterSeconds: timing[.minInstanceTimeout])]
    }

    // MARK: - Comparison helpers

    /// The fields of R71, in model member order (`ClusterInstanceGroupSpecification`, then the restricted group's own).
    public enum ImmutableField: String, CaseIterable, Sendable {
        case instanceType = "InstanceType"
        case instanceRequirements = "InstanceRequirements"
        case executionRole = "ExecutionRole"
        case threadsPerCore = "ThreadsPerCore"
        case overrideVpcConfig = "OverrideVpcConfig"
        case slurmConfig = "SlurmConfig"
        case capacityRequirements = "CapacityRequirements"
        case networkInterface = "NetworkInterface"
        case environmentConfig = "EnvironmentConfig"
    }

    /// R71 for an instance group: an absent member counts as a value.
    static func immutableChanges(_ old: ClusterInstanceGroupSpecification, _ new: ClusterInstanceGroupSpecification) -> Set<ImmutableField> {
        var fields: Set<ImmutableField> = []
        let oldFlexible = old.instanceRequirements != nil, newFlexible = new.instanceRequirements != nil
        if oldFlexible != newFlexible {
            fields.formUnion([.instanceType, .instanceRequirements])  // the type choice switched
        } else if old.instanceType != new.instanceType {
            fields.insert(.instanceType)
        }
        if old.executionRole != new.executionRole { fields.insert(.executionRole) }
        if (old.threadsPerCore ?? 1) != (new.threadsPerCore ?? 1) { fields.insert(.threadsPerCore) }
        if old.overrideVpcConfig != new.overrideVpcConfig { fields.insert(.overrideVpcConfig) }
        if let oldType = old.slurmConfig?.nodeType, oldType != new.slurmConfig?.nodeType { fields.insert(.slurmConfig) }
        if old.capacityRequirements != new.capacityRequirements { fields.insert(.capacityRequirements) }
        if old.networkInterface != new.networkInterface { fields.insert(.networkInterface) }
        return fields
    }

    /// R71 for a restricted instance group.
    static func immutableChanges(
        _ old: ClusterRestrictedInstanceGroupSpecification, _ new: ClusterRestrictedInstanceGroupSpecification
    ) -> Set<ImmutableField> {
        var fields = immutableChanges(ClusterInstanceGroupSpecification(restricted: old), ClusterInstanceGroupSpecification(restricted: new))
        if old.environmentConfig != new.environmentConfig { fields.insert(.environmentConfig) }
        return fields
    }

    /// R72: the request's group, with every omitted optional mutable member taken from the stored one.
    static func merge(_ old: ClusterInstanceGroupSpecification, _ new: ClusterInstanceGroupSpecification) -> ClusterInstanceGroupSpecification {
        var merged = new
        merged.minInstanceCount = new.minInstanceCount ?? old.minInstanceCount
        merged.lifeCycleConfig = new.lifeCycleConfig ?? old.lifeCycleConfig
        merged.instanceStorageConfigs = new.instanceStorageConfigs ?? old.instanceStorageConfigs
        merged.onStartDeepHealthChecks = new.onStartDeepHealthChecks ?? old.onStartDeepHealthChecks
        merged.kubernetesConfig = new.kubernetesConfig ?? old.kubernetesConfig
        merged.scheduledUpdateConfig = new.scheduledUpdateConfig ?? old.scheduledUpdateConfig
        merged.imageId = new.imageId ?? old.imageId
        // R335: omitted keeps the stored release; a new ImageId alone replaces it.
        merged.imageReleaseVersion = new.imageReleaseVersion ?? (new.imageId == nil ? old.imageReleaseVersion : nil)
        merged.autoPatchConfig = new.autoPatchConfig ?? old.autoPatchConfig  // R338: omitted keeps the stored one
        merged.slurmConfig = new.slurmConfig ?? old.slurmConfig
        merged.threadsPerCore = new.threadsPerCore ?? old.threadsPerCore
        return merged
    }

    /// A group spec with its defaults made explicit, for "does anything change" (R72's DescribeCluster round trip).
    static func normalized(_ spec: ClusterInstanceGroupSpecification) -> ClusterInstanceGroupSpecification {
        var s = spec
        s.threadsPerCore = spec.threadsPerCore ?? 1
        return s
    }

    /// Cluster-level settings with their defaults made explicit (R57, R63, R90), groups left out.
    static func normalized(_ request: CreateClusterRequest, continuous: Bool) -> CreateClusterRequest {
        var r = request
        r.instanceGroups = nil
        r.restrictedInstanceGroups = nil
        r.tags = nil
        r.nodeRecovery = request.nodeRecovery ?? .automatic
        if var scaling = r.autoScaling {
            scaling.autoScalerType = scaling.autoScalerType ?? .karpenter
            r.autoScaling = scaling
        }
        if !continuous, var slurm = r.orchestrator?.slurm {
            slurm.slurmConfigStrategy = slurm.slurmConfigStrategy ?? .managed
            r.orchestrator?.slurm = slurm
        }
        return r
    }
}
