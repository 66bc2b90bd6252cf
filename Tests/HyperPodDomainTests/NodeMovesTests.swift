import SageMakerShapes
import Testing
@testable import HyperPodDomain

/// MoveClusterNodes (spec R320–R324) as pure values: the checks, the choice of nodes, and a move within one cluster
/// driven on a manual clock (the service only adds the second cluster and the store).
struct NodeMovesTests {
    typealias T = ClusterLifecycleTests

    static func inService() -> LifecycleDriver {
        var d = LifecycleDriver(T.request([T.group("a", count: 3, min: 1), T.group("b", count: 1)], continuousEKS: true))
        d.advance(to: 3_600)
        return d
    }

    static func plan(_ l: ClusterLifecycle, _ selection: NodeMoveSelection, to group: String = "b",
                     attachments: NodeMoveAttachments = .init()) throws(UpdateRejection) -> NodeMovePlan {
        try NodeMoves.plan(source: l, sourceGroup: "a", target: l, targetGroup: group, selection: selection, attachments: attachments)
    }

    @Test func checks_RefuseWithTheFirstFailingRuleInOrder() {
        let d = Self.inService()
        let legacy = LifecycleDriver(T.request([T.group("a", count: 1)]))
        #expect(throws: UpdateRejection.validation("MoveClusterNodes is only supported for clusters with an Eks orchestrator and NodeProvisioningMode set to Continuous.")) {
            try NodeMoves.plan(source: d.lifecycle, sourceGroup: "a", target: legacy.lifecycle, targetGroup: "a",
                               selection: .init(nodeIds: nil, nodeLogicalIds: nil, instanceCount: 1), attachments: .init())
        }
        #expect(throws: UpdateRejection.validation("TargetInstanceGroupName must differ from SourceInstanceGroupName when both are in the same cluster.")) {
            try Self.plan(d.lifecycle, .init(nodeIds: nil, nodeLogicalIds: nil, instanceCount: 1), to: "a")
        }
        #expect(throws: UpdateRejection.validation("Specify exactly one of NodeIds, NodeLogicalIds, or InstanceCount.")) {
            try Self.plan(d.lifecycle, .init(nodeIds: ["i-1"], nodeLogicalIds: nil, instanceCount: 1))
        }
        // R323: MinInstanceCount 1 of 3 leaves room for 2.
        #expect(throws: UpdateRejection.validation("Moving 3 nodes would reduce instance group a below its MinInstanceCount (1).")) {
            try Self.plan(d.lifecycle, .init(nodeIds: nil, nodeLogicalIds: nil, instanceCount: 3))
        }
    }

    @Test func perNodeCodes_FirstFailingCheckWins_AndInstanceCountTakesTheNewestFirst() throws {
        let d = Self.inService()
        let a = d.lifecycle.nodes.filter { $0.groupName == "a" }
        let busy = NodeMoveAttachments(busy: [a[0].logicalID], withVolumes: [a[0].logicalID, a[1].logicalID])
        let plan = try Self.plan(d.lifecycle, .init(nodeIds: [a[0].instanceID!, a[1].instanceID!, a[2].instanceID!, "i-x"],
                                                    nodeLogicalIds: nil, instanceCount: nil), attachments: busy)
        #expect(plan.result.failed.map(\.code) == ["NodeIdInUse", "InvalidNodeStatus", "NodeIdNotFound"])
        #expect(plan.accepted == [a[2].logicalID])
        // All launched at once: the tie goes by InstanceId.
        let chosen = try Self.plan(d.lifecycle, .init(nodeIds: nil, nodeLogicalIds: nil, instanceCount: 2))
        #expect(chosen.result.succeeded == a.compactMap(\.instanceID).sorted().prefix(2).map { $0 })
    }

    @Test func aMoveWithinOneCluster_DetachesForTTerm_AttachesForTLaunch_KeepsTheInstance() throws {
        var d = Self.inService()
        let node = d.lifecycle.nodes.first { $0.groupName == "a" }!
        let plan = try Self.plan(d.lifecycle, .init(nodeIds: [node.instanceID!], nodeLogicalIds: nil, instanceCount: nil))
        d.lifecycle.expectMoveIn(1, to: "b")
        let effects = d.lifecycle.beginMoveOut(plan.accepted, from: "a", to: .init(clusterARN: d.lifecycle.cluster.arn,
                                                                                  clusterName: "c", instanceGroupName: "b"), timing: d.timing)
        #expect(effects == [.schedule(.movedNodesDetached(nodes: [node.logicalID]), afterSeconds: d.timing[.terminate])])
        #expect(d.lifecycle.cluster.groups.map(\.targetCount) == [2, 2])
        #expect(d.lifecycle.currentCount(of: "a") == 3 && d.lifecycle.currentCount(of: "b") == 1)
        // The group on the way in does not launch a slot for the node that is coming (R74 counts it).
        #expect(d.lifecycle.liveSlots(of: d.lifecycle.cluster.groups[1]) == 2)
        let leaving = d.lifecycle.handOff(plan.accepted)
        #expect(leaving.map(\.instanceID) == [node.instanceID])
        var context = LifecycleContext(now: d.now, timing: d.timing, allocator: d.allocator)
        let attach = d.lifecycle.receiveMovedNodes(leaving, into: "b", context: &context)
        let arrived = d.lifecycle.nodes.first { $0.logicalID == node.logicalID }!
        #expect(arrived.groupName == "b" && arrived.status == .attachInProgress && arrived.privateIP == node.privateIP)
        #expect(d.lifecycle.currentCount(of: "a") == 2 && d.lifecycle.currentCount(of: "b") == 1)
        d.apply(attach, at: d.now)
        d.advance(to: 3_600 + d.timing[.launch])
        #expect(d.lifecycle.nodes.first { $0.logicalID == node.logicalID }?.status == .running)
        #expect(d.lifecycle.currentCount(of: "b") == 2 && d.lifecycle.cluster.groups[1].incomingMoves == 0)
    }
}
