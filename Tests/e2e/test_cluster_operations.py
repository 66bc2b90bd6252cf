"""Cluster operations (issue #15, spec §19.1, R303–R309): ListClusterOperations, DescribeClusterOperation, OperationId
on events, on a manual clock with the fast profile. The operations exist in botocore 1.44 only: on the 1.43 SDK run the
module is skipped (that SDK has no method for them)."""
import pytest

from test_clusters import admin, group
from test_update_cluster import EKS_ARN, VPC, advance, error_of, groups_of, legacy, nodes, settle

UNKNOWN = "00000000-0000-4000-8000-000000000000"


@pytest.fixture(autouse=True)
def needs_botocore_1_44(sm):
    if "ListClusterOperations" not in sm.meta.service_model.operation_names:
        pytest.skip("ListClusterOperations is new in botocore 1.44; this SDK has no method for it")


def create_continuous(sm, name="k", groups=None):
    return sm.create_cluster(ClusterName=name, InstanceGroups=groups or [group("a", 2)], VpcConfig=VPC,
                             Orchestrator={"Eks": {"ClusterArn": EKS_ARN}}, NodeProvisioningMode="Continuous")["ClusterArn"]


def operations(sm, name="k", **filters):
    return sm.list_cluster_operations(ClusterName=name, **filters)["ClusterOperationSummaries"]


def describe(sm, operation_id, name="k"):
    out = sm.describe_cluster_operation(ClusterName=name, OperationId=operation_id)
    out.pop("ResponseMetadata")
    return out


def update_returning_operation(sm, groups, name="k"):
    """UpdateCluster; the id of the one operation it recorded (found by difference: several may share a creation time)."""
    before = {o["OperationId"] for o in operations(sm, name, MaxResults=100)}
    sm.update_cluster(ClusterName=name, InstanceGroups=groups)
    [new] = [o["OperationId"] for o in operations(sm, name, MaxResults=100) if o["OperationId"] not in before]
    return new


def details(sm, operation_id, name="k"):
    return [(d["InstanceGroupName"], d["Status"], d["Original"], d["Desired"]) for d in describe(sm, operation_id, name)["ScalingDetails"]]


def test_R303_R304_R306_create_records_a_scaling_operation_that_ends_with_ActiveOperations(manual, sm):
    arn = create_continuous(sm, groups=[group("a", 2), group("empty", 0)])
    [summary] = operations(sm)
    assert set(summary) == {"OperationId", "ClusterArn", "Type", "Status", "CreationTime"}  # R308: all five members
    assert (summary["ClusterArn"], summary["Type"], summary["Status"]) == (arn, "Scaling", "InProgress")
    # R304: one detail per group the request sets a count on (a group created with 0 has none); no MinCount member
    # for a group without one; Original is all 0 for a group the request creates.
    assert details(sm, summary["OperationId"]) == [("a", "InProgress", {"CurrentCount": 0, "TargetCount": 0}, {"TargetCount": 2})]
    assert describe(sm, summary["OperationId"])["CreationTime"] == summary["CreationTime"]
    assert "DeepHealthCheckDetails" not in describe(sm, summary["OperationId"])
    assert groups_of(sm, "k")["a"]["ActiveOperations"] == {"Scaling": 1}
    assert "ActiveOperations" not in groups_of(sm, "k")["empty"]
    assert settle(manual)
    # R305/R306: Done, and ActiveOperations gone, at the same instant.
    assert describe(sm, summary["OperationId"])["Status"] == "Done"
    assert details(sm, summary["OperationId"])[0][1] == "Done"
    assert "ActiveOperations" not in groups_of(sm, "k")["a"]


def test_R303_legacy_clusters_and_changes_that_touch_no_count_record_none(manual, sm):
    legacy(sm, manual)
    sm.update_cluster(ClusterName="c", InstanceGroups=[group("a", 3), group("b", 1)])
    assert operations(sm, "c") == []  # legacy: always an empty list
    create_continuous(sm)
    assert settle(manual)
    [created] = operations(sm)
    sm.update_cluster(ClusterName="k", InstanceGroups=[group("a", 2, ThreadsPerCore=1)])  # configuration only
    instance = nodes(sm, "k")[0]["InstanceId"]
    sm.batch_reboot_cluster_nodes(ClusterName="k", NodeIds=[instance])
    assert settle(manual)
    assert [o["OperationId"] for o in operations(sm)] == [created["OperationId"]]


def test_R305_a_later_request_supersedes_the_group_it_changes_and_MinCount_shows_where_the_group_has_one(manual, sm):
    create_continuous(sm, groups=[group("a", 1), group("b", 1)])
    assert settle(manual)
    first = update_returning_operation(sm, [group("a", 2), group("b", 2, MinInstanceCount=1)])
    second = update_returning_operation(sm, [group("a", 3), group("b", 2, MinInstanceCount=1)])
    assert details(sm, first) == [
        ("a", "Superseded", {"CurrentCount": 1, "TargetCount": 1}, {"TargetCount": 2}),
        ("b", "InProgress", {"CurrentCount": 1, "TargetCount": 1, "MinCount": 0}, {"TargetCount": 2, "MinCount": 1}),
    ]
    assert details(sm, second) == [("a", "InProgress", {"CurrentCount": 1, "TargetCount": 2}, {"TargetCount": 3})]
    assert settle(manual)
    # The first is Done (one detail Done), not Superseded (which needs every detail superseded).
    assert [describe(sm, op)["Status"] for op in (first, second)] == ["Done", "Done"]
    third = update_returning_operation(sm, [group("a", 4), group("b", 2, MinInstanceCount=1)])
    update_returning_operation(sm, [group("a", 5), group("b", 2, MinInstanceCount=1)])
    assert describe(sm, third)["Status"] == "Superseded"  # its only detail superseded


def test_R305_BatchDeleteClusterNodes_and_DeleteCluster(manual, sm):
    create_continuous(sm)
    assert settle(manual)
    victim = nodes(sm, "k")[0]["InstanceId"]
    sm.batch_delete_cluster_nodes(ClusterName="k", NodeIds=[victim])
    [scale_down, _] = operations(sm)
    assert details(sm, scale_down["OperationId"]) == [("a", "InProgress", {"CurrentCount": 2, "TargetCount": 2}, {"TargetCount": 1})]
    assert groups_of(sm, "k")["a"]["ActiveOperations"] == {"Scaling": 1}
    assert settle(manual)
    assert describe(sm, scale_down["OperationId"])["Status"] == "Done"
    advance(manual, 1)
    sm.update_cluster(ClusterName="k", InstanceGroups=[group("a", 3)])
    sm.delete_cluster(ClusterName="k")
    # Both operations answer while the cluster is Deleting; the unfinished one is Superseded.
    assert sm.describe_cluster(ClusterName="k")["ClusterStatus"] == "Deleting"
    assert [o["Status"] for o in operations(sm)] == ["Superseded", "Done", "Done"]
    assert settle(manual)
    with pytest.raises(sm.exceptions.ResourceNotFound):  # R309: they vanish with their cluster
        operations(sm)


def test_R303_R305_deep_health_check_operation_echoes_its_request_and_ends_with_the_checks(manual, sm):
    create_continuous(sm)
    assert settle(manual)
    configurations = [{"InstanceGroupName": "a", "DeepHealthChecks": ["InstanceStress", "MultiNodeTrainingValidation"]}]
    sm.start_cluster_health_check(ClusterName="k", DeepHealthCheckConfigurations=configurations)
    [check] = operations(sm, Type="DeepHealthCheck")
    described = describe(sm, check["OperationId"])
    assert (described["Type"], described["Status"]) == ("DeepHealthCheck", "InProgress")
    assert described["DeepHealthCheckDetails"] == configurations  # echoed as sent: no InstanceIds
    assert "ScalingDetails" not in described
    # R306: R85 applies exactly while it is InProgress.
    assert error_of(sm.update_cluster, ClusterName="k", InstanceGroups=[group("a", 3)])[0] == "ConflictException"
    assert settle(manual)
    assert describe(sm, check["OperationId"])["Status"] == "Done"
    sm.update_cluster(ClusterName="k", InstanceGroups=[group("a", 3)])


def test_R306_R307_events_carry_their_operation_id_and_ListClusterEvents_filters_on_it(manual, sm):
    create_continuous(sm)
    assert settle(manual)
    [created] = operations(sm)
    events = sm.list_cluster_events(ClusterName="k", MaxResults=100)["Events"]
    tagged = [e for e in events if e.get("OperationId") == created["OperationId"]]
    assert tagged and {e["ResourceType"] for e in tagged} <= {"InstanceGroup", "Instance"}
    assert all("OperationId" not in e for e in events if e["ResourceType"] == "Cluster")
    filtered = sm.list_cluster_events(ClusterName="k", MaxResults=100, OperationId=created["OperationId"])["Events"]
    assert [e["EventId"] for e in filtered] == [e["EventId"] for e in tagged]
    detail = sm.describe_cluster_event(ClusterName="k", EventId=tagged[0]["EventId"])["EventDetails"]
    assert detail["OperationId"] == created["OperationId"]
    assert sm.list_cluster_events(ClusterName="k", OperationId=UNKNOWN)["Events"] == []  # not an error


def test_R308_filters_order_and_paging(manual, sm):
    create_continuous(sm)
    assert settle(manual)
    for count in (3, 4):
        advance(manual, 60)
        sm.update_cluster(ClusterName="k", InstanceGroups=[group("a", count)])
        assert settle(manual)
    advance(manual, 60)
    sm.start_cluster_health_check(ClusterName="k", DeepHealthCheckConfigurations=[
        {"InstanceGroupName": "a", "DeepHealthChecks": ["InstanceStress"]}])
    listed = operations(sm)
    times = [o["CreationTime"] for o in listed]
    assert times == sorted(times, reverse=True) and len(listed) == 4  # Descending by default
    ascending = operations(sm, SortBy="CreationTime", SortOrder="Ascending")
    assert [o["OperationId"] for o in ascending] == [o["OperationId"] for o in reversed(listed)]
    assert [o["Type"] for o in operations(sm, Type="Scaling")] == ["Scaling"] * 3
    assert [o["Type"] for o in operations(sm, Status="InProgress")] == ["DeepHealthCheck"]
    # Strict bounds: the second operation's own time excludes it.
    assert [o["OperationId"] for o in operations(sm, CreationTimeAfter=ascending[1]["CreationTime"])] == \
        [listed[0]["OperationId"], listed[1]["OperationId"]]
    pages, token = [], None
    while True:
        page = sm.list_cluster_operations(ClusterName="k", MaxResults=1, **({"NextToken": token} if token else {}))
        pages += page["ClusterOperationSummaries"]
        token = page.get("NextToken")
        if not token:
            break
    assert [o["OperationId"] for o in pages] == [o["OperationId"] for o in listed]
    assert error_of(sm.describe_cluster_operation, ClusterName="k", OperationId=UNKNOWN) == (
        "ResourceNotFound", f"Could not find operation '{UNKNOWN}' in cluster '{listed[0]['ClusterArn']}'")


def test_R309_finished_operations_are_purged_after_14_days_and_events_keep_their_id(manual, sm):
    create_continuous(sm)
    assert settle(manual)
    [created] = operations(sm)
    advance(manual, 14 * 24 * 3600 - 60)
    assert [o["OperationId"] for o in operations(sm)] == [created["OperationId"]]
    advance(manual, 120)
    assert operations(sm) == []
    assert error_of(sm.describe_cluster_operation, ClusterName="k", OperationId=created["OperationId"])[0] == "ResourceNotFound"
    events = sm.list_cluster_events(ClusterName="k", MaxResults=100, OperationId=created["OperationId"])["Events"]
    assert events
