"""Cluster events end to end (issue #6; spec §12 R111–R113, R96), on the release binary with boto3 and a manual clock."""
import pytest
from botocore.exceptions import ClientError

from conftest import make_client
from test_clusters import admin, group
from test_update_cluster import VPC, EKS_ARN, advance, capacity, continuous, legacy, settle


def all_events(sm, name, **kwargs):
    events, token = [], None
    while True:
        page = sm.list_cluster_events(ClusterName=name, **kwargs, **({"NextToken": token} if token else {}))
        events += page["Events"]
        token = page.get("NextToken")
        if not token:
            return events


def test_R111_R112_create_scale_up_scale_down_delete_history_newest_first(manual, sm):
    legacy(sm, manual, name="ev", groups=[group("a", 1)])
    first = sm.list_cluster_nodes(ClusterName="ev")["ClusterNodeSummaries"][0]["InstanceId"]
    sm.update_cluster(ClusterName="ev", InstanceGroups=[group("a", 2)])
    assert settle(manual)
    second = [n["InstanceId"] for n in sm.list_cluster_nodes(ClusterName="ev")["ClusterNodeSummaries"] if n["InstanceId"] != first][0]
    sm.update_cluster(ClusterName="ev", InstanceGroups=[group("a", 1)])
    assert settle(manual)
    [kept] = [n["InstanceId"] for n in sm.list_cluster_nodes(ClusterName="ev")["ClusterNodeSummaries"]]
    gone = second if kept == first else first
    sm.delete_cluster(ClusterName="ev")

    expected = [
        "Cluster ev create started successfully",
        "InstanceGroup a create started successfully in Cluster ev",
        f"EC2 Instance {first} successfully provisioned in Cluster ev and IG a",
        f"Instance lifecycle script execution for EC2 Instance {first} has Succeeded",
        "Instance Group a create in Cluster ev completed successfully",
        "Cluster ev create completed successfully",
        "Cluster ev update started successfully",
        "InstanceGroup a scaling started successfully in Cluster ev",
        f"EC2 Instance {second} successfully provisioned in Cluster ev and IG a",
        f"Instance lifecycle script execution for EC2 Instance {second} has Succeeded",
        "Instance Group a scaling in Cluster ev completed successfully",
        "Cluster ev update completed successfully",
        "Cluster ev update started successfully",
        "InstanceGroup a scaling started successfully in Cluster ev",
        f"Termination of EC2 Instance {gone} is currently in progress in Cluster ev and IG a",
        "Instance Group a scaling in Cluster ev completed successfully",
        "Cluster ev update completed successfully",
        "Cluster ev delete started successfully",
        "InstanceGroup a delete started successfully in Cluster ev",
        f"Termination of EC2 Instance {kept} is currently in progress in Cluster ev and IG a",
    ]
    default_page = sm.list_cluster_events(ClusterName="ev")
    assert len(default_page["Events"]) == 10 and default_page["NextToken"]  # MaxResults defaults to 10 (R96)
    newest_first = all_events(sm, "ev", MaxResults=2)
    assert [e["Description"] for e in newest_first] == expected[::-1]
    assert [e["Description"] for e in all_events(sm, "ev", SortOrder="Ascending", MaxResults=3)] == expected
    times = [e["EventTime"] for e in newest_first]
    assert times == sorted(times, reverse=True)
    levels = {e["EventLevel"] for e in newest_first}
    assert levels == {"Info"}
    types = [e["ResourceType"] for e in newest_first[::-1]][:4]
    assert types == ["Cluster", "InstanceGroup", "Instance", "Instance"]
    assert {e["ClusterName"] for e in newest_first} == {"ev"}
    # Filters (R96).
    assert [e["Description"] for e in all_events(sm, "ev", ResourceType="Cluster", SortOrder="Ascending")] == [
        d for d in expected if d.startswith("Cluster ev")]
    assert [e["Description"] for e in all_events(sm, "ev", NodeId=gone, SortOrder="Ascending")] == [
        d for d in expected if gone in d]
    assert all(e["InstanceGroupName"] == "a" for e in all_events(sm, "ev", InstanceGroupName="a"))
    assert all_events(sm, "ev", InstanceGroupName="A") == []
    # After the teardown the events go with the cluster (R88).
    assert settle(manual)
    with pytest.raises(ClientError) as caught:
        sm.list_cluster_events(ClusterName="ev")
    assert caught.value.response["Error"]["Code"] == "ResourceNotFound"


def test_R111_describe_cluster_event_carries_its_metadata(manual, sm):
    arn = legacy(sm, manual, name="ev", groups=[group("a", 1)])
    sm.update_cluster(ClusterName="ev", InstanceGroups=[group("a", 3)])
    scaling = [e for e in all_events(sm, "ev") if "scaling started" in e["Description"]][0]
    detail = sm.describe_cluster_event(ClusterName="ev", EventId=scaling["EventId"])["EventDetails"]
    assert detail["ClusterArn"] == arn and detail["ResourceType"] == "InstanceGroup" and detail["InstanceGroupName"] == "a"
    assert detail["EventDetails"]["EventMetadata"] == {"InstanceGroupScaling": {"InstanceCount": 1, "TargetCount": 3}}
    launched = [e for e in all_events(sm, "ev") if "successfully provisioned" in e["Description"]][0]
    metadata = sm.describe_cluster_event(ClusterName="ev", EventId=launched["EventId"])["EventDetails"]["EventDetails"]["EventMetadata"]
    assert list(metadata) == ["Instance"] and "NodeLogicalId" in metadata["Instance"]
    missing = "01234567-89ab-4cde-8f01-23456789abcd"
    with pytest.raises(ClientError) as caught:
        sm.describe_cluster_event(ClusterName="ev", EventId=missing)
    assert caught.value.response["Error"] == {
        "Code": "ResourceNotFound", "Message": f"Could not find event '{missing}' in cluster '{arn}'"}


def test_R113_R118_continuous_shortfall_records_one_failed_launch_per_retry_round(manual, sm):
    continuous(sm, manual, groups=[group("a", 1)])
    capacity(manual, {"ml.c5.xlarge": 0})
    sm.update_cluster(ClusterName="k", InstanceGroups=[group("a", 4)])  # three slots wait
    advance(manual, 2 + 4 + 8)  # rounds at +0 (the request), +2, +6, +14
    failed = [e for e in all_events(sm, "k", SortOrder="Ascending") if e["EventLevel"] == "Error"]
    assert [e["Description"] for e in failed] == ["Failed to provision EC2 Instance in Cluster k and IG a"] * 4
    assert all(e["ResourceType"] == "Instance" and "InstanceId" not in e for e in failed)
    metadata = sm.describe_cluster_event(ClusterName="k", EventId=failed[0]["EventId"])["EventDetails"]["EventDetails"]["EventMetadata"]
    assert metadata["Instance"]["FailureMessage"] == (
        "We currently do not have sufficient capacity to launch new ml.c5.xlarge instances. Please try again.")


def test_R112_autoscaling_and_min_count_rollback_events(manual, sm):
    continuous(sm, manual, groups=[group("a", 1)])
    sm.update_cluster(ClusterName="k", AutoScaling={"Mode": "Enable"}, ClusterRole="arn:aws:iam::111122223333:role/hyperpod")
    assert settle(manual)
    capacity(manual, {"ml.c5.xlarge": 0})
    sm.update_cluster(ClusterName="k", InstanceGroups=[group("a", 2, MinInstanceCount=2)])
    advance(manual, 3 * 3600)
    descriptions = [e["Description"] for e in all_events(sm, "k", SortOrder="Ascending", MaxResults=100)]
    assert "AutoScaling enable completed successfully in Cluster k" in descriptions
    assert descriptions.index("InstanceGroup a rollback started successfully in Cluster k") < descriptions.index(
        "Instance Group a rollback in Cluster k completed successfully")


def test_R96_time_range_filters_are_strict(manual, sm):
    # boto3 sends timestamps in whole seconds: start on a whole second so event times compare exactly.
    admin(manual, "/_hyperpod/clock", {"set": int(admin(manual, "/_hyperpod/clock")["now"]) + 10})
    legacy(sm, manual, name="ev", groups=[group("a", 1)])
    created = sm.describe_cluster(ClusterName="ev")["CreationTime"]
    events = all_events(sm, "ev", SortOrder="Ascending")
    times = sorted({e["EventTime"] for e in events})
    assert times[0].timestamp() == created.timestamp()
    after = all_events(sm, "ev", EventTimeAfter=times[0], SortOrder="Ascending")
    assert after and all(e["EventTime"] > times[0] for e in after)
    before = all_events(sm, "ev", EventTimeBefore=times[-1])
    assert before and all(e["EventTime"] < times[-1] for e in before)
    assert len(after) + sum(e["EventTime"] == times[0] for e in events) == len(events)
