/// The reserved capacity a transition of a cluster may launch from (spec R223–R229), by plan: derived from the stored
/// plans and the nodes holding their units before the transition, discarded after it (like `CapacityPools`).
public struct PlanCapacity: Sendable, Equatable {
    /// One RC as launches see it.
    public struct Block: Sendable, Equatable {
        public var arn: String
        public var instanceType: String
        public var zone: String
        public var startTime: VirtualTime
        /// Launches may take its units: the RC is `Active` and its drain has not begun (R223, R226).
        public var open: Bool
        /// Usable units no node holds (usable size − held).
        public var free: Int
        public var ultraServerType: String?
        /// UltraServers in creation order with their free usable units: slots fill one before the next (R228).
        public var ultraServers: [UltraServerSlots]

        public init(arn: String, instanceType: String, zone: String, startTime: VirtualTime, open: Bool, free: Int,
                    ultraServerType: String? = nil, ultraServers: [UltraServerSlots] = []) {
            self.arn = arn
            self.instanceType = instanceType
            self.zone = zone
            self.startTime = startTime
            self.open = open
            self.free = free
            self.ultraServerType = ultraServerType
            self.ultraServers = ultraServers
        }
    }

    public struct UltraServerSlots: Sendable, Equatable {
        public var id: String
        public var free: Int
        public init(id: String, free: Int) {
            self.id = id
            self.free = free
        }
    }

    /// By lower-cased plan ARN: the plan's RCs.
    public var plans: [String: [Block]]
    /// RCs a transition gave units back to (R225: waiting launches on their plan retry at once); the caller wakes them.
    public var released: Set<String> = []

    public init(plans: [String: [Block]] = [:]) {
        self.plans = plans
    }

    /// Gives a unit back to the RC `arn` (and its UltraServer).
    mutating func giveBack(_ arn: String, ultraServer: String?) {
        released.insert(arn)
        for (key, blocks) in plans {
            guard let b = blocks.firstIndex(where: { $0.arn == arn }) else { continue }
            plans[key]![b].free += 1
            if let server = ultraServer, let s = blocks[b].ultraServers.firstIndex(where: { $0.id == server }) {
                plans[key]![b].ultraServers[s].free += 1
            }
        }
    }
}

extension InstanceGroupRecord {
    /// The plan a plan-backed group launches from, as a lower-cased ARN (R201: the name part is case-insensitive);
    /// nil for an on-demand group.
    public var planKey: String? { spec.trainingPlanArn?.lowercased() }
}

extension ClusterLifecycle {
    /// The zones a group's subnets are in, with those subnets in order (R36; no VpcConfig → zone a).
    func subnetsByZone(of group: InstanceGroupRecord) -> [(zone: String, subnet: String?)] {
        let subnets = group.spec.overrideVpcConfig?.subnets ?? cluster.request.vpcConfig?.subnets ?? []
        if subnets.isEmpty { return [(Placement.zone(ofSubnet: nil, region: cluster.region), nil)] }
        return subnets.map { (Placement.zone(ofSubnet: $0, region: cluster.region), $0) }
    }

    /// The open RCs of a group's plan it may launch from (R223): its InstanceType, in a zone of its subnets, earliest
    /// start first.
    func usableBlocks(_ g: Int, context: LifecycleContext) -> [Int] {
        let group = cluster.groups[g]
        guard let key = group.planKey, let type = group.spec.instanceType?.rawValue, let blocks = context.plans.plans[key] else { return [] }
        let zones = Set(subnetsByZone(of: group).map(\.zone))
        return blocks.indices.filter { blocks[$0].open && blocks[$0].instanceType == type && zones.contains(blocks[$0].zone) }
            .sorted { blocks[$0].startTime < blocks[$1].startTime }
    }

    /// R223: a plan-backed slot takes one free unit of an open RC of its plan and launches in that RC's zone, on the
    /// group's subnets there (round-robin); never from the on-demand pools.
    /// - Returns: whether the slot got an instance.
    mutating func acquireReserved(_ i: Int, group g: Int, ordinal: Int, context: inout LifecycleContext) -> Bool {
        let group = cluster.groups[g]
        guard let key = group.planKey, let type = group.spec.instanceType?.rawValue else { return false }
        for b in usableBlocks(g, context: context) {
            var block = context.plans.plans[key]![b]
            if let allowed = nodes[i].allowedZones, !allowed.contains(block.zone) { continue }
            guard block.free > 0 else { continue }
            var server: String?
            if !block.ultraServers.isEmpty {
                guard let s = block.ultraServers.firstIndex(where: { $0.free > 0 }) else { continue }
                block.ultraServers[s].free -= 1
                server = block.ultraServers[s].id
            }
            block.free -= 1
            context.plans.plans[key]![b] = block
            let inZone = subnetsByZone(of: group).filter { $0.zone == block.zone }.map(\.subnet)
            let subnet = inZone[ordinal % inZone.count]
            nodes[i].instanceID = context.allocator.newInstanceID()
            nodes[i].instanceType = type
            nodes[i].zone = block.zone
            nodes[i].privateIP = context.allocator.newAddress(subnet: subnet)
            nodes[i].subnet = subnet
            nodes[i].launchTime = context.now
            nodes[i].lifeCycleConfig = group.spec.lifeCycleConfig
            nodes[i].imageID = group.desiredImage(region: cluster.region)
            nodes[i].reservedCapacityARN = block.arn
            nodes[i].ultraServerID = server
            nodes[i].ultraServerType = server == nil ? nil : block.ultraServerType
            recordInstance(nodes[i], "EC2 Instance \(nodes[i].instanceID!) successfully provisioned in Cluster \(c) and IG \(group.name)")
            return true
        }
        return false
    }

    /// Gives a node's instance back where it came from: its RC's unit (R229, R230) or the on-demand pool (R116).
    mutating func releaseInstance(of node: NodeRecord, context: inout LifecycleContext) {
        guard node.instanceID != nil else { return }
        if let rc = node.reservedCapacityARN {
            context.plans.giveBack(rc, ultraServer: node.ultraServerID)
        } else if let type = node.instanceType, let zone = node.zone {
            context.capacity.giveBack(type, zone: zone)
        }
    }

    /// R224: a plan-backed group whose slots wait while no RC of its plan it could use is open (before the window,
    /// after a drain, an expired plan). Such a group counts as done and schedules no retry and no failure.
    func waitsForPlanWindow(_ g: Int, context: LifecycleContext) -> Bool {
        cluster.groups[g].planKey != nil && usableBlocks(g, context: context).isEmpty
    }

    /// R224, R225, R227: the waiting slots of every group on plan `key` try for a unit now (an RC's StartTime, a unit
    /// released, an extension paid, the plan changed). A shortfall inside an open window retries as R118 in every
    /// provisioning mode; never a rollback or failure.
    public mutating func launchWaitingOnPlan(_ key: String?, context: inout LifecycleContext) -> [LifecycleEffect] {
        guard cluster.status != .deleting else { return [] }
        var effects: [LifecycleEffect] = []
        for g in cluster.groups.indices where cluster.groups[g].status != .deleting && (key == nil || cluster.groups[g].planKey == key) {
            effects += relaunchWaiting(g, context: &context)
        }
        settle()
        return effects
    }

    /// R222, R227: a group's plan changed — its waiting slots try the new capacity source now.
    public mutating func relaunchWaitingSlots(of group: String, context: inout LifecycleContext) -> [LifecycleEffect] {
        guard cluster.status != .deleting, let g = groupIndex(group), cluster.groups[g].status != .deleting else { return [] }
        let effects = relaunchWaiting(g, context: &context)
        settle()
        return effects
    }

    /// One group's waiting slots try for an instance (plan or on-demand, by the group's current source).
    mutating func relaunchWaiting(_ g: Int, context: inout LifecycleContext) -> [LifecycleEffect] {
        let name = cluster.groups[g].name
        // Slots that just got an instance (a drain's replacements, launched from another window or on demand) launch
        // too: the batch starts whether or not anything was waiting.
        for (ordinal, i) in waitingSlots(of: name).enumerated() { _ = acquireInstance(i, group: g, ordinal: ordinal, context: &context) }
        var effects = launchNextBatch(name, timing: context.timing)
        if waitingSlots(of: name).isEmpty {
            cluster.groups[g].awaitingPlanWindow = false
            if cluster.groups[g].retryDelay != nil {
                effects.append(.cancel(.launchRetry(group: name, token: cluster.groups[g].retryToken)))
                cluster.groups[g].retryDelay = nil
            }
        } else if waitsForPlanWindow(g, context: context) {
            cluster.groups[g].awaitingPlanWindow = true
        } else {
            cluster.groups[g].awaitingPlanWindow = false
            if cluster.groups[g].retryDelay == nil {  // R225 / R118: wait for units, retrying with back-off
                recordShortfall(g)
                cluster.groups[g].retryDelay = context.timing[.retry]
                cluster.groups[g].retryToken = nextToken()
                effects.append(.schedule(.launchRetry(group: name, token: cluster.groups[g].retryToken), afterSeconds: context.timing[.retry]))
            }
        }
        return effects
    }

    /// R226: EndTime − T_plan_drain of RC `arn`: every node holding one of its units goes `ShuttingDown` (removed after
    /// T_term); its slot stays and waits for the plan's next window. No status changes.
    public mutating func drainReservedCapacity(_ arn: String, context: inout LifecycleContext) -> [LifecycleEffect] {
        let victims = nodes.filter { $0.reservedCapacityARN == arn && $0.status != .shuttingDown && $0.status != .detachInProgress }
        guard !victims.isEmpty else { return [] }
        var effects = terminate(victims.map(\.logicalID), timing: context.timing)
        var counts: [String: Int] = [:]
        for node in victims { counts[node.groupName, default: 0] += 1 }
        for (group, count) in counts.sorted(by: { $0.key < $1.key }) {
            guard let g = groupIndex(group), cluster.groups[g].status != .deleting else { continue }
            addSlots(to: group, count: count, context: &context)
            effects += relaunchWaiting(g, context: &context)
        }
        settle()
        return effects
    }
}
