import Foundation
import JSON
import SageMakerShapes
import Testing
@testable import HyperPodDomain

/// Spec R50–R64: each business check of CreateCluster with its exact message.
struct CreateClusterRulesTests {
    static let role = "arn:aws:iam::111122223333:role/r"
    static let lcc = #"{"SourceS3Uri":"s3://b/x","OnCreate":"on.sh"}"#
    static let vpc = #""VpcConfig":{"SecurityGroupIds":["sg-1"],"Subnets":["subnet-1"]}"#
    static let eks = #""Orchestrator":{"Eks":{"ClusterArn":"arn:aws:eks:us-east-1:111122223333:cluster/k"}}"#

    static func g(_ name: String = "g", _ extra: String = "", count: Int = 1, lifeCycle: Bool = true) -> String {
        #"{"InstanceGroupName":"\#(name)","InstanceType":"ml.c5.xlarge","InstanceCount":\#(count),"ExecutionRole":"\#(role)"\#(lifeCycle ? #","LifeCycleConfig":\#(lcc)"# : "")\#(extra)}"#
    }

    static func slurm(_ name: String, _ type: String, _ extra: String = "") -> String {
        g(name, #","SlurmConfig":{"NodeType":"\#(type)"\#(extra)}"#)
    }

    static func request(_ groups: [String], _ extra: String = "") -> CreateClusterRequest {
        let json = #"{"ClusterName":"c","InstanceGroups":[\#(groups.joined(separator: ","))]\#(extra.isEmpty ? "" : "," + extra)}"#
        return try! CreateClusterRequest(json: try! JSONParser.parse(json))
    }

    static let cases: [(String, CreateClusterRequest, String?)] = [
        ("valid legacy Slurm", request([g()]), nil),
        ("valid EKS", request([g()], "\(eks),\(vpc)"), nil),
        ("R50 duplicate name", request([g("a"), g("a")]), "Duplicate instance group name a."),
        ("R51 neither type nor requirements", request([#"{"InstanceGroupName":"x","InstanceCount":1,"ExecutionRole":"\#(role)"}"#]),
         "Exactly one of InstanceType or InstanceRequirements must be specified for instance group x."),
        ("R53 empty orchestrator", request([g()], #""Orchestrator":{}"#), "Orchestrator must specify exactly one of Eks or Slurm."),
        ("R54 EKS without VpcConfig", request([g()], eks), "VpcConfig is required for clusters with an Eks orchestrator."),
        ("R54 EKS group without LifeCycleConfig", request([g("w", lifeCycle: false)], "\(eks),\(vpc)"), "LifeCycleConfig is required for instance group w."),
        ("R55 both scripts", request([g("w", "").replacingOccurrences(of: #""OnCreate":"on.sh""#, with: #""OnCreate":"a.sh","OnInitComplete":"b.sh""#)]),
         "OnCreate and OnInitComplete in LifeCycleConfig are mutually exclusive for instance group w."),
        ("R55 no bucket", request([g("w").replacingOccurrences(of: #""SourceS3Uri":"s3://b/x","#, with: "")]),
         "LifeCycleConfig for instance group w is incomplete: SourceS3Uri is required when OnCreate or OnInitComplete is specified."),
        ("R55 empty", request([g("w", lifeCycle: false).replacingOccurrences(of: "}", with: #","LifeCycleConfig":{}}"#)]),
         "LifeCycleConfig for instance group w is provided but contains no configuration."),
        ("R57a Slurm orchestrator without SlurmConfig", request([g()], #""Orchestrator":{"Slurm":{}}"#),
         "InstanceGroups must have a SlurmConfig with Controller node type"),
        ("R57b some groups without SlurmConfig", request([slurm("c", "Controller"), g("w")]),
         "SlurmConfig must be specified for every instance group when any instance group specifies it."),
        ("R57c two controllers", request([slurm("c1", "Controller"), slurm("c2", "Controller")]),
         "Cluster must have exactly one InstanceGroup with Controller node type"),
        ("R57d two logins", request([slurm("c", "Controller"), slurm("l1", "Login"), slurm("l2", "Login")]),
         "Cluster must have at most one InstanceGroup with Login node type"),
        ("R57e partitions on the controller", request([slurm("c", "Controller", #","PartitionNames":["p"]"#)]),
         "Partitions can only be assigned to Compute node types"),
        ("valid API-driven Slurm", request([slurm("c", "Controller"), slurm("w", "Compute", #","PartitionNames":["p"]"#)]), nil),
        ("R58 SlurmConfig on EKS", request([slurm("c", "Controller")], "\(eks),\(vpc)"), "SlurmConfig is only supported for Slurm clusters."),
        ("R58 KubernetesConfig on Slurm", request([g("w", #","KubernetesConfig":{"Labels":{"a":"b"}}"#)]),
         "KubernetesConfig is only supported for clusters with an Eks orchestrator."),
        ("R59 FSx without VPC", request([g("w", #","InstanceStorageConfigs":[{"FsxLustreConfig":{"DnsName":"d","MountName":"m"}}]"#)]),
         "FSx configurations are only supported for Custom VPC"),
        ("R59 root volume with a size", request([g("w", #","InstanceStorageConfigs":[{"EbsVolumeConfig":{"RootVolume":true,"VolumeSizeInGB":100,"VolumeKmsKeyId":"k"}}]"#)]),
         "Root volume EbsVolumeConfig for instance group w must specify VolumeKmsKeyId and must not specify VolumeSizeInGB."),
        ("R59 secondary volume without a size", request([g("w", #","InstanceStorageConfigs":[{"EbsVolumeConfig":{}}]"#)]),
         "Secondary volume EbsVolumeConfig for instance group w must specify VolumeSizeInGB."),
        ("R59 two secondary volumes", request([g("w", #","InstanceStorageConfigs":[{"EbsVolumeConfig":{"VolumeSizeInGB":1}},{"EbsVolumeConfig":{"VolumeSizeInGB":2}}]"#)]),
         "At most one root and one secondary EbsVolumeConfig may be specified for instance group w."),
        ("R60 override VPC without cluster VPC", request([g("w", #","OverrideVpcConfig":{"SecurityGroupIds":["sg-1"],"Subnets":["subnet-1"]}"#)]),
         "OverrideVpcConfig requires a cluster-level VpcConfig for Slurm clusters."),
        ("R60 capacity requirements with both", request([g("w", #","CapacityRequirements":{"Spot":{},"OnDemand":{}}"#)]),
         "CapacityRequirements must specify exactly one of Spot or OnDemand."),
        ("R61 strategy on Continuous Slurm", request([slurm("c", "Controller")], #""Orchestrator":{"Slurm":{"SlurmConfigStrategy":"Managed"}},"NodeProvisioningMode":"Continuous""#),
         "SlurmConfigStrategy is not supported for clusters with NodeProvisioningMode set to Continuous."),
        ("R62 MinInstanceCount on legacy", request([g("w", #","MinInstanceCount":1"#)]),
         "MinInstanceCount is only supported for clusters with NodeProvisioningMode set to Continuous."),
        ("R62 MinInstanceCount over InstanceCount", request([g("w", #","MinInstanceCount":3"#, count: 2)], "\(eks),\(vpc),\"NodeProvisioningMode\":\"Continuous\""),
         "MinInstanceCount (3) must be less than or equal to InstanceCount (2) for instance group w."),
        ("R63 AutoScaling on Slurm", request([g()], #""AutoScaling":{"Mode":"Enable"}"#), "AutoScaling is only supported for clusters with an Eks orchestrator."),
        ("R63 AutoScaling not Continuous", request([g()], "\(eks),\(vpc),\"AutoScaling\":{\"Mode\":\"Enable\"}"),
         "AutoScaling requires NodeProvisioningMode to be set to Continuous."),
        ("R63 AutoScaling with NodeRecovery None", request([g()], "\(eks),\(vpc),\"NodeProvisioningMode\":\"Continuous\",\"NodeRecovery\":\"None\",\"AutoScaling\":{\"Mode\":\"Enable\"}"),
         "AutoScaling requires NodeRecovery to be set to Automatic."),
        ("R63 AutoScaling without ClusterRole", request([g()], "\(eks),\(vpc),\"NodeProvisioningMode\":\"Continuous\",\"AutoScaling\":{\"Mode\":\"Enable\"}"),
         "ClusterRole is required when AutoScaling Mode is Enable."),
        ("R63 AutoScaling complete (NodeRecovery omitted = Automatic)", request([g()], "\(eks),\(vpc),\"NodeProvisioningMode\":\"Continuous\",\"ClusterRole\":\"\(role)\",\"AutoScaling\":{\"Mode\":\"Enable\"}"), nil),
    ]

    @Test(arguments: cases)
    func rule_AnswersItsExactMessage(_ example: (String, CreateClusterRequest, String?)) {
        #expect(CreateClusterRules.firstViolation(example.1) == example.2, "\(example.0)")
    }

    @Test func restrictedInstanceGroups_AreRefusedAtCreateUnlessAllowed() throws {
        let json = #"{"ClusterName":"c","RestrictedInstanceGroups":[{"InstanceGroupName":"r","InstanceType":"ml.p5.48xlarge","InstanceCount":1,"ExecutionRole":"\#(Self.role)","EnvironmentConfig":{"FSxLustreConfig":{"SizeInGiB":1200,"PerUnitStorageThroughput":125}}}]}"#
        let request = try CreateClusterRequest(json: try JSONParser.parse(json))
        #expect(CreateClusterRules.firstViolation(request) == "Found RestrictedInstanceGroups in the cluster input. Please remove RestrictedInstanceGroups from the request and try again.")
        #expect(CreateClusterRules.firstViolation(request, allowRestrictedGroups: true) == nil)
    }

    @Test func aSharedEnvironment_IsRefusedLikeRestrictedGroups_AndNeedsOne() throws {
        let shared = #""RestrictedInstanceGroupsConfig":{"SharedEnvironmentConfig":{"FSxLustreDeletionPolicy":"Keep","FSxLustreConfig":{"SizeInGiB":1200,"PerUnitStorageThroughput":125}}}"#
        let alone = try CreateClusterRequest(json: try JSONParser.parse(#"{"ClusterName":"c",\#(shared),"InstanceGroups":[{"InstanceGroupName":"a","InstanceType":"ml.c5.xlarge","InstanceCount":1,"ExecutionRole":"\#(Self.role)","LifeCycleConfig":{"SourceS3Uri":"s3://b/l/","OnCreate":"c.sh"}}]}"#))
        // R64 first (R341: subject to it like the groups), then R341's own rule.
        #expect(CreateClusterRules.firstViolation(alone) == "Found RestrictedInstanceGroups in the cluster input. Please remove RestrictedInstanceGroups from the request and try again.")
        #expect(CreateClusterRules.firstViolation(alone, allowRestrictedGroups: true) == CreateClusterRules.sharedEnvironmentWithoutRestrictedGroups)
    }
}
