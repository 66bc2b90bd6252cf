import SageMakerShapes
import Testing
@testable import HyperPodDomain

/// Cluster operations (spec R303–R305) as pure values over a `ClusterLifecycle` driven on a manual clock.
struct ClusterOperationsTests {
    typealias T = ClusterLifecycleTests

    @Test func createOnAContinuousCluster_RecordsOneDetailPerCountedGroup_AndIsDoneWhenTheGroupIsScaled() throws {
        var d = LifecycleDriver(T.request([T.group("a", count: 2), T.group("none", count: 0)], continuousEKS: true))
        var operation = try #require(ClusterOperationRecord.scaling(id: "op", from: nil, to: d.lifecycle, at: d.now))
        #expect(operation.scalingDetails.map(\.instanceGroupName) == ["a"])
        #expect(operation.scalingDetails[0].original == .init(currentCount: 0, targetCount: 0, minCount: nil))
        #expect(operation.scalingDetails[0].desired == .init(currentCount: nil, targetCount: 2, minCount: nil))
        #expect(operation.reconcile(with: d.lifecycle) == false && operation.status == .inProgress)
        d.advance(to: 3_600)
        #expect(operation.reconcile(with: d.lifecycle) && operation.status == .done)
        #expect(operation.reconcile(with: d.lifecycle) == false)  // nothing moves twice
    }

    @Test func legacyClusters_AndChangesThatKeepEveryCount_RecordNone() {
        let legacy = LifecycleDriver(T.request([T.group("a", count: 2)]))
        #expect(ClusterOperationRecord.scaling(id: "op", from: nil, to: legacy.lifecycle, at: legacy.now) == nil)
        let d = LifecycleDriver(T.request([T.group("a", count: 2)], continuousEKS: true))
        #expect(ClusterOperationRecord.scaling(id: "op", from: d.lifecycle, to: d.lifecycle, at: d.now) == nil)
    }

    @Test func aMinCountChange_IsAnOperationWithMinCountOnBothSides() throws {
        var d = LifecycleDriver(T.request([T.group("a", count: 2)], continuousEKS: true))
        d.advance(to: 3_600)
        let before = d.lifecycle
        #expect(d.update(UpdateClusterRequest(clusterName: "c", instanceGroups: [T.group("a", count: 2, min: 1)])) == nil)
        var operation = try #require(ClusterOperationRecord.scaling(id: "op", from: before, to: d.lifecycle, at: d.now))
        #expect(operation.scalingDetails[0].original == .init(currentCount: 2, targetCount: 2, minCount: 0))
        #expect(operation.scalingDetails[0].desired == .init(currentCount: nil, targetCount: 2, minCount: 1))
        // Nothing to launch: Done at the same change (R305 "when the group next has CurrentCount = TargetCount").
        #expect(operation.reconcile(with: d.lifecycle) && operation.status == .done)
    }

    @Test func supersededDetails_DecideTheOperationsStatus() {
        let detail = { (group: String) in
            ClusterOperationRecord.ScalingDetail(instanceGroupName: group, status: .inProgress,
                                                 original: .init(currentCount: 0, targetCount: 0, minCount: nil),
                                                 desired: .init(currentCount: nil, targetCount: 1, minCount: nil))
        }
        var operation = ClusterOperationRecord(operationID: "op", clusterARN: "arn", kind: .scaling, creationTime: VirtualTime(milliseconds: 0),
                                               scalingDetails: [detail("a"), detail("b")])
        #expect(operation.supersede(groups: ["a"]) && operation.status == .inProgress)
        #expect(operation.supersede(groups: ["b"]) && operation.status == .superseded)
        #expect(operation.supersede(groups: ["a", "b"]) == false)
        // R309: finished and older than 14 days is purged; in progress never is.
        #expect(operation.isPurged(at: VirtualTime(milliseconds: 14 * 86_400_000 + 1)))
        #expect(!operation.isPurged(at: VirtualTime(milliseconds: 14 * 86_400_000)))
    }

    @Test func deleteCluster_SupersedesWhatIsInProgress() throws {
        var d = LifecycleDriver(T.request([T.group("a", count: 2)], continuousEKS: true))
        var operation = try #require(ClusterOperationRecord.scaling(id: "op", from: nil, to: d.lifecycle, at: d.now))
        d.delete()
        #expect(operation.reconcile(with: d.lifecycle) && operation.status == .superseded)
    }

    @Test func architecture_OfTheGravitonFamiliesIsArm64() throws {
        #expect(InstanceArchitecture(try #require(ClusterInstanceType(rawValue: "ml.c7g.xlarge"))) == .arm64)
        #expect(InstanceArchitecture(try #require(ClusterInstanceType(rawValue: "ml.c6a.xlarge"))) == .x86_64)
        #expect(!InstanceArchitecture.supportsTwoThreadsPerCore(try #require(ClusterInstanceType(rawValue: "ml.m8a.16xlarge"))))
        #expect(InstanceArchitecture.supportsTwoThreadsPerCore(.mlC5Xlarge))
    }
}
