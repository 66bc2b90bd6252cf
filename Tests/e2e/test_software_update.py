"""UpdateClusterSoftware end to end (issue #6; spec §11 R105–R109, S1–S5, C10–C12), on the release binary with
boto3 and a manual clock (fast profile: T_patch 1 s)."""
import pytest

from conftest import make_client
from test_clusters import admin, group
from test_update_cluster import EKS_ARN, VPC, advance, error_of, legacy, nodes, settle

NEW_AMI = "ami-0123456789abcdef0"


def eks(sm, server, count=10, **extra):
    return legacy(sm, server, name="e", groups=[group("a", count, **extra)], VpcConfig=VPC,
                  Orchestrator={"Eks": {"ClusterArn": EKS_ARN}})


def images(sm):
    """CurrentImageId of every node of cluster e, and how many are SystemUpdating."""
    details = [sm.describe_cluster_node(ClusterName="e", NodeId=n["InstanceId"])["NodeDetails"] for n in nodes(sm, "e")]
    on_new = sum(d["CurrentImageId"] == NEW_AMI for d in details)
    patching = sum(d["InstanceStatus"]["Status"] == "SystemUpdating" for d in details)
    return on_new, patching


def group_a(sm):
    return sm.describe_cluster(ClusterName="e")["InstanceGroups"][0]


def test_R108_rolling_update_of_10_nodes_in_batches_of_3_observes_the_wait_interval(manual, sm):
    eks(sm, manual)
    old = group_a(sm)["CurrentImageId"]
    deployment = {"RollingUpdatePolicy": {"MaximumBatchSize": {"Type": "INSTANCE_COUNT", "Value": 3}}, "WaitIntervalInSeconds": 60}
    sm.update_cluster_software(ClusterName="e", ImageId=NEW_AMI, DeploymentConfig=deployment)
    assert sm.describe_cluster(ClusterName="e")["ClusterStatus"] == "SystemUpdating"
    g = group_a(sm)
    assert (g["Status"], g["SoftwareUpdateStatus"], g["CurrentImageId"], g["DesiredImageId"]) == (
        "SystemUpdating", "InProgress", old, NEW_AMI)
    assert g["ActiveSoftwareUpdateConfig"]["WaitIntervalInSeconds"] == 60
    expected_patched = 0
    for batch in [3, 3, 3, 1]:
        assert images(sm) == (expected_patched, batch)  # the batch is being patched (T_patch = 1 s)
        advance(manual, 1)
        expected_patched += batch
        assert images(sm) == (expected_patched, 0)
        assert group_a(sm)["TargetStateCount"] == expected_patched
        advance(manual, 59)  # the wait interval, on the virtual clock: nothing moves
        assert images(sm) == (expected_patched, 0)
        advance(manual, 1)
    g = group_a(sm)
    assert (g["Status"], g["SoftwareUpdateStatus"], g["CurrentImageId"], g["DesiredImageId"]) == (
        "InService", "Succeeded", NEW_AMI, NEW_AMI)
    assert "ActiveSoftwareUpdateConfig" not in g
    assert sm.describe_cluster(ClusterName="e")["ClusterStatus"] == "InService"
    assert all("LastSoftwareUpdateTime" in n for n in nodes(sm, "e"))
    descriptions = [e["Description"] for e in sm.list_cluster_events(ClusterName="e", SortOrder="Ascending", MaxResults=100)["Events"]]
    assert "UpdateClusterSoftware initiated for IG a in Cluster e using rolling strategy." in descriptions
    assert descriptions.count("Next update batch selected for IG a in Cluster e.") == 3
    assert "UpdateClusterSoftware completed successfully for IG a in Cluster e." in descriptions


def test_R108_capacity_percentage_batches(manual, sm):
    eks(sm, manual)
    sm.update_cluster_software(ClusterName="e", ImageId=NEW_AMI, DeploymentConfig={
        "RollingUpdatePolicy": {"MaximumBatchSize": {"Type": "CAPACITY_PERCENTAGE", "Value": 25}}})
    assert images(sm) == (0, 3)  # ceil(25 % of 10)


def test_R109_alarm_in_ALARM_rolls_the_group_back(manual, sm):
    eks(sm, manual, count=6)
    old = group_a(sm)["CurrentImageId"]
    sm.update_cluster_software(ClusterName="e", ImageId=NEW_AMI, DeploymentConfig={
        "RollingUpdatePolicy": {"MaximumBatchSize": {"Type": "INSTANCE_COUNT", "Value": 2},
                                "RollbackMaximumBatchSize": {"Type": "INSTANCE_COUNT", "Value": 1}},
        "WaitIntervalInSeconds": 30, "AutoRollbackConfiguration": [{"AlarmName": "error-rate"}]})
    advance(manual, 1 + 30 + 1)  # first batch patched and baked; second batch patched
    assert images(sm) == (4, 0)
    admin(manual, "/_hyperpod/faults", {"kind": "alarm", "alarmName": "error-rate", "state": "ALARM"})  # during the bake: S4 at once
    d = sm.describe_cluster(ClusterName="e")
    g = d["InstanceGroups"][0]
    assert d["ClusterStatus"] == "RollingBack"
    assert (g["SoftwareUpdateStatus"], g["DesiredImageId"]) == ("RollbackInProgress", old)  # Current/Desired swap
    assert images(sm) == (4, 1)  # reverting one at a time (RollbackMaximumBatchSize)
    assert settle(manual)
    d = sm.describe_cluster(ClusterName="e")
    g = d["InstanceGroups"][0]
    assert d["ClusterStatus"] == "InService"
    assert d["FailureMessage"] == "UpdateClusterSoftware failed for instance group a: alarm error-rate entered ALARM state"
    assert (g["Status"], g["SoftwareUpdateStatus"], g["CurrentImageId"]) == ("InService", "RollbackComplete", old)
    assert images(sm) == (0, 0)
    descriptions = [e["Description"] for e in sm.list_cluster_events(ClusterName="e", MaxResults=100)["Events"]]
    assert "Baking period failed for IG a in Cluster e. Alarms [error-rate] entered ALARM state. Initiating auto-rollback." in descriptions


def test_R105_R106_R107_refusals_and_no_op(manual, sm):
    sm.create_cluster(ClusterName="e", InstanceGroups=[group("a", 1)], VpcConfig=VPC, Orchestrator={"Eks": {"ClusterArn": EKS_ARN}})
    assert error_of(sm.update_cluster_software, ClusterName="e") == (
        "ConflictException", "Cluster e is in Creating state and cannot be patched.")
    assert settle(manual)
    assert error_of(sm.update_cluster_software, ClusterName="e", InstanceGroups=[{"InstanceGroupName": "zz"}])[1] == (
        "Instance group zz not found in cluster e.")
    sm.update_cluster_software(ClusterName="e")  # already on the latest platform AMI: a no-op
    assert sm.describe_cluster(ClusterName="e")["ClusterStatus"] == "InService"
    assert "SoftwareUpdateStatus" not in group_a(sm)
    legacy(sm, manual, name="custom", groups=[group("a", 1, ImageId=NEW_AMI)])
    assert error_of(sm.update_cluster_software, ClusterName="custom")[1] == (
        "Instance group a uses a custom AMI; specify ImageId or 'default'.")
    assert error_of(sm.update_cluster_software, ClusterName="custom", ImageId="default", DeploymentConfig={"WaitIntervalInSeconds": 0})[1] == (
        "DeploymentConfig is only supported for clusters with an Eks orchestrator.")
    sm.update_cluster_software(ClusterName="custom", ImageId="default")  # back to the platform AMI: all at once
    assert settle(manual)
    assert sm.describe_cluster(ClusterName="custom")["InstanceGroups"][0]["SoftwareUpdateStatus"] == "Succeeded"


def test_R110_scheduled_update_fires_on_the_virtual_clock(manual, sm):
    bad = group("a", 2, ScheduledUpdateConfig={"ScheduleExpression": "cron(0 3 * * * *)"})
    assert error_of(sm.create_cluster, ClusterName="s", InstanceGroups=[bad])[1] == "Invalid ScheduleExpression 'cron(0 3 * * * *)'."
    schedule = {"ScheduleExpression": "cron(0 3 * * ? *)"}  # daily at 03:00 UTC
    legacy(sm, manual, name="s", groups=[group("a", 2, ImageId=NEW_AMI, ScheduledUpdateConfig=schedule)])
    # Back to the platform AMI: DesiredImageId changes at once, the nodes only through a software update (R72).
    sm.update_cluster(ClusterName="s", InstanceGroups=[group("a", 2, ImageId="default", ScheduledUpdateConfig=schedule)])
    assert settle(manual)  # a schedule is not a transitional state: settle does not run to 03:00
    g = sm.describe_cluster(ClusterName="s")["InstanceGroups"][0]
    latest = g["DesiredImageId"]
    assert g["CurrentImageId"] == NEW_AMI and latest != NEW_AMI
    now = admin(manual, "/_hyperpod/clock")["now"]
    next_3am = (now // 86400) * 86400 + 3 * 3600
    if next_3am <= now:
        next_3am += 86400
    admin(manual, "/_hyperpod/clock", {"set": next_3am - 1})
    assert sm.describe_cluster(ClusterName="s")["ClusterStatus"] == "InService"
    advance(manual, 1)  # 03:00:00: the group is not on the latest platform AMI, so it is patched
    assert sm.describe_cluster(ClusterName="s")["ClusterStatus"] == "SystemUpdating"
    assert settle(manual)
    g = sm.describe_cluster(ClusterName="s")["InstanceGroups"][0]
    assert (g["SoftwareUpdateStatus"], g["CurrentImageId"]) == ("Succeeded", latest)
    advance(manual, 86400)  # the next day's occurrence finds nothing to do
    assert sm.describe_cluster(ClusterName="s")["ClusterStatus"] == "InService"


# Regressions found by an attack round (helper report, session 2) ------------------------------------------------------


def test_R109_S6_script_failure_during_a_patch_rolls_back_and_a_still_missing_bucket_fails_it(manual, sm):
    eks(sm, manual, count=2)
    admin(manual, "/_hyperpod/faults", {"kind": "lifecycle-bucket-missing", "sourceS3Uri": "s3://my-bucket/"})
    sm.update_cluster_software(ClusterName="e", ImageId=NEW_AMI)
    advance(manual, 1)  # the batch is patched; its scripts fail
    d = sm.describe_cluster(ClusterName="e")
    assert d["ClusterStatus"] == "RollingBack" and d["InstanceGroups"][0]["SoftwareUpdateStatus"] == "RollbackInProgress"
    assert d["FailureMessage"].startswith("UpdateClusterSoftware failed for instance group a: lifecycle scripts failed on instance i-")
    settle(manual)  # the rollback re-runs the scripts: the bucket is still missing
    d = sm.describe_cluster(ClusterName="e")
    assert d["ClusterStatus"] == "Failed" and d["InstanceGroups"][0]["SoftwareUpdateStatus"] == "Failed"
    assert d["FailureMessage"] == "The lifecycle configuration bucket my-bucket was not found or does not exist"
    admin(manual, "/_hyperpod/faults", method="DELETE")  # the bucket is back: a patch is the way out (R105)
    sm.update_cluster_software(ClusterName="e", ImageId=NEW_AMI)
    assert settle(manual)
    d = sm.describe_cluster(ClusterName="e")
    assert d["ClusterStatus"] == "InService" and d["InstanceGroups"][0]["SoftwareUpdateStatus"] == "Succeeded"


def test_S4_an_alarm_set_during_the_baking_period_rolls_back_at_once(manual, sm):
    eks(sm, manual, count=2)
    sm.update_cluster_software(ClusterName="e", ImageId=NEW_AMI, DeploymentConfig={
        "WaitIntervalInSeconds": 60, "AutoRollbackConfiguration": [{"AlarmName": "al"}]})
    advance(manual, 10)  # patched, baking
    admin(manual, "/_hyperpod/faults", {"kind": "alarm", "alarmName": "al", "state": "ALARM"})
    assert sm.describe_cluster(ClusterName="e")["ClusterStatus"] == "RollingBack"  # not at the end of the bake
    admin(manual, "/_hyperpod/faults", {"kind": "alarm", "alarmName": "al", "state": "OK"})
    assert settle(manual)
    assert group_a(sm)["SoftwareUpdateStatus"] == "RollbackComplete"


def test_R109_R46_a_rollback_to_the_same_image_ends_and_queued_groups_keep_their_status(manual, sm):
    legacy(sm, manual, name="e", groups=[group("a", 1), group("b", 1)], VpcConfig=VPC, Orchestrator={"Eks": {"ClusterArn": EKS_ARN}})
    admin(manual, "/_hyperpod/faults", {"kind": "alarm", "alarmName": "al", "state": "ALARM"})
    deployment = {"AutoRollbackConfiguration": [{"AlarmName": "al"}], "WaitIntervalInSeconds": 1}
    sm.update_cluster_software(ClusterName="e", ImageId=NEW_AMI, DeploymentConfig=deployment)
    assert settle(manual, 600)
    groups = {g["InstanceGroupName"]: g for g in sm.describe_cluster(ClusterName="e")["InstanceGroups"]}
    assert groups["a"]["SoftwareUpdateStatus"] == "RollbackComplete"
    # R46 (issue #15): the group that waited for its turn keeps its SoftwareUpdateStatus; its image is left alone.
    assert groups["b"]["SoftwareUpdateStatus"] == "Pending" and groups["b"]["DesiredImageId"] == groups["b"]["CurrentImageId"]
    sm.update_cluster(ClusterName="e", InstanceGroups=[group("b", 2)])
    assert settle(manual)
    images = {sm.describe_cluster_node(ClusterName="e", NodeId=n["InstanceId"])["NodeDetails"]["CurrentImageId"]
              for n in nodes(sm, "e") if n["InstanceGroupName"] == "b"}
    assert images == {groups["b"]["CurrentImageId"]}  # new nodes do not get the rolled-back AMI
    sm.update_cluster_software(ClusterName="e", InstanceGroups=[{"InstanceGroupName": "b"}], ImageId="default",
                               DeploymentConfig=deployment)
    assert settle(manual, 600)  # a no-op or a finished rollback, never a loop
    assert sm.describe_cluster(ClusterName="e")["ClusterStatus"] == "InService"


def test_G6_a_software_update_keeps_a_degraded_group_degraded(manual, sm):
    legacy(sm, manual, name="e", groups=[group("a", 3)], NodeRecovery="None")
    victim = nodes(sm, "e")[0]["InstanceId"]
    admin(manual, "/_hyperpod/faults", {"kind": "node-failure", "cluster": "e", "nodeId": victim})
    sm.update_cluster_software(ClusterName="e", ImageId=NEW_AMI)
    assert settle(manual)
    g = group_a(sm)
    assert (g["Status"], g["SoftwareUpdateStatus"], g["TargetStateCount"]) == ("Degraded", "Succeeded", 2)
