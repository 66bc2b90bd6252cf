import JSON
import SageMakerShapes
import Testing
@testable import HyperPodDomain

/// Drives a `ClusterLifecycle` on a manual clock, firing the timers it asks for in due order (ties: creation order),
/// as the scheduler does.
struct LifecycleDriver {
    struct Allocator: NodeAllocator {
        var generator = SeededGenerator(seed: 7)
        var used: Set<UInt32> = []
        mutating func newLogicalID() -> String { Identifiers.uuid(using: &generator) }
        mutating func newInstanceID() -> String { Identifiers.instanceID(using: &generator) }
        mutating func newAddress(subnet: String?) -> UInt32 {
            let address = Placement.nextAddress(inBlockOf: subnet, used: used)!
            used.insert(address)
            return address
        }
        mutating func randomIndex(below upperBound: Int) -> Int { Int.random(in: 0..<upperBound, using: &generator) }
    }

    var lifecycle: ClusterLifecycle
    var timing: TimingProfile
    var now: VirtualTime
    var timers: [(due: VirtualTime, order: Int, event: LifecycleEvent)] = []
    var order = 0
    var removed = false
    var allocator = Allocator()
    /// Free capacity, carried from transition to transition as the service derives it from the stored nodes.
    var capacity = CapacityPools.unlimited
    /// Reserved capacity of training plans (spec R223), carried the same way.
    var plans = PlanCapacity()

    static let t0 = VirtualTime(milliseconds: 1_764_547_200_000)

    init(_ request: CreateClusterRequest, timing: TimingProfile = TimingProfile(.fast)) {
        let (lifecycle, effects) = ClusterLifecycle.create(
            request: request, arn: "arn:aws:sagemaker:us-east-1:111122223333:cluster/abcdef012345", clusterID: "abcdef012345",
            account: "111122223333", region: "us-east-1", at: Self.t0, timing: timing
        )
        self.lifecycle = lifecycle
        self.timing = timing
        self.now = Self.t0
        apply(effects, at: Self.t0)
    }

    mutating func apply(_ effects: [LifecycleEffect], at time: VirtualTime) {
        for effect in effects {
            switch effect {
            case .schedule(let event, let seconds):
                order += 1
                timers.append((time.adding(seconds: seconds), order, event))
            case .removeCluster:
                removed = true
            case .cancel(let event):
                timers.removeAll { $0.event == event }
            }
        }
    }

    /// Advances the clock to `seconds` after t0, firing every timer due by then at its own due time.
    mutating func advance(to seconds: Double) {
        let target = Self.t0.adding(seconds: seconds)
        while let next = timers.enumerated().filter({ $0.element.due <= target })
            .min(by: { ($0.element.due, $0.element.order) < ($1.element.due, $1.element.order) }) {
            timers.remove(at: next.offset)
            var context = LifecycleContext(now: next.element.due, timing: timing, capacity: capacity, allocator: allocator)
            context.plans = plans
            let effects = lifecycle.handle(next.element.event, context: &context)
            capacity = context.capacity
            plans = context.plans
            allocator = context.allocator as! Allocator
            apply(effects, at: next.element.due)
        }
        now = target
    }

    /// UpdateCluster at the current time: the plan's rejection, or nil when it was applied.
    @discardableResult
    mutating func update(_ request: UpdateClusterRequest) -> UpdateRejection? {
        do {
            let plan = try lifecycle.planUpdate(request)
            var context = LifecycleContext(now: now, timing: timing, capacity: capacity, allocator: allocator)
            apply(lifecycle.applyUpdate(plan, context: &context), at: now)
            capacity = context.capacity
            allocator = context.allocator as! Allocator
            return nil
        } catch {
            return error
        }
    }

    /// RA4: capacity changed; waiting launches retry now.
    mutating func setCapacity(_ pools: CapacityPools) {
        capacity = pools
        var context = LifecycleContext(now: now, timing: timing, capacity: capacity, allocator: allocator)
        apply(lifecycle.retryWaitingLaunches(context: &context), at: now)
        capacity = context.capacity
        allocator = context.allocator as! Allocator
    }

    func group(_ name: String) -> InstanceGroupRecord? { lifecycle.cluster.groups.first { $0.name == name } }

    mutating func delete() {
        timers.removeAll()  // the caller cancels the cluster's pending timers with the generation bump
        apply(lifecycle.delete(timing: timing), at: now)
    }

    var status: ClusterStatus { lifecycle.cluster.status }
    func groupStatus(_ name: String) -> InstanceGroupStatus? { lifecycle.cluster.groups.first { $0.name == name }?.status }
    func nodeStatuses(_ group: String) -> [ClusterInstanceStatus] { lifecycle.nodes.filter { $0.groupName == group }.map(\.status) }
}

struct ClusterLifecycleTests {
    static func group(_ name: String, count: Int, deepHealthChecks: Bool = false, min: Int? = nil) -> ClusterInstanceGroupSpecification {
        ClusterInstanceGroupSpecification(
            instanceCount: count, minInstanceCount: min, instanceGroupName: name, instanceType: .mlC5Xlarge,
            executionRole: "arn:aws:iam::111122223333:role/r",
            onStartDeepHealthChecks: deepHealthChecks ? [.instanceStress] : nil
        )
    }

    static func request(_ groups: [ClusterInstanceGroupSpecification], continuousEKS: Bool = false) -> CreateClusterRequest {
        CreateClusterRequest(
            clusterName: "c", instanceGroups: groups,
            orchestrator: continuousEKS ? ClusterOrchestrator(eks: ClusterOrchestratorEksConfig(clusterArn: "arn:aws:eks:us-east-1:111122223333:cluster/k")) : nil,
            nodeProvisioningMode: continuousEKS ? .continuous : nil
        )
    }

    @Test func legacyCreate_EachTransitionFiresAtItsDueTimeAndNotBefore() {
        // Fast profile: T_setup 2 s, T_launch 1 s per batch of 50; group b needs two batches.
        var d = LifecycleDriver(Self.request([Self.group("a", count: 2), Self.group("b", count: 60)]))
        #expect(d.status == .creating)
        #expect(d.groupStatus("a") == .creating && d.groupStatus("b") == .creating)
        #expect(d.lifecycle.nodes.isEmpty)

        d.advance(to: 1.999)
        #expect(d.lifecycle.nodes.isEmpty)
        d.advance(to: 2)  // C1 setup done: every slot gets its instance (N1, N2)
        #expect(d.nodeStatuses("a") == [.pending, .pending])
        #expect(d.nodeStatuses("b").count == 60 && d.nodeStatuses("b").allSatisfy { $0 == .pending })
        #expect(d.lifecycle.nodes.allSatisfy { $0.instanceID != nil && $0.privateIP != nil && $0.launchTime == LifecycleDriver.t0.adding(seconds: 2) })

        d.advance(to: 2.999)
        #expect(d.lifecycle.currentCount(of: "a") == 0)
        d.advance(to: 3)  // first batches: N3
        #expect(d.nodeStatuses("a") == [.running, .running])
        #expect(d.groupStatus("a") == .inService)  // G2
        #expect(d.lifecycle.currentCount(of: "b") == 50)
        #expect(d.groupStatus("b") == .creating)
        #expect(d.status == .creating)

        d.advance(to: 3.999)
        #expect(d.lifecycle.currentCount(of: "b") == 50)
        d.advance(to: 4)  // b's second batch; C2
        #expect(d.lifecycle.currentCount(of: "b") == 60)
        #expect(d.groupStatus("b") == .inService)
        #expect(d.status == .inService)
        #expect(d.timers.isEmpty)
    }

    @Test func delete_ShutsDownThenRemovesAtTheDueTimes() {
        var d = LifecycleDriver(Self.request([Self.group("a", count: 3)]))
        d.advance(to: 10)
        #expect(d.status == .inService)
        d.delete()  // C13 at t = 10
        #expect(d.status == .deleting)
        #expect(d.groupStatus("a") == .deleting)
        #expect(d.nodeStatuses("a") == [.shuttingDown, .shuttingDown, .shuttingDown])
        #expect(d.lifecycle.currentCount(of: "a") == 3)  // R44: counts unchanged right after DeleteCluster
        d.advance(to: 10.999)
        #expect(d.lifecycle.nodes.count == 3)
        d.advance(to: 11)  // N11 after T_term
        #expect(d.lifecycle.nodes.isEmpty)
        #expect(!d.removed)
        d.advance(to: 11.999)
        #expect(!d.removed)
        d.advance(to: 12)  // C14 after T_delete
        #expect(d.removed)
    }

    @Test func deleteWhileCreating_StaleSetupTimerIsANoOp() {
        var d = LifecycleDriver(Self.request([Self.group("a", count: 1)]))
        d.advance(to: 1)
        let staleSetup = d.timers
        d.delete()
        #expect(d.status == .deleting)
        // A setup timer that escaped cancellation changes nothing.
        for timer in staleSetup { d.apply(d.lifecycle.handle(timer.event, at: timer.due, timing: d.timing, allocator: &d.allocator), at: timer.due) }
        #expect(d.lifecycle.nodes.isEmpty && d.status == .deleting)
        d.advance(to: 2)
        #expect(d.removed)
    }

    @Test func onStartDeepHealthChecks_PassDeepHealthCheckInProgressForT_dhc() {
        var d = LifecycleDriver(Self.request([Self.group("a", count: 2, deepHealthChecks: true)]))
        d.advance(to: 3)  // setup 2 + launch 1: N4
        #expect(d.nodeStatuses("a") == [.deepHealthCheckInProgress, .deepHealthCheckInProgress])
        #expect(d.lifecycle.currentCount(of: "a") == 0)
        d.advance(to: 3.999)
        #expect(d.status == .creating)
        d.advance(to: 4)  // + T_dhc 1
        #expect(d.nodeStatuses("a") == [.running, .running])
        #expect(d.status == .inService)
    }

    @Test func continuousEKS_IsInServiceAfterSetup_WhileNodesStillLaunch() {
        var d = LifecycleDriver(Self.request([Self.group("a", count: 2)], continuousEKS: true))
        d.advance(to: 1.999)
        #expect(d.status == .creating)
        d.advance(to: 2)  // C3
        #expect(d.status == .inService)
        #expect(d.groupStatus("a") == .inService)  // G2 with MinCount absent = 0
        #expect(d.nodeStatuses("a") == [.pending, .pending])
        d.advance(to: 3)
        #expect(d.nodeStatuses("a") == [.running, .running])
    }

    @Test func continuousGroupWithMinInstanceCount_StaysCreatingUntilReached() {
        var d = LifecycleDriver(Self.request([Self.group("a", count: 2, min: 2)], continuousEKS: true))
        d.advance(to: 2)
        #expect(d.status == .inService && d.groupStatus("a") == .creating)
        d.advance(to: 3)
        #expect(d.groupStatus("a") == .inService)
    }

    @Test func groupsOfZero_AreInServiceAtSetup() {
        var d = LifecycleDriver(Self.request([Self.group("a", count: 0)]))
        d.advance(to: 2)
        #expect(d.groupStatus("a") == .inService && d.status == .inService)  // R52
    }

    @Test func instantProfile_PassesEveryStateWithinOneInstant() {
        var d = LifecycleDriver(Self.request([Self.group("a", count: 120)]), timing: TimingProfile(.instant))
        d.advance(to: 0)
        #expect(d.status == .inService)
        #expect(d.lifecycle.currentCount(of: "a") == 120)
    }

    @Test(arguments: [
        LifecycleEvent.setupComplete, .batchLaunched(group: "g", nodes: ["a", "b"]), .deepHealthCheckComplete(group: "g", nodes: []),
        .nodesTerminated(nodes: ["x"]), .teardownComplete,
    ])
    func events_RoundTripThroughTheirTimerText(_ event: LifecycleEvent) {
        #expect(LifecycleEvent(encoded: event.encoded) == event)
    }
}
