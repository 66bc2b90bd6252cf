"""The restricted groups' shared environment (issue #15, spec R341), on a manual clock with the fast profile (T_config
1 s). `RestrictedInstanceGroupsConfig` is new in botocore 1.44: on the 1.43 SDK run these tests are skipped."""
import pytest

from test_clusters import admin, group
from test_update_cluster import EKS_ARN, VPC, continuous, error_of, restricted, settle


def shared(size, policy="Keep"):
    return {"SharedEnvironmentConfig": {"FSxLustreDeletionPolicy": policy,
                                        "FSxLustreConfig": {"SizeInGiB": size, "PerUnitStorageThroughput": 250}}}


def shared_details(sm, name):
    return sm.describe_cluster(ClusterName=name).get("RestrictedInstanceGroupsConfig", {}).get("SharedEnvironmentConfig")


def test_R341_the_restricted_groups_shared_environment_is_Desired_at_once_and_Current_after_T_config(manual, sm):
    if "RestrictedInstanceGroupsConfig" not in sm.meta.service_model.operation_model("UpdateCluster").input_shape.members:
        pytest.skip("RestrictedInstanceGroupsConfig is new in botocore 1.44; this SDK refuses it client-side")
    base = dict(ClusterName="c", InstanceGroups=[group("a", 1)], VpcConfig=VPC, Orchestrator={"Eks": {"ClusterArn": EKS_ARN}},
                NodeProvisioningMode="Continuous")
    # At create it is subject to R64 like the groups, and needs a restricted group.
    assert error_of(sm.create_cluster, RestrictedInstanceGroupsConfig=shared(1200), **base) == ("ValidationException", (
        "Found RestrictedInstanceGroups in the cluster input. Please remove RestrictedInstanceGroups from the request and try again."))
    admin(manual, "/_hyperpod/settings", {"restrictedInstanceGroupsOnCreate": "allow"}, method="PUT")
    assert error_of(sm.create_cluster, RestrictedInstanceGroupsConfig=shared(1200), **base) == (
        "ValidationException", "RestrictedInstanceGroupsConfig requires at least one restricted instance group.")
    continuous(sm, manual)  # cluster k, no restricted group
    assert error_of(sm.update_cluster, ClusterName="k", RestrictedInstanceGroupsConfig=shared(1200)) == (
        "ValidationException", "RestrictedInstanceGroupsConfig requires at least one restricted instance group.")
    assert shared_details(sm, "k") is None
    sm.update_cluster(ClusterName="k", RestrictedInstanceGroups=[restricted("rig", 1)], RestrictedInstanceGroupsConfig=shared(1200))
    assert sm.describe_cluster(ClusterName="k")["ClusterStatus"] == "Updating"  # a cluster-level change (R77)
    assert shared_details(sm, "k") == {"DesiredFSxLustreConfig": {"SizeInGiB": 1200, "PerUnitStorageThroughput": 250},
                                       "DesiredFSxLustreDeletionPolicy": "Keep"}
    assert settle(manual)
    assert shared_details(sm, "k") == {
        "CurrentFSxLustreConfig": {"SizeInGiB": 1200, "PerUnitStorageThroughput": 250},
        "DesiredFSxLustreConfig": {"SizeInGiB": 1200, "PerUnitStorageThroughput": 250},
        "CurrentFSxLustreDeletionPolicy": "Keep", "DesiredFSxLustreDeletionPolicy": "Keep"}
    sm.update_cluster(ClusterName="k", RestrictedInstanceGroupsConfig=shared(2400, "DeleteIfNotUsed"))
    details = shared_details(sm, "k")
    assert (details["CurrentFSxLustreConfig"]["SizeInGiB"], details["DesiredFSxLustreConfig"]["SizeInGiB"]) == (1200, 2400)
    assert (details["CurrentFSxLustreDeletionPolicy"], details["DesiredFSxLustreDeletionPolicy"]) == ("Keep", "DeleteIfNotUsed")
    assert settle(manual)
    assert error_of(sm.update_cluster, ClusterName="k", RestrictedInstanceGroupsConfig=shared(1200, "DeleteIfNotUsed")) == (
        "ValidationException", "SharedEnvironmentConfig FSxLustreConfig SizeInGiB cannot be decreased.")
    # DeleteIfNotUsed: the last restricted group gone, the file system goes; the policies stay shown.
    sm.update_cluster(ClusterName="k", InstanceGroupsToDelete=["rig"])
    assert shared_details(sm, "k") == {"CurrentFSxLustreDeletionPolicy": "DeleteIfNotUsed", "DesiredFSxLustreDeletionPolicy": "DeleteIfNotUsed"}
    assert settle(manual)
    sm.update_cluster(ClusterName="k", RestrictedInstanceGroups=[restricted("rig2", 1)])  # added again: shown again
    assert shared_details(sm, "k")["CurrentFSxLustreConfig"]["SizeInGiB"] == 2400


def test_R341_Keep_retains_the_file_system_without_restricted_groups(manual, sm):
    if "RestrictedInstanceGroupsConfig" not in sm.meta.service_model.operation_model("UpdateCluster").input_shape.members:
        pytest.skip("RestrictedInstanceGroupsConfig is new in botocore 1.44; this SDK refuses it client-side")
    continuous(sm, manual)
    sm.update_cluster(ClusterName="k", RestrictedInstanceGroups=[restricted("rig", 1)], RestrictedInstanceGroupsConfig=shared(1200))
    assert settle(manual)
    sm.update_cluster(ClusterName="k", InstanceGroupsToDelete=["rig"])
    assert settle(manual)
    assert shared_details(sm, "k")["CurrentFSxLustreConfig"] == {"SizeInGiB": 1200, "PerUnitStorageThroughput": 250}
