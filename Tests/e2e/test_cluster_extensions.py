"""Cluster extensions (issue #15, spec §19.2, R310–R319, RA22's extension-failure), on a manual clock with the fast
profile (T_config 1 s). The operations are new in botocore 1.44: on the 1.43 SDK run the module is skipped."""
import json
import re
import urllib.error
import urllib.request

import pytest

from conftest import make_client
from test_clusters import admin, group
from test_update_cluster import EKS_ARN, VPC, advance, error_of, nodes, settle

NAME = "sagemaker-observability"
DEFAULTS = {
    "metricsProvider": {
        "nodeMetrics": {"level": "BASIC", "collectionIntervalSeconds": 30},
        "acceleratedComputeMetrics": {"level": "BASIC", "collectionIntervalSeconds": 30},
        "networkMetrics": {"level": "ENABLED", "collectionIntervalSeconds": 30},
        "jobMetrics": {"level": "ENABLED", "collectionIntervalSeconds": 30},
        "clusterMetrics": {"level": "ENABLED", "collectionIntervalSeconds": 30},
        "ncclMetrics": {"level": "DISABLED", "collectionIntervalSeconds": 30},
    },
    "profilesProvider": {"hostProfiling": {"enabled": False}},
}


@pytest.fixture(autouse=True)
def needs_botocore_1_44(sm):
    if "CreateClusterExtension" not in sm.meta.service_model.operation_names:
        pytest.skip("the extension operations are new in botocore 1.44; this SDK has no method for them")


def slurm_continuous(sm, server, name="s"):
    arn = sm.create_cluster(ClusterName=name, NodeProvisioningMode="Continuous", Orchestrator={"Slurm": {}}, InstanceGroups=[
        group("ctl", 1, SlurmConfig={"NodeType": "Controller"}), group("w", 2, SlurmConfig={"NodeType": "Compute"})])["ClusterArn"]
    assert settle(server)
    return arn


def describe(sm, cluster, extension):
    out = sm.describe_cluster_extension(ClusterArn=cluster, ExtensionArn=extension)
    out.pop("ResponseMetadata")
    return out


def test_R310_R311_R312_R315_R318_create_is_Creating_then_Active_with_every_default_stored(manual, sm):
    cluster = slurm_continuous(sm, manual)
    cluster_id = cluster.rsplit("/", 1)[1]
    arn = sm.create_cluster_extension(ClusterArn=cluster, ExtensionName=NAME)["ExtensionArn"]
    assert re.fullmatch(rf"arn:aws:sagemaker:us-east-1:\d{{12}}:extension/sagemaker-{cluster_id}/{NAME}/[a-z0-9]{{12}}", arn)
    out = describe(sm, cluster, arn)
    details = out["ExtensionDetails"]
    assert (details["Status"], details["ExtensionVersion"], details["ExtensionName"]) == ("Creating", "1.1.0", NAME)  # highest
    assert details["ConfigurationValues"] == json.dumps(DEFAULTS, separators=(",", ":"))  # compact, catalogue order
    assert details["LastModifiedTime"] == details["CreationTime"]
    assert out["NodeSummary"] == {"TotalCount": 3, "ActiveCount": 0} and "Health" not in out
    advance(manual, 1)  # T_config
    out = describe(sm, cluster, arn)
    assert out["ExtensionDetails"]["Status"] == "Active" and out["NodeSummary"] == {"TotalCount": 3, "ActiveCount": 3}
    [summary] = sm.list_cluster_extensions(ClusterArn=cluster)["Extensions"]
    assert (summary["ExtensionArn"], summary["Status"], summary["ExtensionVersion"]) == (arn, "Active", "1.1.0")
    # R319: versions need no cluster, highest first; a name not in the catalogue gives an empty list.
    assert [v["ExtensionVersion"] for v in sm.list_cluster_extension_versions(ExtensionName=NAME)["ExtensionVersions"]] == ["1.1.0", "1.0.0"]
    assert sm.list_cluster_extension_versions(ExtensionName="nope")["ExtensionVersions"] == []


def test_R312_R319_checks_in_order_and_versions_without_a_cluster(manual, sm):
    eks = sm.create_cluster(ClusterName="e", InstanceGroups=[group("a", 1)], VpcConfig=VPC,
                            Orchestrator={"Eks": {"ClusterArn": EKS_ARN}}, NodeProvisioningMode="Continuous")["ClusterArn"]
    assert settle(manual)
    assert error_of(sm.create_cluster_extension, ClusterArn=eks, ExtensionName=NAME) == (
        "ValidationException", "Cluster extensions are only supported for Slurm clusters with NodeProvisioningMode set to Continuous.")
    cluster = slurm_continuous(sm, manual)
    assert error_of(sm.create_cluster_extension, ClusterArn=cluster, ExtensionName="nope") == (
        "ValidationException", "Extension nope is not available.")
    assert error_of(sm.create_cluster_extension, ClusterArn=cluster, ExtensionName=NAME, ExtensionVersion="9.0.0") == (
        "ValidationException", f"Version 9.0.0 of extension {NAME} is not available.")
    sm.create_cluster_extension(ClusterArn=cluster, ExtensionName=NAME, ExtensionVersion="1.0.0")
    assert error_of(sm.create_cluster_extension, ClusterArn=cluster, ExtensionName=NAME) == (
        "ResourceInUse", f"Extension {NAME} already exists on cluster {cluster}.")
    sm.delete_cluster(ClusterName="s")
    assert error_of(sm.create_cluster_extension, ClusterArn=cluster, ExtensionName=NAME) == (
        "ConflictException", "Cluster s is in Deleting state and its extensions cannot be changed.")


@pytest.mark.parametrize("values, message", [
    ("[1]", "ConfigurationValues must be a JSON object."),
    ("{not json", "ConfigurationValues must be a JSON object."),
    ('{"metricsProvider": {"gpuMetrics": {}}}', "Unknown setting 'metricsProvider.gpuMetrics' in ConfigurationValues."),
    ('{"metricsProvider": {"nodeMetrics": {"level": "ENABLED"}}}', "Invalid value for setting 'metricsProvider.nodeMetrics.level'."),
    ('{"metricsProvider": {"jobMetrics": {"collectionIntervalSeconds": 0}}}',
     "Invalid value for setting 'metricsProvider.jobMetrics.collectionIntervalSeconds'."),
])
def test_R315_configuration_values_are_checked_against_the_catalogue(manual, sm, values, message):
    cluster = slurm_continuous(sm, manual)
    assert error_of(sm.create_cluster_extension, ClusterArn=cluster, ExtensionName=NAME, ConfigurationValues=values) == (
        "ValidationException", message)


def test_R316_R346_update_merges_resets_with_null_refuses_a_downgrade_and_a_running_step(manual, sm):
    cluster = slurm_continuous(sm, manual)
    arn = sm.create_cluster_extension(ClusterArn=cluster, ExtensionName=NAME, ConfigurationValues=json.dumps(
        {"metricsProvider": {"nodeMetrics": {"level": "ADVANCED"}}, "prometheus": {"remoteWriteUrl": "https://prom/write"}}))["ExtensionArn"]
    assert error_of(sm.update_cluster_extension, ClusterArn=cluster, ExtensionArn=arn) == (
        "ConflictException", f"Extension {NAME} is in Creating status and cannot be updated.")
    advance(manual, 1)
    assert error_of(sm.update_cluster_extension, ClusterArn=cluster, ExtensionArn=arn, ExtensionVersion="1.0.0") == (
        "ValidationException", "ExtensionVersion 1.0.0 is earlier than the current version 1.1.0; "
                               "delete the extension and create it again to use an earlier version.")
    sm.update_cluster_extension(ClusterArn=cluster, ExtensionArn=arn, ConfigurationValues=json.dumps(
        {"metricsProvider": {"nodeMetrics": {"level": None}, "jobMetrics": {"collectionIntervalSeconds": 60}}}))
    details = describe(sm, cluster, arn)["ExtensionDetails"]
    assert details["Status"] == "Updating" and details["LastModifiedTime"] > details["CreationTime"]
    stored = json.loads(details["ConfigurationValues"])
    assert stored["metricsProvider"]["nodeMetrics"]["level"] == "BASIC"  # null: back to the default
    assert stored["metricsProvider"]["jobMetrics"] == {"level": "ENABLED", "collectionIntervalSeconds": 60}
    assert stored["prometheus"] == {"remoteWriteUrl": "https://prom/write"}  # absent: unchanged
    assert settle(manual)  # R346: settle waits for the step
    assert describe(sm, cluster, arn)["ExtensionDetails"]["Status"] == "Active"
    sm.update_cluster_extension(ClusterArn=cluster, ExtensionArn=arn)  # changes nothing in Active
    assert describe(sm, cluster, arn)["ExtensionDetails"]["Status"] == "Active"


def test_R314_R318_node_issues_degrade_or_fail_it_and_show_in_Health(manual, sm):
    cluster = slurm_continuous(sm, manual)
    workers = sorted(n["InstanceId"] for n in nodes(sm, "s") if n["InstanceGroupName"] == "w")
    arn = sm.create_cluster_extension(ClusterArn=cluster, ExtensionName=NAME)["ExtensionArn"]
    fault = admin(manual, "/_hyperpod/faults", {"kind": "extension-failure", "cluster": "s", "extension": NAME,
                                                "nodeIds": workers[:1], "code": "DependencyUnreachable", "message": "prometheus down"})
    advance(manual, 1)
    out = describe(sm, cluster, arn)
    assert out["ExtensionDetails"]["Status"] == "Degraded"
    assert out["NodeSummary"] == {"TotalCount": 3, "ActiveCount": 2}
    assert out["Health"] == {"Issues": [{"Code": "DependencyUnreachable", "Message": "prometheus down", "NodeCount": 1}]}
    admin(manual, f"/_hyperpod/faults/{fault['id']}", method="DELETE")
    out = describe(sm, cluster, arn)
    assert out["ExtensionDetails"]["Status"] == "Active" and "Health" not in out
    # An issue on every node when a step ends: the step failed.
    admin(manual, "/_hyperpod/faults", {"kind": "extension-failure", "cluster": "s", "extension": NAME,
                                        "code": "AccessDenied", "message": "no role"})
    sm.update_cluster_extension(ClusterArn=cluster, ExtensionArn=arn, ExtensionVersion="1.1.0",
                                ConfigurationValues='{"profilesProvider": {"hostProfiling": {"enabled": true}}}')
    advance(manual, 1)
    assert describe(sm, cluster, arn)["ExtensionDetails"]["Status"] == "UpdateFailed"


def test_R317_delete_then_gone_and_a_new_arn_on_recreate_R313_client_tokens(manual, sm):
    cluster = slurm_continuous(sm, manual)
    arn = sm.create_cluster_extension(ClusterArn=cluster, ExtensionName=NAME, ClientToken="t1")["ExtensionArn"]
    assert sm.create_cluster_extension(ClusterArn=cluster, ExtensionName=NAME, ClientToken="t1")["ExtensionArn"] == arn
    assert error_of(sm.create_cluster_extension, ClusterArn=cluster, ExtensionName=NAME, ExtensionVersion="1.0.0", ClientToken="t1") == (
        "ValidationException", "ClientToken t1 was already used with different parameters.")
    assert sm.delete_cluster_extension(ClusterArn=cluster, ExtensionArn=arn)["ExtensionArn"] == arn
    assert error_of(sm.delete_cluster_extension, ClusterArn=cluster, ExtensionArn=arn) == (
        "ConflictException", f"Extension {NAME} is already being deleted.")
    assert error_of(sm.update_cluster_extension, ClusterArn=cluster, ExtensionArn=arn) == (
        "ConflictException", f"Extension {NAME} is being deleted and cannot be updated.")
    assert [e["Status"] for e in sm.list_cluster_extensions(ClusterArn=cluster)["Extensions"]] == ["Deleting"]
    assert settle(manual)
    assert sm.list_cluster_extensions(ClusterArn=cluster)["Extensions"] == []
    assert error_of(sm.describe_cluster_extension, ClusterArn=cluster, ExtensionArn=arn) == (
        "ResourceNotFound", f"Could not find extension '{arn}' in cluster '{cluster}'")
    again = sm.create_cluster_extension(ClusterArn=cluster, ExtensionName=NAME)["ExtensionArn"]
    assert again != arn


def test_R314_an_issue_on_every_node_after_the_step_degrades_an_Active_extension_and_a_failed_delete_stays_failed(manual, sm):
    """A failed status comes only from a step that ends with issues on every node; afterwards the issues move an Active
    extension between Active and Degraded (found by an attack on session 5's build, where it read CreateFailed)."""
    cluster = slurm_continuous(sm, manual)
    arn = sm.create_cluster_extension(ClusterArn=cluster, ExtensionName=NAME)["ExtensionArn"]
    assert settle(manual)
    advance(manual, 3600)
    everywhere = {"kind": "extension-failure", "cluster": "s", "extension": NAME, "code": "DependencyUnreachable", "message": "down"}
    fault = admin(manual, "/_hyperpod/faults", everywhere)
    assert describe(sm, cluster, arn)["ExtensionDetails"]["Status"] == "Degraded"
    admin(manual, f"/_hyperpod/faults/{fault['id']}", method="DELETE")
    assert describe(sm, cluster, arn)["ExtensionDetails"]["Status"] == "Active"
    # A removal that ends with an issue on every node is DeleteFailed, and stays so when the issue goes.
    admin(manual, "/_hyperpod/faults", everywhere)
    sm.delete_cluster_extension(ClusterArn=cluster, ExtensionArn=arn)
    advance(manual, 1)
    assert describe(sm, cluster, arn)["ExtensionDetails"]["Status"] == "DeleteFailed"
    admin(manual, "/_hyperpod/faults", method="DELETE")
    assert describe(sm, cluster, arn)["ExtensionDetails"]["Status"] == "DeleteFailed"
    # A fault names its cluster in a partition: the same name in another account is not affected.
    other = make_client(manual.endpoint, access_key="222222222222")
    arn2 = slurm_continuous(other, manual, name="s")
    ext2 = other.create_cluster_extension(ClusterArn=arn2, ExtensionName=NAME)["ExtensionArn"]
    admin(manual, "/_hyperpod/faults", everywhere)
    advance(manual, 1)
    assert other.describe_cluster_extension(ClusterArn=arn2, ExtensionArn=ext2)["ExtensionDetails"]["Status"] == "Active"


def test_RA20_the_catalogue_route_replaces_a_partitions_catalogue_and_installed_extensions_stay(manual, sm):
    cluster = slurm_continuous(sm, manual)
    installed = sm.create_cluster_extension(ClusterArn=cluster, ExtensionName=NAME, ExtensionVersion="1.0.0")["ExtensionArn"]
    assert settle(manual)
    # GET: the default catalogue (R310) in the route's form.
    default = admin(manual, "/_hyperpod/extensions")
    assert (default["account"], default["region"]) == ("000000000000", "us-east-1")
    assert sorted(default["extensions"][NAME]) == ["1.0.0", "1.1.0"]
    assert default["extensions"][NAME]["1.1.0"]["defaults"] == dict(DEFAULTS, prometheus={})  # a group of optional settings
    assert default["extensions"][NAME]["1.1.0"]["enums"]["metricsProvider.nodeMetrics.level"] == ["BASIC", "ADVANCED", "DISABLED"]
    assert default["extensions"][NAME]["1.1.0"]["optional"] == ["prometheus.remoteWriteUrl"]
    # PUT replaces it: a new extension, and sagemaker-observability 1.0.0 removed.
    catalogue = {"acme-agent": {"2.0.0": {"defaults": {"mode": "fast", "interval": 10, "verbose": False},
                                          "enums": {"mode": ["fast", "slow"]}, "optional": ["endpoint"]},
                                "1.5.0": {"defaults": {"mode": "fast"}, "enums": {}, "optional": []}},
                 NAME: {"1.1.0": default["extensions"][NAME]["1.1.0"]}}
    replaced = admin(manual, "/_hyperpod/extensions", catalogue, method="PUT")
    assert sorted(replaced["extensions"]) == ["acme-agent", NAME] and list(replaced["extensions"][NAME]) == ["1.1.0"]
    assert [v["ExtensionVersion"] for v in sm.list_cluster_extension_versions(ExtensionName="acme-agent")["ExtensionVersions"]] == [
        "2.0.0", "1.5.0"]
    acme = sm.create_cluster_extension(ClusterArn=cluster, ExtensionName="acme-agent", ConfigurationValues='{"mode":"slow","endpoint":"https://x"}')
    stored = json.loads(describe(sm, cluster, acme["ExtensionArn"])["ExtensionDetails"]["ConfigurationValues"])
    assert stored == {"mode": "slow", "interval": 10, "verbose": False, "endpoint": "https://x"}
    assert error_of(sm.create_cluster_extension, ClusterArn=slurm_continuous(sm, manual, "t"), ExtensionName="acme-agent",
                    ConfigurationValues='{"mode":"medium"}') == ("ValidationException", "Invalid value for setting 'mode'.")
    assert error_of(sm.create_cluster_extension, ClusterArn=cluster, ExtensionName=NAME, ExtensionVersion="1.0.0")[1] == (
        f"Version 1.0.0 of extension {NAME} is not available.")
    # The installed 1.0.0 stays: described, and updated in place.
    assert describe(sm, cluster, installed)["ExtensionDetails"]["ExtensionVersion"] == "1.0.0"
    sm.update_cluster_extension(ClusterArn=cluster, ExtensionArn=installed, ConfigurationValues='{"profilesProvider":{"hostProfiling":{"enabled":true}}}')
    # Other partitions keep the default; a malformed catalogue is refused whole.
    other = admin(manual, "/_hyperpod/extensions?account=111122223333&region=us-east-1")
    assert sorted(other["extensions"][NAME]) == ["1.0.0", "1.1.0"] and "acme-agent" not in other["extensions"]
    for bad, message in [({"x": {"1": {"defaults": {}}}},
                          "Version 1 of extension x must be MAJOR.MINOR.PATCH: numbers of 1 to 9 digits without leading zeros."),
                         ({"x": {"1.0.0": {"defaults": {"n": 0}}}},
                          "The default of n in extension x 1.0.0 must be a string, a positive integer, a boolean or an object."),
                         ({"x": {"1.0.0": {"defaults": {"m": "a"}, "enums": {"m": ["b"]}}}},
                          "The default of m in extension x 1.0.0 is not among its enums."),
                         ({"": {"1.0.0": {"defaults": {}}}}, "Extension names must not be empty."),
                         ({"x": {"01.0.0": {"defaults": {}}}},
                          "Version 01.0.0 of extension x must be MAJOR.MINOR.PATCH: numbers of 1 to 9 digits without leading zeros."),
                         ({"x": {"1.0.0": {"defaults": {"a.b": 1}}}},
                          "Setting names in extension x 1.0.0 must be non-empty and without dots: 'a.b'."),
                         ({"x": {"1.0.0": {"defaults": {}, "optional": ["a..b"]}}}, "optional of extension x 1.0.0 must list dotted setting paths."),
                         ({"x": {"1.0.0": {"defaults": {}, "optional": ["a", "a"]}}}, "optional a of extension x 1.0.0 is listed twice.")]:
        with pytest.raises(urllib.error.HTTPError) as caught:
            admin(manual, "/_hyperpod/extensions", bad, method="PUT")
        assert caught.value.code == 400 and json.load(caught.value)["error"] == message
    with pytest.raises(urllib.error.HTTPError) as caught:  # no body is no catalogue (an empty object would be one)
        urllib.request.urlopen(urllib.request.Request(manual.endpoint + "/_hyperpod/extensions", data=b"", method="PUT"), timeout=10)
    assert caught.value.code == 400
    assert sorted(admin(manual, "/_hyperpod/extensions")["extensions"]) == ["acme-agent", NAME]
