import AWSJSONProtocol
import HyperPodDomain
import HyperPodStore
import JSON
import SageMakerShapes

/// A timer of a training plan (spec R210, R211, R219, R224–R226), stored under the plan's lower-cased ARN.
enum PlanEvent: Equatable {
    /// The plan's payment completes or fails (P2–P4), T_payment after CreateTrainingPlan.
    case payment
    /// An extension's payment completes or fails (R219), T_payment after ExtendTrainingPlan.
    case extensionPayment(index: Int)
    /// An RC's StartTime (P5): waiting slots on the plan launch (R224).
    case windowStart(rc: Int)
    /// EndTime − T_plan_drain of an RC (R226): its nodes terminate.
    case drain(rc: Int)
    /// An RC's EndTime (P6, P7).
    case windowEnd(rc: Int)
    /// A unit of the plan was given back: waiting launches retry at once (R225).
    case unitsReleased

    var encoded: String {
        let object: JSONObject
        switch self {
        case .payment: object = ["event": .string("planPayment")]
        case .extensionPayment(let i): object = ["event": .string("planExtensionPayment"), "index": .integer(Int64(i))]
        case .windowStart(let rc): object = ["event": .string("planWindowStart"), "rc": .integer(Int64(rc))]
        case .drain(let rc): object = ["event": .string("planDrain"), "rc": .integer(Int64(rc))]
        case .windowEnd(let rc): object = ["event": .string("planWindowEnd"), "rc": .integer(Int64(rc))]
        case .unitsReleased: object = ["event": .string("planUnitsReleased")]
        }
        return String(decoding: JSONWriter.encode(.object(object)), as: UTF8.self)
    }

    init?(encoded: String) {
        guard let object = try? JSONParser.parse(encoded).objectValue, let name = object["event"]?.stringValue else { return nil }
        let index = object["index"]?.intValue ?? 0, rc = object["rc"]?.intValue ?? 0
        switch name {
        case "planPayment": self = .payment
        case "planExtensionPayment": self = .extensionPayment(index: index)
        case "planWindowStart": self = .windowStart(rc: rc)
        case "planDrain": self = .drain(rc: rc)
        case "planWindowEnd": self = .windowEnd(rc: rc)
        case "planUnitsReleased": self = .unitsReleased
        default: return nil
        }
    }

    /// The timers RA11's settle does not wait for (R231): window starts, ends and drains, like scheduled updates.
    static let notTransitional = [PlanEvent.windowStart(rc: 0), .drain(rc: 0), .windowEnd(rc: 0)]
        .map { $0.encoded.prefix(while: { $0 != "," }).description }
}

extension ClusterService {
    /// Whether a timer row belongs to a training plan (its resource is a plan ARN).
    static func isPlanTimer(_ resourceARN: String) -> Bool { resourceARN.contains(":training-plan/") }

    /// The plan an RC ARN belongs to, lower-cased (R201: `…:reserved-capacity/<name-lc>-rc<n>`).
    static func planKey(ofReservedCapacity arn: String) -> String? {
        guard let parts = TrainingPlanRecord.parseReservedCapacityARN(arn), let dash = parts.id.range(of: "-rc", options: .backwards) else {
            return nil
        }
        return "arn:\(parts.partition):sagemaker:\(parts.region):\(parts.account):training-plan/\(parts.id[..<dash.lowerBound])"
    }

    // MARK: Partition settings (RA12, RA14)

    /// A partition's offering settings (RA14): stored values over the defaults.
    func trainingPlanSettings(in partition: ClusterStore.Partition, db: StoreTransaction) throws -> TrainingPlanSettings {
        var settings = TrainingPlanSettings()
        guard let stored = try PartitionSettings.value(TrainingPlanStore.settingsSetting, in: partition, db: db)?.objectValue else { return settings }
        if let v = stored["defaultHourlyRate"]?.stringValue { settings.defaultHourlyRate = v }
        for (type, rate) in stored["hourlyRates"]?.objectValue?.members ?? [] { if let r = rate.stringValue { settings.hourlyRates[type] = r } }
        if let v = stored["currencyCode"]?.stringValue { settings.currencyCode = v }
        if let v = stored["offeringsPerSearch"]?.intValue { settings.offeringsPerSearch = v }
        if let v = stored["slotTimeUtc"]?.stringValue, let m = TrainingPlanSettings.parseSlot(v) { settings.slotMinutes = m }
        if let v = stored["horizonDays"]?.intValue { settings.horizonDays = v }
        return settings
    }

    /// A partition's reservable pools with the bookings of its plans (R203, RA12).
    func reservablePools(in partition: ClusterStore.Partition, db: StoreTransaction) throws -> ReservablePools {
        let sizes = PartitionSettings.decodePools(try PartitionSettings.value(TrainingPlanStore.reservablePoolsSetting, in: partition, db: db))
        return ReservablePools(sizes: sizes, bookings: ReservablePools.bookings(of: try TrainingPlanStore.plans(in: partition, db: db)))
    }

    // MARK: Capacity of plan-backed groups (R223)

    /// The RCs of the plans a cluster's groups name, as its transitions at `now` see them: open while `Active` and
    /// before the drain, free units = usable size − units held in the partition.
    func planCapacity(for cluster: ClusterRecord, at now: VirtualTime, db: StoreTransaction, also: Set<String> = []) throws -> PlanCapacity {
        let keys = Set(cluster.groups.compactMap(\.planKey)).union(also)
        guard !keys.isEmpty else { return PlanCapacity() }
        let partition = ClusterStore.Partition(account: cluster.account, region: cluster.region)
        let holdings = try TrainingPlanStore.holdings(in: partition, db: db)
        var capacity = PlanCapacity()
        for key in keys {
            guard let plan = try TrainingPlanStore.plan(key, db: db), plan.account == cluster.account, plan.region == cluster.region else {
                capacity.plans[key] = []
                continue
            }
            capacity.plans[key] = plan.reservedCapacities.map { rc in
                let held = holdings.byReservedCapacity[rc.arn].map { $0.inUse + $0.unhealthy } ?? 0
                let open = plan.status(of: rc, at: now) == .active && now < rc.drainTime(lead: timing[.planDrain])
                return PlanCapacity.Block(
                    arn: rc.arn, instanceType: rc.instanceType, zone: rc.zone, startTime: rc.startTime, open: open,
                    free: max(0, rc.usableSize - held), ultraServerType: rc.ultraServerType,
                    ultraServers: rc.ultraServers.map { s in
                        let used = holdings.byUltraServer[s.id].map { $0.inUse + $0.unhealthy } ?? 0
                        return PlanCapacity.UltraServerSlots(id: s.id, free: max(0, s.instances - s.spares - used))
                    })
            }
        }
        return capacity
    }

    /// R225: a transition gave units back — one `unitsReleased` timer per plan, due now, lets waiting launches retry.
    func planWakeTimers(for released: Set<String>, at now: VirtualTime, db: StoreTransaction) throws -> [NewTransition] {
        var keys: Set<String> = []
        for rc in released { if let key = Self.planKey(ofReservedCapacity: rc) { keys.insert(key) } }
        return try keys.sorted().map { key in
            try TransitionStore.cancel(resourceARN: key, event: PlanEvent.unitsReleased.encoded, db: db)
            return NewTransition(resourceARN: key, generation: 1, event: PlanEvent.unitsReleased.encoded, dueAt: now)
        }
    }

    // MARK: Plan timers

    /// Applies a fired plan timer (the scheduler's applier for plan rows).
    func firePlan(_ timer: ScheduledTransition, db: StoreTransaction) throws -> [NewTransition] {
        guard var plan = try TrainingPlanStore.plan(timer.resourceARN, db: db) else { return [] }  // reset since
        guard let event = PlanEvent(encoded: timer.event) else { throw UnknownTransition(event: timer.event) }
        let now = timer.dueAt
        let key = plan.arn.lowercased()
        let partition = ClusterStore.Partition(account: plan.account, region: plan.region)
        var timers: [NewTransition] = []
        func at(_ time: VirtualTime, _ e: PlanEvent) -> NewTransition {
            NewTransition(resourceARN: key, generation: 1, event: e.encoded, dueAt: max(time, now))
        }
        switch event {
        case .payment:
            guard plan.payment == .pending else { return [] }
            if try consumePaymentFault("training-plan-payment-failure", plan: plan, db: db) {  // P4
                plan.payment = .failed
                plan.statusMessage = "Payment for training plan \(plan.name) failed."
                try TrainingPlanStore.save(plan, db: db)
                try TrainingPlanStore.markTaken(plan.offeringID, false, db: db)  // unpaid: the offering may be bought again
                return []
            }
            plan.payment = .completed  // P2 / P3
            try TrainingPlanStore.save(plan, db: db)
            for (i, rc) in plan.reservedCapacities.enumerated() {
                timers += [at(rc.startTime, .windowStart(rc: i)), at(rc.drainTime(lead: timing[.planDrain]), .drain(rc: i)),
                           at(rc.endTime, .windowEnd(rc: i))]
            }
        case .extensionPayment(let index):
            guard plan.extensions.indices.contains(index), plan.extensions[index].payment == .pending,
                  plan.reservedCapacities.indices.contains(plan.extensions[index].reservedCapacityIndex) else { return [] }
            // R219: a failed payment releases the units and leaves the plan as it was; so does a payment that completes
            // after the plan expired (P7 is final).
            let expired = now >= plan.endTime
            if try expired || consumePaymentFault("extension-payment-failure", plan: plan, db: db) {
                plan.extensions[index].payment = .failed
                try TrainingPlanStore.save(plan, db: db)
                try TrainingPlanStore.markTaken(plan.extensions[index].offeringID, false, db: db)
                return []
            }
            let e = plan.extensions[index]
            let r = e.reservedCapacityIndex
            let drainedAlready = now >= plan.reservedCapacities[r].drainTime(lead: timing[.planDrain])
            plan.extensions[index].payment = .completed
            plan.reservedCapacities[r].endTime = max(plan.reservedCapacities[r].endTime, e.endDate)
            try TrainingPlanStore.save(plan, db: db)
            // R226: the drain moves to the new EndTime − T_plan_drain; after a drain, waiting slots relaunch at once.
            try TransitionStore.cancel(resourceARN: key, event: PlanEvent.drain(rc: r).encoded, db: db)
            try TransitionStore.cancel(resourceARN: key, event: PlanEvent.windowEnd(rc: r).encoded, db: db)
            let rc = plan.reservedCapacities[r]
            timers += [at(rc.drainTime(lead: timing[.planDrain]), .drain(rc: r)), at(rc.endTime, .windowEnd(rc: r))]
            if drainedAlready { timers += try wakeClusters(onPlan: key, partition: partition, at: now, db: db) }
        case .windowStart, .unitsReleased:
            timers += try wakeClusters(onPlan: key, partition: partition, at: now, db: db)
        case .drain(let r):
            guard plan.reservedCapacities.indices.contains(r) else { return [] }
            let rc = plan.reservedCapacities[r]
            guard now >= rc.drainTime(lead: timing[.planDrain]) else { return [] }  // moved by an extension
            for arn in try ClusterStore.clusters(holdingUnitsOf: rc.arn, db: db) {
                guard var lifecycle = try ClusterStore.load(arn, db: db) else { continue }
                timers += try transition(&lifecycle, at: now, db: db) { l, c in ((), l.drainReservedCapacity(rc.arn, context: &c)) }.timers
            }
        case .windowEnd:
            break  // P6, P7: statuses follow from the clock; a DescribeCluster answer cached before is dropped with this firing
        }
        return timers
    }

    /// Runs the waiting launches of every cluster with a group on the plan (R224, R225); one cluster's failure does not
    /// stop the others (it is logged and the cluster keeps waiting for the next wake-up).
    func wakeClusters(onPlan key: String, partition: ClusterStore.Partition, at now: VirtualTime, db: StoreTransaction) throws -> [NewTransition] {
        var timers: [NewTransition] = []
        for arn in try TrainingPlanStore.clusters(onPlan: key, in: partition, db: db) {
            guard var lifecycle = try ClusterStore.load(arn, db: db) else { continue }
            timers += try transition(&lifecycle, at: now, db: db, onlyIfChanged: true) { l, c in ((), l.launchWaitingOnPlan(key, context: &c)) }.timers
        }
        return timers
    }

    /// Consumes an armed payment fault of the plan (RA15), if one is armed.
    func consumePaymentFault(_ kind: String, plan: TrainingPlanRecord, db: StoreTransaction) throws -> Bool {
        guard let fault = faults.all.first(where: {
            $0.kind == kind && $0.body["trainingPlanName"]?.stringValue?.lowercased() == plan.name.lowercased()
                && ($0.body["account"]?.stringValue ?? defaultAccountID) == plan.account
                && ($0.body["region"]?.stringValue ?? defaultRegion) == plan.region
        }) else { return false }
        try ServerStore.removeFault(id: fault.id, db: db)
        try reloadFaults(db)
        return true
    }

    // MARK: Resolution (R202)

    /// The plan a name or ARN names in the caller's partition.
    /// - Throws: `ResourceNotFound` `Could not find training plan '<arn>'`.
    func resolvePlan(_ nameOrARN: String, context: AWSRequestContext, db: StoreTransaction) throws -> TrainingPlanRecord {
        let p = context.partition
        let asked: String
        if nameOrARN.hasPrefix("arn:") {
            asked = nameOrARN
            if let plan = try planNamed(byGroupARN: nameOrARN, in: p, awsPartition: context.identity.partition, db: db) { return plan }
        } else {
            asked = TrainingPlanRecord.arn(partition: context.identity.partition, region: p.region, account: p.account, name: nameOrARN)
            if let plan = try TrainingPlanStore.plan(asked, db: db) { return plan }
        }
        throw AWSError.resourceNotFound("Could not find training plan '\(asked)'")
    }

    /// The plan and RC an RC ARN names in the caller's partition.
    /// - Throws: `ResourceNotFound` `Could not find reserved capacity '<arn>'`.
    func resolveReservedCapacity(_ arn: String, context: AWSRequestContext, db: StoreTransaction) throws -> (TrainingPlanRecord, Int) {
        let p = context.partition
        if let parts = TrainingPlanRecord.parseReservedCapacityARN(arn), parts.partition == context.identity.partition,
           parts.region == p.region, parts.account == p.account, let key = Self.planKey(ofReservedCapacity: arn.lowercased()),
           let plan = try TrainingPlanStore.plan(key, db: db),
           let index = plan.reservedCapacities.firstIndex(where: { $0.arn.lowercased() == arn.lowercased() }) {
            return (plan, index)
        }
        throw AWSError.resourceNotFound("Could not find reserved capacity '\(arn)'")
    }

    /// The plan an ARN names in a partition (R202, R221 (a); the name part ignoring case), nil when it resolves to none.
    func planNamed(byGroupARN arn: String, in partition: ClusterStore.Partition, awsPartition: String, db: StoreTransaction) throws -> TrainingPlanRecord? {
        guard let parts = TrainingPlanRecord.parseARN(arn), parts.partition == awsPartition, parts.region == partition.region,
              parts.account == partition.account else { return nil }
        return try TrainingPlanStore.plan(arn.lowercased(), db: db)
    }

    // MARK: Clusters on a plan (R221)

    /// R221's checks for the groups that carry a new `TrainingPlanArn`, in request order; the first failure's message.
    func planViolation(_ groups: [ClusterInstanceGroupSpecification], vpc: VpcConfig?, context: AWSRequestContext, at now: VirtualTime,
                       db: StoreTransaction) throws -> String? {
        for group in groups {
            guard let arn = group.trainingPlanArn else { continue }
            let name = group.instanceGroupName
            guard let plan = try planNamed(byGroupARN: arn, in: context.partition, awsPartition: context.identity.partition, db: db) else {
                return "Training plan \(arn) not found."  // (a)
            }
            if !plan.targetResources.contains("hyperpod-cluster") { return "Training plan \(plan.name) cannot be used by HyperPod clusters." }  // (b)
            let status = plan.status(at: now)
            if status != .scheduled && status != .active { return "Training plan \(plan.name) is in \(status.rawValue) status and cannot be used." }  // (c)
            if group.instanceRequirements != nil {  // (d)
                return "TrainingPlanArn is not supported for instance group \(name) with InstanceRequirements."
            }
            let live = plan.reservedCapacities.filter { plan.status(of: $0, at: now) != .expired }
            let type = group.instanceType?.rawValue ?? ""
            let matching = live.filter { $0.instanceType == type }
            if matching.isEmpty {
                var types: [String] = []
                for rc in live where !types.contains(rc.instanceType) { types.append(rc.instanceType) }
                return "Instance type \(type) of instance group \(name) does not match training plan \(plan.name) (\(types.joined(separator: ", ")))."
            }
            if group.capacityRequirements?.spot != nil { return "TrainingPlanArn cannot be combined with Spot capacity for instance group \(name)." }  // (e)
            let subnets = group.overrideVpcConfig?.subnets ?? vpc?.subnets ?? []
            let zones = Set(subnets.isEmpty ? [Placement.zone(ofSubnet: nil, region: context.partition.region)]
                                            : subnets.map { Placement.zone(ofSubnet: $0, region: context.partition.region) })
            let reachable = matching.filter { zones.contains($0.zone) }
            if reachable.isEmpty {  // (f)
                return "No subnet of instance group \(name) is in Availability Zone \(matching[0].zone) of training plan \(plan.name)."
            }
            let largest = matching.map(\.usableSize).max() ?? 0
            if group.instanceCount > largest {  // (g)
                return "Instance group \(name) requests \(group.instanceCount) instances but training plan \(plan.name) reserves \(largest) \(type) instances."
            }
        }
        return nil
    }

    /// `TrainingPlanStatus` of a plan-backed group (R228): the plan's status, nil when the ARN resolves to none.
    func trainingPlanStatus(of arn: String?, partition: ClusterStore.Partition, at now: VirtualTime, db: StoreTransaction) throws -> String? {
        guard let arn, let plan = try TrainingPlanStore.plan(arn.lowercased(), db: db), plan.account == partition.account,
              plan.region == partition.region else { return nil }
        return plan.status(at: now).rawValue
    }

    // MARK: SearchTrainingPlanOfferings (R204–R208, R217)

    /// `SearchTrainingPlanOfferings`: a plan search (R204–R208) or, with `TrainingPlanArn`, an extension search (R217).
    /// Every offering returned is recorded (R207).
    /// - Throws: `ValidationException` (R205, R217), `ResourceLimitExceeded` (R205's quota).
    func searchTrainingPlanOfferings(_ input: SearchTrainingPlanOfferingsRequest, context: AWSRequestContext) throws -> SearchTrainingPlanOfferingsResponse {
        try perform { db, now in
            let partition = context.partition
            let settings = try trainingPlanSettings(in: partition, db: db)
            let pools = try reservablePools(in: partition, db: db)
            if let arn = input.trainingPlanArn {  // R217
                guard let plan = try planNamed(byGroupARN: arn, in: partition, awsPartition: context.identity.partition, db: db) else {
                    throw AWSError.validation("Training plan \(arn) not found.")
                }
                if let refusal = TrainingPlanSearch.extensionRefusal(plan, at: now) { throw AWSError.validation(refusal) }
                let offerings = TrainingPlanSearch.extensionOfferings(of: plan, durationHours: input.durationHours.map { Int($0) }, pools: pools,
                                                                      settings: settings, seed: generatorSeed,
                                                                      taken: try TrainingPlanStore.takenIDs(in: partition, db: db))
                for offering in offerings { try TrainingPlanStore.record(offering, in: partition, db: db) }
                return SearchTrainingPlanOfferingsResponse(trainingPlanOfferings: [], trainingPlanExtensionOfferings: offerings.map { f in
                    let rc = f.reservedCapacities[0]
                    return TrainingPlanExtensionOffering(
                        trainingPlanExtensionOfferingId: f.id, availabilityZone: rc.zone, startDate: rc.startTime.epochSeconds,
                        endDate: rc.endTime.epochSeconds, durationHours: .init(TrainingPlanMath.minutes(rc.startTime, rc.endTime) / 60),
                        upfrontFee: f.upfrontFee, currencyCode: f.currencyCode)
                })
            }
            let request = try searchRequest(input)
            try checkTrainingPlanQuota([(request.instanceType, request.units)], in: partition, at: now, db: db)  // R205
            // R207: matching published offerings first, never cut; generated ones fill up to `offeringsPerSearch`.
            var offerings = try TrainingPlanStore.offerings(.published, in: partition, db: db)
                .filter { $0.isCurrent(at: now) && TrainingPlanSearch.matches($0, request) }
            offerings += TrainingPlanSearch.generate(request, now: now, region: partition.region, account: partition.account, pools: pools,
                                                     settings: settings, limit: settings.offeringsPerSearch - offerings.count, seed: generatorSeed,
                                                     taken: try TrainingPlanStore.takenIDs(in: partition, db: db))
            for offering in offerings where offering.kind == .generated { try TrainingPlanStore.record(offering, in: partition, db: db) }
            return SearchTrainingPlanOfferingsResponse(trainingPlanOfferings: offerings.map { Self.offeringShape($0, request: request) })
        }
    }

    /// R205, R209: the quota `<type> for training plan usage` of each type `requested` adds instances of (usage = units
    /// of the type in the partition's `Pending`, `Scheduled` and `Active` plans).
    /// - Throws: `ResourceLimitExceeded` in R84's words, for the first type (in name order) it would exceed.
    func checkTrainingPlanQuota(_ requested: [(type: String, instances: Int)], in partition: ClusterStore.Partition, at now: VirtualTime,
                                db: StoreTransaction) throws {
        let limits = try quotaLimits(in: partition, db: db)
        let held = try TrainingPlanStore.plans(in: partition, db: db).filter { [.pending, .scheduled, .active].contains($0.status(at: now)) }
            .flatMap(\.reservedCapacities)
        for type in Set(requested.map(\.type)).sorted() {
            let quota = Quotas.Quota.trainingPlanInstances(type)
            let limit = limits[quota.name] ?? quota.defaultLimit
            let used = held.filter { $0.instanceType == type }.reduce(0) { $0 + $1.totalInstanceCount }
            let delta = requested.filter { $0.type == type }.reduce(0) { $0 + $1.instances }
            if used + delta > limit {
                throw AWSError.resourceLimitExceeded(Quotas.Violation(quota: quota, limit: limit, usage: used, delta: delta).message)
            }
        }
    }

    /// R205's checks in order, then the search's terms.
    func searchRequest(_ input: SearchTrainingPlanOfferingsRequest) throws -> TrainingPlanSearch.Request {
        guard let targets = input.targetResources, !targets.isEmpty else {
            throw AWSError.validation("TargetResources is required when searching for training plan offerings.")
        }
        guard let hours = input.durationHours else {
            throw AWSError.validation("DurationHours is required when searching for training plan offerings.")
        }
        let instancePair = input.instanceType != nil && input.instanceCount != nil
        let ultraPair = input.ultraServerType != nil && input.ultraServerCount != nil
        let anyInstance = input.instanceType != nil || input.instanceCount != nil
        let anyUltra = input.ultraServerType != nil || input.ultraServerCount != nil
        guard (instancePair && !anyUltra) || (ultraPair && !anyInstance) else {
            throw AWSError.validation("Specify either InstanceType and InstanceCount, or UltraServerType and UltraServerCount.")
        }
        if input.instanceCount == 0 { throw AWSError.validation("InstanceCount must be greater than 0.") }
        var type = input.instanceType?.rawValue ?? ""
        var units = input.instanceCount ?? 0
        if let ultra = input.ultraServerType {
            guard let entry = TrainingPlanMath.ultraServers[ultra] else { throw AWSError.validation("UltraServerType \(ultra) is not supported.") }
            type = entry.instanceType
            units = entry.instances * (input.ultraServerCount ?? 0)
            if units <= 0 { throw AWSError.validation("UltraServerCount must be greater than 0.") }
        }
        if let after = input.startTimeAfter, let before = input.endTimeBefore, before <= after {
            throw AWSError.validation("EndTimeBefore must be later than StartTimeAfter.")
        }
        return TrainingPlanSearch.Request(
            instanceType: type, ultraServerType: input.ultraServerType, ultraServerCount: input.ultraServerCount, units: units,
            durationHours: Int(clamping: hours), startTimeAfter: input.startTimeAfter.map(VirtualTime.init(epochSeconds:)),
            endTimeBefore: input.endTimeBefore.map(VirtualTime.init(epochSeconds:)), targetResources: targets.map(\.rawValue))
    }

    /// R206: an offering as the search answers it.
    static func offeringShape(_ f: TrainingPlanOfferingRecord, request: TrainingPlanSearch.Request) -> TrainingPlanOffering {
        let (hours, minutes) = TrainingPlanMath.split(minutes: f.durationMinutes)
        return TrainingPlanOffering(
            trainingPlanOfferingId: f.id, targetResources: f.targetResources.compactMap(SageMakerResourceName.init(rawValue:)),
            requestedStartTimeAfter: request.startTimeAfter?.epochSeconds, requestedEndTimeBefore: request.endTimeBefore?.epochSeconds,
            durationHours: hours, durationMinutes: minutes, upfrontFee: f.upfrontFee, currencyCode: f.currencyCode,
            reservedCapacityOfferings: f.reservedCapacities.map { rc in
                let (h, m) = TrainingPlanMath.split(minutes: TrainingPlanMath.minutes(rc.startTime, rc.endTime))
                return ReservedCapacityOffering(
                    reservedCapacityType: rc.type, ultraServerType: rc.ultraServerType, ultraServerCount: rc.ultraServerCount,
                    instanceType: ReservedCapacityInstanceType(rawValue: rc.instanceType) ?? .mlP548xlarge, instanceCount: rc.instanceCount,
                    availabilityZone: rc.zone, durationHours: .init(h), durationMinutes: .init(m), startTime: rc.startTime.epochSeconds,
                    endTime: rc.endTime.epochSeconds)
            })
    }

    // MARK: CreateTrainingPlan (R209, R210)

    /// `CreateTrainingPlan`: a plan `Pending` with its RCs and units booked; payment after T_payment (R210).
    /// - Throws: `ResourceNotFound` (R207), `ValidationException` (R209 spares), `ResourceInUse` (name taken),
    ///   `ResourceLimitExceeded` (R205's quota), `ValidationException` (tags, R115).
    func createTrainingPlan(_ input: CreateTrainingPlanRequest, context: AWSRequestContext) throws -> CreateTrainingPlanResponse {
        try perform { db, now in
            let partition = context.partition
            let id = input.trainingPlanOfferingId
            guard let offering = try TrainingPlanStore.offering(id, in: partition, db: db), offering.kind != .extension else {
                throw AWSError.resourceNotFound("Could not find training plan offering '\(id)'")
            }
            let pools = try reservablePools(in: partition, db: db)
            guard offering.isCurrent(at: now), offering.kind == .published || pools.admits(offering) else {
                throw AWSError.resourceNotFound("Training plan offering '\(id)' is no longer available.")
            }
            let ultra = offering.reservedCapacities.first { $0.type == .ultraServer }
            if let spares = input.spareInstanceCountPerUltraServer {
                guard let ultra, let type = ultra.ultraServerType, let perServer = TrainingPlanMath.ultraServers[type]?.instances else {
                    throw AWSError.validation("SpareInstanceCountPerUltraServer is only supported for UltraServer offerings.")
                }
                if spares >= perServer {
                    throw AWSError.validation("SpareInstanceCountPerUltraServer must be less than \(perServer) for UltraServer type \(type).")
                }
            }
            let arn = TrainingPlanRecord.arn(partition: context.identity.partition, region: partition.region, account: partition.account,
                                             name: input.trainingPlanName)
            if try TrainingPlanStore.plan(arn, db: db) != nil {
                throw AWSError.resourceInUse("Training plan \(input.trainingPlanName) already exists.")
            }
            try checkTrainingPlanQuota(offering.reservedCapacities.map { ($0.instanceType, $0.instanceCount) }, in: partition, at: now, db: db)
            let tags = try Self.merging(input.tags ?? [], into: [])  // a key given twice keeps its last value, as CreateCluster's tags do
            let windows = offering.reservedCapacities.sorted { $0.startTime < $1.startTime }
            let rcs = windows.enumerated().map { n, w -> ReservedCapacityRecord in
                var servers: [UltraServerRecord] = []
                if w.type == .ultraServer, let type = w.ultraServerType, let perServer = TrainingPlanMath.ultraServers[type]?.instances {
                    for _ in 0..<(w.ultraServerCount ?? 0) {
                        let hex = generator.withLock { Identifiers.instanceID(using: &$0) }.dropFirst(2)  // 17 lowercase hex (R201)
                        servers.append(UltraServerRecord(id: "us-" + hex, instances: perServer, spares: input.spareInstanceCountPerUltraServer ?? 1))
                    }
                }
                return ReservedCapacityRecord(
                    arn: "arn:\(context.identity.partition):sagemaker:\(partition.region):\(partition.account):reserved-capacity/"
                        + "\(input.trainingPlanName.lowercased())-rc\(n + 1)",
                    type: w.type, ultraServerType: w.ultraServerType, ultraServerCount: w.ultraServerCount, instanceType: w.instanceType,
                    totalInstanceCount: w.instanceCount, zone: w.zone, startTime: w.startTime, endTime: w.endTime, ultraServers: servers)
            }
            let plan = TrainingPlanRecord(
                arn: arn,
                name: input.trainingPlanName, account: partition.account, region: partition.region, creationTime: now,
                targetResources: offering.targetResources, upfrontFee: offering.upfrontFee, currencyCode: offering.currencyCode,
                reservedCapacities: rcs, offeringID: offering.id, tags: tags)
            try TrainingPlanStore.save(plan, db: db)
            try TrainingPlanStore.markTaken(offering.id, db: db)
            try TransitionStore.schedule([NewTransition(resourceARN: plan.arn.lowercased(), generation: 1, event: PlanEvent.payment.encoded,
                                                        dueAt: now.adding(seconds: timing[.payment]))], db: db)
            return CreateTrainingPlanResponse(trainingPlanArn: plan.arn)
        }
    }

    // MARK: Describe and List (R212–R216, R220)

    /// R212: InUse and Unhealthy of an RC from the holdings; Available while `Scheduled`/`Active` and before its drain.
    func counts(of rc: ReservedCapacityRecord, in plan: TrainingPlanRecord, holdings: TrainingPlanStore.Holdings,
                at now: VirtualTime) -> (inUse: Int, unhealthy: Int, available: Int) {
        let held = holdings.byReservedCapacity[rc.arn] ?? (0, 0)
        let status = plan.status(of: rc, at: now)
        let countable = (status == .scheduled || status == .active) && now < rc.drainTime(lead: timing[.planDrain])
        return (held.inUse, held.unhealthy, countable ? max(0, rc.usableSize - held.inUse - held.unhealthy) : 0)
    }

    /// R213's summary entry of an RC.
    func summary(of rc: ReservedCapacityRecord, in plan: TrainingPlanRecord, at now: VirtualTime) -> ReservedCapacitySummary {
        let (h, m) = TrainingPlanMath.split(minutes: TrainingPlanMath.minutes(rc.startTime, rc.endTime))
        return ReservedCapacitySummary(
            reservedCapacityArn: rc.arn, reservedCapacityType: rc.type, ultraServerType: rc.ultraServerType, ultraServerCount: rc.ultraServerCount,
            instanceType: ReservedCapacityInstanceType(rawValue: rc.instanceType) ?? .mlP548xlarge, totalInstanceCount: rc.totalInstanceCount,
            status: plan.status(of: rc, at: now), availabilityZone: rc.zone, availabilityZoneId: Placement.zoneID(of: rc.zone, region: plan.region),
            durationHours: .init(h), durationMinutes: .init(m), startTime: rc.startTime.epochSeconds, endTime: rc.endTime.epochSeconds)
    }

    /// R212, R213: the plan as DescribeTrainingPlan answers it.
    func describe(_ plan: TrainingPlanRecord, holdings: TrainingPlanStore.Holdings, at now: VirtualTime) -> DescribeTrainingPlanResponse {
        let perRC = plan.reservedCapacities.map { counts(of: $0, in: plan, holdings: holdings, at: now) }
        let current = plan.currentOrNextIndex(at: now)
        let (h, m) = TrainingPlanMath.split(minutes: plan.durationMinutes)
        var spare: Int?
        if plan.hasUltraServers {
            spare = current.map { i -> Int in
                let rc = plan.reservedCapacities[i]
                return perRC[i].available > 0 || plan.status(of: rc, at: now) == .scheduled || plan.status(of: rc, at: now) == .active ? rc.spareCount : 0
            } ?? 0
        }
        let status = plan.status(at: now)
        return DescribeTrainingPlanResponse(
            trainingPlanArn: plan.arn, trainingPlanName: plan.name, status: status, statusMessage: status == .failed ? plan.statusMessage : nil,
            durationHours: h, durationMinutes: m, startTime: plan.startTime.epochSeconds, endTime: plan.endTime.epochSeconds,
            upfrontFee: plan.upfrontFee, currencyCode: plan.currencyCode, totalInstanceCount: plan.totalInstanceCount,
            availableInstanceCount: current.map { perRC[$0].available } ?? 0, inUseInstanceCount: perRC.reduce(0) { $0 + $1.inUse },
            unhealthyInstanceCount: perRC.reduce(0) { $0 + $1.unhealthy }, availableSpareInstanceCount: spare,
            totalUltraServerCount: plan.hasUltraServers ? plan.reservedCapacities.reduce(0) { $0 + ($1.ultraServerCount ?? 0) } : nil,
            targetResources: plan.targetResources.compactMap(SageMakerResourceName.init(rawValue:)),
            reservedCapacitySummaries: plan.reservedCapacities.map { summary(of: $0, in: plan, at: now) })
    }

    /// `DescribeTrainingPlan` (R202, R212, R213): a name or an ARN.
    /// - Throws: `ResourceNotFound` (R202).
    func describeTrainingPlan(_ input: DescribeTrainingPlanRequest, context: AWSRequestContext) throws -> DescribeTrainingPlanResponse {
        try read { db, now in
            let plan = try resolvePlan(input.trainingPlanName, context: context, db: db)
            return describe(plan, holdings: try TrainingPlanStore.holdings(in: context.partition, db: db), at: now)
        }
    }

    /// `ListTrainingPlans` (R214): Status filters (ORed), StartTime bounds (strict), sort, paging (R95).
    /// - Throws: `ValidationException` for a Status value outside `TrainingPlanStatus`, or a foreign NextToken.
    func listTrainingPlans(_ input: ListTrainingPlansRequest, context: AWSRequestContext) throws -> ListTrainingPlansResponse {
        try read { db, now in
            var statuses: Set<TrainingPlanStatus> = []
            for filter in input.filters ?? [] {
                guard let status = TrainingPlanStatus(rawValue: filter.value) else {
                    throw AWSError.validation("Invalid value '\(filter.value)' for filter Status.")
                }
                statuses.insert(status)
            }
            let holdings = try TrainingPlanStore.holdings(in: context.partition, db: db)
            let plans = try TrainingPlanStore.plans(in: context.partition, db: db).filter { plan in
                if !statuses.isEmpty && !statuses.contains(plan.status(at: now)) { return false }
                if let after = input.startTimeAfter, !(plan.startTime.epochSeconds > after) { return false }
                if let before = input.startTimeBefore, !(plan.startTime.epochSeconds < before) { return false }
                return true
            }
            let sortBy = input.sortBy ?? .startTime
            let binding = "\(context.partition.account)/\(context.partition.region)|\(sortBy.rawValue)|\(input.sortOrder?.rawValue ?? "")|"
                + "\(statuses.map(\.rawValue).sorted())|\(input.startTimeAfter ?? -1)|\(input.startTimeBefore ?? -1)"
            let (page, next) = try PageToken.page(
                plans, key: { plan in
                    switch sortBy {
                    case .startTime: [sortKey(plan.startTime.milliseconds), plan.arn]
                    case .trainingPlanName: [plan.name, plan.arn]
                    case .status: [plan.status(at: now).rawValue, plan.arn]
                    }
                }, descending: input.sortOrder == .descending, token: input.nextToken, operation: "ListTrainingPlans", binding: binding,
                limit: input.maxResults ?? 10)
            return ListTrainingPlansResponse(nextToken: next.isEmpty ? nil : next, trainingPlanSummaries: page.map { plan in
                let d = describe(plan, holdings: holdings, at: now)
                return TrainingPlanSummary(
                    trainingPlanArn: d.trainingPlanArn, trainingPlanName: d.trainingPlanName, status: d.status, statusMessage: d.statusMessage,
                    durationHours: d.durationHours, durationMinutes: d.durationMinutes, startTime: d.startTime, endTime: d.endTime,
                    upfrontFee: d.upfrontFee, currencyCode: d.currencyCode, totalInstanceCount: d.totalInstanceCount,
                    availableInstanceCount: d.availableInstanceCount, inUseInstanceCount: d.inUseInstanceCount,
                    totalUltraServerCount: d.totalUltraServerCount, targetResources: d.targetResources,
                    reservedCapacitySummaries: d.reservedCapacitySummaries)
            })
        }
    }

    /// `DescribeReservedCapacity` (R215).
    /// - Throws: `ResourceNotFound` `Could not find reserved capacity '<arn>'`.
    func describeReservedCapacity(_ input: DescribeReservedCapacityRequest, context: AWSRequestContext) throws -> DescribeReservedCapacityResponse {
        try read { db, now in
            let (plan, index) = try resolveReservedCapacity(input.reservedCapacityArn, context: context, db: db)
            let rc = plan.reservedCapacities[index]
            let holdings = try TrainingPlanStore.holdings(in: context.partition, db: db)
            let c = counts(of: rc, in: plan, holdings: holdings, at: now)
            let s = summary(of: rc, in: plan, at: now)
            var ultra: UltraServerSummary?
            if rc.type == .ultraServer, let type = rc.ultraServerType {
                let status = plan.status(of: rc, at: now)
                ultra = UltraServerSummary(
                    ultraServerType: type, instanceType: s.instanceType, ultraServerCount: rc.ultraServerCount,
                    availableSpareInstanceCount: status == .scheduled || status == .active ? rc.spareCount : 0, unhealthyInstanceCount: c.unhealthy)
            }
            return DescribeReservedCapacityResponse(
                reservedCapacityArn: rc.arn, reservedCapacityType: rc.type, status: s.status, availabilityZone: rc.zone,
                durationHours: s.durationHours, durationMinutes: s.durationMinutes, startTime: s.startTime, endTime: s.endTime,
                instanceType: s.instanceType, totalInstanceCount: rc.totalInstanceCount, availableInstanceCount: c.available,
                inUseInstanceCount: c.inUse, ultraServerSummary: ultra)
        }
    }

    /// `ListUltraServersByReservedCapacity` (R216): an `Instance` RC lists none.
    /// - Throws: `ResourceNotFound` (R202), `ValidationException` (a foreign NextToken).
    func listUltraServersByReservedCapacity(_ input: ListUltraServersByReservedCapacityRequest,
                                            context: AWSRequestContext) throws -> ListUltraServersByReservedCapacityResponse {
        try read { db, now in
            let (plan, index) = try resolveReservedCapacity(input.reservedCapacityArn, context: context, db: db)
            let rc = plan.reservedCapacities[index]
            let holdings = try TrainingPlanStore.holdings(in: context.partition, db: db)
            let active = plan.status(of: rc, at: now) == .active
            let servers = rc.ultraServers.enumerated().map { n, s -> (Int, UltraServer) in
                let held = holdings.byUltraServer[s.id] ?? (0, 0)
                let health: UltraServerHealthStatus = !active ? .insufficientData : held.unhealthy > 0 ? .impaired : .ok
                return (n, UltraServer(
                    ultraServerId: s.id, ultraServerType: rc.ultraServerType ?? "", availabilityZone: rc.zone,
                    instanceType: ReservedCapacityInstanceType(rawValue: rc.instanceType) ?? .mlP548xlarge, totalInstanceCount: s.instances,
                    configuredSpareInstanceCount: s.spares, availableInstanceCount: max(0, s.instances - held.inUse - held.unhealthy - s.spares),
                    inUseInstanceCount: held.inUse, availableSpareInstanceCount: s.spares, unhealthyInstanceCount: held.unhealthy,
                    healthStatus: health))
            }
            let (page, next) = try PageToken.page(servers, key: { [sortKey(Int64($0.0)), $0.1.ultraServerId] }, descending: false,
                                                  token: input.nextToken, operation: "ListUltraServersByReservedCapacity",
                                                  binding: rc.arn, limit: input.maxResults ?? 10)
            return ListUltraServersByReservedCapacityResponse(nextToken: next.isEmpty ? nil : next, ultraServers: page.map(\.1))
        }
    }

    // MARK: Extensions (R217–R220)

    /// R218's entry of an extension.
    static func extensionShape(_ e: TrainingPlanExtensionRecord, region: String, at now: VirtualTime) -> TrainingPlanExtension {
        TrainingPlanExtension(
            trainingPlanExtensionOfferingId: e.offeringID, extendedAt: e.extendedAt.epochSeconds, startDate: e.startDate.epochSeconds,
            endDate: e.endDate.epochSeconds, status: e.status(at: now), paymentStatus: e.payment.rawValue, availabilityZone: e.zone,
            availabilityZoneId: Placement.zoneID(of: e.zone, region: region), durationHours: .init(e.durationHours), upfrontFee: e.upfrontFee,
            currencyCode: e.currencyCode)
    }

    /// `ExtendTrainingPlan` (R218): books the units, adds an extension `Pending`/`Pending`; payment after T_payment.
    /// - Throws: `ResourceNotFound` (an unknown, used or no longer admitted offering), `ValidationException` (R217).
    func extendTrainingPlan(_ input: ExtendTrainingPlanRequest, context: AWSRequestContext) throws -> ExtendTrainingPlanResponse {
        try perform { db, now in
            let id = input.trainingPlanExtensionOfferingId
            let notFound = AWSError.resourceNotFound("Could not find training plan extension offering '\(id)'")
            guard let offering = try TrainingPlanStore.offering(id, in: context.partition, db: db), offering.kind == .extension, !offering.taken,
                  let key = offering.planARN, let index = offering.reservedCapacityIndex, let window = offering.reservedCapacities.first,
                  var plan = try TrainingPlanStore.plan(key, db: db) else { throw notFound }
            if let refusal = TrainingPlanSearch.extensionRefusal(plan, at: now) { throw AWSError.validation(refusal) }
            // Still admitted, and still starting at the plan's end (an extension bought since moved it).
            guard window.startTime == plan.endTime, try reservablePools(in: context.partition, db: db).admits(offering) else { throw notFound }
            plan.extensions.append(TrainingPlanExtensionRecord(
                offeringID: id, extendedAt: now, startDate: window.startTime, endDate: window.endTime, zone: window.zone,
                durationHours: Int(TrainingPlanMath.minutes(window.startTime, window.endTime) / 60), upfrontFee: offering.upfrontFee,
                currencyCode: offering.currencyCode, reservedCapacityIndex: index, instances: window.instanceCount))
            try TrainingPlanStore.save(plan, db: db)
            try TrainingPlanStore.markTaken(id, db: db)
            try TransitionStore.schedule([NewTransition(
                resourceARN: key, generation: 1, event: PlanEvent.extensionPayment(index: plan.extensions.count - 1).encoded,
                dueAt: now.adding(seconds: timing[.payment]))], db: db)
            return ExtendTrainingPlanResponse(trainingPlanExtensions: plan.extensions.map { Self.extensionShape($0, region: plan.region, at: now) })
        }
    }

    /// `DescribeTrainingPlanExtensionHistory` (R220): `ExtendedAt` order, paging R95.
    /// - Throws: `ResourceNotFound` (R202), `ValidationException` (a foreign NextToken).
    func describeTrainingPlanExtensionHistory(_ input: DescribeTrainingPlanExtensionHistoryRequest,
                                              context: AWSRequestContext) throws -> DescribeTrainingPlanExtensionHistoryResponse {
        try read { db, now in
            let plan = try resolvePlan(input.trainingPlanArn, context: context, db: db)
            let entries = plan.extensions.enumerated().map { ($0.offset, Self.extensionShape($0.element, region: plan.region, at: now)) }
            let (page, next) = try PageToken.page(entries, key: { [sortKey(Int64($0.0)), $0.1.trainingPlanExtensionOfferingId] }, descending: false,
                                                  token: input.nextToken, operation: "DescribeTrainingPlanExtensionHistory",
                                                  binding: plan.arn.lowercased(), limit: input.maxResults ?? 10)
            return DescribeTrainingPlanExtensionHistoryResponse(trainingPlanExtensions: page.map(\.1), nextToken: next.isEmpty ? nil : next)  // R11
        }
    }
}
