import AdminAPI
import GRDB
import HyperPodDomain
import JSON

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
            throw .conflict("The clock cannot go backwards: \(target) is earlier than now (\(clock.now()))")
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

    public func settle(maxSeconds: Double) throws(AdminError) -> Bool {
        do { return try settleTimers(maxSeconds: maxSeconds) } catch { throw Self.adminError(error) }
    }

    public func reset(account: String?, region: String?) throws(AdminError) {
        let partition = (account != nil || region != nil)
            ? ClusterStore.Partition(account: account ?? defaultAccountID, region: region ?? defaultRegion) : nil
        do { try reset(partition: partition) } catch { throw Self.adminError(error) }
    }

    public func stateDump(account: String?, region: String?) throws(AdminError) -> JSONObject {
        let partition = ClusterStore.Partition(account: account ?? defaultAccountID, region: region ?? defaultRegion)
        do {
            return try database.writer.read { db in
                var clusters: [JSONValue] = []
                let rows = try ClusterStore.rows(in: partition, db: db).sorted(by: { $0.arn < $1.arn })
                for row in rows {
                    guard let lifecycle = try ClusterStore.load(row.arn, db: db) else { continue }
                    var cluster = Self.describe(lifecycle).jsonValue.objectValue ?? JSONObject()
                    cluster["Nodes"] = .array(lifecycle.nodes.map { node in
                        var object: JSONObject = [
                            "NodeLogicalId": .string(node.logicalID), "InstanceGroupName": .string(node.groupName),
                            "Status": .string(node.status.rawValue),
                        ]
                        if let id = node.instanceID { object["InstanceId"] = .string(id) }
                        if let ip = node.privateIP { object["PrivatePrimaryIp"] = .string(Placement.dotted(ip)) }
                        return .object(object)
                    })
                    cluster["Tags"] = try ClusterStore.tags(of: row.arn, db: db).jsonValue
                    clusters.append(.object(cluster))
                }
                let arns = Set(rows.map(\.arn))
                let timers: [JSONValue] = try TransitionScheduler.pending(in: db).filter { arns.contains($0.resourceARN) }.map {
                    .object(["resourceArn": .string($0.resourceARN), "event": .string($0.event), "dueAt": .double($0.dueAt.epochSeconds)])
                }
                return [
                    "account": .string(partition.account), "region": .string(partition.region),
                    "clusters": .array(clusters), "pendingTimers": .array(timers), "clock": .object(clockBody()),
                ]
            }
        } catch { throw Self.adminError(error) }
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

    static func adminError(_ error: any Error) -> AdminError {
        if let refusal = error as? VirtualClock.Refusal { return .conflict(refusal.description) }
        return AdminError(.internalServerError, "\(error)")
    }
}
