import AWSJSONProtocol
import AdminAPI
import HyperPodStore
import HyperPodDomain
import JSON
import SageMakerShapes

/// The admin API (spec §14a) over the service. Called on the service's queue by `HyperPodHTTPHandler`.
extension ClusterService: AdminBackend {
    public func clockBody() -> JSONObject {
        [
            "now": .double(clock.now().epochSeconds), "mode": .string(clock.mode.rawValue),
            "timeScale": .double(clock.timeScale), "timing": .string(timing.name.rawValue),
        ]
    }

    public func advanceClock(seconds: Double) throws(AdminError) {
        guard seconds.isFinite, seconds >= 0 else { throw .badBody("advanceSeconds must be a number ≥ 0") }
        guard clock.now().adding(seconds: seconds) < VirtualTime.max else {
            throw .badBody("advanceSeconds would move the clock past \(VirtualTime.max) (year 9999)")
        }
        do { try advance(bySeconds: seconds) } catch { throw Self.adminError(error) }
    }

    public func setClock(epochSeconds: Double) throws(AdminError) {
        guard epochSeconds.isFinite, epochSeconds * 1000 < Double(VirtualTime.max.milliseconds) else {
            throw .badBody("set must be an epoch time before \(VirtualTime.max) (year 9999)")
        }
        let target = VirtualTime(epochSeconds: epochSeconds)
        guard target >= clock.now() else {
            throw .conflict("The clock cannot go backwards: \(target.iso8601) (\(target)) is earlier than now, \(clock.now().iso8601) (\(clock.now()))")
        }
        do { try setClock(to: target) } catch { throw Self.adminError(error) }
    }

    public func setTimeScale(_ scale: Double) throws(AdminError) {
        guard scale.isFinite, scale > 0, scale <= VirtualClock.maxTimeScale else {
            throw .badBody("timeScale must be a number > 0 and at most \(Int(VirtualClock.maxTimeScale))")
        }
        do {
            try clock.setTimeScale(scale)
            try saveClock()
            processDue()
        } catch { throw Self.adminError(error) }
    }

    public func settle(maxSeconds: Double) throws(AdminError) -> JSONObject {
        do {
            let report = try settleTimers(maxSeconds: maxSeconds)
            return ["settled": .bool(report.settled), "setAside": .array(report.setAside.map(Self.transitionJSON))]
        } catch { throw Self.adminError(error) }
    }

    /// A pending transition as the admin routes show it: `resourceArn`, `event`, `dueAt` (epoch seconds, virtual),
    /// `attempts` (failed so far), `setAside`; with `lastError` after a failure and `retryAt` while a retry waits.
    static func transitionJSON(_ transition: ScheduledTransition) -> JSONValue {
        var object: JSONObject = [
            "resourceArn": .string(transition.resourceARN), "event": .string(transition.event),
            "dueAt": .double(transition.dueAt.epochSeconds), "attempts": .integer(Int64(transition.attempts)),
            "setAside": .bool(transition.isSetAside),
        ]
        if let error = transition.lastError { object["lastError"] = .string(error) }
        if transition.attempts > 0, let fireAt = transition.fireAt { object["retryAt"] = .double(fireAt.epochSeconds) }
        return .object(object)
    }

    public func reset(account: String?, region: String?) throws(AdminError) {
        let partition = (account != nil || region != nil)
            ? ClusterStore.Partition(account: account ?? defaultAccountID, region: region ?? defaultRegion) : nil
        do { try reset(partition: partition) } catch { throw Self.adminError(error) }
    }

    public func stateDump(account: String?, region: String?) throws(AdminError) -> JSONObject {
        let partition = ClusterStore.Partition(account: account ?? defaultAccountID, region: region ?? defaultRegion)
        do {
            return try database.read { db in
                var clusters: [JSONValue] = []
                let rows = try ClusterStore.rows(in: partition, db: db).sorted(by: { $0.arn < $1.arn })
                for row in rows {
                    let loaded: ClusterLifecycle?
                    do { loaded = try ClusterStore.load(row.arn, db: db) } catch {
                        // One unreadable record does not hide the others: it is listed with what its row says.
                        clusters.append(.object([
                            "ClusterArn": .string(row.arn), "ClusterName": .string(row.name), "ClusterStatus": .string(row.status),
                            "error": .string("its stored document cannot be read: \(error)"),
                        ]))
                        continue
                    }
                    guard let lifecycle = loaded else { continue }
                    let scaling = try ClusterOperationStore.groupsScaling(in: lifecycle.cluster.arn, db: db)
                    var cluster = Self.describe(lifecycle, scalingGroups: scaling, images: try imageCatalogue(in: partition, db: db),
                                                planStatuses: try planStatuses(of: lifecycle.cluster, at: clock.now(), db: db))
                        .jsonValue.objectValue ?? JSONObject()
                    cluster["Nodes"] = .array(lifecycle.nodes.map { node in
                        var object: JSONObject = [
                            "NodeLogicalId": .string(node.logicalID), "InstanceGroupName": .string(node.groupName),
                            "Status": .string(node.status.rawValue),
                        ]
                        if let id = node.instanceID { object["InstanceId"] = .string(id) }
                        if let ip = node.privateIP { object["PrivatePrimaryIp"] = .string(Placement.dotted(ip)) }
                        // Issue #20 (the dashboard's node table): where and on what each node runs.
                        if let zone = node.zone { object["AvailabilityZone"] = .string(zone) }
                        if let type = node.instanceType { object["InstanceType"] = .string(type) }
                        if let image = node.imageID { object["ImageId"] = .string(image) }
                        if let launched = node.launchTime { object["LaunchTime"] = .double(launched.epochSeconds) }
                        if !node.message.isEmpty { object["Message"] = .string(node.message) }
                        return .object(object)
                    })
                    cluster["Tags"] = try ClusterStore.tags(of: row.arn, db: db).jsonValue
                    // R331: attachments as they stand now (those of instances that are gone are not listed).
                    let now = clock.now(), instances = Set(lifecycle.nodes.compactMap(\.instanceID))
                    cluster["Attachments"] = .array(try AttachmentStore.attachments(ofCluster: row.arn, db: db).compactMap { a in
                        guard let status = a.status(at: now), instances.contains(a.instanceID) else { return nil }
                        var object: JSONObject = ["Kind": .string(a.kind.rawValue), "ResourceId": .string(a.resourceID),
                                                  "NodeId": .string(a.instanceID), "Status": .string(status.rawValue),
                                                  "AttachTime": .double(a.attachTime.epochSeconds)]
                        if let device = a.deviceName { object["DeviceName"] = .string(device) }
                        if let id = a.attachmentID { object["AttachmentId"] = .string(id) }
                        return .object(object)
                    })
                    clusters.append(.object(cluster))
                }
                // R231 (RA9): plans with their RCs, UltraServers and extensions, and the recorded offerings.
                let now = clock.now()
                let plans = try TrainingPlanStore.plans(in: partition, db: db)
                let holdings = try TrainingPlanStore.holdings(in: partition, db: db)
                var arns = Set(rows.map(\.arn))
                for plan in plans { arns.insert(plan.arn.lowercased()) }
                let timers: [JSONValue] = try TransitionStore.pending(db: db).filter { arns.contains($0.resourceARN) }
                    .map(Self.transitionJSON)
                let trainingPlans: [JSONValue] = plans.map { plan in
                    var object = describe(plan, holdings: holdings, at: now).jsonValue.objectValue ?? JSONObject()
                    object["TrainingPlanExtensions"] = .array(plan.extensions.map { Self.extensionShape($0, region: plan.region, at: now).jsonValue })
                    object["UltraServers"] = .array(plan.reservedCapacities.flatMap { rc in
                        rc.ultraServers.map { JSONValue.object(["UltraServerId": .string($0.id), "ReservedCapacityArn": .string(rc.arn)]) }
                    })
                    object["Tags"] = plan.tags.jsonValue
                    return .object(object)
                }
                var offerings: [JSONValue] = []
                for kind in [TrainingPlanOfferingRecord.Kind.generated, .published, .extension] {
                    offerings += try TrainingPlanStore.offerings(kind, in: partition, db: db).map {
                        var o = Self.offeringBody($0).objectValue ?? JSONObject()
                        o["kind"] = .string($0.kind.rawValue)
                        return .object(o)
                    }
                }
                // R286 (RA9): task governance policies with every version.
                var policies: [JSONValue] = []
                for kind in GovernanceKind.allCases {
                    for policy in try GovernanceStore.policies(kind, in: partition, db: db) {
                        var o: JSONObject = [
                            "Kind": .string(kind.rawValue), "Arn": .string(policy.arn), "Id": .string(policy.id), "Name": .string(policy.name),
                            "ClusterArn": .string(policy.clusterARN), "Status": .string(policy.status.rawValue), "Version": .integer(Int64(policy.version)),
                            "Versions": .array(policy.versions.map { .object(["Content": .object($0.content), "LastModifiedTime": .double($0.lastModifiedTime.epochSeconds)]) }),
                            "Tags": policy.tags.jsonValue,
                        ]
                        if let reason = policy.failureReason { o["FailureReason"] = .string(reason) }
                        policies.append(.object(o))
                    }
                }
                let policyARNs = Set(policies.compactMap { $0.objectValue?["Arn"]?.stringValue })
                let allTimers = timers + (try TransitionStore.pending(db: db).filter { policyARNs.contains($0.resourceARN) }.map(Self.transitionJSON))
                return [
                    "account": .string(partition.account), "region": .string(partition.region),
                    "clusters": .array(clusters), "pendingTimers": .array(allTimers), "clock": .object(clockBody()),
                    "trainingPlans": .array(trainingPlans), "trainingPlanOfferings": .array(offerings), "governancePolicies": .array(policies),
                ]
            }
        } catch { throw Self.adminError(error) }
    }

    public func partitionsBody() throws(AdminError) -> JSONObject {
        do {
            return try database.read { db in
                var partitions = try ClusterStore.partitionsWithClusters(db: db)
                let home = ClusterStore.Partition(account: defaultAccountID, region: defaultRegion)
                if !partitions.contains(home) { partitions.insert(home, at: 0) }
                return ["partitions": .array(try partitions.map { partition in
                    var summaries: [JSONValue] = []
                    let images = try imageCatalogue(in: partition, db: db)
                    for row in try ClusterStore.rows(in: partition, db: db).sorted(by: { $0.createdAt < $1.createdAt }) {
                        var summary: JSONObject = ["ClusterName": .string(row.name), "ClusterArn": .string(row.arn),
                                                   "ClusterStatus": .string(row.status), "CreationTime": .double(row.createdAt.epochSeconds)]
                        // One unreadable record is listed with what its row says (issue #14), never hides the others.
                        if let lifecycle = try? ClusterStore.load(row.arn, db: db) {
                            let described = Self.describe(lifecycle, scalingGroups: [], images: images, planStatuses: [:]).jsonValue.objectValue ?? JSONObject()
                            if let orchestrator = described["Orchestrator"]?.objectValue {
                                if orchestrator["Eks"] != nil { summary["Orchestrator"] = .string("Eks") }
                                else if orchestrator["Slurm"] != nil { summary["Orchestrator"] = .string("Slurm") }
                            }
                            summary["NodeProvisioningMode"] = described["NodeProvisioningMode"] ?? .string("Legacy")
                            var current: Int64 = 0, target: Int64 = 0
                            for group in described["InstanceGroups"]?.arrayValue ?? [] {
                                current += group.objectValue?["CurrentCount"]?.intValue.map(Int64.init) ?? 0
                                target += group.objectValue?["TargetCount"]?.intValue.map(Int64.init) ?? 0
                            }
                            summary["CurrentCount"] = .integer(current)
                            summary["TargetCount"] = .integer(target)
                        } else {
                            summary["error"] = .string("its stored document cannot be read")
                        }
                        summaries.append(.object(summary))
                    }
                    return .object(["account": .string(partition.account), "region": .string(partition.region),
                                    "clusters": .array(summaries)])
                })]
            }
        } catch { throw Self.adminError(error) }
    }

    public func eventsBody(account: String?, region: String?, cluster: String, limit: Int) throws(AdminError) -> JSONObject {
        let partition = ClusterStore.Partition(account: account ?? defaultAccountID, region: region ?? defaultRegion)
        let found: (arn: String, name: String, events: [ClusterStore.StoredEvent])?
        do {
            found = try database.read { db in
                guard let arn = try ClusterStore.resolve(cluster, in: partition, db: db),
                      let row = try ClusterStore.rows(in: partition, db: db).first(where: { $0.arn == arn }) else { return nil }
                return (arn, row.name, try ClusterStore.events(of: arn, db: db))
            }
        } catch { throw Self.adminError(error) }
        guard let found else {
            throw AdminError(.notFound, "No cluster \(cluster) in account \(partition.account), region \(partition.region)")
        }
        let newest = found.events.sorted { ($0.time.milliseconds, $0.sequence) < ($1.time.milliseconds, $1.sequence) }.suffix(limit)
        return ["events": .array(newest.map { event in
            ClusterEventSummary(
                eventId: event.id, clusterArn: found.arn, clusterName: found.name,
                instanceGroupName: event.record.instanceGroupName, instanceId: event.record.instanceID,
                resourceType: event.record.resourceType, eventTime: event.time.epochSeconds,
                description: event.record.description, eventLevel: event.record.level, operationId: event.operationID
            ).jsonValue
        }), "truncated": .bool(found.events.count > newest.count)]
    }

    public func timingBody() -> JSONObject {
        let profile = timing
        var durations = JSONObject()
        for key in TimingProfile.Key.allCases { durations[key.rawValue] = .double(profile[key]) }
        return ["timing": .string(profile.name.rawValue), "durations": .object(durations)]
    }

    public func overrideTiming(_ overrides: JSONObject) throws(AdminError) {
        var profile = timing
        for (name, value) in overrides.members {
            guard let key = TimingProfile.Key(rawValue: name) else {
                throw .badBody("Unknown timing key \(name); keys: \(TimingProfile.Key.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            let seconds: Double
            switch value {
            case .integer(let i): seconds = Double(i)
            case .double(let d): seconds = d
            default: throw .badBody("\(name) must be a number of seconds")
            }
            guard seconds.isFinite, seconds >= 0 else { throw .badBody("\(name) must be ≥ 0") }
            profile.override(key, seconds: seconds)
        }
        timingState.withLock { $0 = profile }
    }

    // MARK: Capacity (RA4) and quotas (RA5)

    func partition(account: String?, region: String?) -> ClusterStore.Partition {
        ClusterStore.Partition(account: account ?? defaultAccountID, region: region ?? defaultRegion)
    }

    public func capacityBody(account: String?, region: String?) throws(AdminError) -> JSONObject {
        let partition = partition(account: account, region: region)
        do {
            return try database.read { db in
                let limits = try capacityLimits(in: partition, db: db)
                let inUse = try ClusterStore.instancesHeld(in: partition, db: db)
                var pools: [JSONValue] = []
                for type in limits.keys.sorted() {
                    for zone in limits[type]!.keys.sorted() {
                        let size = limits[type]![zone]!
                        let held = Self.held(inUse, type: type, zone: zone)
                        var pool: JSONObject = ["instanceType": .string(type)]
                        if zone != CapacityPools.allZones { pool["zone"] = .string(zone) }
                        pool["size"] = .integer(Int64(size))
                        pool["inUse"] = .integer(Int64(held))
                        pool["free"] = .integer(Int64(max(0, size - held)))
                        pools.append(.object(pool))
                    }
                }
                return ["account": .string(partition.account), "region": .string(partition.region),
                        "unlimited": .bool(limits.isEmpty), "pools": .array(pools)]
            }
        } catch { throw Self.adminError(error) }
    }

    public func replaceCapacity(_ body: JSONObject) throws(AdminError) {
        let partition = partition(account: body["account"]?.stringValue, region: body["region"]?.stringValue)
        var free: [String: [String: Int]] = [:]
        for (type, value) in body.members where type != "account" && type != "region" {
            guard ClusterInstanceType(rawValue: type) != nil else { throw .badBody("Unknown instance type \(type)") }
            if let n = value.intValue, n >= 0 {
                free[type] = [CapacityPools.allZones: n]
            } else if let zones = value.objectValue, !zones.isEmpty {
                var sizes: [String: Int] = [:]
                for (zone, size) in zones.members {
                    guard Placement.zones(of: partition.region).contains(zone) else {
                        throw .badBody("Unknown zone \(zone) for region \(partition.region); zones: \(Placement.zones(of: partition.region).joined(separator: ", "))")
                    }
                    guard let n = size.intValue, n >= 0 else { throw .badBody("\(type).\(zone) must be an integer ≥ 0") }
                    sizes[zone] = n
                }
                free[type] = sizes
            } else {
                throw .badBody("\(type) must be an integer ≥ 0 or an object of zones to integers ≥ 0")
            }
        }
        do {
            _ = try perform { db, now in
                // The body gives free instances: a pool's size is that plus what the partition already holds.
                let inUse = try ClusterStore.instancesHeld(in: partition, db: db)
                var sizes: [String: [String: Int]] = [:]
                for (type, zones) in free {
                    for (zone, n) in zones {
                        sizes[type, default: [:]][zone] = n + Self.held(inUse, type: type, zone: zone)
                    }
                }
                try PartitionSettings.set(PartitionSettings.capacity, PartitionSettings.encodePools(sizes), in: partition, db: db)
                // Waiting launches retry at once (R40).
                for row in try ClusterStore.rows(in: partition, db: db) {
                    guard let loaded = try? ClusterStore.load(row.arn, db: db),  // a damaged record has nothing to retry
                          loaded.cluster.groups.contains(where: { $0.retryDelay != nil }) else { continue }
                    var lifecycle = loaded
                    try commit(&lifecycle, at: now, db: db) { l, c in ((), l.retryWaitingLaunches(context: &c)) }
                }
            }
        } catch { throw Self.adminError(error) }
    }

    public func quotasBody(account: String?, region: String?) throws(AdminError) -> JSONObject {
        let partition = partition(account: account, region: region)
        do {
            return try database.read { db in
                let limits = try quotaLimits(in: partition, db: db)
                let perCluster = try ClusterStore.targetCounts(in: partition, db: db)
                let usage = ClusterStore.quotaUsage(of: perCluster)
                let largest = perCluster.map { $0.values.reduce(0, +) }.max() ?? 0
                var quotas: [(Quotas.Quota, Int)] = []
                // Plan-backed instances count under `reserved:<type>` (R223): no per-type quota, so not listed.
                let types = Set(usage.instancesByType.keys.filter { !$0.hasPrefix(Quotas.reservedPrefix) }).union(limits.keys.compactMap { name in
                    name.hasSuffix(" for cluster usage") ? String(name.dropLast(" for cluster usage".count)) : nil
                })
                for type in types.sorted() { quotas.append((.instancesOfType(type), usage.instancesByType[type] ?? 0)) }
                // R205, RA15: `<type> for training plan usage`, for each type with a plan or a set value.
                let now = clock.now()
                var planUsage: [String: Int] = [:]
                for plan in try TrainingPlanStore.plans(in: partition, db: db) where [.pending, .scheduled, .active].contains(plan.status(at: now)) {
                    for rc in plan.reservedCapacities { planUsage[rc.instanceType, default: 0] += rc.totalInstanceCount }
                }
                let planTypes = Set(planUsage.keys).union(limits.keys.compactMap { name in
                    name.hasSuffix(" for training plan usage") ? String(name.dropLast(" for training plan usage".count)) : nil
                })
                for type in planTypes.sorted() { quotas.append((.trainingPlanInstances(type), planUsage[type] ?? 0)) }
                // R259: the most live compute quotas on one cluster of the partition.
                var quotasPerCluster: [String: Int] = [:]
                for quota in try GovernanceStore.policies(.computeQuota, in: partition, db: db) where quota.isLive {
                    quotasPerCluster[quota.clusterARN, default: 0] += 1
                }
                quotas += [(.instancesPerCluster, largest), (.totalInstances, usage.totalInstances), (.clusters, usage.clusters), (.ebsVolumeSize, 0),
                           (.computeQuotasPerCluster, quotasPerCluster.values.max() ?? 0)]
                let list: [JSONValue] = quotas.map { quota, used in
                    .object(["name": .string(quota.name), "value": .integer(Int64(limits[quota.name] ?? quota.defaultLimit)),
                             "usage": .integer(Int64(used)), "unit": .string(quota.unit)])
                }
                return ["account": .string(partition.account), "region": .string(partition.region), "quotas": .array(list)]
            }
        } catch { throw Self.adminError(error) }
    }

    public func setQuotas(_ body: JSONObject) throws(AdminError) {
        let partition = partition(account: body["account"]?.stringValue, region: body["region"]?.stringValue)
        var values: [(String, Int)] = []
        for (name, value) in body.members where name != "account" && name != "region" {
            guard Quotas.Quota(name: name) != nil else {
                throw .badBody("Unknown quota \(name); names: '<instance type> for cluster usage', '<instance type> for training plan usage', \(Quotas.Quota.fixed.map { "'\($0.name)'" }.joined(separator: ", "))")
            }
            guard let n = value.intValue, n >= 0 else { throw .badBody("\(name) must be an integer ≥ 0") }
            values.append((name, n))
        }
        do {
            _ = try perform { db, _ in
                var stored = try PartitionSettings.value(PartitionSettings.quotas, in: partition, db: db)?.objectValue ?? JSONObject()
                for (name, n) in values { stored[name] = .integer(Int64(n)) }
                try PartitionSettings.set(PartitionSettings.quotas, .object(stored), in: partition, db: db)
            }
        } catch { throw Self.adminError(error) }
    }

    // MARK: Metrics (RA10)

    public func metricsText() -> String {
        var out = metrics.exposition()
        let counts = (try? database.read { try ServerStore.counts(db: $0) })
            ?? ServerStore.Counts(clustersByStatus: [], nodesByStatus: [], pendingTransitions: 0)
        out += "# HELP hyperpod_clusters Clusters by ClusterStatus, over every partition.\n# TYPE hyperpod_clusters gauge\n"
        for row in counts.clustersByStatus { out += "hyperpod_clusters{status=\"\(row.status)\"} \(row.count)\n" }
        out += "# HELP hyperpod_nodes Node slots by InstanceStatus, over every partition.\n# TYPE hyperpod_nodes gauge\n"
        for row in counts.nodesByStatus { out += "hyperpod_nodes{status=\"\(row.status)\"} \(row.count)\n" }
        out += "# HELP hyperpod_pending_timers Persisted transitions not yet fired.\n# TYPE hyperpod_pending_timers gauge\n"
        out += "hyperpod_pending_timers \(counts.pendingTransitions)\n"
        return out
    }

    // MARK: Settings (RA8)

    public func settingsBody(account: String?, region: String?) throws(AdminError) -> JSONObject {
        let partition = partition(account: account, region: region)
        do {
            return try database.read { db in
                func value(_ name: String) throws -> JSONValue? { try PartitionSettings.value(name, in: partition, db: db) }
                return ["account": .string(partition.account), "region": .string(partition.region),
                        "restrictedInstanceGroupsOnCreate": try value(PartitionSettings.restrictedInstanceGroupsOnCreate) ?? .string("reject"),
                        "volumeAttachmentLimit": try value(PartitionSettings.volumeAttachmentLimit)
                            ?? .integer(Int64(NodeAttachments.defaultVolumeAttachmentLimit)),
                        "networkInterfaceLimit": try value(PartitionSettings.networkInterfaceLimit)
                            ?? .integer(Int64(NodeAttachments.defaultNetworkInterfaceLimit)),
                        "governanceOnClusterDelete": try value(PartitionSettings.governanceOnClusterDelete) ?? .string("block")]
            }
        } catch { throw Self.adminError(error) }
    }

    /// RA8, RA21: `restrictedInstanceGroupsOnCreate` (`reject`|`allow`), `volumeAttachmentLimit` (1–25),
    /// `networkInterfaceLimit` (at least 1), per partition; every value is checked before any is stored.
    public func putSettings(_ body: JSONObject) throws(AdminError) {
        let partition = partition(account: body["account"]?.stringValue, region: body["region"]?.stringValue)
        var values: [(String, JSONValue)] = []
        for (name, setting) in body.members where name != "account" && name != "region" {
            switch name {
            case PartitionSettings.restrictedInstanceGroupsOnCreate:
                guard let text = setting.stringValue, ["reject", "allow"].contains(text) else {
                    throw .badBody("restrictedInstanceGroupsOnCreate must be reject or allow")
                }
            case PartitionSettings.volumeAttachmentLimit:
                guard let n = setting.intValue, n >= 1, n <= NodeAttachments.deviceNames.count else {
                    throw .badBody("volumeAttachmentLimit must be an integer from 1 to 25")
                }
            case PartitionSettings.networkInterfaceLimit:
                guard let n = setting.intValue, n >= 1 else { throw .badBody("networkInterfaceLimit must be an integer of at least 1") }
            case PartitionSettings.governanceOnClusterDelete:  // R284, R286
                guard let text = setting.stringValue, ["block", "cascade"].contains(text) else {
                    throw .badBody("governanceOnClusterDelete must be block or cascade")
                }
            default:
                throw .badBody("Unknown setting \(name)")
            }
            values.append((name, setting))
        }
        guard !values.isEmpty else { return }
        do {
            _ = try perform { db, _ in
                for (name, value) in values { try PartitionSettings.set(name, value, in: partition, db: db) }
            }
        } catch { throw Self.adminError(error) }
    }

    // MARK: HyperPod AMI releases (RA21)

    public func amiReleasesBody(account: String?, region: String?) throws(AdminError) -> JSONObject {
        let partition = partition(account: account, region: region)
        do {
            let catalogue = try database.read { db in try imageCatalogue(in: partition, db: db) }
            var body: JSONObject = ["account": .string(partition.account), "region": .string(partition.region)]
            for (key, value) in catalogue.jsonValue.objectValue?.members ?? [] { body[key] = value }
            return body
        } catch { throw Self.adminError(error) }
    }

    public func changeAMIReleases(_ body: JSONObject) throws(AdminError) {
        let partition = partition(account: body["account"]?.stringValue, region: body["region"]?.stringValue)
        let architecture: InstanceArchitecture?
        if let text = body["architecture"] {
            guard let value = text.stringValue.flatMap(InstanceArchitecture.init(rawValue:)) else {
                throw .badBody("architecture must be x86_64 or arm64")
            }
            architecture = value
        } else {
            architecture = nil
        }
        let known: Set<String> = ["account", "region", "version", "architecture", "security", "endOfLife"]
        if let unknown = body.keys.first(where: { !known.contains($0) }) { throw .badBody("Unknown member \(unknown)") }
        var failure: ImageCatalogueError?
        do {
            _ = try perform { db, now in
                var catalogue = try imageCatalogue(in: partition, db: db)
                if let line = body["endOfLife"] {
                    guard body["version"] == nil, let text = line.stringValue, ImageCatalogue.isVersion(text, components: 2) else {
                        failure = ImageCatalogueError(message: "endOfLife must be MAJOR.MINOR (numbers of 1 to 9 digits without leading zeros), without version",
                                                      isConflict: false)
                        return
                    }
                    catalogue.markEndOfLife(text, architecture: architecture)
                    try PartitionSettings.set(PartitionSettings.amiReleases, catalogue.jsonValue, in: partition, db: db)
                    return  // R339: only a published release schedules patches
                } else {
                    guard let version = body["version"]?.stringValue, let architecture else {
                        failure = ImageCatalogueError(message: "Send version and architecture, or endOfLife", isConflict: false)
                        return
                    }
                    if let security = body["security"], case .bool = security {} else if body["security"] != nil {
                        failure = ImageCatalogueError(message: "security must be true or false", isConflict: false)
                        return
                    }
                    do {
                        _ = try catalogue.publish(version: version, architecture: architecture, security: body["security"] == .bool(true), at: now)
                    } catch let refused as ImageCatalogueError {
                        failure = refused
                        return
                    }
                }
                try PartitionSettings.set(PartitionSettings.amiReleases, catalogue.jsonValue, in: partition, db: db)
                try scheduleAutoPatches(in: partition, at: now, db: db)  // R339
            }
        } catch { throw Self.adminError(error) }
        if let failure { throw failure.isConflict ? .conflict(failure.message) : .badBody(failure.message) }
    }

    // MARK: Extension catalogue (RA20)

    public func extensionCatalogueBody(account: String?, region: String?) throws(AdminError) -> JSONObject {
        let partition = partition(account: account, region: region)
        do {
            let catalogue = try database.read { db in try extensionCatalogue(in: partition, db: db) }
            return ["account": .string(partition.account), "region": .string(partition.region),
                    "extensions": ExtensionCatalogue.encode(catalogue)]
        } catch { throw Self.adminError(error) }
    }

    public func replaceExtensionCatalogue(_ catalogue: JSONObject, account: String?, region: String?) throws(AdminError) {
        let partition = partition(account: account, region: region)
        let decoded: [String: [String: ExtensionSetting]]
        do {
            decoded = try ExtensionCatalogue.decode(.object(catalogue))
        } catch {
            throw .badBody(error.message)
        }
        do {
            _ = try perform { db, _ in
                try PartitionSettings.set(PartitionSettings.extensionCatalogue, ExtensionCatalogue.encode(decoded), in: partition, db: db)
            }
        } catch { throw Self.adminError(error) }
    }

    // MARK: Faults (RA7)

    public func addFault(_ body: JSONObject) throws(AdminError) -> String {
        let kind = body["kind"]?.stringValue ?? ""
        func text(_ name: String) throws(AdminError) -> String {
            guard let value = body[name]?.stringValue, !value.isEmpty else { throw .badBody("\(kind) needs \(name) (a string)") }
            return value
        }
        let id = generator.withLock { Identifiers.uuid(using: &$0) }
        switch kind {
        case "node-failure":
            let partition = partition(account: body["account"]?.stringValue, region: body["region"]?.stringValue)
            let name = try text("cluster"), node = try text("nodeId")
            let reason = body["reason"]?.stringValue ?? "HardwareFailure"
            do {
                try perform { db, now in
                    guard let arn = try ClusterStore.resolve(name, in: partition, db: db), let loaded = try ClusterStore.load(arn, db: db) else {
                        throw AdminError.badBody("No cluster \(name) in account \(partition.account), region \(partition.region)")
                    }
                    var lifecycle = loaded
                    try commit(&lifecycle, at: now, db: db) { l, _ in
                        guard let effects = l.failNode(node, reason: reason, timing: timing) else {
                            throw AdminError.badBody("No Running node \(node) in cluster \(name)")
                        }
                        return ((), effects)
                    }
                }
            } catch let error as AdminError { throw error } catch { throw Self.adminError(error) }
            return id  // acts once: not listed
        case "api-error":
            let operation = try text("operation")
            guard operation == "*" || SageMakerOperations.names.contains(operation) else { throw .badBody("Unknown operation \(operation)") }
            let code = try text("code")
            guard ["ThrottlingException", "InternalFailure", "ServiceUnavailable", "InternalServerError"].contains(code) else {
                throw .badBody("code must be ThrottlingException, InternalFailure, ServiceUnavailable or InternalServerError")
            }
            if code == "InternalServerError" && !["BatchRebootClusterNodes", "BatchReplaceClusterNodes", "*"].contains(operation) {
                throw .badBody("InternalServerError is a per-node result of BatchRebootClusterNodes and BatchReplaceClusterNodes")
            }
            if let p = body["probability"], !(p.numberValue.map { $0 >= 0 && $0 <= 1 } ?? false) {
                throw .badBody("probability must be a number from 0 to 1")
            }
        case "latency":
            let operation = try text("operation")
            guard operation == "*" || SageMakerOperations.names.contains(operation) else { throw .badBody("Unknown operation \(operation)") }
            guard let ms = body["milliseconds"]?.intValue, ms >= 0, ms <= 60_000 else {
                throw .badBody("milliseconds must be an integer from 0 to 60000")
            }
        case "alarm":
            _ = try text("alarmName")
            guard ["ALARM", "OK"].contains(try text("state")) else { throw .badBody("state must be ALARM or OK") }
        case "launch-failure":
            guard ClusterInstanceType(rawValue: try text("instanceType")) != nil else { throw .badBody("Unknown instanceType") }
            guard let count = body["count"]?.intValue, count > 0 else { throw .badBody("count must be an integer > 0") }
            _ = count
            guard ["capacity", "lifecycle-script", "health-check"].contains(try text("cause")) else {
                throw .badBody("cause must be capacity, lifecycle-script or health-check")
            }
        case "lifecycle-bucket-missing":
            guard try text("sourceS3Uri").hasPrefix("s3://") else { throw .badBody("sourceS3Uri must be an s3:// prefix") }
        case "ebs-volume":  // RA22: a volume that is missing, or pinned to a zone (R328)
            guard try text("volumeId").hasPrefix("vol-") else { throw .badBody("volumeId must be a vol- id") }
            guard body["state"]?.stringValue == "missing" || body["availabilityZone"]?.stringValue != nil else {
                throw .badBody("ebs-volume needs \"state\": \"missing\" or an availabilityZone")
            }
        case "slurmdbd-unhealthy":  // RA22: the accounting daemon of a Slurm cluster reports unhealthy (R343)
            guard SlurmHealthReason(rawValue: try text("reason")) != nil else {
                throw .badBody("reason must be DaemonDown, DaemonDisabled or DbUnreachable")
            }
            let partition = partition(account: body["account"]?.stringValue, region: body["region"]?.stringValue)
            let name = try text("cluster")
            do {
                let hasController = try database.read { db in
                    try ClusterStore.resolve(name, in: partition, db: db).flatMap { try ClusterStore.loadRecord($0, db: db) }?.slurmControllerGroup != nil
                }
                guard hasController else { throw AdminError.badBody("No Slurm cluster \(name) with a Controller group in account \(partition.account), region \(partition.region)") }
            } catch let error as AdminError { throw error } catch { throw Self.adminError(error) }
        case "accounting-db-failure":  // RA22: accounting database changes of a cluster fail (R342)
            _ = try text("cluster")
            if let status = body["rollbackStatus"], DatabaseConfigurationRollbackStatus(rawValue: status.stringValue ?? "") == nil {
                throw .badBody("rollbackStatus must be NotApplicable, Reverted or RevertFailed")
            }
            if let message = body["message"], message.stringValue == nil { throw .badBody("message must be a string") }
        case "extension-failure":  // RA22: node issues of an extension (R314, R318)
            _ = try text("cluster")
            _ = try text("extension")
            guard ExtensionHealthIssueCode(rawValue: try text("code")) != nil else {
                throw .badBody("code must be an ExtensionHealthIssueCode (InvalidConfiguration, ConfigurationConflict, AccessDenied, "
                               + "ResourceNotFound, DependencyUnreachable, ExtensionUnhealthy, InternalFailure, Other)")
            }
            _ = try text("message")
            if let ids = body["nodeIds"], ids.arrayValue?.allSatisfy({ $0.stringValue != nil }) != true {
                throw .badBody("nodeIds must be a list of instance ids")
            }
        case "node-busy":  // RA22: a node runs work; automatic patches wait for it (R340)
            _ = try text("cluster")
            _ = try text("nodeId")
        case "training-plan-payment-failure", "extension-payment-failure":  // RA15: the plan's next payment fails (R210, R219)
            _ = try text("trainingPlanName")
        case "governance-failure":  // R286: task governance reconciles fail (R268)
            if let resource = body["resource"], !["cluster-scheduler-config", "compute-quota"].contains(resource.stringValue ?? "") {
                throw .badBody("resource must be cluster-scheduler-config or compute-quota")
            }
            if let operation = body["operation"], !["create", "update", "delete"].contains(operation.stringValue ?? "") {
                throw .badBody("operation must be create, update or delete")
            }
            if let rollback = body["rollback"], !["ok", "fail"].contains(rollback.stringValue ?? "") { throw .badBody("rollback must be ok or fail") }
            for name in ["cluster", "reason"] where body[name] != nil && body[name]?.stringValue == nil { throw .badBody("\(name) must be a string") }
            if let count = body["count"], !(count.intValue.map { $0 > 0 } ?? false) { throw .badBody("count must be an integer > 0") }
        case "network-interface":  // RA22: a missing network interface (R332)
            guard try text("networkInterfaceId").hasPrefix("eni-") else { throw .badBody("networkInterfaceId must be an eni- id") }
            guard body["state"]?.stringValue == "missing" else { throw .badBody("network-interface needs \"state\": \"missing\"") }
        default:
            throw .badBody("kind must be one of node-failure, launch-failure, lifecycle-bucket-missing, alarm, api-error, latency, "
                           + "ebs-volume, network-interface, extension-failure, accounting-db-failure, slurmdbd-unhealthy, node-busy, "
                           + "training-plan-payment-failure, extension-payment-failure, governance-failure")
        }
        do {
            try database.write { db in
                try settleEndedExtensionSteps(db: db, at: clock.now())  // R314: outcomes before the issues change
                try ServerStore.addFault(id: id, body: body, db: db)
                if kind == "slurmdbd-unhealthy" { try recordSlurmdbdHealth(body, healthy: false, db: db) }
                try persistGenerator(db)
            }
            try loadFaults()
            if kind == "alarm" && body["state"]?.stringValue == "ALARM" { try rollBackOnAlarm() }
        } catch { throw Self.adminError(error) }
        return id
    }

    /// S4: an alarm set to ALARM rolls back, at once, every software update whose baking period watches it.
    func rollBackOnAlarm() throws {
        _ = try perform { db, now in
            let arns = try ClusterStore.arns(withStatus: .systemUpdating, db: db)
            for arn in arns {
                // A damaged record (nil here) has no update to roll back; it does not stop the others.
                guard let loaded = try? ClusterStore.load(arn, db: db), loaded.cluster.softwareUpdate?.phase == .baking else { continue }
                var lifecycle = loaded
                try commit(&lifecycle, at: now, db: db, onlyIfChanged: true) { l, c in ((), l.checkAlarms(context: &c)) }
            }
        }
    }

    public func faultsBody() -> JSONObject {
        ["faults": .array(faults.all.map { fault in
            var object = fault.body
            object["id"] = .string(fault.id)
            return .object(object)
        })]
    }

    public func clearFaults() throws(AdminError) {
        do {
            try database.write { db in
                try settleEndedExtensionSteps(db: db, at: clock.now())
                for fault in faults.all where fault.kind == "slurmdbd-unhealthy" { try recordSlurmdbdHealth(fault.body, healthy: true, db: db) }
                try ServerStore.removeAllFaults(db: db)
                try persistGenerator(db)
            }
            let busy = faults.all.filter { $0.kind == "node-busy" }
            try loadFaults()
            for fault in busy { try wakeAutoPatches(fault.body) }
        } catch { throw Self.adminError(error) }
    }

    public func removeFault(id: String) throws(AdminError) -> Bool {
        guard faults.all.contains(where: { $0.id == id }) else { return false }
        do {
            try database.write { db in
                try settleEndedExtensionSteps(db: db, at: clock.now())
                for fault in faults.all where fault.id == id && fault.kind == "slurmdbd-unhealthy" {
                    try recordSlurmdbdHealth(fault.body, healthy: true, db: db)
                }
                try ServerStore.removeFault(id: id, db: db)
                try persistGenerator(db)
            }
            let busy = faults.all.filter { $0.id == id && $0.kind == "node-busy" }
            try loadFaults()
            for fault in busy { try wakeAutoPatches(fault.body) }
        } catch { throw Self.adminError(error) }
        return true
    }

    /// R343: the Cluster event of a `slurmdbd-unhealthy` fault's cluster (if it still exists): unhealthy when the fault
    /// is added (Error; Warn for `DaemonDisabled`), healthy again when it is deleted (Info, no `Reason`).
    func recordSlurmdbdHealth(_ body: JSONObject, healthy: Bool, db: StoreTransaction) throws {
        let partition = partition(account: body["account"]?.stringValue, region: body["region"]?.stringValue)
        guard let name = body["cluster"]?.stringValue, let arn = try ClusterStore.resolve(name, in: partition, db: db) else { return }
        let reason = body["reason"]?.stringValue.flatMap(SlurmHealthReason.init(rawValue:))
        let event = ClusterEventRecord(
            resourceType: .cluster, level: healthy ? .info : (reason == .daemonDisabled ? .warn : .error),
            description: "Slurm accounting daemon is \(healthy ? "healthy" : "unhealthy") in Cluster \(name)",
            metadata: .slurmHealth(SlurmHealthMetadata(component: .slurmdbd, status: healthy ? .healthy : .unhealthy,
                                                       reason: healthy ? nil : reason)))
        let id = generator.withLock { Identifiers.uuid(using: &$0) }
        try ClusterStore.addEvent(event, id: id, cluster: arn, at: clock.now(), db: db)
    }

    static func adminError(_ error: any Error) -> AdminError {
        if let refusal = error as? VirtualClock.Refusal { return .conflict(refusal.description) }
        if let damaged = error as? DamagedClusterRecord { return .conflict(ClusterErrors.damaged(damaged).message) }
        return AdminError(.internalServerError, "\(error)")
    }
}
