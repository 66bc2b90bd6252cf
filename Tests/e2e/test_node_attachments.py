"""Volume and network-interface attachments (issue #15, spec §19.4, R327–R333, RA21, RA22), on a manual clock with the
fast profile (T_config 1 s). The volume operations are in both SDK generations (1.43 had them, answered 501 before);
AttachClusterNodeNetworkInterface is new in 1.44, so its test is skipped on the 1.43 run."""
import pytest

from test_clusters import admin, group
from test_update_cluster import EKS_ARN, VPC, advance, error_of, legacy, nodes, settle

VOLUME, OTHER_VOLUME = "vol-0123456789abcdef0", "vol-0fedcba9876543210"
ENI = "eni-0123456789abcdef0"
EC2 = "HyperPod - Ec2ErrCode: {} : Ec2ErrMsg: {}"


@pytest.fixture(autouse=True)
def needs_botocore_1_44(sm):
    if "AttachClusterNodeVolume" not in sm.meta.service_model.operation_names:
        pytest.skip("the attachment operations are new in botocore 1.44; this SDK has no method for them")


def eks_cluster(sm, server, name="k", groups=None):
    arn = sm.create_cluster(ClusterName=name, InstanceGroups=groups or [group("a", 2)], VpcConfig=VPC,
                            Orchestrator={"Eks": {"ClusterArn": EKS_ARN}})["ClusterArn"]
    assert settle(server)
    return arn, sorted(n["InstanceId"] for n in nodes(sm, name))


def attach(sm, arn, node, volume=VOLUME):
    out = sm.attach_cluster_node_volume(ClusterArn=arn, NodeId=node, VolumeId=volume)
    out.pop("ResponseMetadata")
    return out


def test_R329_R346_attach_is_attaching_then_attached_and_a_repeat_answers_the_same_attachment(manual, sm):
    arn, (node, _) = eks_cluster(sm, manual)
    first = attach(sm, arn, node)
    assert (first["ClusterArn"], first["NodeId"], first["VolumeId"], first["Status"], first["DeviceName"]) == (
        arn, node, VOLUME, "attaching", "/dev/xvdb")
    assert attach(sm, arn, node, OTHER_VOLUME)["DeviceName"] == "/dev/xvdc"  # the lowest free name
    advance(manual, 1)  # T_config
    again = attach(sm, arn, node)
    assert again == dict(first, Status="attached")  # same AttachTime and DeviceName, current status
    # Detach: detaching with the original AttachTime and DeviceName; the same detach again answers the same; after
    # T_config the attachment is gone and its name is free again.
    detached = sm.detach_cluster_node_volume(ClusterArn=arn, NodeId=node, VolumeId=VOLUME)
    assert (detached["Status"], detached["DeviceName"], detached["AttachTime"]) == ("detaching", "/dev/xvdb", first["AttachTime"])
    assert sm.detach_cluster_node_volume(ClusterArn=arn, NodeId=node, VolumeId=VOLUME)["Status"] == "detaching"
    assert settle(manual)  # R346: settle waits for the detach
    assert error_of(sm.detach_cluster_node_volume, ClusterArn=arn, NodeId=node, VolumeId=VOLUME) == (
        "ValidationException", EC2.format("InvalidAttachment.NotFound", "Attachment not found"))
    assert attach(sm, arn, node, "vol-00000000000000001")["DeviceName"] == "/dev/xvdb"


def test_R327_checks_in_order_cluster_orchestrator_state_node(manual, sm):
    legacy(sm, manual)  # no EKS orchestrator
    slurm_arn = sm.describe_cluster(ClusterName="c")["ClusterArn"]
    slurm_node = nodes(sm, "c")[0]["InstanceId"]
    assert error_of(sm.attach_cluster_node_volume, ClusterArn=slurm_arn, NodeId=slurm_node, VolumeId=VOLUME) == (
        "ValidationException", "AttachClusterNodeVolume is only supported for clusters with an Eks orchestrator.")
    assert error_of(sm.detach_cluster_node_volume, ClusterArn=slurm_arn, NodeId=slurm_node, VolumeId=VOLUME) == (
        "ValidationException", "DetachClusterNodeVolume is only supported for clusters with an Eks orchestrator.")
    arn, (node, _) = eks_cluster(sm, manual)
    missing = arn[:-12] + "zzzzzzzzzzzz"
    assert error_of(sm.attach_cluster_node_volume, ClusterArn=missing, NodeId=node, VolumeId=VOLUME) == (
        "ResourceNotFound", f"Could not find cluster '{missing}'")
    assert error_of(sm.attach_cluster_node_volume, ClusterArn=arn, NodeId="i-00000000000000000", VolumeId=VOLUME) == (
        "ResourceNotFound", f"Could not find node 'i-00000000000000000' in cluster '{arn}'")
    sm.update_cluster(ClusterName="k", InstanceGroups=[group("a", 3)])
    assert error_of(sm.attach_cluster_node_volume, ClusterArn=arn, NodeId=node, VolumeId=VOLUME) == (
        "ValidationException", "Cluster k is in Updating state; volumes can be attached or detached only while it is InService.")


def test_R328_R330_RA22_volume_errors_in_the_ec2_wrapped_form(manual, sm):
    arn, (node, other) = eks_cluster(sm, manual)
    admin(manual, "/_hyperpod/faults", {"kind": "ebs-volume", "volumeId": "vol-00000000000000bad", "state": "missing"})
    assert error_of(sm.attach_cluster_node_volume, ClusterArn=arn, NodeId=node, VolumeId="vol-00000000000000bad") == (
        "ValidationException", EC2.format("InvalidVolume.NotFound", "The volume 'vol-00000000000000bad' does not exist."))
    admin(manual, "/_hyperpod/faults", {"kind": "ebs-volume", "volumeId": "vol-000000000000000f2", "availabilityZone": "elsewhere-1z"})
    assert error_of(sm.attach_cluster_node_volume, ClusterArn=arn, NodeId=node, VolumeId="vol-000000000000000f2") == (
        "ValidationException", EC2.format("InvalidVolume.ZoneMismatch",
                                          f"The volume 'vol-000000000000000f2' is not in the same availability zone as instance '{node}'."))
    attach(sm, arn, node)
    assert error_of(sm.attach_cluster_node_volume, ClusterArn=arn, NodeId=other, VolumeId=VOLUME) == (
        "ValidationException", EC2.format("VolumeInUse", f"{VOLUME} is already attached to an instance"))
    # R330: a volume still attaching cannot be detached.
    assert error_of(sm.detach_cluster_node_volume, ClusterArn=arn, NodeId=node, VolumeId=VOLUME) == (
        "ValidationException", EC2.format("IncorrectState", f"Volume '{VOLUME}' is in the 'attaching' state."))
    # RA21: a lower limit per partition.
    admin(manual, "/_hyperpod/settings", {"volumeAttachmentLimit": 2}, method="PUT")
    attach(sm, arn, node, OTHER_VOLUME)
    assert error_of(sm.attach_cluster_node_volume, ClusterArn=arn, NodeId=node, VolumeId="vol-00000000000000003") == (
        "ValidationException", EC2.format("AttachmentLimitExceeded", "Volume attachment limit exceeded"))


def test_R331_attachments_survive_a_reboot_and_end_with_the_instance(manual, sm):
    arn, (node, other) = eks_cluster(sm, manual)
    attach(sm, arn, node)
    sm.batch_reboot_cluster_nodes(ClusterName="k", NodeIds=[node])
    assert settle(manual)
    assert attach(sm, arn, node)["Status"] == "attached"  # still there
    sm.batch_delete_cluster_nodes(ClusterName="k", NodeIds=[node])
    assert settle(manual)
    # The instance is gone: so is its attachment, and the volume is free for another node.
    assert attach(sm, arn, other)["NodeId"] == other


def test_R332_R333_network_interfaces(manual, sm):
    if "AttachClusterNodeNetworkInterface" not in sm.meta.service_model.operation_names:
        pytest.skip("AttachClusterNodeNetworkInterface is new in botocore 1.44; this SDK has no method for it")
    legacy(sm, manual)  # any orchestrator
    arn = sm.describe_cluster(ClusterName="c")["ClusterArn"]
    node, other = sorted(n["InstanceId"] for n in nodes(sm, "c") if n["InstanceGroupName"] == "a")
    out = sm.attach_cluster_node_network_interface(ClusterName="c", NodeId=node, NetworkInterfaceId=ENI)
    assert (out["ClusterArn"], out["NodeId"], out["NetworkInterfaceId"]) == (arn, node, ENI)
    assert out["AttachmentId"].startswith("eni-attach-") and len(out["AttachmentId"]) == len("eni-attach-") + 17
    again = sm.attach_cluster_node_network_interface(ClusterName=arn, NodeId=node, NetworkInterfaceId=ENI)
    assert again["AttachmentId"] == out["AttachmentId"]
    assert error_of(sm.attach_cluster_node_network_interface, ClusterName="c", NodeId=other, NetworkInterfaceId=ENI) == (
        "ValidationException", EC2.format("InvalidNetworkInterface.InUse", f"Interface: [{ENI}] in use."))
    admin(manual, "/_hyperpod/faults", {"kind": "network-interface", "networkInterfaceId": "eni-00000000000000bad", "state": "missing"})
    assert error_of(sm.attach_cluster_node_network_interface, ClusterName="c", NodeId=node, NetworkInterfaceId="eni-00000000000000bad") == (
        "ValidationException", EC2.format("InvalidNetworkInterfaceID.NotFound", "The networkInterface ID 'eni-00000000000000bad' does not exist"))
    admin(manual, "/_hyperpod/settings", {"networkInterfaceLimit": 1}, method="PUT")
    assert error_of(sm.attach_cluster_node_network_interface, ClusterName="c", NodeId=node, NetworkInterfaceId="eni-00000000000000002") == (
        "ResourceLimitExceeded", f"The maximum number of network interfaces (1) is already attached to node {node}.")
    state = admin(manual, "/_hyperpod/state")
    [cluster] = state["clusters"]
    assert [(a["Kind"], a["ResourceId"], a["AttachmentId"]) for a in cluster["Attachments"]] == [
        ("network-interface", ENI, out["AttachmentId"])]
    sm.update_cluster(ClusterName="c", InstanceGroups=[group("a", 3), group("b", 1)])
    assert sm.describe_cluster(ClusterName="c")["ClusterStatus"] == "Updating"  # not one of R97's refused states
    assert sm.attach_cluster_node_network_interface(ClusterName="c", NodeId=other, NetworkInterfaceId="eni-00000000000000003")["AttachmentId"]
    sm.delete_cluster(ClusterName="c")
    assert error_of(sm.attach_cluster_node_network_interface, ClusterName="c", NodeId=other, NetworkInterfaceId="eni-00000000000000004") == (
        "ValidationException", "Cluster c is in Deleting state and cannot have network interfaces attached.")


def test_R329_with_instant_timing_the_answer_is_already_attached(make_server):
    from conftest import make_client
    server = make_server("--clock", "manual", "--timing", "instant")
    sm = make_client(server.endpoint)
    arn, (node, _) = eks_cluster(sm, server)
    assert attach(sm, arn, node)["Status"] == "attached"
