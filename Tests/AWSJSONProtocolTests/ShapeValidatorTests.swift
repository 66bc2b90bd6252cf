import Foundation
import JSON
import Testing
@testable import AWSJSONProtocol

/// Table-driven checks of model validation (spec §2): each case asserts the exact AWS-format message.
struct ShapeValidatorTests {
    let validator = ShapeValidator(model: .sageMakerClusters)

    static let validGroup = #"{"InstanceGroupName":"g","InstanceType":"ml.c5.xlarge","InstanceCount":1,"ExecutionRole":"arn:aws:iam::111122223333:role/r","LifeCycleConfig":{"SourceS3Uri":"s3://b/x","OnCreate":"on.sh"}}"#

    /// The valid group with members set (JSON text per member) or removed (nil).
    static func group(_ changes: [String: String?]) -> String {
        var object = try! JSONParser.parse(validGroup).objectValue!
        for (key, text) in changes { object[key] = text.map { try! JSONParser.parse($0) } }
        return String(decoding: JSONWriter.encode(.object(object)), as: UTF8.self)
    }

    static func create(groups: [String] = [validGroup], _ extra: String = "") -> String {
        #"{"ClusterName":"c","InstanceGroups":[\#(groups.joined(separator: ","))]\#(extra)}"#
    }

    /// The error for `json` against `shape`, nil when it passes.
    func check(_ shape: String, _ json: String, strict: Bool = false) -> AWSError? {
        validator.validate(try! JSONParser.parse(json).objectValue!, shape: shape, strictMembers: strict).error
    }

    static let g1 = "instanceGroups.1.member"
    static let clusterNamePattern = "^[a-zA-Z0-9](-*[a-zA-Z0-9])*$"
    /// `ClusterNameOrArn`'s pattern as botocore 1.44 prints it: with an outer group (spec R301).
    static let clusterNameOrArnPattern = #"^((arn:aws[a-z\-]*:sagemaker:[a-z0-9\-]*:[0-9]{12}:cluster/[a-z0-9]{12})|([a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}))$"#
    static let roleArnPattern = #"^arn:aws[a-z\-]*:iam::\d{12}:role/?[a-zA-Z_0-9+=,.@\-_/]+$"#
    static let labelKeyPhrases = #"[Member must have length less than or equal to 317, Member must have length greater than or equal to 1, Member must satisfy regular expression pattern: ^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$]"#

    static let cases: [(name: String, shape: String, json: String, message: String)] = [
        // Valid requests pass.
        ("valid create", "CreateClusterRequest", create(), ""),
        ("valid describe by ARN", "DescribeClusterRequest", #"{"ClusterName":"arn:aws:sagemaker:us-east-1:111122223333:cluster/abcdef012345"}"#, ""),
        ("bucket without sagemaker- prefix (R65)", "CreateClusterRequest",
         create(groups: [group(["LifeCycleConfig": #"{"SourceS3Uri":"s3://my-bucket/lcs","OnCreate":"on_create.sh"}"#])]), ""),

        // Names: required, length, pattern.
        ("name missing", "CreateClusterRequest", #"{"InstanceGroups":[\#(validGroup)]}"#,
         "1 validation error detected: Value null at 'clusterName' failed to satisfy constraint: Member must not be null"),
        ("name pattern", "CreateClusterRequest", #"{"ClusterName":"bad_name!"}"#,
         "1 validation error detected: Value 'bad_name!' at 'clusterName' failed to satisfy constraint: Member must satisfy regular expression pattern: \(clusterNamePattern)"),
        ("name too long", "CreateClusterRequest", #"{"ClusterName":"\#(String(repeating: "a", count: 64))"}"#,
         "1 validation error detected: Value '\(String(repeating: "a", count: 64))' at 'clusterName' failed to satisfy constraint: Member must have length less than or equal to 63"),
        ("empty name: length and pattern, length first (R22)", "CreateClusterRequest", #"{"ClusterName":""}"#,
         "2 validation errors detected: Value '' at 'clusterName' failed to satisfy constraint: Member must have length greater than or equal to 1; Value '' at 'clusterName' failed to satisfy constraint: Member must satisfy regular expression pattern: \(clusterNamePattern)"),
        ("name with trailing newline is not a whole match (R15)", "DescribeClusterRequest", #"{"ClusterName":"abc\n"}"#,
         "1 validation error detected: Value 'abc\n' at 'clusterName' failed to satisfy constraint: Member must satisfy regular expression pattern: \(clusterNameOrArnPattern)"),
        ("describe name pattern (R22 example)", "DescribeClusterRequest", #"{"ClusterName":"bad_name!"}"#,
         "1 validation error detected: Value 'bad_name!' at 'clusterName' failed to satisfy constraint: Member must satisfy regular expression pattern: \(clusterNameOrArnPattern)"),

        // ARNs.
        ("cluster ARN with a short id", "DescribeClusterRequest", #"{"ClusterName":"arn:aws:sagemaker:us-east-1:111122223333:cluster/abc"}"#,
         "1 validation error detected: Value 'arn:aws:sagemaker:us-east-1:111122223333:cluster/abc' at 'clusterName' failed to satisfy constraint: Member must satisfy regular expression pattern: \(clusterNameOrArnPattern)"),
        ("role ARN too short and malformed", "CreateClusterRequest", create(groups: [group(["ExecutionRole": #""bad""#])]),
         "2 validation errors detected: Value 'bad' at '\(g1).executionRole' failed to satisfy constraint: Member must have length greater than or equal to 20; Value 'bad' at '\(g1).executionRole' failed to satisfy constraint: Member must satisfy regular expression pattern: \(roleArnPattern)"),
        ("role ARN of another service", "CreateClusterRequest", create(groups: [group(["ExecutionRole": #""arn:aws:iam::111122223333:user/someone""#])]),
         "1 validation error detected: Value 'arn:aws:iam::111122223333:user/someone' at '\(g1).executionRole' failed to satisfy constraint: Member must satisfy regular expression pattern: \(roleArnPattern)"),

        // Counts: integer ranges.
        ("instance count over the maximum", "CreateClusterRequest", create(groups: [group(["InstanceCount": "7000"])]),
         "1 validation error detected: Value '7000' at '\(g1).instanceCount' failed to satisfy constraint: Member must have value less than or equal to 6758"),
        ("negative instance count", "CreateClusterRequest", create(groups: [group(["InstanceCount": "-1"])]),
         "1 validation error detected: Value '-1' at '\(g1).instanceCount' failed to satisfy constraint: Member must have value greater than or equal to 0"),
        ("threads per core 3", "CreateClusterRequest", create(groups: [group(["ThreadsPerCore": "3"])]),
         "1 validation error detected: Value '3' at '\(g1).threadsPerCore' failed to satisfy constraint: Member must have value less than or equal to 2"),
        ("max results 0", "ListClustersRequest", #"{"MaxResults":0}"#,
         "1 validation error detected: Value '0' at 'maxResults' failed to satisfy constraint: Member must have value greater than or equal to 1"),

        // Enums, values in model order.
        ("node recovery enum", "CreateClusterRequest", create(#","NodeRecovery":"Sometimes""#),
         "1 validation error detected: Value 'Sometimes' at 'nodeRecovery' failed to satisfy constraint: Member must satisfy enum value set: [Automatic, None]"),
        ("sort by is case-sensitive", "ListClustersRequest", #"{"SortBy":"name"}"#,
         "1 validation error detected: Value 'name' at 'sortBy' failed to satisfy constraint: Member must satisfy enum value set: [CREATION_TIME, NAME]"),

        // Lists: sizes, lists of scalars (R19), nested lists of structures.
        ("empty instance group list", "CreateClusterRequest", #"{"ClusterName":"c","InstanceGroups":[]}"#,
         "1 validation error detected: Value '[]' at 'instanceGroups' failed to satisfy constraint: Member must have length greater than or equal to 1"),
        ("bad node id in a list of scalars (R19 example)", "BatchDeleteClusterNodesRequest", #"{"ClusterName":"c","NodeIds":["i-bad"]}"#,
         #"1 validation error detected: Value '[i-bad]' at 'nodeIds' failed to satisfy constraint: Member must satisfy constraint: [Member must have length less than or equal to 256, Member must have length greater than or equal to 1, Member must satisfy regular expression pattern: ^i-[a-f0-9]{8}(?:[a-f0-9]{9})?$]"#),
        ("several bad elements make one entry", "BatchDeleteClusterNodesRequest", #"{"ClusterName":"c","NodeIds":["i-0123456789abcdef0","x","y"]}"#,
         #"1 validation error detected: Value '[i-0123456789abcdef0, x, y]' at 'nodeIds' failed to satisfy constraint: Member must satisfy constraint: [Member must have length less than or equal to 256, Member must have length greater than or equal to 1, Member must satisfy regular expression pattern: ^i-[a-f0-9]{8}(?:[a-f0-9]{9})?$]"#),
        ("empty security group id", "CreateClusterRequest", create(#","VpcConfig":{"SecurityGroupIds":[""],"Subnets":["subnet-0abc"]}"#),
         "1 validation error detected: Value '[]' at 'vpcConfig.securityGroupIds' failed to satisfy constraint: Member must satisfy constraint: [Member must have length less than or equal to 32, Member must satisfy regular expression pattern: ^[-0-9a-zA-Z]+$]"),
        ("taints with lowercase keys (nested list of structures)", "CreateClusterRequest",
         create(groups: [group(["KubernetesConfig": #"{"Taints":[{"key":"gpu","effect":"NoSchedule"}]}"#])]),
         "2 validation errors detected: Value null at '\(g1).kubernetesConfig.taints.1.member.key' failed to satisfy constraint: Member must not be null; Value null at '\(g1).kubernetesConfig.taints.1.member.effect' failed to satisfy constraint: Member must not be null"),
        ("taint effect enum in the second taint of the second group", "CreateClusterRequest",
         create(groups: [validGroup, group(["InstanceGroupName": #""h""#, "KubernetesConfig": #"{"Taints":[{"Key":"a","Effect":"NoSchedule"},{"Key":"b","Effect":"Never"}]}"#])]),
         "1 validation error detected: Value 'Never' at 'instanceGroups.2.member.kubernetesConfig.taints.2.member.effect' failed to satisfy constraint: Member must satisfy enum value set: [NoSchedule, PreferNoSchedule, NoExecute]"),

        // Maps: keys first, then values (R19).
        ("bad label key and bad label value", "CreateClusterRequest",
         create(groups: [group(["KubernetesConfig": #"{"Labels":{"-bad":"ok","good":"-bad-"}}"#])]),
         "2 validation errors detected: Value '{-bad=ok, good=-bad-}' at '\(g1).kubernetesConfig.labels' failed to satisfy constraint: Map keys must satisfy constraint: \(labelKeyPhrases); Value '{-bad=ok, good=-bad-}' at '\(g1).kubernetesConfig.labels' failed to satisfy constraint: Map value must satisfy constraint: [Member must have length less than or equal to 63, Member must have length greater than or equal to 1, Member must satisfy regular expression pattern: ^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$]"),

        // Unions (R21).
        ("union with no member set", "CreateClusterRequest", create(groups: [group(["InstanceStorageConfigs": "[{}]"])]),
         "1 validation error detected: Value at '\(g1).instanceStorageConfigs.1.member' failed to satisfy constraint: Member must have exactly one member set"),
        ("union with two members set is not checked further", "CreateClusterRequest",
         create(groups: [group(["InstanceStorageConfigs": #"[{"EbsVolumeConfig":{"VolumeSizeInGB":0},"FsxLustreConfig":{}}]"#])]),
         "1 validation error detected: Value at '\(g1).instanceStorageConfigs.1.member' failed to satisfy constraint: Member must have exactly one member set"),
        ("union with one member: that member is checked", "CreateClusterRequest",
         create(groups: [group(["InstanceStorageConfigs": #"[{"EbsVolumeConfig":{"VolumeSizeInGB":0}}]"#])]),
         "1 validation error detected: Value '0' at '\(g1).instanceStorageConfigs.1.member.ebsVolumeConfig.volumeSizeInGB' failed to satisfy constraint: Member must have value greater than or equal to 1"),
        ("mis-cased union member leaves it empty (R9)", "CreateClusterRequest",
         create(groups: [group(["InstanceStorageConfigs": #"[{"FSxLustreConfig":{}}]"#])]),
         "1 validation error detected: Value at '\(g1).instanceStorageConfigs.1.member' failed to satisfy constraint: Member must have exactly one member set"),

        // Order and counting: depth first in model member order (InstanceCount comes before InstanceGroupName).
        ("missing group name and role, bad count", "CreateClusterRequest",
         create(groups: [group(["InstanceGroupName": nil, "ExecutionRole": nil, "InstanceCount": "7000"])]),
         "3 validation errors detected: Value '7000' at '\(g1).instanceCount' failed to satisfy constraint: Member must have value less than or equal to 6758; Value null at '\(g1).instanceGroupName' failed to satisfy constraint: Member must not be null; Value null at '\(g1).executionRole' failed to satisfy constraint: Member must not be null"),
        ("null counts as absent", "CreateClusterRequest", create(groups: [group(["InstanceCount": "null"])]),
         "1 validation error detected: Value null at '\(g1).instanceCount' failed to satisfy constraint: Member must not be null"),
        ("tag value pattern with Unicode letters passes", "CreateClusterRequest", create(#","Tags":[{"Key":"Ünïcode key","Value":"välue 1"}]"#), ""),
        ("tag key with a forbidden character", "CreateClusterRequest", create(#","Tags":[{"Key":"a*b","Value":"v"}]"#),
         #"1 validation error detected: Value 'a*b' at 'tags.1.member.key' failed to satisfy constraint: Member must satisfy regular expression pattern: ^([\p{L}\p{Z}\p{N}_.:/=+\-@]*)$"#),
        ("length counts Unicode scalars", "CreateClusterRequest", create(#","Tags":[{"Key":"\#(String(repeating: "é", count: 128))","Value":"v"}]"#), ""),
    ]

    @Test(arguments: cases)
    func validation_ReportsTheExactAWSMessage(_ example: (name: String, shape: String, json: String, message: String)) {
        let error = check(example.shape, example.json)
        if example.message.isEmpty {
            #expect(error == nil, "\(example.name)")
        } else {
            #expect(error?.code == "ValidationException", "\(example.name)")
            #expect(error?.message == example.message, "\(example.name)")
        }
    }

    @Test func hundredAndOneGroups_ExceedTheListMaximum() throws {
        let groups = (1...101).map { Self.group(["InstanceGroupName": "\"g\($0)\""]) }
        let error = try #require(check("CreateClusterRequest", Self.create(groups: groups)))
        #expect(error.message.hasPrefix("1 validation error detected: Value '[{InstanceCount=1, InstanceGroupName=g1, InstanceType=ml.c5.xlarge, "))
        #expect(error.message.hasSuffix("' at 'instanceGroups' failed to satisfy constraint: Member must have length less than or equal to 100"))
    }

    // MARK: R8 JSON types → SerializationException (the first problem)

    static let typeCases: [(json: String, message: String)] = [
        (create(groups: [group(["InstanceCount": #""7""#])]), "Unexpected JSON type at 'instanceGroups.1.member.instanceCount': expected integer, found string"),
        (#"{"ClusterName":"c","InstanceGroups":{"a":1}}"#, "Unexpected JSON type at 'instanceGroups': expected list, found object"),
        (create(groups: [group(["InstanceCount": "1.5"])]), "Value at 'instanceGroups.1.member.instanceCount' is not a valid 32-bit integer"),
        (create(groups: [group(["InstanceCount": "7.0"])]), "Value at 'instanceGroups.1.member.instanceCount' is not a valid 32-bit integer"),
        (create(groups: [group(["InstanceCount": "2147483648"])]), "Value at 'instanceGroups.1.member.instanceCount' is not a valid 32-bit integer"),
        (create(groups: [group(["KubernetesConfig": #"{"Labels":["a"]}"#])]), "Unexpected JSON type at 'instanceGroups.1.member.kubernetesConfig.labels': expected map, found array"),
        (create(groups: [group(["InstanceStorageConfigs": #"[{"EbsVolumeConfig":{"RootVolume":"yes"}}]"#])]),
         "Unexpected JSON type at 'instanceGroups.1.member.instanceStorageConfigs.1.member.ebsVolumeConfig.rootVolume': expected boolean, found string"),
        (#"{"ClusterName":7}"#, "Unexpected JSON type at 'clusterName': expected string, found number"),
        (#"{"ClusterName":"c","VpcConfig":"vpc"}"#, "Unexpected JSON type at 'vpcConfig': expected structure, found string"),
        (#"{"ClusterName":"c","InstanceGroups":[null]}"#, "Unexpected JSON type at 'instanceGroups.1.member': expected structure, found null"),
    ]

    @Test(arguments: typeCases)
    func wrongJSONType_IsASerializationExceptionNamingThePath(_ example: (json: String, message: String)) {
        let error = check("CreateClusterRequest", example.json)
        #expect(error == AWSError.serialization(example.message))
    }

    @Test func timestamps_AreNumbers() {
        #expect(check("ListClustersRequest", #"{"CreationTimeAfter":1700000000.5}"#) == nil)
        #expect(check("ListClustersRequest", #"{"CreationTimeAfter":"2026-01-01"}"#)
            == .serialization("Unexpected JSON type at 'creationTimeAfter': expected timestamp, found string"))
    }

    // MARK: R9 unknown members

    @Test func unknownMembers_AreIgnoredByDefault_AndReported() {
        let json = Self.create(groups: [Self.group(["KubernetesConfig": #"{"Taints":[{"Key":"a","Effect":"NoSchedule","Extra":1}]}"#])], #","EnableBurnInTest":true"#)
        let outcome = validator.validate(try! JSONParser.parse(json).objectValue!, shape: "CreateClusterRequest", strictMembers: false)
        #expect(outcome.error == nil)
        #expect(outcome.unknownMembers.map(\.name) == ["Extra", "EnableBurnInTest"])
    }

    @Test func unknownMembers_UnderStrictMembers_AreAValidationExceptionInBotocoreWording() {
        let json = Self.create(groups: [Self.group(["KubernetesConfig": #"{"Taints":[{"Key":"a","Effect":"NoSchedule","Extra":1}]}"#])], #","EnableBurnInTest":true"#)
        let error = check("CreateClusterRequest", json, strict: true)
        #expect(error == .validation("""
            Parameter validation failed:
            Unknown parameter in InstanceGroups[0].KubernetesConfig.Taints[0]: "Extra", must be one of: Key, Value, Effect
            Unknown parameter in input: "EnableBurnInTest", must be one of: ClusterName, InstanceGroups, RestrictedInstanceGroups, RestrictedInstanceGroupsConfig, VpcConfig, Tags, Orchestrator, NodeRecovery, TieredStorageConfig, NodeProvisioningMode, ClusterRole, AutoScaling
            """))
    }

    /// The compiled-in model is the pinned one (the `botocore==` line of Tests/e2e/requirements.txt, issue #15) and holds
    /// every HyperPod operation of the full operation list (clusters, extensions, operations, scheduler configs,
    /// training plans, compute quotas, reserved capacity) plus the tag operations, and nothing else.
    @Test func model_CoversTheHyperPodOperationsAndTags_OfThePinnedBotocore() throws {
        let model = ServiceModel.sageMakerClusters
        let requirements = try String(contentsOfFile: URL(fileURLWithPath: #filePath)
            .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("e2e/requirements.txt").path, encoding: .utf8)
        let pin = requirements.split(separator: "\n").first { $0.hasPrefix("botocore==") }.map { String($0.dropFirst("botocore==".count)) }
        #expect(model.botocoreVersion == pin)
        let hyperPod = SageMakerOperations.names.filter { name in
            ["Cluster", "TrainingPlan", "ComputeQuota", "ReservedCapacit"].contains { name.contains($0) }
        }
        #expect(Set(model.operations.keys) == hyperPod.union(["AddTags", "ListTags", "DeleteTags"]))
        for name in ["CreateCluster", "UpdateCluster", "ListClusterOperations", "MoveClusterNodes", "CreateTrainingPlan", "AddTags"] {
            #expect(model.operations[name]?.input != nil, "\(name)")
        }
    }
}
