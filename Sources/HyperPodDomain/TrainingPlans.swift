import Crypto
import SageMakerShapes

// Training plans and reserved capacity (spec §17, R200–R231): the records, their statuses on the virtual clock, the
// reservable pools offerings are cut from, and the offerings themselves. Pure: the service loads, calls, stores.

/// Where a plan's (or an extension's) upfront payment stands (spec R210, R219).
public enum TrainingPlanPayment: String, Sendable, Equatable {
    case pending = "Pending", completed = "Completed", failed = "Failed"
}

/// One UltraServer of an UltraServer RC (spec R208, R216): its id, instances per server and spares kept back.
public struct UltraServerRecord: Sendable, Equatable {
    /// `us-` + 17 lowercase hex (R201).
    public var id: String
    /// Instances per server, spares included.
    public var instances: Int
    /// `SpareInstanceCountPerUltraServer` (R208).
    public var spares: Int

    public init(id: String, instances: Int, spares: Int) {
        self.id = id
        self.instances = instances
        self.spares = spares
    }
}

/// One reserved capacity (RC) of a plan: one instance type and count in one zone for one window (spec R201, R211).
public struct ReservedCapacityRecord: Sendable, Equatable {
    /// `arn:<partition>:sagemaker:<region>:<account>:reserved-capacity/<name-lc>-rc<n>` (R201).
    public var arn: String
    public var type: ReservedCapacityType
    public var ultraServerType: String?
    public var ultraServerCount: Int?
    public var instanceType: String
    /// Instances, spares included.
    public var totalInstanceCount: Int
    public var zone: String
    public var startTime: VirtualTime
    /// The window's end, moved by every extension whose payment completed (R219).
    public var endTime: VirtualTime
    /// The window's end as bought (the booking of the plan itself; extensions book their own windows, R203).
    public var purchasedEndTime: VirtualTime
    /// The UltraServers of an UltraServer RC, in creation order (R216); empty for an `Instance` RC.
    public var ultraServers: [UltraServerRecord]

    public init(arn: String, type: ReservedCapacityType, ultraServerType: String?, ultraServerCount: Int?, instanceType: String,
                totalInstanceCount: Int, zone: String, startTime: VirtualTime, endTime: VirtualTime, ultraServers: [UltraServerRecord] = []) {
        self.arn = arn
        self.type = type
        self.ultraServerType = ultraServerType
        self.ultraServerCount = ultraServerCount
        self.instanceType = instanceType
        self.totalInstanceCount = totalInstanceCount
        self.zone = zone
        self.startTime = startTime
        self.endTime = endTime
        self.purchasedEndTime = endTime
        self.ultraServers = ultraServers
    }

    /// Spares over all UltraServers (R208).
    public var spareCount: Int { ultraServers.reduce(0) { $0 + $1.spares } }
    /// TotalInstanceCount − spares (the "usable size" of §17's terms).
    public var usableSize: Int { totalInstanceCount - spareCount }
    /// When its nodes drain: `T_plan_drain` before its end (R226).
    public func drainTime(lead seconds: Double) -> VirtualTime { endTime.adding(seconds: -seconds) }
}

/// An extension of a plan (spec R218, R219).
public struct TrainingPlanExtensionRecord: Sendable, Equatable {
    public var offeringID: String
    public var extendedAt: VirtualTime
    public var startDate: VirtualTime
    public var endDate: VirtualTime
    public var zone: String
    public var durationHours: Int
    public var upfrontFee: String
    public var currencyCode: String
    public var payment: TrainingPlanPayment
    /// The RC it extends (index into the plan's RCs).
    public var reservedCapacityIndex: Int
    /// Units booked for its window (those of the RC it extends).
    public var instances: Int

    public init(offeringID: String, extendedAt: VirtualTime, startDate: VirtualTime, endDate: VirtualTime, zone: String, durationHours: Int,
                upfrontFee: String, currencyCode: String, payment: TrainingPlanPayment = .pending, reservedCapacityIndex: Int, instances: Int) {
        self.offeringID = offeringID
        self.extendedAt = extendedAt
        self.startDate = startDate
        self.endDate = endDate
        self.zone = zone
        self.durationHours = durationHours
        self.upfrontFee = upfrontFee
        self.currencyCode = currencyCode
        self.payment = payment
        self.reservedCapacityIndex = reservedCapacityIndex
        self.instances = instances
    }

    /// `Status` of R219: `Pending` until paid, `Failed`, else by its window on the clock.
    public func status(at now: VirtualTime) -> String {
        switch payment {
        case .pending: return "Pending"
        case .failed: return "Failed"
        case .completed: return now < startDate ? "Scheduled" : now < endDate ? "Active" : "Expired"
        }
    }
}

/// A training plan (spec R209–R220). Its `Status` and its RCs' follow from the payment and the virtual clock (R211):
/// window transitions happen at the exact StartTime/EndTime, so they are derived, not stored.
public struct TrainingPlanRecord: Sendable, Equatable {
    public var arn: String
    /// `TrainingPlanName` as given.
    public var name: String
    public var account: String
    public var region: String
    public var creationTime: VirtualTime
    public var payment: TrainingPlanPayment
    /// `StatusMessage` of a `Failed` plan (R210).
    public var statusMessage: String?
    public var targetResources: [String]
    public var upfrontFee: String
    public var currencyCode: String
    /// In StartTime order (R201).
    public var reservedCapacities: [ReservedCapacityRecord]
    /// In `ExtendedAt` order (R218).
    public var extensions: [TrainingPlanExtensionRecord]
    public var tags: [Tag]
    /// The offering it was bought from.
    public var offeringID: String

    public init(arn: String, name: String, account: String, region: String, creationTime: VirtualTime, targetResources: [String],
                upfrontFee: String, currencyCode: String, reservedCapacities: [ReservedCapacityRecord], offeringID: String, tags: [Tag] = []) {
        self.arn = arn
        self.name = name
        self.account = account
        self.region = region
        self.creationTime = creationTime
        self.payment = .pending
        self.targetResources = targetResources
        self.upfrontFee = upfrontFee
        self.currencyCode = currencyCode
        self.reservedCapacities = reservedCapacities
        self.extensions = []
        self.tags = tags
        self.offeringID = offeringID
    }

    /// The plan's `Status` at `now` (R211, P1–P7).
    public func status(at now: VirtualTime) -> TrainingPlanStatus {
        switch payment {
        case .pending: return .pending
        case .failed: return .failed
        case .completed:
            if reservedCapacities.contains(where: { $0.startTime <= now && now < $0.endTime }) { return .active }
            return now >= endTime ? .expired : .scheduled
        }
    }

    /// An RC's `Status` at `now`: the plan's payment, then its own window (R211).
    public func status(of rc: ReservedCapacityRecord, at now: VirtualTime) -> ReservedCapacityStatus {
        switch payment {
        case .pending: return .pending
        case .failed: return .failed
        case .completed: return now < rc.startTime ? .scheduled : now < rc.endTime ? .active : .expired
        }
    }

    /// Earliest RC start (R212).
    public var startTime: VirtualTime { reservedCapacities.map(\.startTime).min() ?? creationTime }
    /// Latest RC end, extensions included (R212).
    public var endTime: VirtualTime { reservedCapacities.map(\.endTime).max() ?? creationTime }
    /// Sum of the RC windows in minutes (R212).
    public var durationMinutes: Int64 { reservedCapacities.reduce(0) { $0 + TrainingPlanMath.minutes($1.startTime, $1.endTime) } }
    public var totalInstanceCount: Int { reservedCapacities.reduce(0) { $0 + $1.totalInstanceCount } }
    public var hasUltraServers: Bool { reservedCapacities.contains { $0.type == .ultraServer } }
    /// Whether its units are booked (R203): every plan but a failed one.
    public var books: Bool { payment != .failed }

    /// The RC with the latest end: the one an extension extends (R217).
    public var lastReservedCapacityIndex: Int? {
        reservedCapacities.indices.max { reservedCapacities[$0].endTime < reservedCapacities[$1].endTime }
    }

    /// The RC `AvailableInstanceCount` describes (R212): the active one, else the next scheduled one.
    public func currentOrNextIndex(at now: VirtualTime) -> Int? {
        if let active = reservedCapacities.indices.first(where: { status(of: reservedCapacities[$0], at: now) == .active }) { return active }
        return reservedCapacities.indices.filter { status(of: reservedCapacities[$0], at: now) == .scheduled }
            .min { reservedCapacities[$0].startTime < reservedCapacities[$1].startTime }
    }

    /// `arn:<partition>:sagemaker:<region>:<account>:training-plan/<name-lc>` (R201).
    public static func arn(partition: String, region: String, account: String, name: String) -> String {
        "arn:\(partition):sagemaker:\(region):\(account):training-plan/\(name.lowercased())"
    }

    /// The parts of a training-plan ARN (the name part lower-cased), nil when `text` is not one.
    public static func parseARN(_ text: String) -> (partition: String, region: String, account: String, name: String)? {
        let parts = text.split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count == 6, parts[0] == "arn", parts[2] == "sagemaker", parts[5].hasPrefix("training-plan/") else { return nil }
        let name = parts[5].dropFirst("training-plan/".count)
        guard !name.isEmpty, !name.contains("/") else { return nil }
        return (String(parts[1]), String(parts[3]), String(parts[4]), name.lowercased())
    }

    /// The parts of a reserved-capacity ARN, nil when `text` is not one.
    public static func parseReservedCapacityARN(_ text: String) -> (partition: String, region: String, account: String, id: String)? {
        let parts = text.split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count == 6, parts[0] == "arn", parts[2] == "sagemaker", parts[5].hasPrefix("reserved-capacity/") else { return nil }
        let id = parts[5].dropFirst("reserved-capacity/".count)
        guard !id.isEmpty else { return nil }
        return (String(parts[1]), String(parts[3]), String(parts[4]), id.lowercased())
    }
}

/// One RC of an offering (spec R206).
public struct ReservedCapacityOfferingRecord: Sendable, Equatable {
    public var type: ReservedCapacityType
    public var ultraServerType: String?
    public var ultraServerCount: Int?
    public var instanceType: String
    /// Instances, spares included.
    public var instanceCount: Int
    public var zone: String
    public var startTime: VirtualTime
    public var endTime: VirtualTime

    public init(type: ReservedCapacityType, ultraServerType: String? = nil, ultraServerCount: Int? = nil, instanceType: String,
                instanceCount: Int, zone: String, startTime: VirtualTime, endTime: VirtualTime) {
        self.type = type
        self.ultraServerType = ultraServerType
        self.ultraServerCount = ultraServerCount
        self.instanceType = instanceType
        self.instanceCount = instanceCount
        self.zone = zone
        self.startTime = startTime
        self.endTime = endTime
    }
}

/// An offering the partition recorded (spec R207): a plan offering (generated by a search or published with RA13) or
/// an extension offering (R217).
public struct TrainingPlanOfferingRecord: Sendable, Equatable {
    public enum Kind: String, Sendable { case generated, published, `extension` }
    /// `tpo-…` or `tpeo-…` (R201).
    public var id: String
    public var kind: Kind
    public var targetResources: [String]
    public var requestedStartTimeAfter: VirtualTime?
    public var requestedEndTimeBefore: VirtualTime?
    public var upfrontFee: String
    public var currencyCode: String
    public var reservedCapacities: [ReservedCapacityOfferingRecord]
    /// An extension offering's plan (lower-cased ARN) and the RC it extends.
    public var planARN: String?
    public var reservedCapacityIndex: Int?
    /// Bought (a plan or an extension was made from it): never available again (C-R207).
    public var taken: Bool = false

    public init(id: String, kind: Kind, targetResources: [String], requestedStartTimeAfter: VirtualTime? = nil,
                requestedEndTimeBefore: VirtualTime? = nil, upfrontFee: String, currencyCode: String,
                reservedCapacities: [ReservedCapacityOfferingRecord], planARN: String? = nil, reservedCapacityIndex: Int? = nil) {
        self.id = id
        self.kind = kind
        self.targetResources = targetResources
        self.requestedStartTimeAfter = requestedStartTimeAfter
        self.requestedEndTimeBefore = requestedEndTimeBefore
        self.upfrontFee = upfrontFee
        self.currencyCode = currencyCode
        self.reservedCapacities = reservedCapacities
        self.planARN = planARN
        self.reservedCapacityIndex = reservedCapacityIndex
    }

    public var durationMinutes: Int64 { reservedCapacities.reduce(0) { $0 + TrainingPlanMath.minutes($1.startTime, $1.endTime) } }
    public var instances: Int { reservedCapacities.reduce(0) { $0 + $1.instanceCount } }

    /// Whether CreateTrainingPlan may still buy it at `now` (R207): before its first StartTime (a published one: before
    /// its first EndTime). The pool check is the caller's.
    public func isCurrent(at now: VirtualTime) -> Bool {
        guard !taken, let first = reservedCapacities.min(by: { $0.startTime < $1.startTime }) else { return false }
        return kind == .published ? now < first.endTime : now < first.startTime
    }
}

/// Per-partition settings of offerings (spec RA14), defaults in the spec.
public struct TrainingPlanSettings: Sendable, Equatable {
    public var defaultHourlyRate = "10.00"
    public var hourlyRates: [String: String] = [:]
    public var currencyCode = "USD"
    public var offeringsPerSearch = 3
    /// Minutes after midnight UTC of the daily slot (`"11:30"`).
    public var slotMinutes = 11 * 60 + 30
    public var horizonDays = 56

    public init() {}

    /// `slotTimeUtc` as `HH:MM`.
    public var slotTimeUtc: String {
        let h = slotMinutes / 60, m = slotMinutes % 60
        return (h < 10 ? "0" : "") + "\(h):" + (m < 10 ? "0" : "") + "\(m)"
    }

    /// Parses `HH:MM` (00:00–23:59) into minutes; nil otherwise.
    public static func parseSlot(_ text: String) -> Int? {
        let parts = text.split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count == 2, parts[0].count == 2, parts[1].count == 2, (parts[0] + parts[1]).utf8.allSatisfy({ (0x30...0x39).contains($0) }),
              let h = Int(parts[0]), let m = Int(parts[1]),
              (0...23).contains(h), (0...59).contains(m) else { return nil }
        return h * 60 + m
    }

    /// The hourly rate of a type (RA14).
    public func rate(of type: String) -> String { hourlyRates[type] ?? defaultHourlyRate }
}

/// Bookings of the reservable pools of a partition (spec R203): what offerings are cut from.
public struct ReservablePools: Sendable, Equatable {
    /// Default pool size per zone and type.
    public static let defaultSize = 64

    public struct Booking: Sendable, Equatable {
        public var instanceType: String
        public var zone: String
        public var start: VirtualTime
        public var end: VirtualTime
        public var units: Int
        /// The plan holding it (lower-cased ARN), for RA12's listing.
        public var plan: String

        public init(instanceType: String, zone: String, start: VirtualTime, end: VirtualTime, units: Int, plan: String) {
            self.instanceType = instanceType
            self.zone = zone
            self.start = start
            self.end = end
            self.units = units
            self.plan = plan
        }
    }

    /// Pool sizes set with RA12: `[type: [zone or "*": units]]`.
    public var sizes: [String: [String: Int]]
    public var bookings: [Booking]

    public init(sizes: [String: [String: Int]] = [:], bookings: [Booking] = []) {
        self.sizes = sizes
        self.bookings = bookings
    }

    /// The bookings of every plan that books (R203): each RC's purchased window and each extension not failed.
    public static func bookings(of plans: [TrainingPlanRecord]) -> [Booking] {
        var out: [Booking] = []
        for plan in plans where plan.books {
            let key = plan.arn.lowercased()
            for rc in plan.reservedCapacities {
                out.append(Booking(instanceType: rc.instanceType, zone: rc.zone, start: rc.startTime, end: rc.purchasedEndTime,
                                   units: rc.totalInstanceCount, plan: key))
            }
            for e in plan.extensions where e.payment != .failed && plan.reservedCapacities.indices.contains(e.reservedCapacityIndex) {
                let rc = plan.reservedCapacities[e.reservedCapacityIndex]
                out.append(Booking(instanceType: rc.instanceType, zone: e.zone, start: e.startDate, end: e.endDate, units: e.instances, plan: key))
            }
        }
        return out
    }

    /// A pool's size.
    public func size(of type: String, zone: String) -> Int {
        sizes[type]?[zone] ?? sizes[type]?["*"] ?? Self.defaultSize
    }

    /// The most units booked at one instant of [start, end) in a zone.
    public func peak(_ type: String, zone: String, from start: VirtualTime, to end: VirtualTime) -> Int {
        let relevant = bookings.filter { $0.instanceType == type && $0.zone == zone && $0.start < end && start < $0.end }
        var instants = [start]
        for b in relevant where b.start > start { instants.append(b.start) }
        return instants.map { t in relevant.reduce(0) { $0 + ($1.start <= t && t < $1.end ? $1.units : 0) } }.max() ?? 0
    }

    /// Whether a zone admits `units` more of `type` over [start, end) (R203).
    public func admits(_ units: Int, of type: String, zone: String, from start: VirtualTime, to end: VirtualTime) -> Bool {
        peak(type, zone: zone, from: start, to: end) + units <= size(of: type, zone: zone)
    }

    /// Whether every RC of an offering is still admitted (R207).
    public func admits(_ offering: TrainingPlanOfferingRecord) -> Bool {
        offering.reservedCapacities.allSatisfy { admits($0.instanceCount, of: $0.instanceType, zone: $0.zone, from: $0.startTime, to: $0.endTime) }
    }
}

/// Durations, fees and the UltraServer catalog (spec R206, R208, R212).
public enum TrainingPlanMath {
    /// UltraServer types and their instances per server (R208).
    public static let ultraServers: [String: (instanceType: String, instances: Int)] = [
        "ml.u-p6e-gb200x36": ("ml.p6e-gb200.36xlarge", 9),
        "ml.u-p6e-gb200x72": ("ml.p6e-gb200.36xlarge", 18),
    ]
    /// Instance counts an instance search may ask for (R204).
    public static let instanceCounts: Set<Int> = [1, 2, 4, 8, 16, 32, 64]
    /// The longest plan or extension, in hours (182 days, R204).
    public static let maximumHours = 4368

    /// Whole minutes between two instants.
    public static func minutes(_ start: VirtualTime, _ end: VirtualTime) -> Int64 { max(0, (end.milliseconds - start.milliseconds) / 60_000) }

    /// `DurationHours`/`DurationMinutes`: whole hours and leftover minutes (R206, R212).
    public static func split(minutes: Int64) -> (hours: Int64, minutes: Int64) { (minutes / 60, minutes % 60) }

    /// A decimal string (`"10.00"`, `"7"`, `"0.5"`) in cents; nil when it is not a non-negative decimal with at most
    /// two fraction digits.
    public static func cents(_ text: String) -> Int64? {
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        guard (1...2).contains(parts.count), !parts[0].isEmpty, parts[0].utf8.allSatisfy({ (0x30...0x39).contains($0) }), parts[0].count <= 12,
              let whole = Int64(parts[0]) else { return nil }
        var fraction: Int64 = 0
        if parts.count == 2 {
            guard (1...2).contains(parts[1].count), parts[1].utf8.allSatisfy({ (0x30...0x39).contains($0) }), let f = Int64(parts[1]) else { return nil }
            fraction = parts[1].count == 1 ? f * 10 : f
        }
        return whole * 100 + fraction
    }

    /// Cents as a decimal string with two fraction digits and no grouping (`3840.00`, R206).
    public static func format(cents: Int64) -> String {
        let f = cents % 100
        return "\(cents / 100)." + (f < 10 ? "0" : "") + "\(f)"
    }

    /// `UpfrontFee` of R206: hourly rate × instances × window hours, summed over the RCs. Saturates at `Int64.max`
    /// cents rather than overflowing (admin-set rates and windows have no upper bound in the model).
    public static func fee(of rcs: [ReservedCapacityOfferingRecord], settings: TrainingPlanSettings) -> String {
        var total: Int64 = 0
        for rc in rcs {
            let rate = cents(settings.rate(of: rc.instanceType)) ?? 1000
            let (perMinute, o1) = rate.multipliedReportingOverflow(by: Int64(rc.instanceCount))
            let (sum, o2) = perMinute.multipliedReportingOverflow(by: minutes(rc.startTime, rc.endTime))
            let (added, o3) = total.addingReportingOverflow(sum / 60 + (sum % 60 >= 30 ? 1 : 0))
            guard !o1, !o2, !o3 else { return format(cents: .max) }
            total = added
        }
        return format(cents: total)
    }

    /// `tpo-`/`tpeo-` + SHA-256 of an offering's canonical content and the seed (R201): the same search on the same
    /// state gives the same ids.
    public static func offeringID(prefix: String, account: String, region: String, targets: [String], rcs: [ReservedCapacityOfferingRecord],
                                  extra: String = "", seed: UInt64?) -> String {
        var canonical = "\(account)|\(region)|\(targets.joined(separator: ","))|\(extra)|\(seed.map(String.init) ?? "-")"
        for rc in rcs {
            canonical += "|\(rc.type.rawValue),\(rc.ultraServerType ?? ""),\(rc.ultraServerCount ?? 0),\(rc.instanceType),\(rc.instanceCount),"
                + "\(rc.zone),\(rc.startTime.milliseconds),\(rc.endTime.milliseconds)"
        }
        let digest = SHA256.hash(data: Array(canonical.utf8))
        let hex = Array("0123456789abcdef")
        var out = prefix
        for byte in digest {
            out.append(hex[Int(byte >> 4)])
            out.append(hex[Int(byte & 0x0F)])
        }
        return out
    }
}

/// The offering searches of spec R204 (plans) and R217 (extensions).
public enum TrainingPlanSearch {
    /// What a plan search asks for, after R205's checks.
    public struct Request: Sendable {
        public var instanceType: String
        public var ultraServerType: String?
        public var ultraServerCount: Int?
        /// Instances, spares included (InstanceCount, or UltraServerCount × per-server count).
        public var units: Int
        public var durationHours: Int
        public var startTimeAfter: VirtualTime?
        public var endTimeBefore: VirtualTime?
        public var targetResources: [String]

        public init(instanceType: String, ultraServerType: String?, ultraServerCount: Int?, units: Int, durationHours: Int,
                    startTimeAfter: VirtualTime?, endTimeBefore: VirtualTime?, targetResources: [String]) {
            self.instanceType = instanceType
            self.ultraServerType = ultraServerType
            self.ultraServerCount = ultraServerCount
            self.units = units
            self.durationHours = durationHours
            self.startTimeAfter = startTimeAfter
            self.endTimeBefore = endTimeBefore
            self.targetResources = targetResources
        }
    }

    /// Generated offerings (R204): daily slots from max(StartTimeAfter, now) up to the horizon, each in the first zone
    /// whose pool admits the units for the whole window; at most `limit`. A zone whose offering (the same content, so
    /// the same id, R201) was already bought is passed over: a bought offering is never offered again (C-R207).
    public static func generate(_ r: Request, now: VirtualTime, region: String, account: String, pools: ReservablePools,
                                settings: TrainingPlanSettings, limit: Int, seed: UInt64?, taken: Set<String> = []) -> [TrainingPlanOfferingRecord] {
        guard limit > 0, r.durationHours > 0 else { return [] }
        let hours = (r.durationHours + 23) / 24 * 24
        guard hours <= TrainingPlanMath.maximumHours else { return [] }
        if r.ultraServerType == nil && !TrainingPlanMath.instanceCounts.contains(r.units) { return [] }
        let earliest = max(r.startTimeAfter ?? now, now)
        let horizon = now.adding(seconds: Double(settings.horizonDays) * 86_400)
        let day: Int64 = 86_400_000
        let slot = Int64(settings.slotMinutes) * 60_000
        var start = VirtualTime(milliseconds: (earliest.milliseconds / day) * day + slot)
        if start < earliest { start = VirtualTime(milliseconds: start.milliseconds + day) }
        var out: [TrainingPlanOfferingRecord] = []
        let targets = dedupe(r.targetResources)
        while start <= horizon && out.count < limit {
            let end = start.adding(seconds: Double(hours) * 3600)
            if let before = r.endTimeBefore, end > before { break }
            for zone in Placement.zones(of: region) where pools.admits(r.units, of: r.instanceType, zone: zone, from: start, to: end) {
                let rc = ReservedCapacityOfferingRecord(
                    type: r.ultraServerType == nil ? .instance : .ultraServer, ultraServerType: r.ultraServerType,
                    ultraServerCount: r.ultraServerCount, instanceType: r.instanceType, instanceCount: r.units, zone: zone,
                    startTime: start, endTime: end)
                let id = TrainingPlanMath.offeringID(prefix: "tpo-", account: account, region: region, targets: targets, rcs: [rc], seed: seed)
                if taken.contains(id) { continue }
                out.append(TrainingPlanOfferingRecord(
                    id: id, kind: .generated, targetResources: targets, requestedStartTimeAfter: r.startTimeAfter,
                    requestedEndTimeBefore: r.endTimeBefore, upfrontFee: TrainingPlanMath.fee(of: [rc], settings: settings),
                    currencyCode: settings.currencyCode, reservedCapacities: [rc]))
                break
            }
            start = VirtualTime(milliseconds: start.milliseconds + day)
        }
        return out
    }

    /// Whether a published offering matches a search (R207, C-R206): every filter but `DurationHours`.
    public static func matches(_ offering: TrainingPlanOfferingRecord, _ r: Request) -> Bool {
        guard offering.kind == .published, !offering.reservedCapacities.isEmpty else { return false }
        for rc in offering.reservedCapacities {
            if let type = r.ultraServerType {
                guard rc.ultraServerType == type, rc.ultraServerCount == r.ultraServerCount else { return false }
            } else {
                guard rc.type == .instance, rc.instanceType == r.instanceType, rc.instanceCount == r.units else { return false }
            }
        }
        if let after = r.startTimeAfter, offering.reservedCapacities.map(\.startTime).min()! < after { return false }
        if let before = r.endTimeBefore, offering.reservedCapacities.map(\.endTime).max()! > before { return false }
        return Set(offering.targetResources).isSubset(of: r.targetResources)
    }

    /// Extension durations in hours (R217): absent → 24, 168, 336; ≤ 336 rounded up to 24; else up to 168; above 4368
    /// none.
    public static func extensionDurations(_ requested: Int?) -> [Int] {
        guard let hours = requested else { return [24, 168, 336] }
        guard hours > 0 else { return [] }
        let rounded = hours <= 336 ? (hours + 23) / 24 * 24 : (hours + 167) / 168 * 168
        return rounded <= TrainingPlanMath.maximumHours ? [rounded] : []
    }

    /// The extension offerings of a plan (R217): the RC with the latest end, from the plan's EndTime, when its zone's
    /// pool admits it.
    public static func extensionOfferings(of plan: TrainingPlanRecord, durationHours: Int?, pools: ReservablePools,
                                          settings: TrainingPlanSettings, seed: UInt64?, taken: Set<String> = []) -> [TrainingPlanOfferingRecord] {
        guard let index = plan.lastReservedCapacityIndex else { return [] }
        let rc = plan.reservedCapacities[index]
        let start = plan.endTime
        return extensionDurations(durationHours).compactMap { hours in
            let end = start.adding(seconds: Double(hours) * 3600)
            guard pools.admits(rc.totalInstanceCount, of: rc.instanceType, zone: rc.zone, from: start, to: end) else { return nil }
            let window = ReservedCapacityOfferingRecord(
                type: rc.type, ultraServerType: rc.ultraServerType, ultraServerCount: rc.ultraServerCount, instanceType: rc.instanceType,
                instanceCount: rc.totalInstanceCount, zone: rc.zone, startTime: start, endTime: end)
            let id = TrainingPlanMath.offeringID(prefix: "tpeo-", account: plan.account, region: plan.region, targets: plan.targetResources,
                                                 rcs: [window], extra: plan.arn.lowercased(), seed: seed)
            if taken.contains(id) { return nil }
            return TrainingPlanOfferingRecord(
                id: id, kind: .extension, targetResources: plan.targetResources, upfrontFee: TrainingPlanMath.fee(of: [window], settings: settings),
                currencyCode: settings.currencyCode, reservedCapacities: [window], planARN: plan.arn.lowercased(), reservedCapacityIndex: index)
        }
    }

    /// The first refusal of an extension search or ExtendTrainingPlan (R217), nil when the plan may be extended now.
    public static func extensionRefusal(_ plan: TrainingPlanRecord, at now: VirtualTime) -> String? {
        let status = plan.status(at: now)
        guard status == .active || status == .scheduled else {
            return "Training plan \(plan.name) is in \(status.rawValue) status and cannot be extended."
        }
        if plan.extensions.contains(where: { $0.payment == .pending }) {
            return "Training plan \(plan.name) has an extension with payment pending."
        }
        let end = plan.endTime
        guard now >= end.adding(seconds: -56 * 86_400), now <= end.adding(seconds: -3600) else {
            return "Training plan \(plan.name) can be extended only between 56 days and 1 hour before it ends."
        }
        return nil
    }

    static func dedupe(_ values: [String]) -> [String] {
        var seen: Set<String> = []
        return values.filter { seen.insert($0).inserted }
    }
}
