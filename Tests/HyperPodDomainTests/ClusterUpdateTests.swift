import SageMakerShapes
import Testing
@testable import HyperPodDomain

/// UpdateCluster in the domain (spec §7) on a manual clock: each delayed transition fires at its due time and not
/// before; refusals carry the spec's messages.
struct ClusterUpdateTests {
    typealias T = ClusterLifecycleTests

    static func update(_ groups: [ClusterInstanceGroupSpecification] = [], delete: [String]? = nil) -> UpdateClusterRequest {
        UpdateClusterRequest(clusterName: "c", instanceGroups: groups.isEmpty ? nil : groups, instanceGroupsToDelete: delete)
    }

    /// A settled cluster (legacy, or Continuous EKS) at t0 + 10 s.
    static func settled(_ groups: [ClusterInstanceGroupSpecification], continuousEKS: Bool = false) -> LifecycleDriver {
        var d = LifecycleDriver(T.request(groups, continuousEKS: continuousEKS))
        d.advance(to: 10)
        #expect(d.status == .inService)
        return d
    }

    func pool(_ n: Int) -> CapacityPools { CapacityPools(free: ["ml.c5.xlarge": [CapacityPools.allZones: n]]) }

    @Test func legacyScaleUp_UpdatingThenInServiceAtTheDueTimes() {
        var d = Self.settled([T.group("a", count: 1)])
        #expect(d.update(Self.update([T.group("a", count: 3)])) == nil)
        #expect(d.status == .updating && d.groupStatus("a") == .updating)   // C7, G3
        #expect(d.nodeStatuses("a") == [.running, .pending, .pending])     // N1/N2 at once
        d.advance(to: 10.999)
        #expect(d.status == .updating)
        d.advance(to: 11)  // T_launch and T_config
        #expect(d.status == .inService && d.groupStatus("a") == .inService)
        #expect(d.lifecycle.currentCount(of: "a") == 3)
    }

    @Test func legacyShortfall_RollsBackAfterTheFailingBatch_ThenT_rollback() {
        var d = Self.settled([T.group("a", count: 2)])
        d.capacity = pool(1)
        d.update(Self.update([T.group("a", count: 4)]))
        #expect(d.lifecycle.nodes.filter { $0.instanceID == nil }.count == 1)
        d.advance(to: 10.999)
        #expect(d.status == .updating)
        d.advance(to: 11)  // C9: the failing batch ends
        #expect(d.status == .rollingBack && d.lifecycle.cluster.failureMessage == insufficientCapacityMessage)
        d.advance(to: 12)  // T_term and T_rollback
        #expect(d.status == .inService)
        #expect(d.group("a")?.targetCount == 2 && d.lifecycle.nodes.count == 2)
        #expect(d.capacity == pool(1))  // the launched instance went back
    }

    @Test func continuousRetries_BackOffByDoublingUpTo300Seconds() {
        var d = Self.settled([T.group("a", count: 1)], continuousEKS: true)
        d.capacity = pool(0)
        d.update(Self.update([T.group("a", count: 2)]))
        #expect(d.status == .inService)
        var dues: [Double] = []
        for _ in 0..<10 {
            let retry = d.timers.first { if case .launchRetry = $0.event { true } else { false } }!
            dues.append(Double(retry.due.milliseconds - LifecycleDriver.t0.milliseconds) / 1000)
            d.advance(to: dues.last!)
        }
        let delays = zip(dues, [10] + dues).map { $0 - $1 }
        #expect(delays == [2, 4, 8, 16, 32, 64, 128, 256, 300, 300])
        d.setCapacity(pool(1))  // RA4: the waiting slot launches at once
        #expect(d.lifecycle.nodes.allSatisfy { $0.instanceID != nil })
        #expect(d.group("a")?.retryDelay == nil)
    }

    @Test func minInstanceCountTimeout_FiresAtT_minAndNotBefore() {
        var d = Self.settled([T.group("a", count: 1)], continuousEKS: true)
        d.capacity = pool(0)
        d.update(Self.update([T.group("a", count: 3, min: 2)]))
        #expect(d.groupStatus("a") == .updating)  // G4
        d.advance(to: 10 + 10_799.999)
        #expect(d.groupStatus("a") == .updating && d.group("a")?.targetCount == 3)
        d.advance(to: 10 + 10_800)  // G5: back to the last InService values
        #expect(d.groupStatus("a") == .inService)
        #expect(d.group("a")?.targetCount == 1 && d.group("a")?.spec.minInstanceCount == nil)
        #expect(d.nodeStatuses("a").filter { $0 == .shuttingDown }.count == 2)  // the waiting slots
    }

    @Test func scaleDownVictims_NotRunningFirst_ThenFailure_ThenSeededRandom() {
        var d = Self.settled([T.group("a", count: 4)], continuousEKS: true)
        d.lifecycle.nodes[1].status = .failure
        d.capacity = pool(0)
        d.update(Self.update([T.group("a", count: 5)]))  // one slot waits for capacity
        let waiting = d.lifecycle.nodes.last!.logicalID
        let failed = d.lifecycle.nodes[1].logicalID
        d.update(Self.update([T.group("a", count: 2)]))
        let victims = d.lifecycle.nodes.filter { $0.status == .shuttingDown }.map(\.logicalID)
        #expect(victims.count == 3 && victims.contains(waiting) && victims.contains(failed))
    }

    @Test func refusals_CarryTheSpecsMessages() throws {
        var d = Self.settled([T.group("a", count: 1), T.group("b", count: 1)])
        var other = T.group("a", count: 1)
        other.executionRole = "arn:aws:iam::111122223333:role/other"
        other.threadsPerCore = 2
        other.trainingPlanArn = "arn:aws:sagemaker:us-east-1:111122223333:training-plan/p"
        let cases: [(UpdateClusterRequest, UpdateRejection)] = [
            (Self.update([other]), .validation("Updating fields ExecutionRole, ThreadsPerCore on an InstanceGroup not supported")),
            (Self.update([T.group("x", count: 1), T.group("x", count: 2)]), .validation("Duplicate instance group name x.")),
            (Self.update(delete: ["nope"]), .validation("Instance group nope in InstanceGroupsToDelete does not exist in cluster c.")),
            (Self.update([T.group("a", count: 2)], delete: ["a"]), .validation("Instance group a cannot be both updated and deleted in the same request.")),
            (Self.update(delete: ["a", "b"]), .validation("Cluster c must keep at least one instance group.")),
            (Self.update([T.group("a", count: 2, min: 1)]), .validation("MinInstanceCount is only supported for clusters with NodeProvisioningMode set to Continuous.")),
        ]
        for (request, expected) in cases {
            #expect(throws: expected) { try d.lifecycle.planUpdate(request) }
        }
        d.update(Self.update([T.group("a", count: 2)]))
        #expect(throws: UpdateRejection.conflict("Cluster c is in Updating state and cannot be updated.")) {
            try d.lifecycle.planUpdate(Self.update([T.group("a", count: 3)]))
        }
    }

    @Test func noOp_ChangesNothing() throws {
        var d = Self.settled([T.group("a", count: 2)])
        var same = T.group("a", count: 2)
        same.threadsPerCore = 1  // absent means 1 (R71)
        let plan = try d.lifecycle.planUpdate(Self.update([same]))
        #expect(plan.isNoOp)
        let before = d.lifecycle
        d.update(Self.update([same]))
        #expect(d.lifecycle == before && d.timers.isEmpty)
    }

    @Test func capacityPools_TakeAndGiveBackPerZoneOrShared() {
        var pools = CapacityPools(free: ["ml.c5.xlarge": ["us-east-1a": 1], "ml.p5.48xlarge": [CapacityPools.allZones: 1]])
        let takes = [
            pools.take("ml.c5.xlarge", zone: "us-east-1b"),  // zoned: no pool in b
            pools.take("ml.c5.xlarge", zone: "us-east-1a"),
            pools.take("ml.c5.xlarge", zone: "us-east-1a"),
            pools.take("ml.p5.48xlarge", zone: "us-east-1c"),
            pools.take("ml.g5.xlarge", zone: "us-east-1c"),  // no pool: unlimited
        ]
        #expect(takes == [false, true, false, true, true])
        pools.giveBack("ml.c5.xlarge", zone: "us-east-1a")
        #expect(pools.free["ml.c5.xlarge"] == ["us-east-1a": 1])
    }
}
