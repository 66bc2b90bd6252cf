import AWSJSONProtocol
import Foundation
import JSON
import SageMakerShapes
import Testing

/// The generated typed shapes hold requests faithfully: what passes validation decodes, and encodes back to the same
/// JSON (less members the model does not have).
struct SageMakerShapesTests {
    static let corpus = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures/corpus")

    static func corpusRequests() -> [(name: String, operation: String, body: JSONObject)] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: corpus.path)) ?? []
        return names.sorted().filter { $0.hasSuffix(".json") && !$0.contains("RESPONSE") }.compactMap { name in
            guard let data = FileManager.default.contents(atPath: corpus.appendingPathComponent(name).path),
                  let value = try? JSONParser.parse([UInt8](data)) else { return nil }
            let body: JSONObject = switch value {
            case .array: ["ClusterName": .string("wrapped"), "InstanceGroups": value]
            case .object(let object): object
            default: JSONObject()
            }
            return (name, name.contains("update-cluster") ? "UpdateCluster" : "CreateCluster", body)
        }
    }

    /// `value` with every member the model does not know removed (and nulls dropped), following `shape`.
    static func known(_ value: JSONValue, shape: Shape, model: ServiceModel) -> JSONValue {
        switch (shape.kind, value) {
        case (.structure, .object(let object)):
            var out = JSONObject()
            for member in shape.members {
                if let v = object[member.name], v != .null { out[member.name] = known(v, shape: model[member.shape], model: model) }
            }
            return .object(out)
        case (.list, .array(let elements)):
            return .array(elements.map { known($0, shape: model[shape.listMember!], model: model) })
        case (.map, .object(let object)):
            var out = JSONObject()
            for key in object.keys.sorted() { out[key] = known(object[key]!, shape: model[shape.mapValue!], model: model) }
            return .object(out)
        default:
            return value
        }
    }

    @Test func corpusRequestsThatPassValidation_RoundTripThroughTheTypedShapes() throws {
        let model = ServiceModel.sageMakerClusters
        let validator = ShapeValidator(model: model)
        var checked = 0
        for request in Self.corpusRequests() {
            let inputShape = "\(request.operation)Request"
            guard validator.validate(request.body, shape: inputShape, strictMembers: false).error == nil else { continue }
            let expected = Self.known(.object(request.body), shape: model[inputShape], model: model)
            let encoded: JSONValue
            if request.operation == "CreateCluster" {
                encoded = try CreateClusterRequest(json: .object(request.body)).jsonValue
            } else {
                encoded = try UpdateClusterRequest(json: .object(request.body)).jsonValue
            }
            #expect(encoded == expected, "\(request.name)")
            checked += 1
        }
        #expect(checked >= 10)
    }

    @Test func typedRequest_ExposesTheModelsMembers() throws {
        let json = try JSONParser.parse(#"""
            {"ClusterName":"c","NodeRecovery":"Automatic","InstanceGroups":[{"InstanceGroupName":"g","InstanceType":"ml.p5.48xlarge",
             "InstanceCount":2,"ExecutionRole":"arn:aws:iam::111122223333:role/r","ThreadsPerCore":2,
             "InstanceStorageConfigs":[{"EbsVolumeConfig":{"VolumeSizeInGB":500}}],
             "KubernetesConfig":{"Labels":{"a":"b"},"Taints":[{"Key":"k","Effect":"NoSchedule"}]}}]}
            """#)
        let request = try CreateClusterRequest(json: json)
        #expect(request.clusterName == "c")
        #expect(request.nodeRecovery == .automatic)
        let group = try #require(request.instanceGroups?.first)
        #expect(group.instanceType == .mlP548xlarge)
        #expect(group.instanceCount == 2)
        #expect(group.instanceStorageConfigs == [.ebsVolumeConfig(ClusterEbsVolumeConfig(volumeSizeInGB: 500))])
        #expect(group.kubernetesConfig?.labels == ["a": "b"])
        #expect(group.kubernetesConfig?.taints?.first?.effect == .noSchedule)
    }

    @Test func encoding_LeavesUnsetOptionalMembersOut() {
        let summary = ClusterSummary(
            clusterArn: "arn:aws:sagemaker:us-east-1:111122223333:cluster/abcdef012345", clusterName: "c",
            creationTime: 1_764_547_200, clusterStatus: .creating
        )
        let object = summary.jsonValue.objectValue!
        #expect(object.keys == ["ClusterArn", "ClusterName", "CreationTime", "ClusterStatus"])
        #expect(object["ClusterStatus"] == .string("Creating"))
    }

    @Test func decoding_RefusesWhatValidationWouldHaveCaught() {
        #expect(throws: JSONDecodingError.self) { try CreateClusterRequest(json: .object([:])) }
        #expect(throws: JSONDecodingError.self) { try ClusterNodeRecovery(json: .string("Sometimes")) }
        #expect(throws: JSONDecodingError.self) { try ClusterInstanceStorageConfig(json: .object([:])) }
    }
}
