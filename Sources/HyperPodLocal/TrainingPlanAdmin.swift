import AdminAPI
import HyperPodDomain
import HyperPodStore
import JSON
import SageMakerShapes

/// The admin routes of training plans (spec RA12–RA14).
extension ClusterService {
    /// The largest pool size or published instance count the admin API takes (a bound, so no count overflows).
    static let maximumUnits = 100_000
    /// The longest published window, in seconds (5 years).
    static let maximumWindowSeconds = 5.0 * 365 * 86_400

    /// RA12–RA14 (see `AdminBackend.trainingPlanRoute`).
    public func trainingPlanRoute(method: String, route: String, body: JSONObject, account: String?, region: String?) throws(AdminError)
        -> (created: Bool, body: JSONObject) {
        // RA12's body is a map of instance types: its partition comes from the query only (C-§14a); RA13 and RA14 also
        // accept `account`/`region` in the body.
        let named = route == "reservable-capacity"
        let partition = partition(account: account ?? (named ? nil : body["account"]?.stringValue),
                                  region: region ?? (named ? nil : body["region"]?.stringValue))
        do {
            switch (method, route) {
            case ("GET", "reservable-capacity"):
                return (false, try database.read { db in try reservableCapacityBody(partition, db: db) })
            case ("PUT", "reservable-capacity"):
                let pools = try Self.decodeReservablePools(body, region: partition.region)
                return (false, try perform { db, _ in
                    try PartitionSettings.set(TrainingPlanStore.reservablePoolsSetting, pools.isEmpty ? nil : PartitionSettings.encodePools(pools),
                                              in: partition, db: db)
                    return try reservableCapacityBody(partition, db: db)
                })
            case ("GET", "training-plan-settings"):
                return (false, try database.read { db in Self.settingsBody(try trainingPlanSettings(in: partition, db: db), partition) })
            case ("PUT", "training-plan-settings"):
                return (false, try perform { db, _ in
                    var stored = try PartitionSettings.value(TrainingPlanStore.settingsSetting, in: partition, db: db)?.objectValue ?? JSONObject()
                    for (key, value) in body.members where key != "account" && key != "region" {
                        try Self.checkSetting(key, value)
                        stored[key] = value
                    }
                    try PartitionSettings.set(TrainingPlanStore.settingsSetting, .object(stored), in: partition, db: db)
                    return Self.settingsBody(try trainingPlanSettings(in: partition, db: db), partition)
                })
            case ("GET", "training-plan-offerings"):
                return (false, try database.read { db in
                    ["account": .string(partition.account), "region": .string(partition.region),
                     "offerings": .array(try TrainingPlanStore.offerings(.published, in: partition, db: db).map(Self.offeringBody))]
                })
            case ("POST", "training-plan-offerings"):
                return (true, try perform { db, _ in
                    let settings = try trainingPlanSettings(in: partition, db: db)
                    let nonce = generator.withLock { Identifiers.uuid(using: &$0) }
                    let offering = try Self.decodePublished(body, partition: partition, settings: settings, nonce: nonce, seed: generatorSeed)
                    try TrainingPlanStore.record(offering, in: partition, db: db)
                    return ["trainingPlanOfferingId": .string(offering.id)]
                })
            case ("DELETE", "training-plan-offerings"):
                return (false, try perform { db, _ in
                    ["removed": .integer(Int64(try TrainingPlanStore.removeUnusedPublished(in: partition, db: db)))]
                })
            default:
                throw AdminError(.notFound, "No admin route \(method) /_hyperpod/\(route)")
            }
        } catch let error as AdminError { throw error } catch { throw Self.adminError(error) }
    }

    /// RA12 GET: every type with a pool setting or a booking, each zone with its size and bookings.
    func reservableCapacityBody(_ partition: ClusterStore.Partition, db: StoreTransaction) throws -> JSONObject {
        let pools = try reservablePools(in: partition, db: db)
        let types = Set(pools.sizes.keys).union(pools.bookings.map(\.instanceType)).sorted()
        var entries: [JSONValue] = []
        for type in types {
            for zone in Placement.zones(of: partition.region) {
                let bookings = pools.bookings.filter { $0.instanceType == type && $0.zone == zone }
                entries.append(.object([
                    "instanceType": .string(type), "zone": .string(zone), "size": .integer(Int64(pools.size(of: type, zone: zone))),
                    "bookings": .array(bookings.map {
                        .object(["plan": .string($0.plan), "startTime": .double($0.start.epochSeconds), "endTime": .double($0.end.epochSeconds),
                                 "units": .integer(Int64($0.units))])
                    }),
                ]))
            }
        }
        return ["account": .string(partition.account), "region": .string(partition.region), "defaultSize": .integer(Int64(ReservablePools.defaultSize)),
                "pools": .array(entries)]
    }

    /// RA12 PUT's body: `{"<type>": <n>}` or `{"<type>": {"<zone>": <n>}}`; types of `ReservedCapacityInstanceType`.
    static func decodeReservablePools(_ body: JSONObject, region: String) throws(AdminError) -> [String: [String: Int]] {
        var pools: [String: [String: Int]] = [:]
        for (type, value) in body.members {
            guard ReservedCapacityInstanceType(rawValue: type) != nil else {
                throw .badBody("\(type) is not a ReservedCapacityInstanceType")
            }
            if let n = value.intValue {
                guard (0...Self.maximumUnits).contains(n) else { throw .badBody("Pool sizes must be integers from 0 to \(Self.maximumUnits)") }
                pools[type] = ["*": n]
            } else if let zones = value.objectValue {
                var sizes: [String: Int] = [:]
                for (zone, size) in zones.members {
                    guard Placement.zones(of: region).contains(zone) else { throw .badBody("\(zone) is not a zone of \(region)") }
                    guard let n = size.intValue, (0...Self.maximumUnits).contains(n) else {
                        throw .badBody("Pool sizes must be integers from 0 to \(Self.maximumUnits)")
                    }
                    sizes[zone] = n
                }
                pools[type] = sizes
            } else {
                throw .badBody("\(type) needs a size (an integer) or sizes by zone (an object)")
            }
        }
        return pools
    }

    /// RA14's values.
    static func settingsBody(_ s: TrainingPlanSettings, _ partition: ClusterStore.Partition) -> JSONObject {
        var rates = JSONObject()
        for type in s.hourlyRates.keys.sorted() { rates[type] = .string(s.hourlyRates[type]!) }
        return ["account": .string(partition.account), "region": .string(partition.region), "defaultHourlyRate": .string(s.defaultHourlyRate),
                "hourlyRates": .object(rates), "currencyCode": .string(s.currencyCode), "offeringsPerSearch": .integer(Int64(s.offeringsPerSearch)),
                "slotTimeUtc": .string(s.slotTimeUtc), "horizonDays": .integer(Int64(s.horizonDays))]
    }

    /// Three ASCII capital letters (`USD`).
    static func isCurrencyCode(_ code: String) -> Bool {
        code.utf8.count == 3 && code.utf8.allSatisfy { (0x41...0x5A).contains($0) }
    }

    /// RA14: one setting's value.
    static func checkSetting(_ key: String, _ value: JSONValue) throws(AdminError) {
        switch key {
        case "defaultHourlyRate":
            guard let text = value.stringValue, TrainingPlanMath.cents(text) != nil else { throw .badBody("defaultHourlyRate must be a decimal string such as \"10.00\"") }
        case "hourlyRates":
            guard let rates = value.objectValue else { throw .badBody("hourlyRates must be an object of instance types") }
            for (type, rate) in rates.members {
                guard ReservedCapacityInstanceType(rawValue: type) != nil else { throw .badBody("\(type) is not a ReservedCapacityInstanceType") }
                guard let text = rate.stringValue, TrainingPlanMath.cents(text) != nil else { throw .badBody("The rate of \(type) must be a decimal string") }
            }
        case "currencyCode":
            guard let code = value.stringValue, isCurrencyCode(code) else { throw .badBody("currencyCode must be three capital letters") }
        case "offeringsPerSearch":
            guard let n = value.intValue, (0...100).contains(n) else { throw .badBody("offeringsPerSearch must be an integer from 0 to 100") }
        case "slotTimeUtc":
            guard let text = value.stringValue, TrainingPlanSettings.parseSlot(text) != nil else { throw .badBody("slotTimeUtc must be HH:MM") }
        case "horizonDays":
            guard let n = value.intValue, (1...366).contains(n) else { throw .badBody("horizonDays must be an integer from 1 to 366") }
        default:
            throw .badBody("Unknown setting \(key): send any of defaultHourlyRate, hourlyRates, currencyCode, offeringsPerSearch, slotTimeUtc, horizonDays")
        }
    }

    /// RA13's body as an offering.
    static func decodePublished(_ body: JSONObject, partition: ClusterStore.Partition, settings: TrainingPlanSettings, nonce: String,
                                seed: UInt64?) throws(AdminError) -> TrainingPlanOfferingRecord {
        guard let values = body["targetResources"]?.arrayValue, !values.isEmpty, values.allSatisfy({ $0.stringValue != nil }),
              case let targets = values.compactMap(\.stringValue), targets.allSatisfy({ SageMakerResourceName(rawValue: $0) != nil }) else {
            throw .badBody("targetResources must be a non-empty list of training-job, hyperpod-cluster, endpoint, studio-apps")
        }
        guard let entries = body["reservedCapacities"]?.arrayValue, (1...5).contains(entries.count) else {
            throw .badBody("reservedCapacities must hold 1 to 5 entries")
        }
        var rcs: [ReservedCapacityOfferingRecord] = []
        for entry in entries {
            guard let e = entry.objectValue else { throw .badBody("Each reserved capacity is an object") }
            guard let zone = e["zone"]?.stringValue, Placement.zones(of: partition.region).contains(zone) else {
                throw .badBody("zone must be a zone of \(partition.region)")
            }
            guard let start = e["startTime"]?.numberValue, let end = e["endTime"]?.numberValue, start.isFinite, end.isFinite, start >= 0,
                  end < VirtualTime.max.epochSeconds, VirtualTime(epochSeconds: end) > VirtualTime(epochSeconds: start),
                  end - start <= maximumWindowSeconds else {
                throw .badBody("startTime and endTime are epoch seconds before 9999-12-31, endTime at least 1 ms after startTime, at most 5 years apart")
            }
            if e["ultraServerType"] != nil && (e["instanceType"] != nil || e["instanceCount"] != nil) {
                throw .badBody("Give instanceType and instanceCount, or ultraServerType and ultraServerCount, not both")
            }
            if let ultra = e["ultraServerType"]?.stringValue {
                guard let catalog = TrainingPlanMath.ultraServers[ultra] else { throw .badBody("ultraServerType \(ultra) is not supported") }
                guard let count = e["ultraServerCount"]?.intValue, count > 0, count <= maximumUnits / catalog.instances else {
                    throw .badBody("ultraServerCount must be an integer > 0, at most \(maximumUnits / catalog.instances)")
                }
                rcs.append(ReservedCapacityOfferingRecord(
                    type: .ultraServer, ultraServerType: ultra, ultraServerCount: count, instanceType: catalog.instanceType,
                    instanceCount: catalog.instances * count, zone: zone, startTime: VirtualTime(epochSeconds: start), endTime: VirtualTime(epochSeconds: end)))
            } else {
                guard let type = e["instanceType"]?.stringValue, ReservedCapacityInstanceType(rawValue: type) != nil else {
                    throw .badBody("instanceType must be a ReservedCapacityInstanceType (or give ultraServerType)")
                }
                guard let count = e["instanceCount"]?.intValue, (1...maximumUnits).contains(count) else {
                    throw .badBody("instanceCount must be an integer from 1 to \(maximumUnits)")
                }
                rcs.append(ReservedCapacityOfferingRecord(
                    type: .instance, instanceType: type, instanceCount: count, zone: zone, startTime: VirtualTime(epochSeconds: start),
                    endTime: VirtualTime(epochSeconds: end)))
            }
        }
        var fee = TrainingPlanMath.fee(of: rcs, settings: settings)
        if let given = body["upfrontFee"] {
            guard let text = given.stringValue, let cents = TrainingPlanMath.cents(text) else { throw .badBody("upfrontFee must be a decimal string") }
            fee = TrainingPlanMath.format(cents: cents)
        }
        var currency = settings.currencyCode
        if let given = body["currencyCode"] {
            guard let code = given.stringValue, Self.isCurrencyCode(code) else { throw .badBody("currencyCode must be three capital letters") }
            currency = code
        }
        let id = TrainingPlanMath.offeringID(prefix: "tpo-", account: partition.account, region: partition.region, targets: targets, rcs: rcs,
                                             extra: "published|\(nonce)", seed: seed)
        return TrainingPlanOfferingRecord(id: id, kind: .published, targetResources: targets, upfrontFee: fee, currencyCode: currency,
                                          reservedCapacities: rcs)
    }

    /// RA13 GET's entry of an offering.
    static func offeringBody(_ f: TrainingPlanOfferingRecord) -> JSONValue {
        .object([
            "trainingPlanOfferingId": .string(f.id), "taken": .bool(f.taken), "targetResources": .array(f.targetResources.map(JSONValue.string)),
            "upfrontFee": .string(f.upfrontFee), "currencyCode": .string(f.currencyCode),
            "reservedCapacities": .array(f.reservedCapacities.map { rc in
                var o: JSONObject = ["instanceType": .string(rc.instanceType), "instanceCount": .integer(Int64(rc.instanceCount)),
                                     "zone": .string(rc.zone), "startTime": .double(rc.startTime.epochSeconds), "endTime": .double(rc.endTime.epochSeconds)]
                if let t = rc.ultraServerType { o["ultraServerType"] = .string(t) }
                if let n = rc.ultraServerCount { o["ultraServerCount"] = .integer(Int64(n)) }
                return .object(o)
            }),
        ])
    }
}
