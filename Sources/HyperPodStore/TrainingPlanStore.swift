import GRDB
import HyperPodDomain
import JSON
import SageMakerShapes

/// Training plans, their recorded offerings and the units nodes hold (spec R200–R231), inside the caller's transaction.
/// A plan is one row (its RCs, UltraServers, extensions and tags in its document), keyed by its lower-cased ARN (R201:
/// names are unique per partition ignoring case).
public enum TrainingPlanStore {
    /// Settings names of `PartitionSettings` (RA12, RA14).
    public static let reservablePoolsSetting = "reservablePools"
    public static let settingsSetting = "trainingPlanSettings"

    // MARK: Plans

    /// The plan whose lower-cased ARN is `arnLC`, nil when there is none.
    public static func plan(_ arnLC: String, db transaction: StoreTransaction) throws -> TrainingPlanRecord? {
        guard let text = try String.fetchOne(transaction.database.cachedStatement(sql: "SELECT document FROM training_plans WHERE arn_lc = ?"),
                                             arguments: [arnLC]) else { return nil }
        return try decodePlan(text)
    }

    /// Every plan of a partition, in creation order.
    public static func plans(in partition: ClusterStore.Partition, db transaction: StoreTransaction) throws -> [TrainingPlanRecord] {
        try String.fetchAll(transaction.database.cachedStatement(sql: """
            SELECT document FROM training_plans WHERE account = ? AND region = ? ORDER BY created_at_ms, arn_lc
            """), arguments: [partition.account, partition.region]).map(decodePlan)
    }

    /// Inserts or replaces a plan.
    public static func save(_ plan: TrainingPlanRecord, db transaction: StoreTransaction) throws {
        try transaction.database.cachedStatement(sql: """
            INSERT OR REPLACE INTO training_plans (arn_lc, account, region, created_at_ms, document) VALUES (?, ?, ?, ?, ?)
            """).execute(arguments: [plan.arn.lowercased(), plan.account, plan.region, plan.creationTime.milliseconds, encodePlan(plan)])
    }

    /// Units held per RC of a partition (R212): `[rc arn: (held by nodes not in Failure, held by nodes in Failure)]` and
    /// per UltraServer id the same pair.
    public struct Holdings: Sendable {
        public var byReservedCapacity: [String: (inUse: Int, unhealthy: Int)] = [:]
        public var byUltraServer: [String: (inUse: Int, unhealthy: Int)] = [:]
        public init() {}
    }

    /// What the nodes of a partition hold (R212): a node holds its unit from launch until it is removed.
    public static func holdings(in partition: ClusterStore.Partition, db transaction: StoreTransaction) throws -> Holdings {
        var out = Holdings()
        for row in try Row.fetchAll(transaction.database.cachedStatement(sql: """
            SELECT reserved_capacity_arn, json_extract(document, '$.ultraServerId'), status = 'Failure', COUNT(*) FROM cluster_nodes
            WHERE account = ? AND region = ? AND reserved_capacity_arn IS NOT NULL AND instance_id IS NOT NULL GROUP BY 1, 2, 3
            """), arguments: [partition.account, partition.region]) {
            let rc: String = row[0], server: String? = row[1], failed: Bool = row[2], count: Int = row[3]
            var pair = out.byReservedCapacity[rc] ?? (0, 0)
            if failed { pair.unhealthy += count } else { pair.inUse += count }
            out.byReservedCapacity[rc] = pair
            if let server {
                var s = out.byUltraServer[server] ?? (0, 0)
                if failed { s.unhealthy += count } else { s.inUse += count }
                out.byUltraServer[server] = s
            }
        }
        return out
    }

    /// The clusters of a partition with a group on plan `arnLC` (any spelling of its name, R201).
    public static func clusters(onPlan arnLC: String, in partition: ClusterStore.Partition, db transaction: StoreTransaction) throws -> [String] {
        try String.fetchAll(transaction.database.cachedStatement(sql: """
            SELECT arn FROM clusters WHERE account = ? AND region = ? AND training_plan_arns IS NOT NULL
                AND EXISTS (SELECT 1 FROM json_each(training_plan_arns) WHERE lower(value) = ?) ORDER BY created_at_ms, arn
            """), arguments: [partition.account, partition.region, arnLC])
    }

    // MARK: Offerings

    /// A recorded offering of a partition, nil when there is none.
    public static func offering(_ id: String, in partition: ClusterStore.Partition, db transaction: StoreTransaction) throws -> TrainingPlanOfferingRecord? {
        guard let row = try Row.fetchOne(transaction.database.cachedStatement(sql: """
            SELECT document, taken FROM training_plan_offerings WHERE id = ? AND account = ? AND region = ?
            """), arguments: [id, partition.account, partition.region]) else { return nil }
        var offering = try decodeOffering(row[0])
        offering.taken = row[1]
        return offering
    }

    /// The recorded offerings of one kind, in the order they were recorded.
    public static func offerings(_ kind: TrainingPlanOfferingRecord.Kind, in partition: ClusterStore.Partition,
                                 db transaction: StoreTransaction) throws -> [TrainingPlanOfferingRecord] {
        try Row.fetchAll(transaction.database.cachedStatement(sql: """
            SELECT document, taken FROM training_plan_offerings WHERE account = ? AND region = ? AND kind = ? ORDER BY seq
            """), arguments: [partition.account, partition.region, kind.rawValue]).map {
            var offering = try decodeOffering($0[0])
            offering.taken = $0[1]
            return offering
        }
    }

    /// The ids of a partition's bought offerings (C-R207: never offered again).
    public static func takenIDs(in partition: ClusterStore.Partition, db transaction: StoreTransaction) throws -> Set<String> {
        Set(try String.fetchAll(transaction.database.cachedStatement(sql: """
            SELECT id FROM training_plan_offerings WHERE account = ? AND region = ? AND taken = 1
            """), arguments: [partition.account, partition.region]))
    }

    /// Records an offering a search returned (R207); one already recorded keeps its row (and whether it was taken).
    public static func record(_ offering: TrainingPlanOfferingRecord, in partition: ClusterStore.Partition, db transaction: StoreTransaction) throws {
        try transaction.database.cachedStatement(sql: """
            INSERT INTO training_plan_offerings (id, account, region, kind, taken, document) VALUES (?, ?, ?, ?, ?, ?)
            ON CONFLICT(id) DO NOTHING
            """).execute(arguments: [offering.id, partition.account, partition.region, offering.kind.rawValue, offering.taken,
                                     encodeOffering(offering)])
    }

    /// Marks an offering bought (C-R207), or free again when its payment failed.
    public static func markTaken(_ id: String, _ taken: Bool = true, db transaction: StoreTransaction) throws {
        try transaction.database.cachedStatement(sql: "UPDATE training_plan_offerings SET taken = ? WHERE id = ?").execute(arguments: [taken, id])
    }

    /// Removes a partition's unused published offerings (RA13 `DELETE`); returns how many.
    public static func removeUnusedPublished(in partition: ClusterStore.Partition, db transaction: StoreTransaction) throws -> Int {
        try transaction.database.cachedStatement(sql: """
            DELETE FROM training_plan_offerings WHERE account = ? AND region = ? AND kind = 'published' AND taken = 0
            """).execute(arguments: [partition.account, partition.region])
        return transaction.database.changesCount
    }

    /// RA2: a partition's plans and offerings go, with the plans' timers.
    static func reset(_ partition: ClusterStore.Partition, db transaction: StoreTransaction) throws {
        for plan in try plans(in: partition, db: transaction) { try TransitionStore.cancel(resourceARN: plan.arn.lowercased(), db: transaction) }
        try transaction.database.cachedStatement(sql: "DELETE FROM training_plans WHERE account = ? AND region = ?")
            .execute(arguments: [partition.account, partition.region])
        try transaction.database.cachedStatement(sql: "DELETE FROM training_plan_offerings WHERE account = ? AND region = ?")
            .execute(arguments: [partition.account, partition.region])
    }

    // MARK: Codec

    static func ms(_ t: VirtualTime) -> JSONValue { .integer(t.milliseconds) }
    static func time(_ v: JSONValue?) throws -> VirtualTime {
        guard case .integer(let ms)? = v else { throw StoreError.corrupt("training plan time") }
        return VirtualTime(milliseconds: ms)
    }
    static func string(_ v: JSONValue?) throws -> String {
        guard let s = v?.stringValue else { throw StoreError.corrupt("training plan field") }
        return s
    }
    static func int(_ v: JSONValue?) throws -> Int {
        guard let i = v?.intValue else { throw StoreError.corrupt("training plan count") }
        return i
    }

    static func encodeRC(_ rc: ReservedCapacityRecord) -> JSONValue {
        var o: JSONObject = [
            "arn": .string(rc.arn), "type": .string(rc.type.rawValue), "instanceType": .string(rc.instanceType),
            "total": .integer(Int64(rc.totalInstanceCount)), "zone": .string(rc.zone), "start": ms(rc.startTime), "end": ms(rc.endTime),
            "purchasedEnd": ms(rc.purchasedEndTime),
            "ultraServers": .array(rc.ultraServers.map {
                .object(["id": .string($0.id), "instances": .integer(Int64($0.instances)), "spares": .integer(Int64($0.spares))])
            }),
        ]
        if let t = rc.ultraServerType { o["ultraServerType"] = .string(t) }
        if let n = rc.ultraServerCount { o["ultraServerCount"] = .integer(Int64(n)) }
        return .object(o)
    }

    static func decodeRC(_ v: JSONValue) throws -> ReservedCapacityRecord {
        guard let o = v.objectValue, let type = ReservedCapacityType(rawValue: try string(o["type"])) else { throw StoreError.corrupt("reserved capacity") }
        var rc = ReservedCapacityRecord(
            arn: try string(o["arn"]), type: type, ultraServerType: o["ultraServerType"]?.stringValue, ultraServerCount: o["ultraServerCount"]?.intValue,
            instanceType: try string(o["instanceType"]), totalInstanceCount: try int(o["total"]), zone: try string(o["zone"]),
            startTime: try time(o["start"]), endTime: try time(o["end"]),
            ultraServers: try (o["ultraServers"]?.arrayValue ?? []).map {
                UltraServerRecord(id: try string($0.objectValue?["id"]), instances: try int($0.objectValue?["instances"]),
                                  spares: try int($0.objectValue?["spares"]))
            })
        rc.purchasedEndTime = try time(o["purchasedEnd"])
        return rc
    }

    static func encodePlan(_ p: TrainingPlanRecord) -> String {
        var o: JSONObject = [
            "arn": .string(p.arn), "name": .string(p.name), "account": .string(p.account), "region": .string(p.region),
            "created": ms(p.creationTime), "payment": .string(p.payment.rawValue), "targetResources": .array(p.targetResources.map(JSONValue.string)),
            "upfrontFee": .string(p.upfrontFee), "currencyCode": .string(p.currencyCode), "offeringId": .string(p.offeringID),
            "reservedCapacities": .array(p.reservedCapacities.map(encodeRC)),
            "tags": .array(p.tags.map { .object(["Key": .string($0.key), "Value": .string($0.value)]) }),
            "extensions": .array(p.extensions.map { e in
                .object([
                    "offeringId": .string(e.offeringID), "extendedAt": ms(e.extendedAt), "start": ms(e.startDate), "end": ms(e.endDate),
                    "zone": .string(e.zone), "hours": .integer(Int64(e.durationHours)), "upfrontFee": .string(e.upfrontFee),
                    "currencyCode": .string(e.currencyCode), "payment": .string(e.payment.rawValue),
                    "rc": .integer(Int64(e.reservedCapacityIndex)), "instances": .integer(Int64(e.instances)),
                ])
            }),
        ]
        if let message = p.statusMessage { o["statusMessage"] = .string(message) }
        return String(decoding: JSONWriter.encode(.object(o)), as: UTF8.self)
    }

    static func decodePlan(_ text: String) throws -> TrainingPlanRecord {
        guard let o = try JSONParser.parse(text).objectValue, let payment = TrainingPlanPayment(rawValue: try string(o["payment"])) else {
            throw StoreError.corrupt("training plan")
        }
        var plan = TrainingPlanRecord(
            arn: try string(o["arn"]), name: try string(o["name"]), account: try string(o["account"]), region: try string(o["region"]),
            creationTime: try time(o["created"]), targetResources: (o["targetResources"]?.arrayValue ?? []).compactMap(\.stringValue),
            upfrontFee: try string(o["upfrontFee"]), currencyCode: try string(o["currencyCode"]),
            reservedCapacities: try (o["reservedCapacities"]?.arrayValue ?? []).map(decodeRC), offeringID: try string(o["offeringId"]),
            tags: (o["tags"]?.arrayValue ?? []).compactMap { t in
                guard let k = t.objectValue?["Key"]?.stringValue, let v = t.objectValue?["Value"]?.stringValue else { return nil }
                return Tag(key: k, value: v)
            })
        plan.payment = payment
        plan.statusMessage = o["statusMessage"]?.stringValue
        plan.extensions = try (o["extensions"]?.arrayValue ?? []).map { v in
            guard let e = v.objectValue, let payment = TrainingPlanPayment(rawValue: try string(e["payment"])) else {
                throw StoreError.corrupt("training plan extension")
            }
            return TrainingPlanExtensionRecord(
                offeringID: try string(e["offeringId"]), extendedAt: try time(e["extendedAt"]), startDate: try time(e["start"]),
                endDate: try time(e["end"]), zone: try string(e["zone"]), durationHours: try int(e["hours"]),
                upfrontFee: try string(e["upfrontFee"]), currencyCode: try string(e["currencyCode"]), payment: payment,
                reservedCapacityIndex: try int(e["rc"]), instances: try int(e["instances"]))
        }
        return plan
    }

    static func encodeOffering(_ f: TrainingPlanOfferingRecord) -> String {
        var o: JSONObject = [
            "id": .string(f.id), "kind": .string(f.kind.rawValue), "targetResources": .array(f.targetResources.map(JSONValue.string)),
            "upfrontFee": .string(f.upfrontFee), "currencyCode": .string(f.currencyCode),
            "reservedCapacities": .array(f.reservedCapacities.map { rc in
                var r: JSONObject = [
                    "type": .string(rc.type.rawValue), "instanceType": .string(rc.instanceType), "count": .integer(Int64(rc.instanceCount)),
                    "zone": .string(rc.zone), "start": ms(rc.startTime), "end": ms(rc.endTime),
                ]
                if let t = rc.ultraServerType { r["ultraServerType"] = .string(t) }
                if let n = rc.ultraServerCount { r["ultraServerCount"] = .integer(Int64(n)) }
                return .object(r)
            }),
        ]
        if let t = f.requestedStartTimeAfter { o["requestedStartTimeAfter"] = ms(t) }
        if let t = f.requestedEndTimeBefore { o["requestedEndTimeBefore"] = ms(t) }
        if let p = f.planARN { o["planArn"] = .string(p) }
        if let i = f.reservedCapacityIndex { o["rc"] = .integer(Int64(i)) }
        return String(decoding: JSONWriter.encode(.object(o)), as: UTF8.self)
    }

    static func decodeOffering(_ text: String) throws -> TrainingPlanOfferingRecord {
        guard let o = try JSONParser.parse(text).objectValue, let kind = TrainingPlanOfferingRecord.Kind(rawValue: try string(o["kind"])) else {
            throw StoreError.corrupt("training plan offering")
        }
        return TrainingPlanOfferingRecord(
            id: try string(o["id"]), kind: kind, targetResources: (o["targetResources"]?.arrayValue ?? []).compactMap(\.stringValue),
            requestedStartTimeAfter: try o["requestedStartTimeAfter"].map { try time($0) },
            requestedEndTimeBefore: try o["requestedEndTimeBefore"].map { try time($0) },
            upfrontFee: try string(o["upfrontFee"]), currencyCode: try string(o["currencyCode"]),
            reservedCapacities: try (o["reservedCapacities"]?.arrayValue ?? []).map { v in
                guard let r = v.objectValue, let type = ReservedCapacityType(rawValue: try string(r["type"])) else {
                    throw StoreError.corrupt("offering capacity")
                }
                return ReservedCapacityOfferingRecord(
                    type: type, ultraServerType: r["ultraServerType"]?.stringValue, ultraServerCount: r["ultraServerCount"]?.intValue,
                    instanceType: try string(r["instanceType"]), instanceCount: try int(r["count"]), zone: try string(r["zone"]),
                    startTime: try time(r["start"]), endTime: try time(r["end"]))
            },
            planARN: o["planArn"]?.stringValue, reservedCapacityIndex: o["rc"]?.intValue)
    }
}
