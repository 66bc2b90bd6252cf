import JSON
import Testing
@testable import HyperPodDomain

/// The pure parts of cluster extensions (spec R314, R315, R316, R318, R319).
struct ClusterExtensionsTests {
    let settings = ExtensionCatalogue.standard["sagemaker-observability"]!["1.1.0"]!

    @Test func merge_FillsEveryDefault_InCatalogueOrder_Compactly() throws {
        let text = try ExtensionCatalogue.merge(#"{"profilesProvider":{"hostProfiling":{"enabled":true}},"metricsProvider":{"ncclMetrics":{"level":"ENABLED"}}}"#,
                                                into: nil, settings: settings)
        #expect(text.hasPrefix(#"{"metricsProvider":{"nodeMetrics":{"level":"BASIC","collectionIntervalSeconds":30},"#))
        #expect(text.contains(#""ncclMetrics":{"level":"ENABLED","collectionIntervalSeconds":30}"#))
        #expect(text.hasSuffix(#""profilesProvider":{"hostProfiling":{"enabled":true}}}"#))  // no prometheus: it has no default
        #expect(!text.contains(" "))
    }

    @Test func merge_NullResetsToTheDefault_AbsentKeepsTheBase() throws {
        let base = try JSONParser.parse(Array(try ExtensionCatalogue.merge(#"{"metricsProvider":{"jobMetrics":{"level":"DISABLED"}},"prometheus":{"remoteWriteUrl":"u"}}"#,
                                                                             into: nil, settings: settings).utf8)).objectValue
        let text = try ExtensionCatalogue.merge(#"{"metricsProvider":{"jobMetrics":{"level":null}}}"#, into: base, settings: settings)
        #expect(text.contains(#""jobMetrics":{"level":"ENABLED""#) && text.contains(#""prometheus":{"remoteWriteUrl":"u"}"#))
    }

    @Test(arguments: [
        (#"{"a":1}"#, "Unknown setting 'a' in ConfigurationValues."),
        (#"{"metricsProvider":{"nodeMetrics":{"level":"ENABLED"}}}"#, "Invalid value for setting 'metricsProvider.nodeMetrics.level'."),
        (#"{"metricsProvider":5}"#, "Invalid value for setting 'metricsProvider'."),
        (#""text""#, "ConfigurationValues must be a JSON object."),
        // The first failure in document order.
        (#"{"profilesProvider":{"x":1},"zzz":1}"#, "Unknown setting 'profilesProvider.x' in ConfigurationValues."),
    ])
    func merge_RefusesWithTheFirstFailure(_ text: String, _ message: String) {
        #expect(throws: ExtensionConfigurationError(message)) { _ = try ExtensionCatalogue.merge(text, into: nil, settings: self.settings) }
    }

    @Test func status_FollowsTheStepAndTheIssues() {
        let t0 = VirtualTime(milliseconds: 0), t1 = VirtualTime(milliseconds: 1_000)
        var e = ClusterExtensionRecord(extensionARN: "a", clusterARN: "c", name: "n", version: "1.0.0", status: .creating, configuration: "{}",
                                       creationTime: t0, lastModifiedTime: t0, stepEndsAt: t1)
        #expect(e.status(at: t0, runningNodes: 3, nodesWithIssues: 3) == .creating)
        #expect(e.status(at: t1, runningNodes: 3, nodesWithIssues: 0) == .active)
        #expect(e.status(at: t1, runningNodes: 3, nodesWithIssues: 1) == .degraded)
        #expect(e.status(at: t1, runningNodes: 3, nodesWithIssues: 3) == .createFailed)
        e.status = .deleting
        #expect(e.status(at: t1, runningNodes: 3, nodesWithIssues: 0) == nil)  // gone
        #expect(e.status(at: t1, runningNodes: 3, nodesWithIssues: 3) == .deleteFailed)
    }

    @Test func settlingAStep_StoresItsOutcome_SoLaterIssuesOnlyMoveActiveAndDegraded() throws {
        let t0 = VirtualTime(milliseconds: 0), t1 = VirtualTime(milliseconds: 1_000)
        let creating = ClusterExtensionRecord(extensionARN: "a", clusterARN: "c", name: "n", version: "1.0.0", status: .creating,
                                              configuration: "{}", creationTime: t0, lastModifiedTime: t0, stepEndsAt: t1)
        #expect(creating.settlingStep(at: t0, runningNodes: 2, nodesWithIssues: 0) == creating)  // still running
        let active = try #require(creating.settlingStep(at: t1, runningNodes: 2, nodesWithIssues: 0))
        #expect(active.status == .active && active.stepEndsAt == nil)
        #expect(active.status(at: t1, runningNodes: 2, nodesWithIssues: 2) == .degraded)  // not CreateFailed
        var deleting = active
        deleting.status = .deleting
        deleting.stepEndsAt = t1
        #expect(deleting.settlingStep(at: t1, runningNodes: 2, nodesWithIssues: 0) == nil)  // gone
        let failed = try #require(deleting.settlingStep(at: t1, runningNodes: 2, nodesWithIssues: 2))
        #expect(failed.status(at: t1, runningNodes: 2, nodesWithIssues: 0) == .deleteFailed)  // stays
    }

    @Test func issues_AreGroupedMostNodesFirst_AtMost20() {
        let few = ClusterExtensionRecord.issues([("B", "m"), ("A", "m"), ("B", "m")])
        #expect(few.map(\.code) == ["B", "A"] && few.map(\.nodeCount) == [2, 1])
        let many = ClusterExtensionRecord.issues((0..<25).map { ("Other", "m\($0)") })
        #expect(many.count == 20 && many.last?.nodeCount == 6 && many.last?.code == "Other")
    }

    @Test func versions_AreHighestFirst_NumericPerComponent() {
        #expect(ExtensionCatalogue.versions(of: "x", in: ["x": ["1.9.0": .group([]), "1.10.0": .group([]), "1.2.3": .group([])]])
                == ["1.10.0", "1.9.0", "1.2.3"])
    }
}
