"""MoveClusterNodes (issue #15, spec §19.3, R320–R326), on a manual clock with the fast profile (T_term = T_launch =
T_dhc = 1 s). The operation is new in botocore 1.44: on the 1.43 SDK run the module is skipped."""
import pytest

from test_clusters import admin, group
from test_update_cluster import EKS_ARN, VPC, advance, error_of, groups_of, legacy, nodes, settle

PER_CLUSTER = "Maximum number instances allowed per SageMaker HyperPod cluster"


@pytest.fixture(autouse=True)
def needs_botocore_1_44(sm):
    if "MoveClusterNodes" not in sm.meta.service_model.operation_names:
        pytest.skip("MoveClusterNodes is new in botocore 1.44; this SDK has no method for it")


def eks(sm, server, name, *groups):
    arn = sm.create_cluster(ClusterName=name, InstanceGroups=list(groups), VpcConfig=VPC, NodeProvisioningMode="Continuous",
                            Orchestrator={"Eks": {"ClusterArn": f"{EKS_ARN}-{name}"}})["ClusterArn"]  # one EKS cluster each (R53)
    assert settle(server)
    return arn


def ids(sm, name, group_name):
    return sorted(n["InstanceId"] for n in nodes(sm, name, InstanceGroupNameContains=group_name)
                  if n["InstanceGroupName"] == group_name)


def move(sm, source, source_group, target, target_group, **selector):
    out = sm.move_cluster_nodes(SourceClusterArn=source, SourceInstanceGroupName=source_group, TargetClusterArn=target,
                                TargetInstanceGroupName=target_group, **selector)
    out.pop("ResponseMetadata")
    return out


def counts(sm, name):
    return {n: (g["CurrentCount"], g["TargetCount"]) for n, g in groups_of(sm, name).items()}


def node(sm, name, node_id):
    return sm.describe_cluster_node(ClusterName=name, NodeId=node_id)["NodeDetails"]


def operations(sm, name):
    return sm.list_cluster_operations(ClusterName=name, MaxResults=100)["ClusterOperationSummaries"]


def events(sm, name):
    return sm.list_cluster_events(ClusterName=name, MaxResults=100, SortOrder="Ascending")["Events"]


def test_R302_R324_a_node_moves_to_another_cluster_keeping_its_identity_detach_then_attach_then_running(manual, sm):
    source = eks(sm, manual, "src", group("a", 3))
    target = eks(sm, manual, "dst", group("b", 1))
    moving = ids(sm, "src", "a")[0]
    before = node(sm, "src", moving)
    assert move(sm, source, "a", target, "b", NodeIds=[moving]) == {"Successful": [moving]}
    # At acceptance: TargetCounts move at once; the node is DetachInProgress in the source and still counted there.
    assert counts(sm, "src") == {"a": (3, 2)} and counts(sm, "dst") == {"b": (1, 2)}
    assert node(sm, "src", moving)["InstanceStatus"]["Status"] == "DetachInProgress"
    advance(manual, 1)  # T_term: the node leaves the source and appears in the target
    assert error_of(sm.describe_cluster_node, ClusterName="src", NodeId=moving) == (
        "ResourceNotFound", f"Could not find node '{moving}' in cluster '{source}'")
    assert counts(sm, "src") == {"a": (2, 2)}
    arrived = node(sm, "dst", moving)
    assert arrived["InstanceStatus"]["Status"] == "AttachInProgress" and arrived["InstanceGroupName"] == "b"
    for kept in ("InstanceId", "NodeLogicalId", "PrivatePrimaryIp", "PrivateDnsHostname", "LaunchTime", "Placement", "InstanceType"):
        assert arrived[kept] == before[kept], kept
    assert counts(sm, "dst") == {"b": (1, 2)}  # counted once Running
    advance(manual, 1)  # T_launch: the target group's scripts ran
    assert node(sm, "dst", moving)["InstanceStatus"]["Status"] == "Running"
    assert counts(sm, "dst") == {"b": (2, 2)}
    assert moving in ids(sm, "dst", "b") and moving not in ids(sm, "src", "a")


def test_R324_R325_R306_one_scaling_operation_per_cluster_and_the_move_events_carry_it(manual, sm):
    source = eks(sm, manual, "src", group("a", 2))
    target = eks(sm, manual, "dst", group("b", 1))
    moving = ids(sm, "src", "a")[0]
    before = {c: {o["OperationId"] for o in operations(sm, c)} for c in ("src", "dst")}
    move(sm, source, "a", target, "b", NodeIds=[moving])
    [src_op] = [o for o in operations(sm, "src") if o["OperationId"] not in before["src"]]
    [dst_op] = [o for o in operations(sm, "dst") if o["OperationId"] not in before["dst"]]
    assert (src_op["Type"], src_op["Status"]) == ("Scaling", "InProgress")
    detail = sm.describe_cluster_operation(ClusterName="dst", OperationId=dst_op["OperationId"])
    assert scaling_details(detail) == [("b", 1, 2)]
    assert settle(manual)
    assert {o["OperationId"]: o["Status"] for o in operations(sm, "src")}[src_op["OperationId"]] == "Done"
    assert {o["OperationId"]: o["Status"] for o in operations(sm, "dst")}[dst_op["OperationId"]] == "Done"
    src_events = [(e["Description"], e.get("OperationId")) for e in events(sm, "src") if e.get("InstanceId") == moving]
    assert (f"Instance {moving} is moving from IG a in Cluster src to IG b in Cluster dst", src_op["OperationId"]) in src_events
    dst_events = [e["Description"] for e in events(sm, "dst") if e.get("InstanceId") == moving]
    assert dst_events == [f"EC2 Instance {moving} moved into Cluster dst and IG b",
                          f"Instance lifecycle script execution for EC2 Instance {moving} has Succeeded",
                          f"Instance move {moving} in Cluster dst and IG b completed successfully"]
    assert all(e.get("OperationId") == dst_op["OperationId"] for e in events(sm, "dst") if e.get("InstanceId") == moving)


def scaling_details(described):
    """(group, original TargetCount, desired TargetCount) of a Scaling operation's details."""
    return [(d["InstanceGroupName"], d["Original"]["TargetCount"], d["Desired"]["TargetCount"]) for d in described["ScalingDetails"]]


def test_R324_within_one_cluster_one_operation_with_both_groups_and_logical_ids(manual, sm):
    arn = eks(sm, manual, "k", group("a", 2), group("b", 1))
    logical = sorted(n["NodeLogicalId"] for n in nodes(sm, "k") if n["InstanceGroupName"] == "a")[0]
    before = {o["OperationId"] for o in operations(sm, "k")}
    assert move(sm, arn, "a", arn, "b", NodeLogicalIds=[logical, logical]) == {"SuccessfulNodeLogicalIds": [logical]}  # once (R98)
    [op] = [o for o in operations(sm, "k") if o["OperationId"] not in before]
    described = sm.describe_cluster_operation(ClusterName="k", OperationId=op["OperationId"])
    assert sorted(scaling_details(described)) == [("a", 2, 1), ("b", 1, 2)]
    assert settle(manual)
    assert counts(sm, "k") == {"a": (1, 1), "b": (2, 2)}
    moved = [n for n in nodes(sm, "k") if n["NodeLogicalId"] == logical]
    assert [(n["InstanceGroupName"], n["InstanceStatus"]["Status"]) for n in moved] == [("b", "Running")]


def test_R320_R321_request_checks_in_order_nothing_moves(manual, sm):
    source = eks(sm, manual, "src", group("a", 2), group("a2", 1))
    target = eks(sm, manual, "dst", group("b", 1))
    one = ids(sm, "src", "a")[0]
    elsewhere = source.replace("us-east-1", "eu-west-1")
    message = "SourceClusterArn and TargetClusterArn must be in the account and Region of the request."
    assert error_of(sm.move_cluster_nodes, SourceClusterArn=elsewhere, SourceInstanceGroupName="a", TargetClusterArn=target,
                    TargetInstanceGroupName="b", NodeIds=[one]) == ("ValidationException", message)
    missing = target[:-12] + "zzzzzzzzzzzz"
    assert error_of(sm.move_cluster_nodes, SourceClusterArn=source, SourceInstanceGroupName="a", TargetClusterArn=missing,
                    TargetInstanceGroupName="b", NodeIds=[one]) == ("ResourceNotFound", f"Could not find cluster '{missing}'")
    legacy_arn = legacy(sm, manual, name="slurm")
    assert error_of(sm.move_cluster_nodes, SourceClusterArn=source, SourceInstanceGroupName="a", TargetClusterArn=legacy_arn,
                    TargetInstanceGroupName="a", NodeIds=[one]) == (
        "ValidationException",
        "MoveClusterNodes is only supported for clusters with an Eks orchestrator and NodeProvisioningMode set to Continuous.")
    sm.update_cluster(ClusterName="dst", InstanceGroups=[group("b", 1)], NodeRecovery="None")  # a cluster-level change: Updating
    assert error_of(sm.move_cluster_nodes, SourceClusterArn=source, SourceInstanceGroupName="a", TargetClusterArn=target,
                    TargetInstanceGroupName="b", NodeIds=[one]) == (
        "ValidationException", "Cluster dst is in Updating state and cannot move nodes.")
    assert settle(manual)
    assert error_of(sm.move_cluster_nodes, SourceClusterArn=source, SourceInstanceGroupName="a", TargetClusterArn=target,
                    TargetInstanceGroupName="nope", NodeIds=[one]) == (
        "ValidationException", "Instance group nope not found in cluster dst.")
    assert error_of(sm.move_cluster_nodes, SourceClusterArn=source, SourceInstanceGroupName="a", TargetClusterArn=source,
                    TargetInstanceGroupName="a", NodeIds=[one]) == (
        "ValidationException", "TargetInstanceGroupName must differ from SourceInstanceGroupName when both are in the same cluster.")
    for selectors in ({}, {"NodeIds": [one], "InstanceCount": 1}):
        assert error_of(sm.move_cluster_nodes, SourceClusterArn=source, SourceInstanceGroupName="a", TargetClusterArn=target,
                        TargetInstanceGroupName="b", **selectors) == (
            "ValidationException", "Specify exactly one of NodeIds, NodeLogicalIds, or InstanceCount.")
    # R321: compatibility of the two groups.
    threads = eks(sm, manual, "smt", group("t", 1, ThreadsPerCore=1))
    assert error_of(sm.move_cluster_nodes, SourceClusterArn=source, SourceInstanceGroupName="a", TargetClusterArn=threads,
                    TargetInstanceGroupName="t", NodeIds=[one]) == (
        "ValidationException", "Instance groups a and t are not compatible: ThreadsPerCore differs.")
    assert counts(sm, "src") == {"a": (2, 2), "a2": (1, 1)} and counts(sm, "dst") == {"b": (1, 1)}
    assert node(sm, "src", one)["InstanceStatus"]["Status"] == "Running"


def test_R322_per_node_failures_with_the_model_codes_and_none_movable_is_refused(manual, sm):
    source = eks(sm, manual, "src", group("a", 3), group("other", 1), group("s", 2))
    target = eks(sm, manual, "dst", group("b", 1), group("big", 1, InstanceType="ml.c5.2xlarge"),
                 group("far", 1, OverrideVpcConfig={"SecurityGroupIds": VPC["SecurityGroupIds"], "Subnets": ["subnet-0aaa"]}))
    a = ids(sm, "src", "a")
    [stranger] = ids(sm, "src", "other")
    sm.attach_cluster_node_volume(ClusterArn=source, NodeId=a[0], VolumeId="vol-0123456789abcdef0")  # attaching for T_config
    out = move(sm, source, "a", target, "b", NodeIds=[a[0], stranger, "i-00000000000000000", a[1]])
    assert out["Successful"] == [a[1]]
    assert out["Failed"] == [
        {"Code": "NodeIdInUse", "Message": f"Another operation is in progress for node {a[0]}.", "NodeId": a[0]},
        {"Code": "NodeIdNotFound", "Message": f"Node {stranger} not found in instance group a of cluster src.", "NodeId": stranger},
        {"Code": "NodeIdNotFound", "Message": "Node i-00000000000000000 not found in instance group a of cluster src.",
         "NodeId": "i-00000000000000000"}]
    advance(manual, 1)  # the volume is attached now
    assert error_of(sm.move_cluster_nodes, SourceClusterArn=source, SourceInstanceGroupName="a", TargetClusterArn=target,
                    TargetInstanceGroupName="b", NodeIds=[a[0], a[1]]) == (
        "ValidationException", f"None of the specified nodes could be moved: {a[0]} (InvalidNodeStatus), {a[1]} (NodeIdNotFound)")
    assert node(sm, "dst", a[1])["InstanceStatus"]["Status"] == "AttachInProgress"  # a[1] has left the source (T_term)
    assert error_of(sm.move_cluster_nodes, SourceClusterArn=source, SourceInstanceGroupName="a", TargetClusterArn=target,
                    TargetInstanceGroupName="big", NodeIds=[a[2]]) == (
        "ValidationException", f"None of the specified nodes could be moved: {a[2]} (NodeInstanceTypeMismatch)")
    # Group s has one node in each of the cluster's subnets (round robin, R116); far has only the first subnet.
    out = move(sm, source, "s", target, "far", NodeIds=ids(sm, "src", "s"))
    [moved], [failure] = out["Successful"], out["Failed"]
    assert (failure["Code"], failure["Message"]) == (
        "InvalidNodeStatus", f"Node {failure['NodeId']} is in subnet subnet-0bbb, which is not a subnet of instance group far.")


def test_R323_instance_count_takes_the_newest_nodes_all_or_nothing_and_keeps_min_count(manual, sm):
    source = eks(sm, manual, "src", group("a", 2, MinInstanceCount=1))
    target = eks(sm, manual, "dst", group("b", 1))
    sm.batch_add_cluster_nodes(ClusterName="src", NodesToAdd=[{"InstanceGroupName": "a", "IncrementTargetCountBy": 1}])
    advance(manual, 1)
    newest = max(nodes(sm, "src"), key=lambda n: (n["LaunchTime"], n["InstanceId"]))["InstanceId"]
    assert error_of(sm.move_cluster_nodes, SourceClusterArn=source, SourceInstanceGroupName="a", TargetClusterArn=target,
                    TargetInstanceGroupName="b", InstanceCount=4) == (
        "ValidationException", "Only 3 nodes of instance group a are eligible to move; 4 were requested.")
    assert error_of(sm.move_cluster_nodes, SourceClusterArn=source, SourceInstanceGroupName="a", TargetClusterArn=target,
                    TargetInstanceGroupName="b", InstanceCount=3) == (
        "ValidationException", "Moving 3 nodes would reduce instance group a below its MinInstanceCount (1).")
    assert move(sm, source, "a", target, "b", InstanceCount=1) == {"Successful": [newest]}
    assert counts(sm, "src") == {"a": (3, 2)}


def test_R323_the_per_cluster_quota_is_checked_for_the_target_cluster(make_server):
    server = make_server("--clock", "manual", "--quota", f"{PER_CLUSTER}=2")
    from conftest import make_client
    sm = make_client(server.endpoint)
    if "MoveClusterNodes" not in sm.meta.service_model.operation_names:
        pytest.skip("MoveClusterNodes is new in botocore 1.44")
    source = eks(sm, server, "src", group("a", 2))
    target = eks(sm, server, "dst", group("b", 2))
    code, message = error_of(sm.move_cluster_nodes, SourceClusterArn=source, SourceInstanceGroupName="a", TargetClusterArn=target,
                             TargetInstanceGroupName="b", InstanceCount=1)
    assert code == "ResourceLimitExceeded"
    assert message.startswith(f"The account-level service limit '{PER_CLUSTER}' is 2 Instances, with current utilization of 2 "
                              "Instances and a request delta of 1 Instances.")


def test_R326_client_token_replays_the_first_answer_and_refuses_other_parameters(manual, sm):
    source = eks(sm, manual, "src", group("a", 3))
    target = eks(sm, manual, "dst", group("b", 1))
    a = ids(sm, "src", "a")
    first = move(sm, source, "a", target, "b", NodeIds=[a[0]], ClientToken="tok-1")
    assert move(sm, source, "a", target, "b", NodeIds=[a[0]], ClientToken="tok-1") == first
    assert counts(sm, "dst") == {"b": (1, 2)}  # no second move
    assert error_of(sm.move_cluster_nodes, SourceClusterArn=source, SourceInstanceGroupName="a", TargetClusterArn=target,
                    TargetInstanceGroupName="b", NodeIds=[a[1]], ClientToken="tok-1") == (
        "ValidationException", "ClientToken tok-1 was already used with different parameters.")


def test_R326_deleting_the_source_mid_move_terminates_the_detaching_nodes_and_the_target_shrinks_back(manual, sm):
    source = eks(sm, manual, "src", group("a", 2))
    target = eks(sm, manual, "dst", group("b", 1))
    moving = ids(sm, "src", "a")[0]
    move(sm, source, "a", target, "b", NodeIds=[moving])
    assert counts(sm, "dst") == {"b": (1, 2)}
    sm.delete_cluster(ClusterName="src")
    assert counts(sm, "dst") == {"b": (1, 1)}
    assert settle(manual)
    assert [c["ClusterName"] for c in sm.list_clusters()["ClusterSummaries"]] == ["dst"]
    assert moving not in ids(sm, "dst", "b") and counts(sm, "dst") == {"b": (1, 1)}


def test_R326_deleting_the_target_mid_move_returns_the_nodes_to_the_source(manual, sm):
    source = eks(sm, manual, "src", group("a", 2))
    target = eks(sm, manual, "dst", group("b", 1))
    moving = ids(sm, "src", "a")[0]
    move(sm, source, "a", target, "b", NodeIds=[moving])
    sm.delete_cluster(ClusterName="dst")
    assert settle(manual)
    assert node(sm, "src", moving)["InstanceStatus"]["Status"] == "Running"
    assert counts(sm, "src") == {"a": (2, 2)}
    assert sm.describe_cluster(ClusterName="src")["ClusterStatus"] == "InService"


def test_R324_the_target_groups_deep_health_checks_run_before_running(manual, sm):
    source = eks(sm, manual, "src", group("a", 2))
    target = eks(sm, manual, "dst", group("b", 1, OnStartDeepHealthChecks=["InstanceStress"]))
    moving = ids(sm, "src", "a")[0]
    move(sm, source, "a", target, "b", NodeIds=[moving])
    advance(manual, 1)
    advance(manual, 1)  # scripts ran: deep health checks for T_dhc
    assert node(sm, "dst", moving)["InstanceStatus"]["Status"] == "DeepHealthCheckInProgress"
    advance(manual, 1)
    assert node(sm, "dst", moving)["InstanceStatus"]["Status"] == "Running"


def test_R324_a_move_survives_a_restart_mid_hand_off(make_server, tmp_path):
    db = str(tmp_path / "move.sqlite")
    server = make_server("--clock", "manual", "--db", db, in_memory=False)
    from conftest import make_client
    sm = make_client(server.endpoint)
    if "MoveClusterNodes" not in sm.meta.service_model.operation_names:
        pytest.skip("MoveClusterNodes is new in botocore 1.44")
    source = eks(sm, server, "src", group("a", 2))
    target = eks(sm, server, "dst", group("b", 1))
    moving = ids(sm, "src", "a")[0]
    move(sm, source, "a", target, "b", NodeIds=[moving])
    server.stop()
    again = make_server("--clock", "manual", "--db", db, in_memory=False)
    sm = make_client(again.endpoint)
    assert node(sm, "src", moving)["InstanceStatus"]["Status"] == "DetachInProgress"
    assert settle(again)
    assert node(sm, "dst", moving)["InstanceStatus"]["Status"] == "Running"
    assert counts(sm, "src") == {"a": (1, 1)} and counts(sm, "dst") == {"b": (2, 2)}


def test_R326_deleting_the_source_group_mid_move_withdraws_the_move_from_the_target(manual, sm):
    source = eks(sm, manual, "src", group("a", 3), group("a2", 1))
    target = eks(sm, manual, "dst", group("b", 1))
    moving = ids(sm, "src", "a")[:2]
    move(sm, source, "a", target, "b", NodeIds=moving)
    sm.update_cluster(ClusterName="src", InstanceGroups=[group("a2", 1)], InstanceGroupsToDelete=["a"])
    assert counts(sm, "dst") == {"b": (1, 1)}  # the nodes will not come
    assert settle(manual)
    assert counts(sm, "dst") == {"b": (1, 1)} and "ActiveOperations" not in sm.describe_cluster(ClusterName="dst")
    assert all(o["Status"] != "InProgress" for o in operations(sm, "dst"))
    assert [e["Description"] for e in events(sm, "dst") if e.get("EventLevel") == "Warn"] == [
        "Instance move of 2 nodes from Cluster src into Cluster dst and IG b failed"]
    assert not set(moving) & set(ids(sm, "dst", "b"))
    # Within one cluster, the same.
    arn = eks(sm, manual, "one", group("x", 2), group("y", 1))
    move(sm, arn, "x", arn, "y", NodeIds=ids(sm, "one", "x")[:1])
    sm.update_cluster(ClusterName="one", InstanceGroups=[group("y", 2)], InstanceGroupsToDelete=["x"])
    assert settle(manual)
    # y's TargetCount of 2 held the node on its way (the update kept it); that node will not come, so y shrinks back.
    assert counts(sm, "one") == {"y": (1, 1)}


def test_R324_scaling_the_target_down_mid_move_converges_taking_the_arriving_nodes_first(manual, sm):
    source = eks(sm, manual, "src", group("a", 3))
    target = eks(sm, manual, "dst", group("b", 1), group("b2", 1))
    [resident] = ids(sm, "dst", "b")
    move(sm, source, "a", target, "b", NodeIds=ids(sm, "src", "a")[:2])
    sm.update_cluster(ClusterName="dst", InstanceGroups=[group("b", 1), group("b2", 1)])  # TargetCount 3 → 1 before the hand-off
    assert settle(manual)
    assert counts(sm, "dst") == {"b": (1, 1), "b2": (1, 1)}
    assert ids(sm, "dst", "b") == [resident]  # the node that was there stays; the arrivals were the excess
    assert all(o["Status"] != "InProgress" for o in operations(sm, "dst"))
    assert counts(sm, "src") == {"a": (1, 1)}


def test_R326_a_client_token_belongs_to_the_caller_not_to_one_source_cluster(manual, sm):
    a = eks(sm, manual, "src", group("a", 2))
    b = eks(sm, manual, "dst", group("b", 2))
    move(sm, a, "a", b, "b", NodeIds=ids(sm, "src", "a")[:1], ClientToken="tok-1")
    assert error_of(sm.move_cluster_nodes, SourceClusterArn=b, SourceInstanceGroupName="b", TargetClusterArn=a,
                    TargetInstanceGroupName="a", NodeIds=ids(sm, "dst", "b")[:1], ClientToken="tok-1") == (
        "ValidationException", "ClientToken tok-1 was already used with different parameters.")


def test_R326_a_target_count_lowered_mid_move_then_withdrawn_never_goes_below_its_nodes(manual, sm):
    source = eks(sm, manual, "src", group("a", 3))
    target = eks(sm, manual, "dst", group("b", 1))
    move(sm, source, "a", target, "b", NodeIds=ids(sm, "src", "a"))
    sm.update_cluster(ClusterName="dst", InstanceGroups=[group("b", 2)])  # 1 there + 3 coming, asked for 2
    sm.delete_cluster(ClusterName="src")  # the 3 will not come
    assert settle(manual)
    assert counts(sm, "dst") == {"b": (1, 1)}  # never below the node it has, never below 0
    assert all(o["Status"] != "InProgress" for o in operations(sm, "dst"))
    assert "ActiveOperations" not in groups_of(sm, "dst")["b"]
