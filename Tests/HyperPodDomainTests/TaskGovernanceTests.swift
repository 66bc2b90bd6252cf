import JSON
import SageMakerShapes
import Testing
@testable import HyperPodDomain

/// Task governance policies as pure values (spec §18): the status machine P1–P9, versions, StatusDetails, the content
/// rules and the stored defaults.
struct TaskGovernanceTests {
    static let t0 = VirtualTime(milliseconds: 1_796_601_600_000)

    static func policy(_ kind: GovernanceKind = .schedulerConfig) -> GovernancePolicyRecord {
        GovernancePolicyRecord(
            kind: kind, id: "abcdefabcdef", arn: kind.arn(partition: "aws", region: "us-east-1", account: "111122223333", id: "abcdefabcdef"),
            name: "p", account: "111122223333", region: "us-east-1", clusterARN: "arn:aws:sagemaker:us-east-1:111122223333:cluster/c",
            clusterName: "c", content: ["SchedulerConfig": .object(["FairShare": .string("Enabled"), "PriorityClasses": .array([])])],
            at: t0, tags: [])
    }

    @Test func arns_RoundTripForBothKinds() {
        let arn = GovernanceKind.computeQuota.arn(partition: "aws", region: "us-east-1", account: "111122223333", id: "abc123abc123")
        #expect(arn == "arn:aws:sagemaker:us-east-1:111122223333:compute-quota/abc123abc123")
        #expect(GovernanceKind.parse(arn)?.kind == .computeQuota && GovernanceKind.parse(arn)?.id == "abc123abc123")
        #expect(GovernanceKind.parse("arn:aws:sagemaker:us-east-1:111122223333:cluster/abc123abc123") == nil)
    }

    @Test func createUpdateDelete_FollowP1ToP8_AndStaleTokensDoNothing() {
        var p = Self.policy()
        #expect(p.status == .creating && p.version == 1 && p.statusDetails == ["FairShare": "Creating", "PriorityClasses": "Creating"])
        #expect(!p.acceptsUpdate)
        let stale = p.reconcile(token: 0, failure: nil)
        #expect(!stale && p.status == .creating)
        _ = p.reconcile(token: p.token, failure: nil)
        #expect(p.status == .created && p.statusDetails == nil && p.acceptsUpdate)
        let later = Self.t0.adding(seconds: 5)
        p.update(to: ["SchedulerConfig": .object(["FairShare": .string("Disabled")])], at: later)
        #expect(p.status == .updating && p.version == 2 && p.lastModifiedTime == later && p.statusDetails == ["FairShare": "Updating"])
        #expect(p.versions[0].content["SchedulerConfig"]?.objectValue?["FairShare"] == .string("Enabled"))  // kept (R271)
        let token = p.token
        let accepted = p.delete(at: later)  // P7 from Updating: the update's reconcile is cancelled
        let cancelled = p.reconcile(token: token, failure: nil)
        #expect(accepted && !cancelled && p.status == .deleting)
        let deleted = p.reconcile(token: p.token, failure: nil)
        #expect(deleted && p.status == .deleted && !p.isLive)
        let again = p.delete(at: later)
        #expect(!again)  // a no-op (R267)
    }

    @Test func failures_EndInTheirStatus_WithTheReason_ClearedByTheNextOperation() {
        var p = Self.policy(.computeQuota)
        _ = p.reconcile(token: p.token, failure: GovernanceFailure(rollbackFails: false, reason: "not ready"))
        #expect(p.status == .createFailed && p.failureReason == "not ready" && !p.acceptsUpdate && p.isLive)
        #expect(p.statusDetails == nil)  // compute quotas have none (R269)
        let deleting = p.delete(at: Self.t0)
        #expect(deleting && p.failureReason == nil)
        _ = p.reconcile(token: p.token, failure: GovernanceFailure(rollbackFails: true, reason: "stuck"))
        #expect(p.status == .deleteRollbackFailed)
        var u = Self.policy()
        _ = u.reconcile(token: u.token, failure: nil)
        u.update(to: u.content, at: Self.t0)
        _ = u.reconcile(token: u.token, failure: GovernanceFailure(rollbackFails: false, reason: "x"))
        #expect(u.status == .updateFailed && u.acceptsUpdate && u.version == 2)  // keeps the new version (R268)
    }

    @Test func contentRules_InTheSpecsOrder() throws {
        #expect(GovernanceRules.violation(SchedulerConfig(priorityClasses: [PriorityClass(name: "a", weight: 1), PriorityClass(name: "a", weight: 2)]))
                == "Duplicate priority class name a.")
        #expect(GovernanceRules.violation(SchedulerConfig(priorityClasses: [PriorityClass(name: "a", weight: 1), PriorityClass(name: "b", weight: 1)])) == nil)
        let types: Set<String> = ["ml.p5.48xlarge"]
        let long = String(repeating: "t", count: 52)
        // C-R258: the team's length first.
        #expect(GovernanceRules.violation(ComputeQuotaConfig(computeQuotaResources: [ComputeQuotaResourceConfig(instanceType: .mlG5Xlarge)]),
                                          target: ComputeQuotaTarget(teamName: long), types: types, clusterName: "c")
                == "TeamName \(long) is too long: namespace hyperpod-ns-\(long) must not exceed 63 characters.")
        #expect(GovernanceRules.violation(ComputeQuotaConfig(computeQuotaResources: [ComputeQuotaResourceConfig(instanceType: .mlG5Xlarge)]),
                                          target: nil, types: types, clusterName: "c")
                == "Instance type ml.g5.xlarge is not used by any instance group of cluster c.")
        let twice = ComputeQuotaConfig(resourceSharingConfig: ResourceSharingConfig(strategy: .lend, absoluteBorrowLimits: [
            ComputeQuotaResourceConfig(instanceType: .mlP548xlarge), ComputeQuotaResourceConfig(instanceType: .mlP548xlarge)]))
        #expect(GovernanceRules.violation(twice, target: nil, types: types, clusterName: "c") == "Duplicate instance type ml.p5.48xlarge in AbsoluteBorrowLimits.")
    }

    @Test func defaults_AreTheDocumentedOnesOnly() {
        #expect(GovernanceRules.withDefaults(SchedulerConfig()).fairShare == .enabled)
        #expect(GovernanceRules.withDefaults(SchedulerConfig()).priorityClasses == nil)
        let quota = GovernanceRules.withDefaults(ComputeQuotaConfig())
        #expect(quota.preemptTeamTasks == .lowerPriority && quota.resourceSharingConfig == ResourceSharingConfig(strategy: .lendAndBorrow, borrowLimit: 50))
        #expect(GovernanceRules.withDefaults(ComputeQuotaConfig(resourceSharingConfig: ResourceSharingConfig(strategy: .dontLend)))
                .resourceSharingConfig == ResourceSharingConfig(strategy: .dontLend))
        #expect(GovernanceRules.withDefaults(ComputeQuotaTarget(teamName: "t")).fairShareWeight == 0)
    }
}
