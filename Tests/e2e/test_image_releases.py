"""HyperPod AMI releases and automatic patching (issue #15, spec §19.5, R334–R340, RA21, RA22's node-busy), on a manual
clock with the fast profile (T_config = T_patch = 1 s; T_patch_notice is 7 days in every profile). ImageReleaseVersion
and AutoPatchConfig are new in botocore 1.44: on the 1.43 SDK run the module is skipped."""
import urllib.error

import pytest

from test_clusters import admin, group
from test_update_cluster import EKS_ARN, VPC, advance, error_of, groups_of, nodes, settle

DAY = 86_400
ARM = "ml.c7g.xlarge"


@pytest.fixture(autouse=True)
def needs_botocore_1_44(sm):
    if "ImageReleaseVersion" not in sm.meta.service_model.shape_for("ClusterInstanceGroupSpecification").members:
        pytest.skip("ImageReleaseVersion is new in botocore 1.44; this SDK refuses it client-side")


def releases(server, **query):
    suffix = "?" + "&".join(f"{k}={v}" for k, v in query.items()) if query else ""
    return admin(server, "/_hyperpod/ami-releases" + suffix)


def publish(server, version, architecture="x86_64", security=False):
    return admin(server, "/_hyperpod/ami-releases", {"version": version, "architecture": architecture, "security": security})


def admin_error(server, path, body):
    with pytest.raises(urllib.error.HTTPError) as caught:
        admin(server, path, body)
    return caught.value.code


def image_of(server, version, architecture="x86_64"):
    return next(r["imageId"] for r in releases(server)["releases"] if r["version"] == version and r["architecture"] == architecture)


def test_RA21_R334_the_catalogue_starts_at_1_0_0_for_each_architecture_and_only_grows(manual, sm):
    start = releases(manual)
    assert (start["account"], start["region"]) == ("000000000000", "us-east-1")
    assert sorted((r["version"], r["architecture"]) for r in start["releases"]) == [("1.0.0", "arm64"), ("1.0.0", "x86_64")]
    assert image_of(manual, "1.0.0") != image_of(manual, "1.0.0", "arm64")
    published = publish(manual, "1.0.1", security=True)
    assert [(r["version"], r["security"]) for r in published["releases"] if r["architecture"] == "x86_64"] == [
        ("1.0.0", False), ("1.0.1", True)]
    assert admin_error(manual, "/_hyperpod/ami-releases", {"version": "1.0.1", "architecture": "x86_64"}) == 409  # not higher
    assert admin_error(manual, "/_hyperpod/ami-releases", {"version": "1.0", "architecture": "x86_64"}) == 400
    assert admin_error(manual, "/_hyperpod/ami-releases", {"version": "2.0.0", "architecture": "sparc"}) == 400
    publish(manual, "1.0.1", "arm64")  # each architecture has its own line
    ended = admin(manual, "/_hyperpod/ami-releases", {"endOfLife": "1.0", "architecture": "arm64"})
    assert ended["endOfLife"] == {"arm64": ["1.0"]}
    # Per partition (C-R37): another account still has only 1.0.0.
    assert len(releases(manual, account="111122223333")["releases"]) == 2


def test_R335_R337_a_group_runs_the_latest_release_of_its_architecture_or_the_one_it_names(manual, sm):
    publish(manual, "1.1.0")
    sm.create_cluster(ClusterName="c", InstanceGroups=[group("a", 1), group("old", 1, ImageReleaseVersion="1.0.0"),
                                                       group("arm", 1, InstanceType=ARM)])
    assert settle(manual)
    g = groups_of(sm, "c")
    assert (g["a"]["CurrentImageReleaseVersion"], g["a"]["CurrentImageId"], g["a"]["ImageVersionStatus"]) == (
        "1.1.0", image_of(manual, "1.1.0"), "UpToDate")
    assert (g["old"]["CurrentImageReleaseVersion"], g["old"]["DesiredImageReleaseVersion"], g["old"]["ImageVersionStatus"]) == (
        "1.0.0", "1.0.0", "UpdateAvailable")
    assert (g["arm"]["CurrentImageId"], g["arm"]["CurrentImageReleaseVersion"]) == (image_of(manual, "1.0.0", "arm64"), "1.0.0")
    node = [n for n in nodes(sm, "c") if n["InstanceGroupName"] == "old"][0]
    assert (node["CurrentImageReleaseVersion"], node["ImageVersionStatus"]) == ("1.0.0", "UpdateAvailable")
    detail = sm.describe_cluster_node(ClusterName="c", NodeId=node["InstanceId"])["NodeDetails"]
    assert (detail["CurrentImageReleaseVersion"], detail["DesiredImageReleaseVersion"]) == ("1.0.0", "1.0.0")
    [summary] = sm.list_clusters()["ClusterSummaries"]
    assert summary["ImageVersionStatus"] == "UpdateAvailable"  # the worst of the groups
    # R337's precedence: a security release of the line, then the line's end of life.
    publish(manual, "1.1.1", "arm64", security=True)
    assert groups_of(sm, "c")["arm"]["ImageVersionStatus"] == "UpdateAvailable"  # a security release of another line
    admin(manual, "/_hyperpod/ami-releases", {"endOfLife": "1.0", "architecture": "x86_64"})
    assert groups_of(sm, "c")["old"]["ImageVersionStatus"] == "EndOfLife"
    assert sm.list_clusters()["ClusterSummaries"][0]["ImageVersionStatus"] == "EndOfLife"
    # Custom AMIs: no release, UpToDate; a release that does not exist, or with a custom ImageId, is refused.
    assert error_of(sm.create_cluster, ClusterName="d", InstanceGroups=[group("a", 1, ImageReleaseVersion="9.9.9")]) == (
        "ValidationException", "ImageReleaseVersion 9.9.9 is not available for instance group a.")
    assert error_of(sm.create_cluster, ClusterName="d", InstanceGroups=[group("a", 1, ImageReleaseVersion="1.1.1")]) == (
        "ValidationException", "ImageReleaseVersion 1.1.1 is not available for instance group a.")  # arm64 only
    assert error_of(sm.create_cluster, ClusterName="d", InstanceGroups=[
        group("a", 1, ImageId="ami-0123456789abcdef0", ImageReleaseVersion="1.0.0")]) == (
        "ValidationException", "ImageReleaseVersion cannot be combined with a custom ImageId for instance group a.")
    sm.create_cluster(ClusterName="custom", InstanceGroups=[group("a", 1, ImageId="ami-0123456789abcdef0")])
    assert settle(manual)
    a = groups_of(sm, "custom")["a"]
    assert "CurrentImageReleaseVersion" not in a and a["ImageVersionStatus"] == "UpToDate"


def test_R336_a_group_is_patched_to_the_release_it_names_even_a_lower_one(manual, sm):
    sm.create_cluster(ClusterName="c", InstanceGroups=[group("a", 2), group("b", 1)])
    assert settle(manual)
    publish(manual, "1.0.1")
    publish(manual, "1.1.0")
    # UpdateCluster: DesiredImageReleaseVersion at once, the nodes unchanged (R335, R72).
    sm.update_cluster(ClusterName="c", InstanceGroups=[group("b", 1, ImageReleaseVersion="1.0.1")])
    assert settle(manual)
    b = groups_of(sm, "c")["b"]
    assert (b["CurrentImageReleaseVersion"], b["DesiredImageReleaseVersion"]) == ("1.0.0", "1.0.1")
    assert error_of(sm.update_cluster_software, ClusterName="c", ImageId="ami-0123456789abcdef0",
                    InstanceGroups=[{"InstanceGroupName": "a", "ImageReleaseVersion": "1.0.1"}]) == (
        "ValidationException", "ImageReleaseVersion cannot be specified together with a custom ImageId.")
    assert error_of(sm.update_cluster_software, ClusterName="c",
                    InstanceGroups=[{"InstanceGroupName": "a", "ImageReleaseVersion": "3.0.0"}]) == (
        "ValidationException", "ImageReleaseVersion 3.0.0 is not available for instance group a.")
    sm.update_cluster_software(ClusterName="c", InstanceGroups=[
        {"InstanceGroupName": "a", "ImageReleaseVersion": "1.0.1"}, {"InstanceGroupName": "b"}])
    assert settle(manual)
    g = groups_of(sm, "c")
    assert (g["a"]["CurrentImageReleaseVersion"], g["b"]["CurrentImageReleaseVersion"]) == ("1.0.1", "1.1.0")  # b: the latest
    assert {n["CurrentImageReleaseVersion"] for n in nodes(sm, "c") if n["InstanceGroupName"] == "a"} == {"1.0.1"}
    sm.update_cluster_software(ClusterName="c", InstanceGroups=[{"InstanceGroupName": "b", "ImageReleaseVersion": "1.0.0"}])
    assert settle(manual)
    assert groups_of(sm, "c")["b"]["CurrentImageReleaseVersion"] == "1.0.0"  # lower than the current one: allowed


def eks(sm, server, name, *groups):
    sm.create_cluster(ClusterName=name, InstanceGroups=list(groups), VpcConfig=VPC, NodeProvisioningMode="Continuous",
                      Orchestrator={"Eks": {"ClusterArn": f"{EKS_ARN}-{name}"}})
    assert settle(server)


def test_R338_AutoPatchConfig_checks_in_order_and_its_defaults(manual, sm):
    def refused(name="c", **config):
        return error_of(sm.create_cluster, ClusterName=name, InstanceGroups=[group("a", 1, **config)])
    assert refused(ImageId="ami-0123456789abcdef0", AutoPatchConfig={"PatchingStrategy": "WhenIdle"}) == (
        "ValidationException", "AutoPatchConfig is not supported for instance group a because it uses a custom AMI.")
    assert refused(AutoPatchConfig={"PatchingStrategy": "DrainFirst"}) == (
        "ValidationException", "PatchingStrategy DrainFirst is only supported for clusters with an Eks orchestrator.")
    assert refused(AutoPatchConfig={"PatchingStrategy": "WhenIdle", "DrainPolicy": {"OnDrainTimeout": "Force"}}) == (
        "ValidationException", "DrainPolicy is only valid when PatchingStrategy is DrainFirst.")
    assert refused(AutoPatchConfig={"PatchingStrategy": "WhenAllIdle", "DeploymentConfig": {
        "RollingUpdatePolicy": {"MaximumBatchSize": {"Type": "INSTANCE_COUNT", "Value": 1}}}}) == (
        "ValidationException", "DeploymentConfig is only supported for clusters with an Eks orchestrator.")
    base = dict(VpcConfig=VPC, NodeProvisioningMode="Continuous", Orchestrator={"Eks": {"ClusterArn": EKS_ARN}})
    assert error_of(sm.create_cluster, ClusterName="k", InstanceGroups=[group("a", 1, AutoPatchConfig={"PatchingStrategy": "DrainFirst"})],
                    **base) == (
        "ValidationException", "PatchingStrategy DrainFirst requires DeploymentConfig with a RollingUpdatePolicy MaximumBatchSize.")
    assert error_of(sm.create_cluster, ClusterName="k", InstanceGroups=[group("a", 1, AutoPatchConfig={
        "PatchingStrategy": "DrainFirst", "IdleWaitWindowInSeconds": 3600,
        "DeploymentConfig": {"RollingUpdatePolicy": {"MaximumBatchSize": {"Type": "INSTANCE_COUNT", "Value": 1}}}})], **base) == (
        "ValidationException", "IdleWaitWindowInSeconds is only valid when PatchingStrategy is WhenIdle or WhenAllIdle.")
    sm.create_cluster(ClusterName="c", InstanceGroups=[group("idle", 1, AutoPatchConfig={"PatchingStrategy": "WhenIdle"})])
    drain = {"PatchingStrategy": "DrainFirst",
             "DeploymentConfig": {"RollingUpdatePolicy": {"MaximumBatchSize": {"Type": "INSTANCE_COUNT", "Value": 1}}}}
    eks(sm, manual, "k", group("drain", 1, AutoPatchConfig=drain))
    assert groups_of(sm, "c")["idle"]["AutoPatchConfig"] == {"PatchingStrategy": "WhenIdle", "IdleWaitWindowInSeconds": 86400}
    shown = groups_of(sm, "k")["drain"]["AutoPatchConfig"]
    assert shown["DrainPolicy"] == {"DrainTimeoutInSeconds": 3600, "OnDrainTimeout": "Skip"} and "IdleWaitWindowInSeconds" not in shown
    # UpdateCluster without it keeps it.
    sm.update_cluster(ClusterName="c", InstanceGroups=[group("idle", 2)])
    assert groups_of(sm, "c")["idle"]["AutoPatchConfig"]["PatchingStrategy"] == "WhenIdle"


def node_ids(sm, name, group_name):
    return sorted(n["InstanceId"] for n in nodes(sm, name) if n["InstanceGroupName"] == group_name)


def test_R339_R340_RA22_WhenIdle_patches_idle_nodes_at_NextPatchDate_and_busy_ones_when_they_are_idle(manual, sm):
    sm.create_cluster(ClusterName="c", InstanceGroups=[group("a", 2, AutoPatchConfig={"PatchingStrategy": "WhenIdle"}), group("plain", 1)])
    assert settle(manual)
    assert "CurrentPatchSchedule" not in groups_of(sm, "c")["a"]["AutoPatchConfig"]  # nothing pending
    assert error_of(sm.update_cluster, ClusterName="c", InstanceGroups=[group("a", 2, AutoPatchConfig={
        "PatchingStrategy": "WhenIdle", "PatchSchedule": {"NextPatchDate": admin(manual, "/_hyperpod/clock")["now"] + DAY}})]) == (
        "ValidationException", "No patch is pending for instance group a; NextPatchDate cannot be set.")
    publish(manual, "1.0.1")  # detected at once: NextPatchDate = now + 7 days (R339)
    now = admin(manual, "/_hyperpod/clock")["now"]
    advance(manual, 60)
    publish(manual, "1.1.0")  # another line: not a PATCH release of 1.0, the schedule stays
    assert groups_of(sm, "c")["a"]["AutoPatchConfig"]["CurrentPatchSchedule"]["NextPatchDate"].timestamp() == pytest.approx(now + 7 * DAY)
    config = groups_of(sm, "c")["a"]["AutoPatchConfig"]
    assert config["CurrentPatchSchedule"]["NextPatchDate"].timestamp() == pytest.approx(now + 7 * DAY)
    assert config["DesiredPatchSchedule"] == config["CurrentPatchSchedule"]
    assert "AutoPatchConfig" not in groups_of(sm, "c")["plain"]
    # Reschedule: Desired at once, Current after T_config; the cluster stays InService (C-R339).
    assert error_of(sm.update_cluster, ClusterName="c", InstanceGroups=[group("a", 2, AutoPatchConfig={
        "PatchingStrategy": "WhenIdle", "PatchSchedule": {"NextPatchDate": now - 10}})]) == (
        "ValidationException", "NextPatchDate must be in the future.")
    sm.update_cluster(ClusterName="c", InstanceGroups=[group("a", 2, AutoPatchConfig={
        "PatchingStrategy": "WhenIdle", "PatchSchedule": {"NextPatchDate": now + DAY}})])
    described = sm.describe_cluster(ClusterName="c")
    config = {g["InstanceGroupName"]: g for g in described["InstanceGroups"]}["a"]["AutoPatchConfig"]
    assert described["ClusterStatus"] == "InService"
    assert (config["CurrentPatchSchedule"]["NextPatchDate"].timestamp(), config["DesiredPatchSchedule"]["NextPatchDate"].timestamp()) == (
        pytest.approx(now + 7 * DAY), pytest.approx(now + DAY))
    advance(manual, 1)
    config = groups_of(sm, "c")["a"]["AutoPatchConfig"]
    assert config["CurrentPatchSchedule"]["NextPatchDate"].timestamp() == pytest.approx(now + DAY)
    # One node is busy; at NextPatchDate the idle one is patched, the cluster status untouched.
    busy, idle = node_ids(sm, "c", "a")
    fault = admin(manual, "/_hyperpod/faults", {"kind": "node-busy", "cluster": "c", "nodeId": busy})["id"]
    advance(manual, DAY - 61)
    a = groups_of(sm, "c")["a"]
    assert (a["SoftwareUpdateStatus"], sm.describe_cluster(ClusterName="c")["ClusterStatus"]) == ("InProgress", "InService")
    states = {n["InstanceId"]: n["InstanceStatus"]["Status"] for n in nodes(sm, "c")}
    assert (states[idle], states[busy]) == ("SystemUpdating", "Running")
    advance(manual, 1)  # T_patch
    versions = {n["InstanceId"]: n["CurrentImageReleaseVersion"] for n in nodes(sm, "c")}
    assert (versions[idle], versions[busy]) == ("1.0.1", "1.0.0")
    assert groups_of(sm, "c")["a"]["SoftwareUpdateStatus"] == "InProgress"
    admin(manual, f"/_hyperpod/faults/{fault}", method="DELETE")  # idle now: patched at once
    assert {n["InstanceId"]: n["InstanceStatus"]["Status"] for n in nodes(sm, "c")}[busy] == "SystemUpdating"
    advance(manual, 1)
    a = groups_of(sm, "c")["a"]
    assert (a["SoftwareUpdateStatus"], a["CurrentImageReleaseVersion"], a["ImageVersionStatus"]) == ("Succeeded", "1.0.1", "UpdateAvailable")
    assert "CurrentPatchSchedule" not in a["AutoPatchConfig"]
    descriptions = [e["Description"] for e in sm.list_cluster_events(ClusterName="c", MaxResults=100, SortOrder="Ascending")["Events"]]
    assert "UpdateClusterSoftware initiated for IG a in Cluster c using WhenIdle strategy." in descriptions
    assert descriptions[-1] == "UpdateClusterSoftware completed successfully for IG a in Cluster c."


def patch_due_with_a_busy_node(sm, server, strategy, **config):
    """Cluster c with group a (2 nodes) on `strategy`, its first node busy (RA22), 1.0.1 published and the clock at
    NextPatchDate (7 days later). Returns (busy, idle, fault id)."""
    sm.create_cluster(ClusterName="c", InstanceGroups=[group("a", 2, AutoPatchConfig={"PatchingStrategy": strategy, **config})])
    assert settle(server)
    busy, idle = node_ids(sm, "c", "a")
    fault = admin(server, "/_hyperpod/faults", {"kind": "node-busy", "cluster": "c", "nodeId": busy})["id"]
    publish(server, "1.0.1")
    advance(server, 7 * DAY)
    return busy, idle, fault


def test_R302_R340_R346_WhenIdle_window_ends_with_some_nodes_patched_PartiallySucceeded(manual, sm):
    busy, idle, _ = patch_due_with_a_busy_node(sm, manual, "WhenIdle", IdleWaitWindowInSeconds=3600)
    assert settle(manual)  # the patch runs its window (R346: InProgress is unsettled)
    a = groups_of(sm, "c")["a"]
    assert a["SoftwareUpdateStatus"] == "PartiallySucceeded" and a["CurrentImageReleaseVersion"] == "1.0.0"
    versions = {n["InstanceId"]: n["CurrentImageReleaseVersion"] for n in nodes(sm, "c")}
    assert (versions[idle], versions[busy]) == ("1.0.1", "1.0.0")
    # The node left behind: UpdateClusterSoftware with ImageReleaseVersion (R336).
    sm.update_cluster_software(ClusterName="c", InstanceGroups=[{"InstanceGroupName": "a", "ImageReleaseVersion": "1.0.1"}])
    assert settle(manual)
    assert {n["CurrentImageReleaseVersion"] for n in nodes(sm, "c")} == {"1.0.1"}


def test_R340_WhenAllIdle_waits_for_every_node_and_fails_when_the_window_ends_first(manual, sm):
    patch_due_with_a_busy_node(sm, manual, "WhenAllIdle", IdleWaitWindowInSeconds=3600)
    assert {n["InstanceStatus"]["Status"] for n in nodes(sm, "c")} == {"Running"}  # nothing patched while one is busy
    events = sm.list_cluster_events(ClusterName="c", MaxResults=100)["Events"]
    assert any(e["Description"] == "Auto-patching of InstanceGroup a in Cluster c was postponed: not all nodes were idle."
               and e.get("EventLevel") == "Warn" for e in events)
    advance(manual, 3600)
    assert groups_of(sm, "c")["a"]["SoftwareUpdateStatus"] == "Failed"
    assert sm.describe_cluster(ClusterName="c")["ClusterStatus"] == "InService"  # the cluster is unaffected
    assert {n["CurrentImageReleaseVersion"] for n in nodes(sm, "c")} == {"1.0.0"}


def test_R340_WhenAllIdle_patches_all_together_once_none_is_busy(manual, sm):
    _, _, fault = patch_due_with_a_busy_node(sm, manual, "WhenAllIdle")
    admin(manual, f"/_hyperpod/faults/{fault}", method="DELETE")
    assert {n["InstanceStatus"]["Status"] for n in nodes(sm, "c")} == {"SystemUpdating"}
    advance(manual, 1)
    assert groups_of(sm, "c")["a"]["SoftwareUpdateStatus"] == "Succeeded"


def test_R340_DrainFirst_goes_in_batches_and_skips_a_node_that_does_not_drain(manual, sm):
    drain = {"PatchingStrategy": "DrainFirst", "DrainPolicy": {"DrainTimeoutInSeconds": 300, "OnDrainTimeout": "Skip"},
             "DeploymentConfig": {"RollingUpdatePolicy": {"MaximumBatchSize": {"Type": "INSTANCE_COUNT", "Value": 1}}}}
    eks(sm, manual, "k", group("a", 3, AutoPatchConfig=drain))
    ids = node_ids(sm, "k", "a")
    admin(manual, "/_hyperpod/faults", {"kind": "node-busy", "cluster": "k", "nodeId": ids[1]})
    publish(manual, "1.0.1")
    advance(manual, 7 * DAY)
    assert sum(n["InstanceStatus"]["Status"] == "SystemUpdating" for n in nodes(sm, "k")) <= 1  # batches of one
    assert settle(manual)
    descriptions = [e["Description"] for e in sm.list_cluster_events(ClusterName="k", MaxResults=100)["Events"]]
    assert descriptions.count("Next update batch selected for IG a in Cluster k.") == 2
    a = groups_of(sm, "k")["a"]
    assert a["SoftwareUpdateStatus"] == "PartiallySucceeded"
    versions = {n["InstanceId"]: n["CurrentImageReleaseVersion"] for n in nodes(sm, "k")}
    assert versions == {ids[0]: "1.0.1", ids[1]: "1.0.0", ids[2]: "1.0.1"}
    # Force patches a node that does not drain.
    sm.update_cluster(ClusterName="k", InstanceGroups=[group("a", 3, AutoPatchConfig=dict(drain, DrainPolicy={"OnDrainTimeout": "Force"}))])
    assert settle(manual)
    publish(manual, "1.0.2")
    advance(manual, 7 * DAY)
    assert settle(manual, 2 * 3600)  # the busy node gets the default DrainTimeoutInSeconds (3600) first
    assert groups_of(sm, "k")["a"]["SoftwareUpdateStatus"] == "Succeeded"
    assert {n["CurrentImageReleaseVersion"] for n in nodes(sm, "k")} == {"1.0.2"}


def test_R339_a_group_created_below_its_lines_patch_is_scheduled_and_end_of_life_schedules_nothing(manual, sm):
    publish(manual, "1.0.1")
    sm.create_cluster(ClusterName="c", InstanceGroups=[group("a", 1, ImageReleaseVersion="1.0.0",
                                                             AutoPatchConfig={"PatchingStrategy": "WhenIdle"}),
                                                       group("b", 1, ImageReleaseVersion="1.0.0")])
    now = admin(manual, "/_hyperpod/clock")["now"]
    assert settle(manual)
    config = groups_of(sm, "c")["a"]["AutoPatchConfig"]
    assert config["CurrentPatchSchedule"]["NextPatchDate"].timestamp() == pytest.approx(now + 7 * DAY)
    admin(manual, "/_hyperpod/ami-releases", {"endOfLife": "1.0"})
    sm.update_cluster(ClusterName="c", InstanceGroups=[group("b", 1, AutoPatchConfig={"PatchingStrategy": "WhenIdle"})])
    assert groups_of(sm, "c")["b"]["AutoPatchConfig"]["CurrentPatchSchedule"]["NextPatchDate"].timestamp() == pytest.approx(now + 7 * DAY)


def test_R339_a_NextPatchDate_beyond_the_clock_is_refused(manual, sm):
    import json
    import urllib.request
    sm.create_cluster(ClusterName="c", InstanceGroups=[group("a", 1, AutoPatchConfig={"PatchingStrategy": "WhenIdle"})])
    assert settle(manual)
    publish(manual, "1.0.1")
    for date in (1e18, 253402300800, -1e300):
        body = {"ClusterName": "c", "InstanceGroups": [group("a", 1, AutoPatchConfig={
            "PatchingStrategy": "WhenIdle", "PatchSchedule": {"NextPatchDate": date}})]}
        request = urllib.request.Request(manual.endpoint + "/", data=json.dumps(body).encode(), headers={
            "X-Amz-Target": "SageMaker.UpdateCluster", "Content-Type": "application/x-amz-json-1.1"})
        with pytest.raises(urllib.error.HTTPError) as caught:
            urllib.request.urlopen(request, timeout=10)
        answer = json.load(caught.value)
        assert (caught.value.code, answer["__type"]) == (400, "ValidationException")
        assert answer["message"] in ("NextPatchDate must be before 10000-01-01T00:00:00Z.", "NextPatchDate must be in the future.")
    assert admin(manual, "/_hyperpod/health")["status"] == "running"


def test_R340_UpdateClusterSoftware_waits_for_a_running_patch_and_a_removed_busy_node_ends_it(manual, sm):
    busy, idle, _ = patch_due_with_a_busy_node(sm, manual, "WhenIdle")
    assert error_of(sm.update_cluster_software, ClusterName="c") == (
        "ConflictException", "Instance group a is being patched automatically (AutoPatchConfig) and cannot be updated until the patch ends.")
    advance(manual, 1)  # the idle node is patched; the busy one leaves the group
    sm.batch_delete_cluster_nodes(ClusterName="c", NodeIds=[busy])
    advance(manual, 1)  # T_term
    assert groups_of(sm, "c")["a"]["SoftwareUpdateStatus"] == "Succeeded"  # not a day later, at the window's end
    assert settle(manual)
    assert admin(manual, "/_hyperpod/clock")["now"] < publish(manual, "1.0.2")["releases"][-1]["publishedAt"] / 1000 + 1


def test_RA21_R336_versions_have_one_spelling_and_a_group_one_target(manual, sm):
    with pytest.raises(urllib.error.HTTPError) as caught:
        publish(manual, "1.0.01")
    assert caught.value.code == 400 and "without leading zeros" in caught.value.read().decode()
    assert admin_error(manual, "/_hyperpod/ami-releases", {"endOfLife": "01.0"}) == 400
    sm.create_cluster(ClusterName="c", InstanceGroups=[group("a", 1)])
    assert settle(manual)
    publish(manual, "1.0.1")
    assert error_of(sm.update_cluster_software, ClusterName="c", InstanceGroups=[
        {"InstanceGroupName": "a", "ImageReleaseVersion": "1.0.0"}, {"InstanceGroupName": "a", "ImageReleaseVersion": "1.0.1"}]) == (
        "ValidationException", "Instance group a is listed more than once with different ImageReleaseVersion values.")


def test_R340_a_busy_node_moved_away_no_longer_counts(manual, sm):
    if "MoveClusterNodes" not in sm.meta.service_model.operation_names:
        pytest.skip("MoveClusterNodes is new in botocore 1.44")
    base = dict(VpcConfig=VPC, NodeProvisioningMode="Continuous")
    sm.create_cluster(ClusterName="src", InstanceGroups=[group("a", 3, AutoPatchConfig={"PatchingStrategy": "WhenIdle"})],
                      Orchestrator={"Eks": {"ClusterArn": f"{EKS_ARN}-src"}}, **base)
    sm.create_cluster(ClusterName="dst", InstanceGroups=[group("b", 1)], Orchestrator={"Eks": {"ClusterArn": f"{EKS_ARN}-dst"}}, **base)
    assert settle(manual)
    busy = node_ids(sm, "src", "a")[0]
    admin(manual, "/_hyperpod/faults", {"kind": "node-busy", "cluster": "src", "nodeId": busy})
    publish(manual, "1.0.1")
    advance(manual, 7 * DAY + 1)  # the two idle nodes are patched
    arns = {c["ClusterName"]: c["ClusterArn"] for c in sm.list_clusters()["ClusterSummaries"]}
    sm.move_cluster_nodes(SourceClusterArn=arns["src"], SourceInstanceGroupName="a", TargetClusterArn=arns["dst"],
                          TargetInstanceGroupName="b", NodeIds=[busy])
    a = groups_of(sm, "src")["a"]
    assert (a["SoftwareUpdateStatus"], a["CurrentImageReleaseVersion"]) == ("Succeeded", "1.0.1")


def test_R38_R340_a_kill_during_a_clock_advance_leaves_no_transition_ahead_of_the_stored_clock(make_server, tmp_path):
    import os
    import signal
    import threading
    from conftest import make_client
    db = str(tmp_path / "advance.sqlite")
    server = make_server("--clock", "manual", "--db", db, in_memory=False)
    sm = make_client(server.endpoint)
    if "ImageReleaseVersion" not in sm.meta.service_model.shape_for("ClusterInstanceGroupSpecification").members:
        pytest.skip("AutoPatchConfig is new in botocore 1.44")
    for i in range(6):
        sm.create_cluster(ClusterName=f"c{i}", InstanceGroups=[group("a", 6, AutoPatchConfig={"PatchingStrategy": "WhenIdle"})])
    assert settle(server)
    publish(server, "1.0.1")
    advancing = threading.Thread(target=lambda: _quietly(advance, server, 8 * DAY))
    advancing.start()
    threading.Event().wait(0.006)  # a wall-clock moment inside the advance, not a wait for a state
    os.kill(server.process.pid, signal.SIGKILL)
    advancing.join()
    server.process.wait()
    again = make_server("--clock", "manual", "--db", db, in_memory=False)
    sm = make_client(again.endpoint)
    now = admin(again, "/_hyperpod/clock")["now"]
    for i in range(6):
        events = sm.list_cluster_events(ClusterName=f"c{i}", MaxResults=100)["Events"]
        assert all(e["EventTime"].timestamp() <= now + 0.001 for e in events), (now, events[0]["EventTime"])
    assert settle(again, 2 * DAY)
    assert {n["InstanceStatus"]["Status"] for i in range(6) for n in nodes(sm, f"c{i}")} == {"Running"}


def _quietly(call, *args):
    try:
        call(*args)
    except Exception:  # the server was killed under it
        pass


def test_R108_R336_a_node_still_launching_when_a_software_update_starts_comes_up_on_its_target(manual, sm):
    checks = {"OnStartDeepHealthChecks": ["InstanceStress"]}  # the new node needs T_launch + T_dhc: longer than the patch
    eks(sm, manual, "k", group("a", 2, **checks))
    publish(manual, "1.0.1")
    sm.update_cluster(ClusterName="k", InstanceGroups=[group("a", 3, **checks)])  # Continuous: the cluster stays InService
    assert "Pending" in {n["InstanceStatus"]["Status"] for n in nodes(sm, "k", IncludeNodeLogicalIds=True)}
    sm.update_cluster_software(ClusterName="k")
    assert settle(manual)
    a = groups_of(sm, "k")["a"]
    assert (a["SoftwareUpdateStatus"], a["CurrentImageReleaseVersion"], a["CurrentCount"]) == ("Succeeded", "1.0.1", 3)
    assert {n["CurrentImageReleaseVersion"] for n in nodes(sm, "k")} == {"1.0.1"}
