import SageMakerShapes
import Testing
@testable import HyperPodDomain

/// Training plans as pure values (spec §17): offerings cut from reservable pools, statuses on the clock, fees, and a
/// plan-backed group driven on a manual clock.
struct TrainingPlansTests {
    /// 2026-12-07T00:00:00Z.
    static let t0 = VirtualTime(milliseconds: 1_796_601_600_000)
    static let slot = t0.adding(seconds: 11.5 * 3600)
    static let day = 86_400.0

    static func request(count: Int = 4, hours: Int = 24, after: VirtualTime? = nil, before: VirtualTime? = nil) -> TrainingPlanSearch.Request {
        .init(instanceType: "ml.p5.48xlarge", ultraServerType: nil, ultraServerCount: nil, units: count, durationHours: hours,
              startTimeAfter: after, endTimeBefore: before, targetResources: ["hyperpod-cluster", "hyperpod-cluster"])
    }

    static func generate(_ r: TrainingPlanSearch.Request, pools: ReservablePools = .init(), seed: UInt64? = nil,
                         taken: Set<String> = []) -> [TrainingPlanOfferingRecord] {
        TrainingPlanSearch.generate(r, now: t0, region: "us-east-1", account: "111122223333", pools: pools, settings: .init(), limit: 3,
                                    seed: seed, taken: taken)
    }

    @Test func offerings_AreDailySlotsInTheFirstZoneThatAdmitsThem() {
        let offerings = Self.generate(Self.request(hours: 30))
        #expect(offerings.map { $0.reservedCapacities[0].startTime } == [0.0, 1, 2].map { Self.slot.adding(seconds: $0 * Self.day) })
        #expect(offerings.allSatisfy { $0.reservedCapacities[0].zone == "us-east-1a" })
        #expect(offerings[0].durationMinutes == 48 * 60)  // rounded up to whole days (R204)
        #expect(offerings[0].upfrontFee == "1920.00")
        #expect(offerings[0].targetResources == ["hyperpod-cluster"])  // de-duplicated (R206)
        // Zone a fully booked for the first window: that day comes from zone b.
        let booked = ReservablePools(bookings: [.init(instanceType: "ml.p5.48xlarge", zone: "us-east-1a", start: Self.slot,
                                                      end: Self.slot.adding(seconds: 3600), units: 61, plan: "p")])
        #expect(Self.generate(Self.request(), pools: booked).map { $0.reservedCapacities[0].zone } == ["us-east-1b", "us-east-1a", "us-east-1a"])
    }

    @Test func offerings_RespectCountsDurationBoundsAndTheHorizon() {
        #expect(Self.generate(Self.request(count: 3)).isEmpty)
        #expect(Self.generate(Self.request(hours: 4369)).isEmpty)
        #expect(Self.generate(Self.request(before: Self.slot.adding(seconds: Self.day + 60))).count == 1)
        let late = Self.generate(Self.request(after: Self.t0.adding(seconds: 55 * Self.day)))
        #expect(late.count == 1)  // 56 days of slots from now, then none
    }

    @Test func offeringIDs_AreSHA256OfContentAndSeed_AndABoughtOneIsPassedOver() {
        let a = Self.generate(Self.request()), b = Self.generate(Self.request())
        #expect(a.map(\.id) == b.map(\.id))
        #expect(a[0].id.hasPrefix("tpo-") && a[0].id.count == 68 && a[0].id.dropFirst(4).allSatisfy { "0123456789abcdef".contains($0) })
        #expect(Self.generate(Self.request(), seed: 42)[0].id != a[0].id)
        let next = Self.generate(Self.request(), taken: [a[0].id])
        #expect(next[0].reservedCapacities[0].zone == "us-east-1b" && next[0].reservedCapacities[0].startTime == Self.slot)
    }

    @Test func pools_AdmitOnlyWhatFitsAtEveryInstant() {
        let h = 3600.0
        let pools = ReservablePools(sizes: ["ml.p5.48xlarge": ["*": 10]], bookings: [
            .init(instanceType: "ml.p5.48xlarge", zone: "us-east-1a", start: Self.t0, end: Self.t0.adding(seconds: 2 * h), units: 6, plan: "x"),
            .init(instanceType: "ml.p5.48xlarge", zone: "us-east-1a", start: Self.t0.adding(seconds: h), end: Self.t0.adding(seconds: 3 * h), units: 3, plan: "y"),
        ])
        #expect(pools.peak("ml.p5.48xlarge", zone: "us-east-1a", from: Self.t0, to: Self.t0.adding(seconds: 3 * h)) == 9)
        #expect(pools.admits(1, of: "ml.p5.48xlarge", zone: "us-east-1a", from: Self.t0, to: Self.t0.adding(seconds: 3 * h)))
        #expect(!pools.admits(2, of: "ml.p5.48xlarge", zone: "us-east-1a", from: Self.t0, to: Self.t0.adding(seconds: 3 * h)))
        #expect(pools.admits(4, of: "ml.p5.48xlarge", zone: "us-east-1a", from: Self.t0.adding(seconds: 2 * h), to: Self.t0.adding(seconds: 4 * h)))
        #expect(pools.admits(64, of: "ml.p4d.24xlarge", zone: "us-east-1a", from: Self.t0, to: Self.t0.adding(seconds: h)))  // default 64
    }

    static func plan(windows: [(Double, Double)], payment: TrainingPlanPayment = .completed) -> TrainingPlanRecord {
        var p = TrainingPlanRecord(
            arn: "arn:aws:sagemaker:us-east-1:111122223333:training-plan/p", name: "p", account: "111122223333", region: "us-east-1",
            creationTime: t0, targetResources: ["hyperpod-cluster"], upfrontFee: "1.00", currencyCode: "USD",
            reservedCapacities: windows.enumerated().map { i, w in
                ReservedCapacityRecord(arn: "arn:aws:sagemaker:us-east-1:111122223333:reserved-capacity/p-rc\(i + 1)", type: .instance,
                                       ultraServerType: nil, ultraServerCount: nil, instanceType: "ml.p5.48xlarge", totalInstanceCount: 4,
                                       zone: "us-east-1a", startTime: t0.adding(seconds: w.0), endTime: t0.adding(seconds: w.1))
            }, offeringID: "tpo-x")
        p.payment = payment
        return p
    }

    @Test func status_FollowsPaymentAndWindows_P1ToP7() {
        let p = Self.plan(windows: [(3600, 7200), (10800, 14400)])
        let at = { (s: Double) in p.status(at: Self.t0.adding(seconds: s)) }
        #expect([at(0), at(3600), at(7199), at(7200), at(10800), at(14400)] == [.scheduled, .active, .active, .scheduled, .active, .expired])
        #expect(Self.plan(windows: [(0, 1)], payment: .pending).status(at: Self.t0) == .pending)
        #expect(Self.plan(windows: [(0, 1)], payment: .failed).status(at: Self.t0) == .failed)
        #expect(p.durationMinutes == 120 && p.currentOrNextIndex(at: Self.t0.adding(seconds: 8000)) == 1)
        #expect(TrainingPlanMath.split(minutes: 155) == (2, 35))  // 08:55 → 11:30 (R212)
    }

    @Test func fees_AreExactDecimalStrings() {
        #expect(TrainingPlanMath.cents("10.00") == 1000 && TrainingPlanMath.cents("7") == 700 && TrainingPlanMath.cents("0.5") == 50)
        #expect(TrainingPlanMath.cents("1.234") == nil && TrainingPlanMath.cents("-1") == nil && TrainingPlanMath.cents("1e3") == nil)
        #expect(TrainingPlanMath.format(cents: 384_000) == "3840.00" && TrainingPlanMath.format(cents: 5) == "0.05")
    }

    @Test func extensions_DurationsAndTheWindowToExtendIn() {
        #expect(TrainingPlanSearch.extensionDurations(nil) == [24, 168, 336])
        #expect(TrainingPlanSearch.extensionDurations(25) == [48] && TrainingPlanSearch.extensionDurations(337) == [504])
        #expect(TrainingPlanSearch.extensionDurations(4369).isEmpty)
        let p = Self.plan(windows: [(0, 10 * 3600)])
        #expect(TrainingPlanSearch.extensionRefusal(p, at: Self.t0.adding(seconds: 9 * 3600)) == nil)  // 1 h before: inclusive
        #expect(TrainingPlanSearch.extensionRefusal(p, at: Self.t0.adding(seconds: 9 * 3600 + 1))
                == "Training plan p can be extended only between 56 days and 1 hour before it ends.")
        #expect(TrainingPlanSearch.extensionRefusal(Self.plan(windows: [(0, 1)], payment: .pending), at: Self.t0)
                == "Training plan p is in Pending status and cannot be extended.")
    }

    // MARK: A plan-backed group on the manual clock (R223–R226)

    static func block(open: Bool, free: Int) -> PlanCapacity {
        PlanCapacity(plans: ["arn:aws:sagemaker:us-east-1:111122223333:training-plan/p": [
            .init(arn: "arn:aws:sagemaker:us-east-1:111122223333:reserved-capacity/p-rc1", instanceType: "ml.p5.48xlarge",
                  zone: "us-east-1a", startTime: t0, open: open, free: free),
        ]])
    }

    static func planBacked(count: Int) -> ClusterInstanceGroupSpecification {
        var g = ClusterLifecycleTests.group("g", count: count)
        g.instanceType = .mlP548xlarge
        g.trainingPlanArn = "arn:aws:sagemaker:us-east-1:111122223333:training-plan/P"  // the name part ignores case
        return g
    }

    @Test func beforeTheWindow_TheGroupIsInServiceAtZero_ThenLaunchesFromThePlanOnly() {
        var d = LifecycleDriver(ClusterLifecycleTests.request([Self.planBacked(count: 3)]))
        d.plans = Self.block(open: false, free: 4)
        d.capacity = CapacityPools(free: ["ml.p5.48xlarge": ["*": 0]])  // no on-demand capacity at all: never used
        d.advance(to: 3600)
        #expect(d.status == .inService && d.groupStatus("g") == .inService && d.lifecycle.currentCount(of: "g") == 0)
        #expect(d.timers.isEmpty)  // no retry, no failure: the slots wait for the window (R224)
        d.plans = Self.block(open: true, free: 4)
        var context = LifecycleContext(now: d.now, timing: d.timing, capacity: d.capacity, allocator: d.allocator)
        context.plans = d.plans
        d.apply(d.lifecycle.launchWaitingOnPlan("arn:aws:sagemaker:us-east-1:111122223333:training-plan/p", context: &context), at: d.now)
        d.plans = context.plans
        d.allocator = context.allocator as! LifecycleDriver.Allocator
        d.advance(to: 3700)
        #expect(d.lifecycle.currentCount(of: "g") == 3)
        #expect(d.lifecycle.nodes.allSatisfy { $0.reservedCapacityARN?.hasSuffix("p-rc1") == true && $0.zone == "us-east-1a" })
        #expect(d.plans.plans.values.first?.first?.free == 1)
        // R226: the drain terminates the holders; each slot stays and waits (the RC is closed now).
        d.plans = Self.block(open: false, free: 1)
        context = LifecycleContext(now: d.now, timing: d.timing, capacity: d.capacity, allocator: d.allocator)
        context.plans = d.plans
        d.apply(d.lifecycle.drainReservedCapacity("arn:aws:sagemaker:us-east-1:111122223333:reserved-capacity/p-rc1", context: &context), at: d.now)
        d.plans = context.plans
        #expect(d.nodeStatuses("g").filter { $0 == .shuttingDown }.count == 3)
        d.advance(to: 3800)
        #expect(d.lifecycle.nodes.count == 3 && d.lifecycle.nodes.allSatisfy { $0.instanceID == nil && $0.status == .pending })
        #expect(d.groupStatus("g") == .inService && d.status == .inService && d.plans.released.count == 1)
    }
}
