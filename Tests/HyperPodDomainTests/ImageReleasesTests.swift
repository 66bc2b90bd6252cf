import SageMakerShapes
import Testing
@testable import HyperPodDomain

/// The HyperPod AMI release catalogue (spec R334, R337, RA21) and AutoPatchConfig's checks (R338), as pure values.
struct ImageReleasesTests {
    static let t0 = VirtualTime(milliseconds: 1_764_547_200_000)

    @Test func aRegionStartsAt1_0_0_AndEarlierClustersKeepTheirAMI() {
        let catalogue = ImageCatalogue.initial(region: "us-east-1")
        #expect(catalogue.latest(.x86_64).imageID == PlatformImages.latest(region: "us-east-1"))
        #expect(catalogue.latest(.arm64).imageID != catalogue.latest(.x86_64).imageID)
        #expect(catalogue.status(ofImage: "ami-0123456789abcdef0") == .upToDate)  // custom
    }

    @Test func publishing_OnlyGrows_PerArchitecture() throws {
        var catalogue = ImageCatalogue.initial(region: "us-east-1")
        _ = try catalogue.publish(version: "1.0.10", architecture: .x86_64, security: false, at: Self.t0)
        #expect(throws: ImageCatalogueError(message: "Release 1.0.9 of x86_64 is not higher than 1.0.10.", isConflict: true)) {
            try catalogue.publish(version: "1.0.9", architecture: .x86_64, security: false, at: Self.t0)
        }
        #expect(catalogue.latest(.x86_64).version == "1.0.10")  // numeric per component, not text order
        _ = try catalogue.publish(version: "1.0.1", architecture: .arm64, security: false, at: Self.t0)
        #expect(ImageCatalogue(json: catalogue.jsonValue, region: "us-east-1") == catalogue)  // the stored form
    }

    @Test func status_EndOfLifeThenSecurityThenUpdate() throws {
        var catalogue = ImageCatalogue.initial(region: "us-east-1")
        let first = catalogue.latest(.x86_64).imageID
        _ = try catalogue.publish(version: "1.1.0", architecture: .x86_64, security: true, at: Self.t0)
        #expect(catalogue.status(ofImage: first) == .updateAvailable)  // a security release of another line
        _ = try catalogue.publish(version: "1.1.1", architecture: .x86_64, security: true, at: Self.t0)
        let onOneOne = catalogue.release("1.1.0", .x86_64)!.imageID
        #expect(catalogue.status(ofImage: onOneOne) == .securityUpdateRequired)
        catalogue.markEndOfLife("1.1", architecture: nil)
        #expect(catalogue.status(ofImage: onOneOne) == .endOfLife)
        #expect(ImageCatalogue.worst([.upToDate, .updateAvailable, .securityUpdateRequired]) == .securityUpdateRequired)
        #expect(ImageCatalogue.worst([]) == .upToDate)
    }

    @Test func autoPatchConfig_ChecksInOrder() {
        var spec = ClusterLifecycleTests.group("a", count: 1)
        spec.autoPatchConfig = ClusterAutoPatchConfig(patchingStrategy: .drainFirst, idleWaitWindowInSeconds: 3_600)
        let images = ImageCatalogue.initial(region: "us-east-1")
        #expect(AutoPatchRules.violation(spec, eks: false, images: images) == "PatchingStrategy DrainFirst is only supported for clusters with an Eks orchestrator.")
        #expect(AutoPatchRules.violation(spec, eks: true, images: images) == "PatchingStrategy DrainFirst requires DeploymentConfig with a RollingUpdatePolicy MaximumBatchSize.")
        spec.imageId = "ami-0123456789abcdef0"
        #expect(AutoPatchRules.violation(spec, eks: true, images: images) == "AutoPatchConfig is not supported for instance group a because it uses a custom AMI.")
        spec.imageId = images.latest(.x86_64).imageID  // a HyperPod AMI named by its id is no custom AMI
        spec.autoPatchConfig = ClusterAutoPatchConfig(patchingStrategy: .whenIdle)
        #expect(AutoPatchRules.violation(spec, eks: false, images: images) == nil)
        #expect(AutoPatchRules.details(spec.autoPatchConfig!, run: nil).idleWaitWindowInSeconds == 86_400)
    }
}
