import Testing
@testable import HyperPodDomain

struct QuotasTests {
    @Test func perTypeQuota_CountsUsageAndDelta_WithTheSpecsMessage() throws {
        let usage = Quotas.Usage(instancesByType: ["ml.p5.48xlarge": 60], clusters: 1)
        let violation = try #require(Quotas.firstViolation(
            usage: usage, before: [], after: [("ml.p5.48xlarge", 41)], newCluster: true, ebsVolumeSizes: []))
        #expect(violation.quota == .instancesOfType("ml.p5.48xlarge"))
        #expect(violation.message == "The account-level service limit 'ml.p5.48xlarge for cluster usage' is 100 Instances, with current utilization of 60 Instances and a request delta of 41 Instances. Please use AWS Service Quotas to request an increase for this quota. If AWS Service Quotas is not available, contact AWS support to request an increase for this quota.")
        #expect(Quotas.firstViolation(usage: usage, before: [], after: [("ml.p5.48xlarge", 40)], newCluster: true, ebsVolumeSizes: []) == nil)
    }

    @Test func quotasApplyInTheSpecsOrder() {
        // Over both the per-type and the per-cluster quota: the per-type one answers.
        let both = Quotas.firstViolation(usage: Quotas.Usage(), before: [], after: [("ml.c5.xlarge", 2600)], newCluster: true, ebsVolumeSizes: [])
        #expect(both?.quota == .instancesOfType("ml.c5.xlarge"))
        let perCluster = Quotas.firstViolation(
            usage: Quotas.Usage(), before: [], after: (0..<26).map { ("ml.t\($0).large", 100) }, newCluster: true, ebsVolumeSizes: [])
        #expect(perCluster?.quota == .instancesPerCluster && perCluster?.delta == 2600)
        let clusters = Quotas.firstViolation(usage: Quotas.Usage(clusters: 100), before: [], after: [("ml.c5.xlarge", 1)], newCluster: true, ebsVolumeSizes: [])
        #expect(clusters?.quota == .clusters && clusters?.message.contains("is 100 Clusters, with current utilization of 100 Clusters and a request delta of 1 Clusters") == true)
        let ebs = Quotas.firstViolation(usage: Quotas.Usage(), before: [], after: [("ml.c5.xlarge", 1)], newCluster: true, ebsVolumeSizes: [500],
                                        limits: ["Maximum size of EBS volume in GB for a SageMaker HyperPod cluster instance": 100])
        #expect(ebs?.quota == .ebsVolumeSize && ebs?.delta == 500 && ebs?.usage == 0)
    }

    @Test func aRequestThatDoesNotGrow_NeverFailsAQuota() {
        let usage = Quotas.Usage(instancesByType: ["ml.c5.xlarge": 500], clusters: 3)
        #expect(Quotas.firstViolation(usage: usage, before: [("ml.c5.xlarge", 300)], after: [("ml.c5.xlarge", 200)],
                                      newCluster: false, ebsVolumeSizes: []) == nil)
    }
}
