"""Node operations and fault injection end to end (issue #6; spec §10 R97–R103, R121, RA7), on the release binary
with boto3 and a manual clock (fast profile: T_launch, T_term, T_reboot 1 s)."""
import time

import pytest
from botocore.exceptions import ClientError

from conftest import make_client
from test_clusters import admin, group
from test_update_cluster import VPC, advance, continuous, counts, error_of, legacy, nodes, settle


def ids(sm, name, group_name=None):
    return [n["InstanceId"] for n in nodes(sm, name) if group_name in (None, n["InstanceGroupName"])]


def status_of(sm, name, instance_id):
    return sm.describe_cluster_node(ClusterName=name, NodeId=instance_id)["NodeDetails"]["InstanceStatus"]["Status"]


FAKE = "i-0123456789abcdef0"


# R97, R98 ----------------------------------------------------------------------------------------------------------


def test_R97_node_operations_answer_validation_exception_outside_in_service(manual, sm):
    sm.create_cluster(ClusterName="c", InstanceGroups=[group("a", 1)])
    for call, verb in [(sm.batch_delete_cluster_nodes, "scaled down"), (sm.batch_reboot_cluster_nodes, "rebooted"),
                       (sm.batch_replace_cluster_nodes, "repaired")]:
        assert error_of(call, ClusterName="c", NodeIds=[FAKE]) == (
            "ValidationException", f"Cluster c is in Creating state and cannot be {verb}.")
    assert error_of(sm.start_cluster_health_check, ClusterName="c", DeepHealthCheckConfigurations=[
        {"InstanceGroupName": "a", "DeepHealthChecks": ["InstanceStress"]}])[1] == (
        "Cluster c is in Creating state and cannot be health-checked.")


def test_R98_logical_ids_only_on_continuous_and_at_least_one_id(manual, sm):
    legacy(sm, manual, groups=[group("a", 1)])
    assert error_of(sm.batch_delete_cluster_nodes, ClusterName="c", NodeLogicalIds=["abc"])[1] == (
        "NodeLogicalIds are only supported for clusters with NodeProvisioningMode set to Continuous.")
    assert error_of(sm.batch_reboot_cluster_nodes, ClusterName="c")[1] == "At least one of NodeIds or NodeLogicalIds must be specified."


# R101, R102 --------------------------------------------------------------------------------------------------------


def test_R101_R102_batch_delete_per_node_failures_and_target_count(manual, sm):
    legacy(sm, manual, groups=[group("ctl", 1, SlurmConfig={"NodeType": "Controller"}),
                               group("w", 3, SlurmConfig={"NodeType": "Compute"})])
    [controller] = ids(sm, "c", "ctl")
    w1, w2, w3 = ids(sm, "c", "w")
    out = sm.batch_delete_cluster_nodes(ClusterName="c", NodeIds=[w1, FAKE, controller, w1])  # duplicates once (R98)
    assert out["Successful"] == [w1]
    assert out["Failed"] == [
        {"Code": "NodeIdNotFound", "Message": f"Node {FAKE} not found in cluster c.", "NodeId": FAKE},
        {"Code": "NodeIdInUse", "Message": f"Node {controller} is a Slurm controller node and cannot be deleted.", "NodeId": controller}]
    assert "FailedNodeLogicalIds" not in out and "SuccessfulNodeLogicalIds" not in out  # empty lists are omitted
    assert status_of(sm, "c", w1) == "ShuttingDown"
    assert counts(sm, "c")["w"][2] == 2  # TargetCount dropped by one
    # All fail → 400 (R102).
    with pytest.raises(ClientError) as caught:
        sm.batch_delete_cluster_nodes(ClusterName="c", NodeIds=[w1, FAKE])
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert caught.value.response["Error"]["Message"] == (
        f"None of the specified nodes could be deleted: {w1} (InvalidNodeStatus), {FAKE} (NodeIdNotFound)")
    assert settle(manual)
    assert sorted(ids(sm, "c", "w")) == sorted([w2, w3])
    assert error_of(sm.batch_delete_cluster_nodes, ClusterName="c",
                    NodeIds=[f"i-{n:017x}" for n in range(100)])[1] == "A maximum of 99 NodeIds can be specified in a single request."


def test_R101_continuous_delete_by_logical_id_and_the_combined_limit(manual, sm):
    continuous(sm, manual, groups=[group("a", 2)])
    listed = nodes(sm, "k", IncludeNodeLogicalIds=True)
    out = sm.batch_delete_cluster_nodes(ClusterName="k", NodeLogicalIds=[listed[0]["NodeLogicalId"], "missing"])
    assert out["SuccessfulNodeLogicalIds"] == [listed[0]["NodeLogicalId"]]
    assert out["FailedNodeLogicalIds"] == [
        {"Code": "NodeIdNotFound", "Message": "Node missing not found in cluster k.", "NodeLogicalId": "missing"}]
    assert sm.describe_cluster(ClusterName="k")["InstanceGroups"][0]["ActiveOperations"] == {"Scaling": 1}
    assert error_of(sm.batch_delete_cluster_nodes, ClusterName="k", NodeIds=[f"i-{n:017x}" for n in range(30)],
                    NodeLogicalIds=[f"l{n}" for n in range(21)])[1] == (
        "A maximum of 50 NodeIds and NodeLogicalIds combined can be specified.")


# R103 --------------------------------------------------------------------------------------------------------------


def test_R103_reboot_keeps_the_instance_and_reports_failures_under_ErrorCode(manual, sm):
    legacy(sm, manual, groups=[group("a", 2)])
    first, second = ids(sm, "c")
    sm.batch_delete_cluster_nodes(ClusterName="c", NodeIds=[second])
    out = sm.batch_reboot_cluster_nodes(ClusterName="c", NodeIds=[first, second, FAKE])
    assert out["Successful"] == [first]
    assert out["Failed"] == [
        {"NodeId": second, "ErrorCode": "InvalidInstanceStatus", "Message": f"Node {second} is in ShuttingDown status and cannot be rebooted."},
        {"NodeId": FAKE, "ErrorCode": "InstanceIdNotFound", "Message": f"Node {FAKE} not found in cluster c."}]
    assert status_of(sm, "c", first) == "Pending"
    advance(manual, 1)  # T_reboot
    assert status_of(sm, "c", first) == "Running" and ids(sm, "c") == [first]
    # A call where every node fails is still 200 for reboot (R102).
    assert sm.batch_reboot_cluster_nodes(ClusterName="c", NodeIds=[FAKE])["Failed"][0]["ErrorCode"] == "InstanceIdNotFound"


def test_R103_replace_gives_a_new_instance_in_the_same_slot(manual, sm):
    continuous(sm, manual, groups=[group("a", 1)])
    before = nodes(sm, "k")[0]
    detail = sm.describe_cluster_node(ClusterName="k", NodeId=before["InstanceId"])["NodeDetails"]
    out = sm.batch_replace_cluster_nodes(ClusterName="k", NodeIds=[before["InstanceId"]])
    assert out["Successful"] == [before["InstanceId"]]
    after = nodes(sm, "k")[0]
    assert after["NodeLogicalId"] == before["NodeLogicalId"] and after["InstanceId"] != before["InstanceId"]
    assert after["InstanceStatus"]["Status"] == "Pending"
    assert settle(manual)
    new = sm.describe_cluster_node(ClusterName="k", NodeLogicalId=before["NodeLogicalId"])["NodeDetails"]
    assert new["InstanceStatus"]["Status"] == "Running" and new["PrivatePrimaryIp"] != detail["PrivatePrimaryIp"]
    assert counts(sm, "k")["a"] == ("InService", 1, 1)  # TargetCount unchanged


# R100 --------------------------------------------------------------------------------------------------------------


def test_R100_batch_add_entries_failures_and_success(manual, sm):
    legacy(sm, manual, groups=[group("a", 1)])
    assert error_of(sm.batch_add_cluster_nodes, ClusterName="c", NodesToAdd=[
        {"InstanceGroupName": "a", "IncrementTargetCountBy": 1}])[1] == (
        "BatchAddClusterNodes is only supported for clusters with NodeProvisioningMode set to Continuous.")
    continuous(sm, manual, groups=[group("a", 1), group("min", 2, MinInstanceCount=2)])
    assert error_of(sm.batch_add_cluster_nodes, ClusterName="k", NodesToAdd=[
        {"InstanceGroupName": "a", "IncrementTargetCountBy": 30}, {"InstanceGroupName": "a", "IncrementTargetCountBy": 21}])[1] == (
        "A maximum of 50 nodes can be added in a single request.")
    admin(manual, "/_hyperpod/capacity", {"ml.c5.xlarge": 0}, method="PUT")
    sm.update_cluster(ClusterName="k", InstanceGroups=[group("min", 3, MinInstanceCount=3)])  # Updating for MinCount
    out = sm.batch_add_cluster_nodes(ClusterName="k", NodesToAdd=[
        {"InstanceGroupName": "a", "IncrementTargetCountBy": 2},
        {"InstanceGroupName": "nope", "IncrementTargetCountBy": 1},
        {"InstanceGroupName": "min", "IncrementTargetCountBy": 1},
        {"InstanceGroupName": "a", "IncrementTargetCountBy": 1, "AvailabilityZones": ["us-east-1x"]},
        {"InstanceGroupName": "a", "IncrementTargetCountBy": 1, "InstanceTypes": ["ml.p5.48xlarge"]}])
    assert [(s["InstanceGroupName"], s["Status"]) for s in out["Successful"]] == [("a", "Pending"), ("a", "Pending")]
    assert [(f["InstanceGroupName"], f["ErrorCode"], f["FailedCount"]) for f in out["Failed"]] == [
        ("nope", "InstanceGroupNotFound", 1), ("min", "InvalidInstanceGroupStatus", 1),
        ("a", "IncompatibleAvailabilityZones", 1), ("a", "IncompatibleInstanceTypes", 1)]
    assert out["Failed"][0]["Message"] == "Instance group nope not found in cluster k."
    assert out["Failed"][1]["Message"] == "Instance group min is in Updating status."
    assert counts(sm, "k")["a"][2] == 3
    added = {n["NodeLogicalId"] for n in nodes(sm, "k", IncludeNodeLogicalIds=True)}
    assert {s["NodeLogicalId"] for s in out["Successful"]} <= added


def test_R100_client_token_replays_for_8_hours(manual, sm):
    continuous(sm, manual, groups=[group("a", 1)])
    request = {"ClusterName": "k", "ClientToken": "token-1", "NodesToAdd": [{"InstanceGroupName": "a", "IncrementTargetCountBy": 2}]}
    first = sm.batch_add_cluster_nodes(**request)
    assert [s["Status"] for s in first["Successful"]] == ["Pending", "Pending"]
    assert settle(manual)
    replay = sm.batch_add_cluster_nodes(**request)
    assert [s["NodeLogicalId"] for s in replay["Successful"]] == [s["NodeLogicalId"] for s in first["Successful"]]
    assert [s["Status"] for s in replay["Successful"]] == ["Running", "Running"]  # current status
    assert counts(sm, "k")["a"] == ("InService", 3, 3)  # nothing changed
    sm.batch_delete_cluster_nodes(ClusterName="k", NodeLogicalIds=[first["Successful"][0]["NodeLogicalId"]])
    assert settle(manual)
    assert [s["Status"] for s in sm.batch_add_cluster_nodes(**request)["Successful"]] == ["NotFound", "Running"]
    different = dict(request, NodesToAdd=[{"InstanceGroupName": "a", "IncrementTargetCountBy": 1}])
    assert error_of(sm.batch_add_cluster_nodes, **different)[1] == "ClientToken token-1 was already used with different parameters."
    advance(manual, 8 * 3600)  # the token has expired: a new request
    again = sm.batch_add_cluster_nodes(**request)
    assert {s["NodeLogicalId"] for s in again["Successful"]}.isdisjoint({s["NodeLogicalId"] for s in first["Successful"]})


def test_R84_batch_add_over_a_quota_fails_as_a_whole(manual, sm):
    continuous(sm, manual, groups=[group("a", 1)])
    admin(manual, "/_hyperpod/quotas", {"ml.c5.xlarge for cluster usage": 2}, method="PUT")
    code, message = error_of(sm.batch_add_cluster_nodes, ClusterName="k", NodesToAdd=[{"InstanceGroupName": "a", "IncrementTargetCountBy": 2}])
    assert code == "ResourceLimitExceeded" and "current utilization of 1 Instances and a request delta of 2 Instances" in message
    assert counts(sm, "k")["a"][2] == 1


# R121, RA7 ---------------------------------------------------------------------------------------------------------


def test_R121_failed_node_is_replaced_automatically(manual, sm):
    continuous(sm, manual, groups=[group("a", 2)])
    victim = nodes(sm, "k")[0]
    admin(manual, "/_hyperpod/faults", {"kind": "node-failure", "cluster": "k", "nodeId": victim["InstanceId"], "reason": "GpuEccError"})
    failed = sm.describe_cluster_node(ClusterName="k", NodeId=victim["InstanceId"])["NodeDetails"]["InstanceStatus"]
    assert failed == {"Status": "Failure", "Message": f"Node {victim['InstanceId']} failed health checks: GpuEccError"}
    assert counts(sm, "k")["a"][1] == 1  # a node in Failure does not count (R44)
    advance(manual, 1)  # T_reboot: replaced (N10)
    slot = [n for n in nodes(sm, "k") if n["NodeLogicalId"] == victim["NodeLogicalId"]][0]
    assert slot["InstanceId"] != victim["InstanceId"] and slot["InstanceStatus"]["Status"] == "Pending"
    assert settle(manual)
    assert counts(sm, "k")["a"] == ("InService", 2, 2)
    descriptions = [e["Description"] for e in sm.list_cluster_events(ClusterName="k", MaxResults=100)["Events"]]
    assert f"Instance {slot['InstanceId']} is starting as part of instance replacement in Cluster k and IG a" in descriptions


def test_R121_without_automatic_recovery_the_node_stays_failed_and_the_group_degraded(manual, sm):
    legacy(sm, manual, groups=[group("a", 2)], NodeRecovery="None")
    victim = ids(sm, "c")[0]
    admin(manual, "/_hyperpod/faults", {"kind": "node-failure", "cluster": "c", "nodeId": victim})
    assert settle(manual)
    assert status_of(sm, "c", victim) == "Failure"
    assert counts(sm, "c")["a"] == ("Degraded", 1, 2)
    sm.batch_reboot_cluster_nodes(ClusterName="c", NodeIds=[victim])  # a reboot clears the failure (R103)
    assert settle(manual)
    assert status_of(sm, "c", victim) == "Running" and counts(sm, "c")["a"] == ("InService", 2, 2)


def test_RA7_api_errors_and_latency_act_on_the_api_only(manual, sm):
    legacy(sm, manual, groups=[group("a", 1)])
    admin(manual, "/_hyperpod/faults", {"kind": "api-error", "operation": "DescribeCluster", "code": "ThrottlingException", "probability": 1})
    with pytest.raises(ClientError) as caught:
        sm.describe_cluster(ClusterName="c")
    assert caught.value.response["Error"]["Code"] == "ThrottlingException"
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    sm.list_clusters()  # other operations are untouched
    admin(manual, "/_hyperpod/faults", method="DELETE")
    admin(manual, "/_hyperpod/faults", {"kind": "api-error", "operation": "ListClusters", "code": "InternalFailure"})
    with pytest.raises(ClientError) as caught:
        sm.list_clusters()
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 500
    listed = admin(manual, "/_hyperpod/faults")["faults"]
    assert [(f["kind"], f["operation"]) for f in listed] == [("api-error", "ListClusters")]
    admin(manual, "/_hyperpod/faults", method="DELETE")
    admin(manual, "/_hyperpod/faults", {"kind": "latency", "operation": "DescribeCluster", "milliseconds": 300})
    started = time.monotonic()
    assert sm.describe_cluster(ClusterName="c")["ClusterStatus"] == "InService"
    assert time.monotonic() - started >= 0.3
    admin(manual, "/_hyperpod/faults", method="DELETE")
    with pytest.raises(Exception):
        admin(manual, "/_hyperpod/faults", {"kind": "api-error", "operation": "NoSuchOperation", "code": "InternalFailure"})


# R116–R120 through RA7 launch faults -------------------------------------------------------------------------------

SCRIPTS = ("Lifecycle scripts did not run successfully. Ensure the scripts exist in provided S3 path, are accessible, "
           "and run without errors. Please see CloudWatch logs for lifecycle script execution details.")


def test_R119_lifecycle_script_failure_fails_a_legacy_create_naming_the_instance(manual, sm):
    admin(manual, "/_hyperpod/faults", {"kind": "launch-failure", "instanceType": "ml.c5.xlarge", "count": 1, "cause": "lifecycle-script"})
    sm.create_cluster(ClusterName="c", InstanceGroups=[group("a", 2)])
    advance(manual, 2)  # setup: the instances exist
    launched = {n["InstanceId"] for n in nodes(sm, "c")}
    advance(manual, 1)  # the batch ends: one node's scripts fail
    d = sm.describe_cluster(ClusterName="c")
    assert d["ClusterStatus"] == "RollingBack"
    failed = d["FailureMessage"].split()[1]
    assert failed in launched
    assert d["FailureMessage"] == (f'Instance {failed} failed to provision with the following error: "{SCRIPTS}" '
                                   "Note that multiple instances may be impacted.")
    assert settle(manual)
    assert sm.describe_cluster(ClusterName="c")["ClusterStatus"] == "Failed"
    assert admin(manual, "/_hyperpod/faults")["faults"] == []  # the one injected failure was used up


def test_R120_health_check_failure_rolls_a_legacy_update_back(manual, sm):
    legacy(sm, manual, groups=[group("a", 1)])
    admin(manual, "/_hyperpod/faults", {"kind": "launch-failure", "instanceType": "ml.c5.xlarge", "count": 1, "cause": "health-check"})
    sm.update_cluster(ClusterName="c", InstanceGroups=[group("a", 2)])
    assert settle(manual)
    d = sm.describe_cluster(ClusterName="c")
    assert d["ClusterStatus"] == "InService" and "EFA health checks did not run successfully" in d["FailureMessage"]
    assert counts(sm, "c")["a"] == ("InService", 1, 1)


def test_R119_missing_bucket_and_continuous_retries(manual, sm):
    admin(manual, "/_hyperpod/faults", {"kind": "lifecycle-bucket-missing", "sourceS3Uri": "s3://my-bucket/"})
    sm.create_cluster(
        ClusterName="k", InstanceGroups=[group("a", 1)], VpcConfig=VPC,
        Orchestrator={"Eks": {"ClusterArn": "arn:aws:eks:us-east-1:111122223333:cluster/k"}}, NodeProvisioningMode="Continuous")
    advance(manual, 3)  # setup, then the batch: scripts fail, the slot waits for a retry (N10)
    assert sm.describe_cluster(ClusterName="k")["ClusterStatus"] == "InService"  # a Continuous cluster never fails
    failed = [e for e in sm.list_cluster_events(ClusterName="k", MaxResults=100)["Events"] if e["Description"].endswith("has Failed")]
    assert len(failed) == 1 and failed[0]["EventLevel"] == "Error"
    assert counts(sm, "k")["a"][1:] == (0, 1)
    admin(manual, "/_hyperpod/faults", method="DELETE")  # the bucket is back
    assert settle(manual)
    assert counts(sm, "k")["a"] == ("InService", 1, 1)


def test_R116_injected_capacity_failures_make_continuous_slots_wait(manual, sm):
    continuous(sm, manual, groups=[group("a", 1)])
    admin(manual, "/_hyperpod/faults", {"kind": "launch-failure", "instanceType": "ml.c5.xlarge", "count": 2, "cause": "capacity"})
    sm.update_cluster(ClusterName="k", InstanceGroups=[group("a", 4)])
    assert sum("InstanceId" not in n for n in nodes(sm, "k", IncludeNodeLogicalIds=True)) == 2
    assert settle(manual)
    assert counts(sm, "k")["a"] == ("InService", 4, 4)


def test_R103_replacing_a_slurm_controller_node_is_refused(manual, sm):
    legacy(sm, manual, groups=[group("controller-group", 1), group("w", 1)])  # R99: the name says controller
    [controller] = ids(sm, "c", "controller-group")
    out = sm.batch_replace_cluster_nodes(ClusterName="c", NodeIds=[controller])
    assert out["Failed"] == [{"NodeId": controller, "ErrorCode": "InstanceIdInUse",
                              "Message": f"Node {controller} is a Slurm controller node and cannot be replaced."}]
    assert "Successful" not in out
    assert sm.batch_reboot_cluster_nodes(ClusterName="c", NodeIds=[controller])["Successful"] == [controller]  # reboot is fine


def test_R103_R122_injected_per_node_internal_server_error(manual, sm):
    legacy(sm, manual, groups=[group("a", 2)])
    first, second = ids(sm, "c")
    admin(manual, "/_hyperpod/faults", {"kind": "api-error", "operation": "BatchRebootClusterNodes", "code": "InternalServerError"})
    out = sm.batch_reboot_cluster_nodes(ClusterName="c", NodeIds=[first, second])
    assert out["ResponseMetadata"]["HTTPStatusCode"] == 200 and "Successful" not in out
    assert [(f["NodeId"], f["ErrorCode"]) for f in out["Failed"]] == [(first, "InternalServerError"), (second, "InternalServerError")]
    assert status_of(sm, "c", first) == "Running"  # left alone
    assert sm.batch_replace_cluster_nodes(ClusterName="c", NodeIds=[first])["Successful"] == [first]  # other operations are not affected


def test_G6_C8_a_failed_node_without_recovery_does_not_hold_a_legacy_update_or_create(manual, sm):
    legacy(sm, manual, groups=[group("a", 3), group("b", 1)], NodeRecovery="None")
    victim = ids(sm, "c", "a")[0]
    admin(manual, "/_hyperpod/faults", {"kind": "node-failure", "cluster": "c", "nodeId": victim})
    sm.update_cluster(ClusterName="c", InstanceGroups=[group("b", 2)])
    assert settle(manual)
    assert sm.describe_cluster(ClusterName="c")["ClusterStatus"] == "InService"
    assert counts(sm, "c") == {"a": ("Degraded", 2, 3), "b": ("InService", 2, 2)}
    sm.update_cluster(ClusterName="c", InstanceGroups=[group("a", 4)])  # scaling the degraded group itself
    assert settle(manual)
    assert counts(sm, "c")["a"] == ("Degraded", 3, 4) and sm.describe_cluster(ClusterName="c")["ClusterStatus"] == "InService"
    sm.create_cluster(ClusterName="big", InstanceGroups=[group("g", 60)], NodeRecovery="None")
    advance(manual, 3)  # the first batch of 50 runs; the second is launching
    running = [n["InstanceId"] for n in nodes(sm, "big") if n["InstanceStatus"]["Status"] == "Running"]
    assert len(running) == 50
    admin(manual, "/_hyperpod/faults", {"kind": "node-failure", "cluster": "big", "nodeId": running[0]})
    assert settle(manual)
    assert sm.describe_cluster(ClusterName="big")["ClusterStatus"] == "InService"
    assert counts(sm, "big")["g"] == ("Degraded", 59, 60)


def test_RA11_settle_is_false_while_a_cluster_is_transitional(manual, sm):
    legacy(sm, manual, groups=[group("a", 1)])
    capacity_fault = {"kind": "launch-failure", "instanceType": "ml.c5.xlarge", "count": 1, "cause": "capacity"}
    admin(manual, "/_hyperpod/faults", capacity_fault)
    assert settle(manual)  # nothing transitional
    sm.update_cluster(ClusterName="c", InstanceGroups=[group("a", 2)])
    assert settle(manual)  # the legacy update fails and rolls back: settled again
    assert sm.describe_cluster(ClusterName="c")["ClusterStatus"] == "InService"
