"""UpdateCluster end to end (issue #5; spec §7, with R47, R84, R116–R118, RA4, RA5, RA11), on the release binary with
boto3. Every test runs on a manual clock with the fast profile (T_setup 2 s, T_launch/T_config/T_term/T_rollback 1 s,
T_retry 2 s, T_min 3 h) and moves time only through the admin API: nothing sleeps for a state.
Each test is named after the rule it checks."""
import concurrent.futures
import json
import os
import threading

import pytest
from botocore.exceptions import ClientError

from conftest import ROOT, Server, make_client
from http_client import Reader, post
from test_clusters import CORPUS, ROLE, admin, group
from test_validation import CORPUS_OUTCOMES

EKS_ARN = "arn:aws:eks:us-east-1:111122223333:cluster/my-eks"
VPC = {"SecurityGroupIds": ["sg-0123456789abcdef0"], "Subnets": ["subnet-0aaa", "subnet-0bbb"]}


def settle(server, seconds=3600):
    return admin(server, "/_hyperpod/settle", {"maxSeconds": seconds})["settled"]


def advance(server, seconds):
    admin(server, "/_hyperpod/clock", {"advanceSeconds": seconds})


def capacity(server, pools):
    return admin(server, "/_hyperpod/capacity", pools, method="PUT")


def error_of(call, **kwargs):
    with pytest.raises(ClientError) as caught:
        call(**kwargs)
    return caught.value.response["Error"]["Code"], caught.value.response["Error"]["Message"]


def groups_of(sm, name):
    return {g["InstanceGroupName"]: g for g in sm.describe_cluster(ClusterName=name)["InstanceGroups"]}


def counts(sm, name):
    return {n: (g["Status"], g["CurrentCount"], g["TargetCount"]) for n, g in groups_of(sm, name).items()}


def nodes(sm, name, **kwargs):
    return sm.list_cluster_nodes(ClusterName=name, MaxResults=100, **kwargs)["ClusterNodeSummaries"]


def legacy(sm, server, name="c", groups=None, **extra):
    """A legacy (non-Continuous) cluster, settled InService."""
    arn = sm.create_cluster(ClusterName=name, InstanceGroups=groups or [group("a", 2), group("b", 1)], **extra)["ClusterArn"]
    assert settle(server)
    return arn


def continuous(sm, server, name="k", groups=None, **extra):
    """A Continuous EKS cluster, settled InService."""
    arn = sm.create_cluster(
        ClusterName=name, InstanceGroups=groups or [group("a", 2)], VpcConfig=VPC,
        Orchestrator={"Eks": {"ClusterArn": extra.pop("eks", EKS_ARN)}}, NodeProvisioningMode="Continuous", **extra,
    )["ClusterArn"]
    assert settle(server)
    return arn


def autoscaling(sm, name):
    """AutoScaling as described, without FailureMessage (real responses carry it as "")."""
    out = dict(sm.describe_cluster(ClusterName=name)["AutoScaling"])
    assert out.pop("FailureMessage") == ""
    return out


def pending_timers(server):
    return admin(server, "/_hyperpod/state")["pendingTimers"]


# R68 ---------------------------------------------------------------------------------------------------------------


def test_R68_answer_is_the_arn_by_name_or_arn(manual, sm):
    arn = legacy(sm, manual)
    assert sm.update_cluster(ClusterName="c", InstanceGroups=[group("a", 3)])["ClusterArn"] == arn
    assert settle(manual)
    assert sm.update_cluster(ClusterName=arn, InstanceGroups=[group("a", 4)])["ClusterArn"] == arn
    assert settle(manual)
    assert counts(sm, "c")["a"] == ("InService", 4, 4)
    assert error_of(sm.update_cluster, ClusterName="nope", InstanceGroups=[group("a", 1)]) == (
        "ResourceNotFound", "Could not find cluster 'arn:aws:sagemaker:us-east-1:000000000000:cluster/nope'")


def test_R68_a_refused_update_changes_nothing(manual, sm):
    legacy(sm, manual)
    before = sm.describe_cluster(ClusterName="c")
    before_nodes = nodes(sm, "c")
    # Group a would scale up, but group b's role change is refused: a does not scale either.
    code, message = error_of(sm.update_cluster, ClusterName="c", InstanceGroups=[
        group("a", 5), group("b", 1, ExecutionRole="arn:aws:iam::111122223333:role/other")])
    assert (code, message) == ("ValidationException", "Updating fields ExecutionRole on an InstanceGroup not supported")
    # A quota refusal comes after every business check and also changes nothing.
    admin(manual, "/_hyperpod/quotas", {"ml.c5.xlarge for cluster usage": 4}, method="PUT")
    code, message = error_of(sm.update_cluster, ClusterName="c", InstanceGroups=[group("a", 4)])
    assert code == "ResourceLimitExceeded"
    after = sm.describe_cluster(ClusterName="c")
    assert {k: v for k, v in after.items() if k != "ResponseMetadata"} == {
        k: v for k, v in before.items() if k != "ResponseMetadata"}
    assert nodes(sm, "c") == before_nodes
    assert pending_timers(manual) == []


# R69 ---------------------------------------------------------------------------------------------------------------


def test_R69_legacy_cluster_updates_only_from_in_service(manual, sm):
    sm.create_cluster(ClusterName="c", InstanceGroups=[group("a", 1)])
    assert error_of(sm.update_cluster, ClusterName="c", InstanceGroups=[group("a", 2)]) == (
        "ConflictException", "Cluster c is in Creating state and cannot be updated.")
    assert settle(manual)
    sm.update_cluster(ClusterName="c", InstanceGroups=[group("a", 2)])
    assert sm.describe_cluster(ClusterName="c")["ClusterStatus"] == "Updating"
    assert error_of(sm.update_cluster, ClusterName="c", InstanceGroups=[group("a", 3)]) == (
        "ConflictException", "Cluster c is in Updating state and cannot be updated.")
    assert settle(manual)
    sm.delete_cluster(ClusterName="c")
    assert error_of(sm.update_cluster, ClusterName="c", InstanceGroups=[group("a", 3)]) == (
        "ConflictException", "Cluster c is in Deleting state and cannot be updated.")


def test_R69_continuous_cluster_also_updates_while_updating(manual, sm):
    continuous(sm, manual)
    sm.update_cluster(ClusterName="k", NodeRecovery="None")  # a cluster-level change: Updating (R77)
    assert sm.describe_cluster(ClusterName="k")["ClusterStatus"] == "Updating"
    sm.update_cluster(ClusterName="k", InstanceGroups=[group("a", 3)])  # accepted while Updating
    assert settle(manual)
    d = sm.describe_cluster(ClusterName="k")
    assert d["ClusterStatus"] == "InService" and d["NodeRecovery"] == "None"
    assert counts(sm, "k")["a"] == ("InService", 3, 3)


# R70 ---------------------------------------------------------------------------------------------------------------


def test_R70_new_name_adds_existing_name_updates_omitted_untouched(manual, sm):
    legacy(sm, manual)
    b_nodes = [n["InstanceId"] for n in nodes(sm, "c") if n["InstanceGroupName"] == "b"]
    sm.update_cluster(ClusterName="c", InstanceGroups=[group("a", 3), group("new", 2)])
    d = counts(sm, "c")
    assert d == {"a": ("Updating", 2, 3), "b": ("InService", 1, 1), "new": ("Creating", 0, 2)}
    assert settle(manual)
    assert counts(sm, "c") == {"a": ("InService", 3, 3), "b": ("InService", 1, 1), "new": ("InService", 2, 2)}
    assert [n["InstanceId"] for n in nodes(sm, "c") if n["InstanceGroupName"] == "b"] == b_nodes
    assert list(groups_of(sm, "c")) == ["a", "b", "new"]  # creation order


def test_R70_duplicate_names_are_refused(manual, sm):
    legacy(sm, manual)
    assert error_of(sm.update_cluster, ClusterName="c", InstanceGroups=[group("a", 3), group("a", 4)]) == (
        "ValidationException", "Duplicate instance group name a.")


# R71 ---------------------------------------------------------------------------------------------------------------


def test_R71_immutable_fields_rejected_together(manual, sm):
    legacy(sm, manual, groups=[group("a", 1, ThreadsPerCore=2, OverrideVpcConfig=VPC)], VpcConfig=VPC)
    changed = group("a", 1, ExecutionRole="arn:aws:iam::111122223333:role/other", InstanceType="ml.c5.2xlarge",
                    ThreadsPerCore=1)  # OverrideVpcConfig omitted: absent counts as a value
    assert error_of(sm.update_cluster, ClusterName="c", InstanceGroups=[changed]) == (
        "ValidationException",
        "Updating fields InstanceType, ExecutionRole, ThreadsPerCore, OverrideVpcConfig on an InstanceGroup not supported")
    # The same values, OverrideVpcConfig sent again: accepted.
    sm.update_cluster(ClusterName="c", InstanceGroups=[group("a", 2, ThreadsPerCore=2, OverrideVpcConfig=VPC)])


def test_R71_threads_per_core_absent_is_one(manual, sm):
    legacy(sm, manual, groups=[group("a", 1)])
    sm.update_cluster(ClusterName="c", InstanceGroups=[group("a", 2, ThreadsPerCore=1)])  # no change of ThreadsPerCore
    assert settle(manual)
    assert error_of(sm.update_cluster, ClusterName="c", InstanceGroups=[group("a", 2, ThreadsPerCore=2)])[1] == (
        "Updating fields ThreadsPerCore on an InstanceGroup not supported")


def test_R71_switching_instance_type_and_requirements_reports_both(manual, sm):
    continuous(sm, manual)
    flexible = group("a", 2)
    del flexible["InstanceType"]
    flexible["InstanceRequirements"] = {"InstanceTypes": ["ml.c5.xlarge", "ml.c5.2xlarge"]}
    assert error_of(sm.update_cluster, ClusterName="k", InstanceGroups=[flexible])[1] == (
        "Updating fields InstanceType, InstanceRequirements on an InstanceGroup not supported")


def test_R71_slurm_node_type_may_be_added_not_removed(manual, sm):
    legacy(sm, manual, groups=[group("controller", 1), group("workers", 1)])
    # absent → present: migration to API-driven Slurm
    sm.update_cluster(ClusterName="c", InstanceGroups=[
        group("controller", 1, SlurmConfig={"NodeType": "Controller"}),
        group("workers", 1, SlurmConfig={"NodeType": "Compute", "PartitionNames": ["p"]})])
    assert settle(manual)
    assert groups_of(sm, "c")["controller"]["SlurmConfig"] == {"NodeType": "Controller"}
    assert error_of(sm.update_cluster, ClusterName="c", InstanceGroups=[group("workers", 1)])[1] == (
        "Updating fields SlurmConfig on an InstanceGroup not supported")


# R72 ---------------------------------------------------------------------------------------------------------------


def test_R72_life_cycle_config_applies_to_nodes_launched_afterwards(manual, sm):
    legacy(sm, manual, groups=[group("a", 1)])
    old_node = nodes(sm, "c")[0]["InstanceId"]
    new_lcc = {"SourceS3Uri": "s3://my-bucket/lcc-v2/", "OnCreate": "on_create.sh"}
    sm.update_cluster(ClusterName="c", InstanceGroups=[group("a", 2, LifeCycleConfig=new_lcc)])
    assert settle(manual)
    assert groups_of(sm, "c")["a"]["LifeCycleConfig"] == new_lcc
    by_id = {n["InstanceId"]: sm.describe_cluster_node(ClusterName="c", NodeId=n["InstanceId"])["NodeDetails"]
             for n in nodes(sm, "c")}
    assert by_id.pop(old_node)["LifeCycleConfig"]["SourceS3Uri"] == "s3://my-bucket/lcc/"
    assert [d["LifeCycleConfig"] for d in by_id.values()] == [new_lcc]


def test_R72_kubernetes_labels_are_desired_at_once_and_current_after_T_config(manual, sm):
    continuous(sm, manual, groups=[group("a", 1, KubernetesConfig={"Labels": {"team": "a"}})])
    sm.update_cluster(ClusterName="k", InstanceGroups=[group("a", 1, KubernetesConfig={"Labels": {"team": "b"}})])
    k = groups_of(sm, "k")["a"]["KubernetesConfig"]
    assert (k["DesiredLabels"], k["CurrentLabels"]) == ({"team": "b"}, {"team": "a"})
    advance(manual, 1)
    k = groups_of(sm, "k")["a"]["KubernetesConfig"]
    assert (k["DesiredLabels"], k["CurrentLabels"]) == ({"team": "b"}, {"team": "b"})


def test_R72_omitted_members_keep_their_values_and_a_describe_round_trip_is_a_no_op(manual, sm):
    legacy(sm, manual, groups=[group("a", 2, OnStartDeepHealthChecks=["InstanceStress"])], NodeRecovery="None")
    d = sm.describe_cluster(ClusterName="c")
    request = {"ClusterName": "c", "InstanceGroups": []}
    for g in d["InstanceGroups"]:
        g = {k: v for k, v in g.items() if k not in (
            "CurrentCount", "Status", "CurrentImageId", "DesiredImageId", "ImageVersionStatus", "TargetCount",
            "CurrentImageReleaseVersion", "DesiredImageReleaseVersion")}  # output-only (R337)
        g["InstanceCount"] = groups_of(sm, "c")[g["InstanceGroupName"]]["TargetCount"]
        request["InstanceGroups"].append(g)
    sm.update_cluster(**request)
    assert sm.describe_cluster(ClusterName="c")["ClusterStatus"] == "InService"
    assert pending_timers(manual) == []
    # Omitting optional members (OnStartDeepHealthChecks, LifeCycleConfig) keeps them; cluster-level NodeRecovery too.
    sm.update_cluster(ClusterName="c", InstanceGroups=[{"InstanceGroupName": "a", "InstanceType": "ml.c5.xlarge",
                                                        "InstanceCount": 3, "ExecutionRole": ROLE}])
    assert settle(manual)
    d = sm.describe_cluster(ClusterName="c")
    a = d["InstanceGroups"][0]
    assert a["OnStartDeepHealthChecks"] == ["InstanceStress"] and a["LifeCycleConfig"]["OnCreate"] == "on_create.sh"
    assert d["NodeRecovery"] == "None" and a["TargetCount"] == 3


# R73 ---------------------------------------------------------------------------------------------------------------


def test_R73_min_instance_count_only_continuous_and_at_most_instance_count(manual, sm):
    legacy(sm, manual)
    assert error_of(sm.update_cluster, ClusterName="c", InstanceGroups=[group("a", 2, MinInstanceCount=1)])[1] == (
        "MinInstanceCount is only supported for clusters with NodeProvisioningMode set to Continuous.")
    continuous(sm, manual)
    assert error_of(sm.update_cluster, ClusterName="k", InstanceGroups=[group("a", 2, MinInstanceCount=3)])[1] == (
        "MinInstanceCount (3) must be less than or equal to InstanceCount (2) for instance group a.")


def test_R73_raising_the_minimum_makes_the_group_updating_until_reached(manual, sm):
    continuous(sm, manual)
    sm.update_cluster(ClusterName="k", InstanceGroups=[group("a", 4, MinInstanceCount=4)])
    g = groups_of(sm, "k")["a"]
    assert (g["Status"], g["CurrentCount"], g["TargetCount"], g["MinCount"]) == ("Updating", 2, 4, 4)
    assert sm.describe_cluster(ClusterName="k")["ClusterStatus"] == "InService"
    assert settle(manual)  # the T_min timer does not count as unsettled (RA11)
    g = groups_of(sm, "k")["a"]
    assert (g["Status"], g["CurrentCount"], g["MinCount"]) == ("InService", 4, 4)


def _min_count_stall(manual, sm):
    """A Continuous group asked for a minimum that capacity cannot reach: returns the group before the timeout."""
    continuous(sm, manual, groups=[group("a", 1)])
    capacity(manual, {"ml.c5.xlarge": 1})  # one more instance may launch
    sm.update_cluster(ClusterName="k", InstanceGroups=[group("a", 4, MinInstanceCount=3)])
    advance(manual, 5)  # the one available instance launches; two slots keep waiting
    return groups_of(sm, "k")["a"]


def test_R73_min_instance_count_rollback_after_three_hours(manual, sm):
    g = _min_count_stall(manual, sm)
    assert (g["Status"], g["CurrentCount"], g["TargetCount"], g["MinCount"]) == ("Updating", 2, 4, 3)
    advance(manual, 2 * 3600 + 59 * 60 - 5)  # 2 h 59 min after the update: nothing happens
    g = groups_of(sm, "k")["a"]
    assert (g["Status"], g["CurrentCount"], g["TargetCount"], g["MinCount"]) == ("Updating", 2, 4, 3)
    assert g["ActiveOperations"] == {"Scaling": 1}
    advance(manual, 60)  # past 3 h: back to the last InService values (TargetCount 1, no MinCount)
    g = groups_of(sm, "k")["a"]
    assert (g["Status"], g["TargetCount"]) == ("InService", 1)
    assert "MinCount" not in g
    assert settle(manual)
    g = groups_of(sm, "k")["a"]
    assert (g["CurrentCount"], g["TargetCount"]) == (1, 1) and "ActiveOperations" not in g
    assert len(nodes(sm, "k", IncludeNodeLogicalIds=True)) == 1


def test_R73_min_instance_count_rollback_survives_a_restart(tmp_path):
    db = str(tmp_path / "state.sqlite")
    server = Server("--db", db, "--clock", "manual", in_memory=False)
    try:
        sm = make_client(server.endpoint)
        g = _min_count_stall(server, sm)
        assert g["Status"] == "Updating"
        advance(server, 2 * 3600 + 59 * 60 - 5)
    finally:
        server.stop()
    again = Server("--db", db, "--clock", "manual", in_memory=False)
    try:
        sm = make_client(again.endpoint)
        g = groups_of(sm, "k")["a"]
        assert (g["Status"], g["CurrentCount"], g["TargetCount"]) == ("Updating", 2, 4)
        advance(again, 59)
        assert groups_of(sm, "k")["a"]["Status"] == "Updating"
        advance(again, 1)
        g = groups_of(sm, "k")["a"]
        assert (g["Status"], g["TargetCount"]) == ("InService", 1)
    finally:
        again.stop()


def test_R73_a_new_group_that_never_reaches_its_minimum_returns_to_zero(manual, sm):
    continuous(sm, manual, groups=[group("a", 1)])
    capacity(manual, {"ml.c5.2xlarge": 0})
    sm.update_cluster(ClusterName="k", InstanceGroups=[group("gpu", 2, MinInstanceCount=2, InstanceType="ml.c5.2xlarge")])
    assert groups_of(sm, "k")["gpu"]["Status"] == "Creating"
    advance(manual, 3 * 3600)
    g = groups_of(sm, "k")["gpu"]
    assert (g["Status"], g["CurrentCount"], g["TargetCount"], g["MinCount"]) == ("InService", 0, 0, 0)


def test_R73_every_change_of_the_minimum_restarts_the_timer(manual, sm):
    _min_count_stall(manual, sm)
    advance(manual, 2 * 3600)
    sm.update_cluster(ClusterName="k", InstanceGroups=[group("a", 4, MinInstanceCount=4)])
    advance(manual, 2 * 3600)  # 4 h after the first change, 2 h after the second: still waiting
    assert groups_of(sm, "k")["a"]["Status"] == "Updating"
    advance(manual, 3600)
    assert groups_of(sm, "k")["a"]["Status"] == "InService"


# R74 ---------------------------------------------------------------------------------------------------------------


def test_R74_legacy_scale_down_passes_shutting_down_and_counts_stay_true(manual, sm):
    legacy(sm, manual, groups=[group("a", 3)])
    sm.update_cluster(ClusterName="c", InstanceGroups=[group("a", 1)])
    assert sm.describe_cluster(ClusterName="c")["ClusterStatus"] == "Updating"
    assert counts(sm, "c")["a"] == ("Updating", 3, 1)  # CurrentCount counts nodes until they are removed (R44)
    statuses = sorted(n["InstanceStatus"]["Status"] for n in nodes(sm, "c"))
    assert statuses == ["Running", "ShuttingDown", "ShuttingDown"]
    advance(manual, 1)
    assert counts(sm, "c")["a"] == ("InService", 1, 1)
    assert sm.describe_cluster(ClusterName="c")["ClusterStatus"] == "InService"
    sm.update_cluster(ClusterName="c", InstanceGroups=[group("a", 0)])
    assert settle(manual)
    assert counts(sm, "c")["a"] == ("InService", 0, 0)  # 0 keeps an empty group


def test_R74_slots_without_an_instance_go_first_and_continuous_stays_in_service(manual, sm):
    continuous(sm, manual, groups=[group("a", 2)])
    capacity(manual, {"ml.c5.xlarge": 1})
    sm.update_cluster(ClusterName="k", InstanceGroups=[group("a", 5)])  # one launches, two wait for capacity
    assert sm.describe_cluster(ClusterName="k")["ClusterStatus"] == "InService"
    assert groups_of(sm, "k")["a"]["ActiveOperations"] == {"Scaling": 1}
    advance(manual, 1)
    running = {n["NodeLogicalId"] for n in nodes(sm, "k", IncludeNodeLogicalIds=True) if n["InstanceStatus"]["Status"] == "Running"}
    assert len(running) == 3
    sm.update_cluster(ClusterName="k", InstanceGroups=[group("a", 3)])
    listed = nodes(sm, "k", IncludeNodeLogicalIds=True)
    shutting = [n for n in listed if n["InstanceStatus"]["Status"] == "ShuttingDown"]
    assert len(shutting) == 2 and all("InstanceId" not in n for n in shutting)  # the waiting slots went first
    assert settle(manual)
    assert {n["NodeLogicalId"] for n in nodes(sm, "k", IncludeNodeLogicalIds=True)} == running


def test_R74_victims_are_reproducible_under_a_seed(make_server):
    picks = []
    for _ in range(2):
        server = make_server("--clock", "manual", "--seed", "42")
        sm = make_client(server.endpoint)
        legacy(sm, server, groups=[group("a", 10)])
        sm.update_cluster(ClusterName="c", InstanceGroups=[group("a", 6)])
        picks.append(sorted(n["InstanceId"] for n in nodes(sm, "c") if n["InstanceStatus"]["Status"] == "ShuttingDown"))
    assert len(picks[0]) == 4 and picks[0] == picks[1]


# R75 ---------------------------------------------------------------------------------------------------------------


def test_R75_instance_groups_to_delete_rejections(manual, sm):
    legacy(sm, manual)
    cases = [
        ({"InstanceGroupsToDelete": ["zzz"]}, "Instance group zzz in InstanceGroupsToDelete does not exist in cluster c."),
        ({"InstanceGroups": [group("a", 2)], "InstanceGroupsToDelete": ["a"]},
         "Instance group a cannot be both updated and deleted in the same request."),
        ({"InstanceGroupsToDelete": ["a", "b", "a"]}, "Cluster c must keep at least one instance group."),
    ]
    for extra, message in cases:
        assert error_of(sm.update_cluster, ClusterName="c", **extra) == ("ValidationException", message)
    legacy(sm, manual, name="slurm", groups=[group("ctl", 1, SlurmConfig={"NodeType": "Controller"}),
                                             group("w", 1, SlurmConfig={"NodeType": "Compute"})])
    assert error_of(sm.update_cluster, ClusterName="slurm", InstanceGroupsToDelete=["ctl"])[1] == (
        "The Controller instance group ctl of a Slurm cluster cannot be deleted.")
    legacy(sm, manual, name="old-slurm", groups=[group("My-Controller", 1), group("w", 1)])  # R99 name heuristic
    assert error_of(sm.update_cluster, ClusterName="old-slurm", InstanceGroupsToDelete=["My-Controller"])[1] == (
        "The Controller instance group My-Controller of a Slurm cluster cannot be deleted.")


def test_R75_deleted_group_passes_deleting_then_disappears_with_its_nodes(manual, sm):
    legacy(sm, manual)
    sm.update_cluster(ClusterName="c", InstanceGroupsToDelete=["b", "b"])
    assert counts(sm, "c")["b"] == ("Deleting", 1, 1)
    assert [n["InstanceStatus"]["Status"] for n in nodes(sm, "c") if n["InstanceGroupName"] == "b"] == ["ShuttingDown"]
    assert settle(manual)
    assert list(groups_of(sm, "c")) == ["a"]
    assert {n["InstanceGroupName"] for n in nodes(sm, "c")} == {"a"}
    assert sm.describe_cluster(ClusterName="c")["ClusterStatus"] == "InService"


# R76 ---------------------------------------------------------------------------------------------------------------


def flexible(name, count, types):
    g = group(name, count)
    del g["InstanceType"]
    g["InstanceRequirements"] = {"InstanceTypes": types}
    return g


def test_R76_flexible_groups_launch_types_in_order_and_keep_types_with_instances(manual, sm):
    capacity(manual, {"ml.c5.xlarge": 1})
    continuous(sm, manual, groups=[flexible("f", 3, ["ml.c5.xlarge", "ml.c5.2xlarge"])])
    g = groups_of(sm, "k")["f"]
    assert g["InstanceRequirements"] == {"CurrentInstanceTypes": ["ml.c5.xlarge", "ml.c5.2xlarge"],
                                         "DesiredInstanceTypes": ["ml.c5.xlarge", "ml.c5.2xlarge"]}
    assert g["InstanceTypeDetails"] == [
        {"InstanceType": "ml.c5.xlarge", "CurrentCount": 1, "ThreadsPerCore": 1},
        {"InstanceType": "ml.c5.2xlarge", "CurrentCount": 2, "ThreadsPerCore": 1}]
    assert sorted(n["InstanceType"] for n in nodes(sm, "k")) == ["ml.c5.2xlarge", "ml.c5.2xlarge", "ml.c5.xlarge"]
    assert error_of(sm.update_cluster, ClusterName="k", InstanceGroups=[flexible("f", 3, ["ml.c5.xlarge"])])[1] == (
        "Cannot remove instance type ml.c5.2xlarge from instance group f while it has running instances.")
    # Adding a type is fine; scale-down removes the lowest-priority type first.
    sm.update_cluster(ClusterName="k", InstanceGroups=[flexible("f", 1, ["ml.c5.xlarge", "ml.c5.2xlarge", "ml.c5.4xlarge"])])
    assert settle(manual)
    assert [n["InstanceType"] for n in nodes(sm, "k")] == ["ml.c5.xlarge"]
    sm.update_cluster(ClusterName="k", InstanceGroups=[flexible("f", 1, ["ml.c5.xlarge"])])  # now allowed


# R77 ---------------------------------------------------------------------------------------------------------------


def test_R77_continuous_group_changes_leave_the_cluster_in_service_and_overlap(manual, sm):
    continuous(sm, manual)
    sm.update_cluster(ClusterName="k", InstanceGroups=[group("a", 6)])
    assert sm.describe_cluster(ClusterName="k")["ClusterStatus"] == "InService"
    sm.update_cluster(ClusterName="k", InstanceGroups=[group("a", 4), group("b", 1)])  # applied at once, overlapping
    assert counts(sm, "k")["a"][2] == 4
    assert settle(manual)
    assert counts(sm, "k") == {"a": ("InService", 4, 4), "b": ("InService", 1, 1)}
    sm.update_cluster(ClusterName="k", TieredStorageConfig={"Mode": "Enable"})  # cluster-level: Updating
    assert sm.describe_cluster(ClusterName="k")["ClusterStatus"] == "Updating"


def test_R77_R118_continuous_scale_up_stalls_on_capacity_and_finishes_when_it_returns(manual, sm):
    continuous(sm, manual, groups=[group("a", 1)])
    capacity(manual, {"ml.c5.xlarge": 0})
    sm.update_cluster(ClusterName="k", InstanceGroups=[group("a", 3)])
    assert not settle(manual, 600)  # retries back off (2, 4, 8 … 300 s) and never settle without capacity
    d = sm.describe_cluster(ClusterName="k")
    g = d["InstanceGroups"][0]
    assert d["ClusterStatus"] == "InService"
    assert (g["Status"], g["CurrentCount"], g["TargetCount"], g["ActiveOperations"]) == ("InService", 1, 3, {"Scaling": 1})
    waiting = [n for n in nodes(sm, "k", IncludeNodeLogicalIds=True) if "InstanceId" not in n]
    assert len(waiting) == 2 and {n["InstanceStatus"]["Status"] for n in waiting} == {"Pending"}
    pools = capacity(manual, {"ml.c5.xlarge": 2})["pools"]  # the retry fires at once (R40)
    assert pools == [{"instanceType": "ml.c5.xlarge", "size": 3, "inUse": 3, "free": 0}]
    assert all("InstanceId" in n for n in nodes(sm, "k", IncludeNodeLogicalIds=True))
    assert not [t for t in pending_timers(manual) if "launchRetry" in t["event"]]  # no stale retry left for settle to run to
    advance(manual, 1)
    g = groups_of(sm, "k")["a"]
    assert (g["CurrentCount"], g["TargetCount"]) == (3, 3) and "ActiveOperations" not in g


# R78 ---------------------------------------------------------------------------------------------------------------


def test_R78_legacy_shortfall_rolls_back_to_the_previous_configuration(manual, sm):
    legacy(sm, manual)
    capacity(manual, {"ml.c5.xlarge": 1})
    new_lcc = {"SourceS3Uri": "s3://my-bucket/v2/", "OnCreate": "on_create.sh"}
    sm.update_cluster(ClusterName="c", InstanceGroups=[group("a", 4, LifeCycleConfig=new_lcc), group("added", 1)])
    advance(manual, 1)  # the failing batch ends
    d = sm.describe_cluster(ClusterName="c")
    assert d["ClusterStatus"] == "RollingBack"
    assert d["FailureMessage"] == "We currently do not have sufficient capacity for the requested instance type(s). Please try again."
    assert settle(manual)
    d = sm.describe_cluster(ClusterName="c")
    assert d["ClusterStatus"] == "InService" and d["FailureMessage"].startswith("We currently do not have")
    assert counts(sm, "c") == {"a": ("InService", 2, 2), "b": ("InService", 1, 1)}
    assert groups_of(sm, "c")["a"]["LifeCycleConfig"]["SourceS3Uri"] == "s3://my-bucket/lcc/"
    assert len(nodes(sm, "c")) == 3
    assert admin(manual, "/_hyperpod/capacity")["pools"][0]["inUse"] == 3  # every launched instance went back
    # R47: the next accepted update clears FailureMessage.
    capacity(manual, {})
    sm.update_cluster(ClusterName="c", InstanceGroups=[group("a", 3)])
    assert "FailureMessage" not in sm.describe_cluster(ClusterName="c")


def test_R78_legacy_create_shortfall_fails_the_cluster(manual, sm):
    capacity(manual, {"ml.c5.xlarge": 1})
    sm.create_cluster(ClusterName="c", InstanceGroups=[group("a", 2)])
    assert settle(manual)
    d = sm.describe_cluster(ClusterName="c")
    assert d["ClusterStatus"] == "Failed" and d["FailureMessage"].startswith("We currently do not have sufficient capacity")
    assert counts(sm, "c")["a"] == ("Failed", 0, 2)
    assert nodes(sm, "c") == []


# R79 ---------------------------------------------------------------------------------------------------------------


def test_R79_autoscaling_prerequisites_on_the_resulting_configuration(manual, sm):
    legacy(sm, manual, VpcConfig=VPC, Orchestrator={"Eks": {"ClusterArn": EKS_ARN}})
    enable = {"AutoScaling": {"Mode": "Enable", "AutoScalerType": "Karpenter"}, "ClusterRole": ROLE}
    assert error_of(sm.update_cluster, ClusterName="c", **enable)[1] == (
        "AutoScaling requires NodeProvisioningMode to be set to Continuous.")
    continuous(sm, manual, eks="arn:aws:eks:us-east-1:111122223333:cluster/other")
    assert error_of(sm.update_cluster, ClusterName="k", AutoScaling={"Mode": "Enable"})[1] == (
        "ClusterRole is required when AutoScaling Mode is Enable.")
    assert error_of(sm.update_cluster, ClusterName="k", NodeRecovery="None", **enable)[1] == (
        "AutoScaling requires NodeRecovery to be set to Automatic.")
    legacy(sm, manual, name="slurm")
    assert error_of(sm.update_cluster, ClusterName="slurm", **enable)[1] == (
        "AutoScaling is only supported for clusters with an Eks orchestrator.")


def test_R79_autoscaling_enable_lock_and_disable(manual, sm):
    continuous(sm, manual)
    sm.update_cluster(ClusterName="k", AutoScaling={"Mode": "Enable"}, ClusterRole=ROLE)  # role in the same request
    d = sm.describe_cluster(ClusterName="k")
    assert d["ClusterStatus"] == "Updating"
    assert autoscaling(sm, "k") == {"Mode": "Enable", "AutoScalerType": "Karpenter", "Status": "Creating"}
    assert settle(manual)
    d = sm.describe_cluster(ClusterName="k")
    assert d["AutoScaling"]["Status"] == "InService" and d["ClusterRole"] == ROLE and d["ClusterStatus"] == "InService"
    assert error_of(sm.update_cluster, ClusterName="k", ClusterRole="arn:aws:iam::111122223333:role/other")[1] == (
        "ClusterRole cannot be updated while autoscaling is enabled.")
    assert error_of(sm.update_cluster, ClusterName="k", NodeRecovery="None")[1] == (
        "AutoScaling requires NodeRecovery to be set to Automatic.")
    sm.update_cluster(ClusterName="k", AutoScaling={"Mode": "Disable"}, ClusterRole="arn:aws:iam::111122223333:role/other")
    assert sm.describe_cluster(ClusterName="k")["AutoScaling"]["Status"] == "Deleting"
    assert settle(manual)
    assert autoscaling(sm, "k") == {"Mode": "Disable", "AutoScalerType": "Karpenter", "Status": "InService"}


# R80 ---------------------------------------------------------------------------------------------------------------


def test_R80_orchestrator_is_fixed_but_slurm_strategy_may_change(manual, sm):
    continuous(sm, manual)
    assert error_of(sm.update_cluster, ClusterName="k", Orchestrator={
        "Eks": {"ClusterArn": "arn:aws:eks:us-east-1:111122223333:cluster/elsewhere"}})[1] == (
        "Orchestrator.Eks.ClusterArn cannot be changed after cluster creation.")
    sm.update_cluster(ClusterName="k", Orchestrator={"Eks": {"ClusterArn": EKS_ARN}})  # the same: a no-op
    assert sm.describe_cluster(ClusterName="k")["ClusterStatus"] == "InService"
    legacy(sm, manual, name="s", groups=[group("ctl", 1, SlurmConfig={"NodeType": "Controller"}),
                                         group("w", 1, SlurmConfig={"NodeType": "Compute"})],
           Orchestrator={"Slurm": {"SlurmConfigStrategy": "Managed"}})
    sm.update_cluster(ClusterName="s", Orchestrator={"Slurm": {"SlurmConfigStrategy": "Merge"}})
    assert settle(manual)
    assert sm.describe_cluster(ClusterName="s")["Orchestrator"] == {"Slurm": {"SlurmConfigStrategy": "Merge"}}


# R81 ---------------------------------------------------------------------------------------------------------------


def test_R81_tiered_storage_as_the_only_member_is_applied_after_T_config(manual, sm):
    continuous(sm, manual)
    tiered = {"Mode": "Enable", "InstanceMemoryAllocationPercentage": 30}
    sm.update_cluster(ClusterName="k", TieredStorageConfig=tiered)
    d = sm.describe_cluster(ClusterName="k")
    assert d["ClusterStatus"] == "Updating" and "TieredStorageConfig" not in d  # R48: not yet applied
    advance(manual, 1)
    d = sm.describe_cluster(ClusterName="k")
    assert d["ClusterStatus"] == "InService" and d["TieredStorageConfig"] == tiered
    sm.update_cluster(ClusterName="k", TieredStorageConfig={"Mode": "Disable"})
    assert sm.describe_cluster(ClusterName="k")["TieredStorageConfig"] == tiered  # previous value until applied
    assert settle(manual)
    assert sm.describe_cluster(ClusterName="k")["TieredStorageConfig"] == {"Mode": "Disable"}


# R82 ---------------------------------------------------------------------------------------------------------------


def test_R82_node_provisioning_mode_converts_legacy_eks_one_way(manual, sm):
    legacy(sm, manual, VpcConfig=VPC, Orchestrator={"Eks": {"ClusterArn": EKS_ARN}})
    sm.update_cluster(ClusterName="c", NodeProvisioningMode="Continuous")
    d = sm.describe_cluster(ClusterName="c")
    assert d["ClusterStatus"] == "Updating" and d["NodeProvisioningMode"] == "Continuous"
    advance(manual, 1)
    assert sm.describe_cluster(ClusterName="c")["ClusterStatus"] == "Updating"  # T_setup (2 s), not T_config
    advance(manual, 1)
    assert sm.describe_cluster(ClusterName="c")["ClusterStatus"] == "InService"
    sm.update_cluster(ClusterName="c", NodeProvisioningMode="Continuous")  # now a no-op
    assert sm.describe_cluster(ClusterName="c")["ClusterStatus"] == "InService"
    legacy(sm, manual, name="slurm")
    assert error_of(sm.update_cluster, ClusterName="slurm", NodeProvisioningMode="Continuous")[1] == (
        "NodeProvisioningMode cannot be changed to Continuous for Slurm clusters.")


# R83 ---------------------------------------------------------------------------------------------------------------


def test_R83_added_groups_obey_the_create_rules(manual, sm):
    continuous(sm, manual)
    no_lcc = group("x", 1)
    del no_lcc["LifeCycleConfig"]
    assert error_of(sm.update_cluster, ClusterName="k", InstanceGroups=[no_lcc])[1] == (
        "LifeCycleConfig is required for instance group x.")
    assert error_of(sm.update_cluster, ClusterName="k", InstanceGroups=[group("x", 1, SlurmConfig={"NodeType": "Compute"})])[1] == (
        "SlurmConfig is only supported for Slurm clusters.")
    legacy(sm, manual, name="s", groups=[group("ctl", 1, SlurmConfig={"NodeType": "Controller"}),
                                         group("w", 1, SlurmConfig={"NodeType": "Compute"})])
    assert error_of(sm.update_cluster, ClusterName="s", InstanceGroups=[group("ctl2", 1, SlurmConfig={"NodeType": "Controller"})])[1] == (
        "2 Controller Groups found: SlurmConfig for InstanceGroups may only have one Controller Group.")
    assert error_of(sm.update_cluster, ClusterName="s", InstanceGroups=[group("plain", 1)])[1] == (
        "SlurmConfig must be specified for every instance group when any instance group specifies it.")
    assert error_of(sm.update_cluster, ClusterName="s", InstanceGroups=[flexible("f", 1, ["ml.c5.xlarge"])])[1] == (
        "InstanceRequirements requires NodeProvisioningMode to be set to Continuous.")
    legacy(sm, manual, name="plain-slurm", groups=[group("w", 1)])  # legacy Slurm without SlurmConfig: no Controller check
    sm.update_cluster(ClusterName="plain-slurm", InstanceGroups=[group("w2", 1)])


# R84 ---------------------------------------------------------------------------------------------------------------


def test_R84_update_quota_message_uses_current_usage_and_the_request_delta(manual, sm):
    legacy(sm, manual, groups=[group("a", 30, InstanceType="ml.p5.48xlarge")])
    legacy(sm, manual, name="other", groups=[group("a", 50, InstanceType="ml.p5.48xlarge")])
    code, message = error_of(sm.update_cluster, ClusterName="c", InstanceGroups=[group("a", 55, InstanceType="ml.p5.48xlarge")])
    assert code == "ResourceLimitExceeded"
    assert message.startswith("The account-level service limit 'ml.p5.48xlarge for cluster usage' is 100 Instances, "
                              "with current utilization of 80 Instances and a request delta of 25 Instances.")
    sm.update_cluster(ClusterName="c", InstanceGroups=[group("a", 40, InstanceType="ml.p5.48xlarge")])  # delta 10: fits
    assert settle(manual)
    sm.update_cluster(ClusterName="c", InstanceGroups=[group("a", 1, InstanceType="ml.p5.48xlarge")])  # a decrease never fails
    quotas = {q["name"]: q for q in admin(manual, "/_hyperpod/quotas")["quotas"]}
    assert quotas["ml.p5.48xlarge for cluster usage"]["usage"] == 51


def test_R84_quota_flag_sets_the_default(make_server):
    server = make_server("--clock", "manual", "--quota", "Maximum number instances allowed per SageMaker HyperPod cluster=3")
    sm = make_client(server.endpoint)
    legacy(sm, server, groups=[group("a", 2)])
    code, message = error_of(sm.update_cluster, ClusterName="c", InstanceGroups=[group("a", 2), group("b", 2)])
    assert code == "ResourceLimitExceeded" and "is 3 Instances, with current utilization of 2 Instances and a request delta of 2" in message


# R85 ---------------------------------------------------------------------------------------------------------------


def test_R85_no_update_while_deep_health_checks_run(manual, sm):
    legacy(sm, manual)
    sm.start_cluster_health_check(ClusterName="c", DeepHealthCheckConfigurations=[
        {"InstanceGroupName": "a", "DeepHealthChecks": ["InstanceStress"]}])
    assert {n["InstanceStatus"]["Status"] for n in nodes(sm, "c") if n["InstanceGroupName"] == "a"} == {"DeepHealthCheckInProgress"}
    assert error_of(sm.update_cluster, ClusterName="c", InstanceGroups=[group("a", 3)]) == (
        "ConflictException", "Cluster c has deep health checks in progress and cannot be updated.")
    advance(manual, 1)  # T_dhc
    sm.update_cluster(ClusterName="c", InstanceGroups=[group("a", 3)])


# R86 ---------------------------------------------------------------------------------------------------------------


def test_R86_a_request_that_changes_nothing_touches_nothing(manual, sm):
    legacy(sm, manual)
    capacity(manual, {"ml.c5.xlarge": 0})
    sm.update_cluster(ClusterName="c", InstanceGroups=[group("a", 3)])
    assert settle(manual)
    failure = sm.describe_cluster(ClusterName="c")["FailureMessage"]
    assert failure  # rolled back (R78)
    before = sm.describe_cluster(ClusterName="c")
    sm.update_cluster(ClusterName="c", InstanceGroups=[group("a", 2, ThreadsPerCore=1)])  # same values
    sm.update_cluster(ClusterName="c")  # nothing at all
    after = sm.describe_cluster(ClusterName="c")
    assert after["ClusterStatus"] == "InService" and after["FailureMessage"] == failure  # R86 wins over R47
    assert after["InstanceGroups"] == before["InstanceGroups"]
    assert pending_timers(manual) == []


# Corpus (issue #5, must-show 4) -------------------------------------------------------------------------------------


def corpus(name):
    with open(os.path.join(CORPUS, name)) as f:
        body = json.load(f)
    return {"ClusterName": "from-corpus", "InstanceGroups": body} if isinstance(body, list) else body


def raw_update(server, body):
    """UpdateCluster without client-side validation, as the CLI would send a file."""
    client = make_client(server.endpoint, parameter_validation=False)
    return client.update_cluster(**body)


def test_corpus_update_delete_instance_group(manual, sm):
    body = corpus("awsdocs_update-cluster-delete-instance-group.json")
    legacy(sm, manual, name=body["ClusterName"], groups=[
        group("training", 1, InstanceType="ml.p5.48xlarge", ExecutionRole="arn:aws:iam::111122223333:role/SageMakerRole"),
        group("inference-serving", 1, InstanceType="ml.g5.12xlarge", ExecutionRole="arn:aws:iam::111122223333:role/SageMakerRole"),
        group("prototype-training", 2)])
    raw_update(manual, body)
    assert counts(sm, body["ClusterName"])["prototype-training"][0] == "Deleting"
    assert settle(manual)
    assert list(groups_of(sm, body["ClusterName"])) == ["training", "inference-serving"]
    assert {n["InstanceGroupName"] for n in nodes(sm, body["ClusterName"])} == {"training", "inference-serving"}
    assert len(nodes(sm, body["ClusterName"])) == 4


def test_corpus_update_scale_down_to_1(manual, sm):
    body = corpus("awsdocs_update-cluster-scale-down-to-1.json")
    legacy(sm, manual, name=body["ClusterName"], groups=[
        group("training-instances", 2, InstanceType="ml.p5.48xlarge", ExecutionRole="arn:aws:iam::111122223333:role/SageMakerRole")])
    raw_update(manual, body)
    assert sorted(n["InstanceStatus"]["Status"] for n in nodes(sm, body["ClusterName"])) == ["Running", "ShuttingDown"]
    assert counts(sm, body["ClusterName"])["training-instances"][2] == 1
    assert settle(manual)
    assert len(nodes(sm, body["ClusterName"])) == 1


@pytest.mark.parametrize("name, against", [
    ("awsdocs_update-cluster-k8s-labels-partial-group.json", "worker-group-1"),
    ("hypcli_update-cluster-instance-groups-arg-missing-role.json", "worker-nodes"),
])
def test_corpus_rejected_updates_get_their_exact_message(manual, sm, name, against):
    body = corpus(name)
    legacy(sm, manual, name=body["ClusterName"], groups=[group(against, 1)])
    sock = manual.connect()
    sock.sendall(post("SageMaker.UpdateCluster", json.dumps(body).encode()))  # as written: lowercase taint keys too
    response = Reader(sock).response()
    sock.close()
    assert response.status == 400
    assert json.loads(response.body) == {"__type": "ValidationException", "message": CORPUS_OUTCOMES[name][1]}
    assert sm.describe_cluster(ClusterName=body["ClusterName"])["ClusterStatus"] == "InService"
    assert pending_timers(manual) == []


def test_corpus_enable_karpenter(manual, sm):
    body = corpus("awsblog_update-cluster-enable-karpenter-FROM-CLI-FLAGS.json")
    continuous(sm, manual, name=body["ClusterName"], NodeRecovery="Automatic")
    raw_update(manual, body)
    assert autoscaling(sm, body["ClusterName"]) == {"Mode": "Enable", "AutoScalerType": "Karpenter", "Status": "Creating"}
    assert settle(manual)
    d = sm.describe_cluster(ClusterName=body["ClusterName"])
    assert d["AutoScaling"]["Status"] == "InService" and d["ClusterRole"] == body["ClusterRole"]
    # Against a cluster that is not Continuous: ValidationException.
    legacy(sm, manual, name="not-continuous", VpcConfig=VPC,
           Orchestrator={"Eks": {"ClusterArn": "arn:aws:eks:us-east-1:111122223333:cluster/second"}})
    with pytest.raises(ClientError) as caught:
        raw_update(manual, dict(body, ClusterName="not-continuous"))
    assert caught.value.response["Error"]["Code"] == "ValidationException"


# Concurrency (issue #5, must-show 5) --------------------------------------------------------------------------------


def test_R69_32_concurrent_updates_of_a_legacy_cluster_one_wins_per_in_service_period(manual, sm):
    legacy(sm, manual, groups=[group("a", 2)])
    barrier = threading.Barrier(32)
    clients = [make_client(manual.endpoint) for _ in range(32)]

    def attempt(i, period):
        target = 3 + i + 35 * period  # never the current count: that would be an accepted no-op (R86)
        barrier.wait()
        try:
            clients[i].update_cluster(ClusterName="c", InstanceGroups=[group("a", target)])
            return ("ok", target)
        except ClientError as e:
            return (e.response["Error"]["Code"], e.response["ResponseMetadata"]["HTTPStatusCode"])

    for period in range(2):
        with concurrent.futures.ThreadPoolExecutor(32) as pool:
            results = list(pool.map(attempt, range(32), [period] * 32))
        wins = [r for r in results if r[0] == "ok"]
        assert len(wins) == 1, results
        assert sorted(set(results) - set(wins)) == [("ConflictException", 400)]
        assert settle(manual)
        target = wins[0][1]
        g = groups_of(sm, "c")["a"]
        assert (g["Status"], g["CurrentCount"], g["TargetCount"]) == ("InService", target, target)
        listed = nodes(sm, "c")
        assert len(listed) == target and len({n["InstanceId"] for n in listed}) == target
        assert {n["InstanceStatus"]["Status"] for n in listed} == {"Running"}
    assert "InternalFailure" not in manual.log()


# R64/R70/R71 for restricted instance groups -------------------------------------------------------------------------


def restricted(name, count, throughput=250):
    return {"InstanceGroupName": name, "InstanceType": "ml.m5.2xlarge", "InstanceCount": count, "ExecutionRole": ROLE,
            "EnvironmentConfig": {"FSxLustreConfig": {"SizeInGiB": 1200, "PerUnitStorageThroughput": throughput}}}


def test_R64_R70_restricted_instance_groups_are_added_by_update_with_nodes_and_counts(manual, sm):
    continuous(sm, manual)
    sm.update_cluster(ClusterName="k", RestrictedInstanceGroups=[restricted("rig", 2)])
    assert settle(manual)
    d = sm.describe_cluster(ClusterName="k")
    assert [g["InstanceGroupName"] for g in d["InstanceGroups"]] == ["a"]
    rig = d["RestrictedInstanceGroups"][0]
    assert (rig["InstanceGroupName"], rig["Status"], rig["CurrentCount"], rig["TargetCount"]) == ("rig", "InService", 2, 2)
    assert rig["EnvironmentConfig"] == {"FSxLustreConfig": {"SizeInGiB": 1200, "PerUnitStorageThroughput": 250}}
    assert sorted(n["InstanceGroupName"] for n in nodes(sm, "k")) == ["a", "a", "rig", "rig"]
    sm.update_cluster(ClusterName="k", RestrictedInstanceGroups=[restricted("rig", 3)])  # counts change
    assert settle(manual)
    assert sm.describe_cluster(ClusterName="k")["RestrictedInstanceGroups"][0]["CurrentCount"] == 3
    assert error_of(sm.update_cluster, ClusterName="k", RestrictedInstanceGroups=[restricted("rig", 3, throughput=500)])[1] == (
        "Updating fields EnvironmentConfig on an InstanceGroup not supported")
    assert error_of(sm.update_cluster, ClusterName="k", InstanceGroups=[group("rig", 1)])[1] == (
        "Duplicate instance group name rig.")
    sm.update_cluster(ClusterName="k", InstanceGroupsToDelete=["rig"])
    assert settle(manual)
    assert "RestrictedInstanceGroups" not in sm.describe_cluster(ClusterName="k")


def test_R64_RA8_restricted_groups_at_create_when_the_partition_allows_them(manual, sm):
    body = corpus("aiops_create-cluster-eks-with-rig-REJECTED.json")
    with pytest.raises(ClientError) as caught:
        sm.create_cluster(**body)
    assert caught.value.response["Error"]["Message"].startswith("Found RestrictedInstanceGroups in the cluster input.")
    assert admin(manual, "/_hyperpod/settings", {"restrictedInstanceGroupsOnCreate": "allow"}, method="PUT")[
        "restrictedInstanceGroupsOnCreate"] == "allow"
    sm.create_cluster(**body)
    assert settle(manual)
    d = sm.describe_cluster(ClusterName=body["ClusterName"])
    assert [g["InstanceGroupName"] for g in d["RestrictedInstanceGroups"]] == ["system-nodes"]
    assert d["RestrictedInstanceGroups"][0]["CurrentCount"] == 2
    other = make_client(manual.endpoint, region="eu-west-1")  # another partition still refuses them
    with pytest.raises(ClientError):
        other.create_cluster(**body)


# Regressions found by an attack round (helper report, session 2) ------------------------------------------------------


def test_R70_a_group_being_deleted_cannot_be_recreated_until_it_is_gone(manual, sm):
    continuous(sm, manual, groups=[group("a", 1), group("b", 2)])
    sm.update_cluster(ClusterName="k", InstanceGroupsToDelete=["b"])
    assert error_of(sm.update_cluster, ClusterName="k", InstanceGroups=[group("b", 3)]) == (
        "ValidationException", "Instance group b is in Deleting status.")
    assert settle(manual)
    sm.update_cluster(ClusterName="k", InstanceGroups=[group("b", 3)])
    assert settle(manual)
    assert counts(sm, "k")["b"] == ("InService", 3, 3)
    assert [g["InstanceGroupName"] for g in sm.describe_cluster(ClusterName="k")["InstanceGroups"]] == ["a", "b"]


def test_R73_a_recreated_group_does_not_inherit_its_predecessors_timeout(manual, sm):
    continuous(sm, manual, groups=[group("a", 1)])
    capacity(manual, {"ml.c5.xlarge": 0})
    sm.update_cluster(ClusterName="k", InstanceGroups=[group("g", 2, MinInstanceCount=2)])
    advance(manual, 3600)
    sm.update_cluster(ClusterName="k", InstanceGroupsToDelete=["g"])
    advance(manual, 10)
    sm.update_cluster(ClusterName="k", InstanceGroups=[group("g", 2, MinInstanceCount=2)])  # its own 3 h start now
    advance(manual, 3 * 3600 - 3605)  # past the first group's deadline
    assert counts(sm, "k")["g"] == ("Creating", 0, 2)
    advance(manual, 3605)
    assert counts(sm, "k")["g"] == ("InService", 0, 0)


def test_R73_R82_minimums_sent_with_a_conversion_to_continuous_time_out(manual, sm):
    legacy(sm, manual, groups=[group("a", 1)], VpcConfig=VPC, Orchestrator={"Eks": {"ClusterArn": EKS_ARN}})
    capacity(manual, {"ml.c5.xlarge": 0})
    sm.update_cluster(ClusterName="c", NodeProvisioningMode="Continuous",
                      InstanceGroups=[group("a", 3, MinInstanceCount=3), group("n", 2, MinInstanceCount=2)])
    assert counts(sm, "c") == {"a": ("Updating", 1, 3), "n": ("Creating", 0, 2)}
    advance(manual, 3 * 3600)
    assert counts(sm, "c") == {"a": ("InService", 1, 1), "n": ("InService", 0, 0)}


def test_R101_R72_batch_delete_keeps_min_count_at_most_the_target(manual, sm):
    continuous(sm, manual, groups=[group("a", 2, MinInstanceCount=2)])
    sm.batch_delete_cluster_nodes(ClusterName="k", NodeIds=[nodes(sm, "k")[0]["InstanceId"]])
    assert settle(manual)
    g = groups_of(sm, "k")["a"]
    assert (g["TargetCount"], g["MinCount"]) == (1, 1)
    sm.update_cluster(ClusterName="k", InstanceGroups=[group("a", 1, MinInstanceCount=1)])  # the round trip is accepted


def test_R78_a_failed_legacy_update_restores_the_groups_it_scaled_down(manual, sm):
    legacy(sm, manual, groups=[group("a", 3), group("b", 1, InstanceType="ml.m5.xlarge")])
    capacity(manual, {"ml.m5.xlarge": 0})
    sm.update_cluster(ClusterName="c", InstanceGroups=[group("a", 1), group("b", 3, InstanceType="ml.m5.xlarge")])
    assert all(n["InstanceStatus"]["Status"] == "Running" for n in nodes(sm, "c"))  # scale-down waits for the launches
    assert settle(manual)
    assert sm.describe_cluster(ClusterName="c")["FailureMessage"].startswith("We currently do not have sufficient capacity")
    assert counts(sm, "c") == {"a": ("InService", 3, 3), "b": ("InService", 1, 1)}
    capacity(manual, {})
    sm.update_cluster(ClusterName="c", InstanceGroups=[group("a", 1), group("b", 3, InstanceType="ml.m5.xlarge")])
    assert settle(manual)
    assert counts(sm, "c") == {"a": ("InService", 1, 1), "b": ("InService", 3, 3)}
