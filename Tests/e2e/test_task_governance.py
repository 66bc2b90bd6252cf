"""Task governance: cluster scheduler configs and compute quotas (issue #17, spec §18, R250–R287) with boto3 on a manual
clock (fast profile: T_policy = 1 s, T_gov_retain = 1 h)."""
import os
import tempfile
import urllib.error

import pytest

from conftest import make_client
from test_clusters import admin, group
from botocore.exceptions import ClientError
from test_update_cluster import EKS_ARN, VPC, advance, error_of, settle

P5 = "ml.p5.48xlarge"


def refused(call, *args, **kwargs):
    """The error code and message of a call that must fail (positional arguments allowed, unlike `error_of`)."""
    with pytest.raises(ClientError) as caught:
        call(*args, **kwargs)
    return caught.value.response["Error"]["Code"], caught.value.response["Error"]["Message"]


def eks(sm, server, name="k", groups=None):
    arn = sm.create_cluster(ClusterName=name, InstanceGroups=groups or [group("cpu", 1), group("gpu", 1, InstanceType=P5)], VpcConfig=VPC,
                            NodeProvisioningMode="Continuous", Orchestrator={"Eks": {"ClusterArn": f"{EKS_ARN}-{name}"}})["ClusterArn"]
    assert settle(server)
    return arn


def scheduler_config(sm, cluster, name="policy", config=None, **extra):
    return sm.create_cluster_scheduler_config(Name=name, ClusterArn=cluster, SchedulerConfig=config if config is not None else {
        "PriorityClasses": [{"Name": "inference", "Weight": 90}, {"Name": "training", "Weight": 70}]}, **extra)


def quota(sm, cluster, name="team-a-quota", team="team-a", resources=None, **extra):
    config = {"ComputeQuotaResources": resources if resources is not None else [{"InstanceType": P5, "Count": 1}]}
    config.update(extra.pop("config", {}))
    return sm.create_compute_quota(Name=name, ClusterArn=cluster, ComputeQuotaConfig=config, ComputeQuotaTarget={"TeamName": team}, **extra)


def sc(sm, id, **kw):
    return sm.describe_cluster_scheduler_config(ClusterSchedulerConfigId=id, **kw)


def cq(sm, id, **kw):
    return sm.describe_compute_quota(ComputeQuotaId=id, **kw)


def test_R250_R251_R264_R266_R277_R278_a_scheduler_config_is_created_with_its_defaults(manual, sm):
    cluster = eks(sm, manual)
    out = scheduler_config(sm, cluster, Description="cluster policy")
    id = out["ClusterSchedulerConfigId"]
    assert len(id) == 12 and id.isalnum() and id == id.lower()
    assert out["ClusterSchedulerConfigArn"] == f"arn:aws:sagemaker:us-east-1:000000000000:cluster-scheduler-config/{id}"
    described = sc(sm, id)
    assert (described["Status"], described["ClusterSchedulerConfigVersion"], described["ClusterArn"]) == ("Creating", 1, cluster)
    assert described["SchedulerConfig"] == {"PriorityClasses": [{"Name": "inference", "Weight": 90}, {"Name": "training", "Weight": 70}],
                                            "FairShare": "Enabled"}  # R264
    assert described["StatusDetails"] == {"FairShare": "Creating", "PriorityClasses": "Creating"}  # R269
    assert described["CreatedBy"] == {} and described["LastModifiedBy"] == {} and described["Description"] == "cluster policy"
    assert described["CreationTime"] == described["LastModifiedTime"]
    advance(manual, 1)  # T_policy
    described = sc(sm, id)
    assert described["Status"] == "Created" and "StatusDetails" not in described and "FailureReason" not in described


def test_R252_cluster_arns_and_ids(manual, sm):
    eks(sm, manual)
    missing = "arn:aws:sagemaker:us-east-1:000000000000:cluster/abcdefabcdef"
    assert error_of(sm.create_cluster_scheduler_config, Name="p", ClusterArn=missing, SchedulerConfig={}) == (
        "ValidationException", f"Could not find cluster '{missing}'")
    code, message = error_of(sm.create_compute_quota, Name="p", ClusterArn="my-cluster", ComputeQuotaConfig={},
                             ComputeQuotaTarget={"TeamName": "t"})
    assert code == "ValidationException" and "at 'clusterArn' failed to satisfy constraint: Member must satisfy regular expression pattern" in message
    assert error_of(sm.describe_cluster_scheduler_config, ClusterSchedulerConfigId="abcdefabcdef") == (
        "ResourceNotFound", "Could not find cluster scheduler config 'abcdefabcdef'")
    assert error_of(sm.delete_compute_quota, ComputeQuotaId="abcdefabcdef") == ("ResourceNotFound", "Could not find compute quota 'abcdefabcdef'")


def test_R253_R254_R255_a_slurm_cluster_and_a_creating_cluster_are_refused(manual, sm):
    slurm = sm.create_cluster(ClusterName="slurm", InstanceGroups=[group("controller", 1)])["ClusterArn"]
    assert error_of(sm.create_cluster_scheduler_config, Name="p", ClusterArn=slurm, SchedulerConfig={}) == (
        "ValidationException", "Task governance is only supported for clusters with an Eks orchestrator.")
    creating = sm.create_cluster(ClusterName="young", InstanceGroups=[group("cpu", 1)], VpcConfig=VPC, NodeProvisioningMode="Continuous",
                                 Orchestrator={"Eks": {"ClusterArn": f"{EKS_ARN}-young"}})["ClusterArn"]
    assert refused(quota, sm, creating, resources=[]) == (
        "ConflictException", "Cluster young is in Creating state and cannot accept task governance policies.")
    # R255: the cluster's state comes before the content (a duplicate priority class would also be refused).
    assert refused(scheduler_config, sm, creating, config={"PriorityClasses": [{"Name": "a", "Weight": 1}, {"Name": "a", "Weight": 2}]})[0] == (
        "ConflictException")


def test_R256_R270_one_scheduler_config_per_cluster_until_the_old_one_is_deleted(manual, sm):
    cluster = eks(sm, manual)
    first = scheduler_config(sm, cluster)["ClusterSchedulerConfigId"]
    assert refused(scheduler_config, sm, cluster, name="second") == (
        "ConflictException", f"Cluster k already has cluster scheduler config {first}. A cluster can have only one cluster scheduler config.")
    advance(manual, 1)
    assert sm.delete_cluster_scheduler_config(ClusterSchedulerConfigId=first)["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert sc(sm, first)["Status"] == "Deleting"
    assert refused(scheduler_config, sm, cluster, name="second")[0] == "ConflictException"  # Deleting is still live
    advance(manual, 1)
    assert sc(sm, first)["Status"] == "Deleted"  # still visible (R270)
    assert [s["Status"] for s in sm.list_cluster_scheduler_configs(Status="Deleted")["ClusterSchedulerConfigSummaries"]] == ["Deleted"]
    second = scheduler_config(sm, cluster, name="second")["ClusterSchedulerConfigId"]
    advance(manual, 3600)  # T_gov_retain: the Deleted record goes (P10)
    assert error_of(sm.describe_cluster_scheduler_config, ClusterSchedulerConfigId=first)[0] == "ResourceNotFound"
    assert sc(sm, second)["Status"] == "Created"


def test_R257_R258_R259_quota_names_teams_and_the_count_quota(manual, sm):
    cluster = eks(sm, manual)
    other = eks(sm, manual, "other")
    first = quota(sm, cluster)["ComputeQuotaId"]
    assert refused(quota, sm, cluster, team="team-b") == ("ConflictException", "Compute quota team-a-quota already exists in cluster k.")
    assert refused(quota, sm, cluster, name="second") == ("ConflictException", f"Team team-a already has compute quota {first} in cluster k.")
    assert quota(sm, other)["ComputeQuotaId"]  # the same name and team on another cluster
    long_team = "t" * 52
    assert refused(quota, sm, cluster, name="long", team=long_team) == (
        "ValidationException", f"TeamName {long_team} is too long: namespace hyperpod-ns-{long_team} must not exceed 63 characters.")
    admin(manual, "/_hyperpod/quotas", {"Compute quotas per SageMaker HyperPod cluster": 2}, method="PUT")
    quota(sm, cluster, name="b", team="team-b")
    code, message = refused(quota, sm, cluster, name="c", team="team-c")
    assert code == "ResourceLimitExceeded" and message.startswith(
        "The account-level service limit 'Compute quotas per SageMaker HyperPod cluster' is 2 Compute quotas, with current utilization of 2 Compute quotas")


def test_R260_R261_R262_R263_content_rules(manual, sm):
    cluster = eks(sm, manual)
    assert refused(scheduler_config, sm, cluster, config={"PriorityClasses": [{"Name": "a", "Weight": 1}, {"Name": "a", "Weight": 1}]}) == (
        "ValidationException", "Duplicate priority class name a.")
    assert refused(quota, sm, cluster, resources=[{"InstanceType": "ml.g5.xlarge", "Count": 1}]) == (
        "ValidationException", "Instance type ml.g5.xlarge is not used by any instance group of cluster k.")
    assert refused(quota, sm, cluster, resources=[{"InstanceType": P5, "Count": 1}, {"InstanceType": P5, "Accelerators": 8}]) == (
        "ValidationException", f"Duplicate instance type {P5} in ComputeQuotaResources.")
    assert refused(quota, sm, cluster, config={"ResourceSharingConfig": {
        "Strategy": "Lend", "AbsoluteBorrowLimits": [{"InstanceType": P5, "Count": 1}, {"InstanceType": P5, "Count": 2}]}}) == (
        "ValidationException", f"Duplicate instance type {P5} in AbsoluteBorrowLimits.")
    code, message = refused(quota, sm, cluster, config={"ResourceSharingConfig": {"Strategy": "LendandBorrow"}})
    assert code == "ValidationException" and "Member must satisfy enum value set: [Lend, DontLend, LendAndBorrow]" in message
    # R263: far more than the cluster has, fine-grained amounts combined with Count, all stored as given.
    resources = [{"InstanceType": P5, "Count": 500, "Accelerators": 3, "VCpu": 12.5, "MemoryInGiB": 100.25}]
    id = quota(sm, cluster, resources=resources)["ComputeQuotaId"]
    assert cq(sm, id)["ComputeQuotaConfig"]["ComputeQuotaResources"] == resources  # R265


def test_R264_R265_compute_quota_defaults_are_materialized(manual, sm):
    cluster = eks(sm, manual)
    id = quota(sm, cluster)["ComputeQuotaId"]
    described = cq(sm, id)
    assert described["ComputeQuotaConfig"] == {"ComputeQuotaResources": [{"InstanceType": P5, "Count": 1}],
                                               "ResourceSharingConfig": {"Strategy": "LendAndBorrow", "BorrowLimit": 50},
                                               "PreemptTeamTasks": "LowerPriority"}
    assert described["ComputeQuotaTarget"] == {"TeamName": "team-a", "FairShareWeight": 0}
    assert described["ActivationState"] == "Enabled" and "Description" not in described
    lend = quota(sm, cluster, name="lender", team="lender", config={"ResourceSharingConfig": {"Strategy": "Lend"}},
                 ActivationState="Disabled")["ComputeQuotaId"]
    assert cq(sm, lend)["ComputeQuotaConfig"]["ResourceSharingConfig"] == {"Strategy": "Lend"}
    assert cq(sm, lend)["ActivationState"] == "Disabled"


def test_R267_R268_R269_injected_failures_and_what_each_status_permits(manual, sm):
    cluster = eks(sm, manual)
    admin(manual, "/_hyperpod/faults", {"kind": "governance-failure", "resource": "cluster-scheduler-config", "operation": "create", "count": 1})
    id = scheduler_config(sm, cluster)["ClusterSchedulerConfigId"]
    advance(manual, 1)
    described = sc(sm, id)
    assert described["Status"] == "CreateFailed"
    assert described["FailureReason"] == (f"Task governance add-on amazon-sagemaker-hyperpod-taskgovernance is not installed or not ready on "
                                          f"EKS cluster {EKS_ARN}-k.")
    assert described["StatusDetails"] == {"FairShare": "CreateFailed", "PriorityClasses": "CreateFailed"}
    assert error_of(sm.update_cluster_scheduler_config, ClusterSchedulerConfigId=id, TargetVersion=1) == (
        "ConflictException", f"Cluster scheduler config {id} is in CreateFailed status and cannot be updated.")
    assert refused(scheduler_config, sm, cluster, name="again")[0] == "ConflictException"  # CreateFailed is live (R256)
    admin(manual, "/_hyperpod/faults", {"kind": "governance-failure", "operation": "delete", "rollback": "fail", "reason": "stuck", "count": 1})
    sm.delete_cluster_scheduler_config(ClusterSchedulerConfigId=id)
    assert "FailureReason" not in sc(sm, id)  # gone when the next Delete is accepted
    advance(manual, 1)
    assert (sc(sm, id)["Status"], sc(sm, id)["FailureReason"]) == ("DeleteRollbackFailed", "stuck")
    sm.delete_cluster_scheduler_config(ClusterSchedulerConfigId=id)  # retry the delete (D151)
    advance(manual, 1)
    assert sc(sm, id)["Status"] == "Deleted"
    sm.delete_cluster_scheduler_config(ClusterSchedulerConfigId=id)  # a no-op (R267)
    assert sc(sm, id)["Status"] == "Deleted"
    assert admin(manual, "/_hyperpod/faults")["faults"] == []  # both counts consumed


def test_R271_R272_R273_R275_versions_target_version_and_older_versions(manual, sm):
    cluster = eks(sm, manual)
    id = scheduler_config(sm, cluster, Description="first")["ClusterSchedulerConfigId"]
    assert error_of(sm.update_cluster_scheduler_config, ClusterSchedulerConfigId=id, TargetVersion=1) == (
        "ConflictException", f"Cluster scheduler config {id} is in Creating status and cannot be updated.")
    advance(manual, 1)
    out = sm.update_cluster_scheduler_config(ClusterSchedulerConfigId=id, TargetVersion=1, SchedulerConfig={"FairShare": "Disabled"})
    assert out["ClusterSchedulerConfigVersion"] == 2
    assert sc(sm, id)["SchedulerConfig"] == {"FairShare": "Disabled"}  # replaced whole: the classes are gone (R273)
    assert sc(sm, id)["Description"] == "first"  # absent: kept
    advance(manual, 1)
    assert error_of(sm.update_cluster_scheduler_config, ClusterSchedulerConfigId=id, TargetVersion=1) == (
        "ConflictException", f"TargetVersion 1 does not match the current version 2 of cluster scheduler config {id}.")
    sm.update_cluster_scheduler_config(ClusterSchedulerConfigId=id, TargetVersion=2, Description="")  # identical content still bumps
    advance(manual, 1)
    latest = sc(sm, id)
    assert (latest["ClusterSchedulerConfigVersion"], latest["Status"], latest["Description"]) == (3, "Updated", "")
    old = sc(sm, id, ClusterSchedulerConfigVersion=1)
    assert old["SchedulerConfig"]["PriorityClasses"][0]["Name"] == "inference" and old["Description"] == "first"
    assert old["ClusterSchedulerConfigVersion"] == 1 and old["Status"] == "Updated"  # current status (R275)
    assert old["LastModifiedTime"] < latest["LastModifiedTime"]
    assert error_of(sm.describe_cluster_scheduler_config, ClusterSchedulerConfigId=id, ClusterSchedulerConfigVersion=4) == (
        "ResourceNotFound", f"Could not find version 4 of cluster scheduler config '{id}'")


def test_R274_R276_update_and_delete_a_compute_quota(manual, sm):
    cluster = eks(sm, manual)
    id = quota(sm, cluster)["ComputeQuotaId"]
    advance(manual, 1)
    assert error_of(sm.update_compute_quota, ComputeQuotaId=id, TargetVersion=1, ComputeQuotaTarget={"TeamName": "team-b"}) == (
        "ValidationException", f"TeamName cannot be changed: compute quota {id} belongs to team team-a.")
    out = sm.update_compute_quota(ComputeQuotaId=id, TargetVersion=1, ComputeQuotaTarget={"TeamName": "team-a", "FairShareWeight": 10},
                                  ActivationState="Disabled")
    assert out["ComputeQuotaVersion"] == 2
    described = cq(sm, id)
    assert described["ComputeQuotaTarget"] == {"TeamName": "team-a", "FairShareWeight": 10} and described["ActivationState"] == "Disabled"
    assert described["ComputeQuotaConfig"]["ComputeQuotaResources"] == [{"InstanceType": P5, "Count": 1}]  # absent: kept
    advance(manual, 1)
    deleted = sm.delete_compute_quota(ComputeQuotaId=id)
    deleted.pop("ResponseMetadata")
    assert deleted == {}


def test_R279_R280_R281_list_filters_sort_and_pages(manual, sm):
    cluster = eks(sm, manual)
    other = eks(sm, manual, "other")
    quota(sm, cluster, name="b-quota", team="b-quota")
    advance(manual, 0.1)
    quota(sm, cluster, name="a-quota", team="a-quota")
    advance(manual, 1)
    quota(sm, other, name="c-quota", team="c-quota")
    names = lambda **kw: [q["Name"] for q in sm.list_compute_quotas(**kw)["ComputeQuotaSummaries"]]
    assert names() == ["c-quota", "a-quota", "b-quota"]  # CreationTime, Descending by default; ties by ARN
    assert names(SortBy="Name", SortOrder="Ascending") == ["a-quota", "b-quota", "c-quota"]
    assert names(ClusterArn=other) == ["c-quota"] and names(Status="Creating") == ["c-quota"]
    assert names(NameContains="A-QU") == ["a-quota"]
    assert names(ClusterArn="arn:aws:sagemaker:us-east-1:000000000000:cluster/abcdefabcdef") == []
    first = sm.list_compute_quotas(SortBy="Name", SortOrder="Ascending", MaxResults=2)
    assert [q["Name"] for q in first["ComputeQuotaSummaries"]] == ["a-quota", "b-quota"]
    rest = sm.list_compute_quotas(SortBy="Name", SortOrder="Ascending", MaxResults=2, NextToken=first["NextToken"])
    assert [q["Name"] for q in rest["ComputeQuotaSummaries"]] == ["c-quota"] and "NextToken" not in rest
    summary = sm.list_compute_quotas(SortBy="Name", SortOrder="Ascending")["ComputeQuotaSummaries"][0]
    assert set(summary) == {"ComputeQuotaArn", "ComputeQuotaId", "Name", "ComputeQuotaVersion", "Status", "ClusterArn", "ComputeQuotaConfig",
                            "ComputeQuotaTarget", "ActivationState", "CreationTime", "LastModifiedTime"}
    assert sm.list_cluster_scheduler_configs()["ClusterSchedulerConfigSummaries"] == []


def test_R282_tags_on_both_kinds(manual, sm):
    cluster = eks(sm, manual)
    arn = scheduler_config(sm, cluster, Tags=[{"Key": "a", "Value": "1"}, {"Key": "a", "Value": "2"}])["ClusterSchedulerConfigArn"]
    assert sm.list_tags(ResourceArn=arn)["Tags"] == [{"Key": "a", "Value": "2"}]
    qarn = quota(sm, cluster)["ComputeQuotaArn"]
    sm.add_tags(ResourceArn=qarn, Tags=[{"Key": "team", "Value": "ml"}])
    assert sm.list_tags(ResourceArn=qarn)["Tags"] == [{"Key": "team", "Value": "ml"}]
    sm.delete_tags(ResourceArn=qarn, TagKeys=["team"])
    assert sm.list_tags(ResourceArn=qarn)["Tags"] == []
    assert error_of(sm.list_tags, ResourceArn=qarn[:-12] + "abcdefabcdef")[0] == "ResourceNotFound"


def test_R283_R284_R285_delete_cluster_is_blocked_or_cascades(manual, sm):
    cluster = eks(sm, manual)
    config = scheduler_config(sm, cluster)["ClusterSchedulerConfigId"]
    q = quota(sm, cluster)["ComputeQuotaId"]
    assert sm.describe_cluster(ClusterName="k")["ClusterStatus"] == "InService"  # R283: policies change nothing of the cluster
    assert error_of(sm.delete_cluster, ClusterName="k") == (
        "ConflictException", f"Cluster k has task governance policies attached ({config}, {q}) and cannot be deleted. Delete them first.")
    admin(manual, "/_hyperpod/settings", {"governanceOnClusterDelete": "cascade"}, method="PUT")
    sm.delete_cluster(ClusterName="k")
    assert (sc(sm, config)["Status"], cq(sm, q)["Status"]) == ("Deleting", "Deleting")
    assert settle(manual)
    assert error_of(sm.describe_cluster, ClusterName="k")[0] == "ResourceNotFound"
    described = cq(sm, q)
    assert (described["Status"], described["ClusterArn"]) == ("Deleted", cluster)  # R285: outlives its cluster
    assert error_of(sm.update_compute_quota, ComputeQuotaId=q, TargetVersion=1)[0] == "ConflictException"


def test_R286_R287_instant_timing_answers_with_the_end_state(make_server):
    server = make_server("--clock", "manual", "--timing", "instant")
    sm = make_client(server.endpoint)
    cluster = eks(sm, server)
    id = quota(sm, cluster)["ComputeQuotaId"]
    assert cq(sm, id)["Status"] == "Created"
    sm.delete_compute_quota(ComputeQuotaId=id)
    assert cq(sm, id)["Status"] == "Deleted"
    state = admin(server, "/_hyperpod/state")
    assert [p["Status"] for p in state["governancePolicies"]] == ["Deleted"] and len(state["governancePolicies"][0]["Versions"]) == 1
    # The retention timer does not make a settle wait (RA11).
    answer = admin(server, "/_hyperpod/settle", {"maxSeconds": 60})
    assert answer["settled"] is True
    admin(server, "/_hyperpod/reset", {})
    assert admin(server, "/_hyperpod/state")["governancePolicies"] == []
    with pytest.raises(urllib.error.HTTPError) as refused:
        admin(server, "/_hyperpod/faults", {"kind": "governance-failure", "operation": "explode"})
    assert refused.value.code == 400


def test_R250_R266_R271_R272_full_lifecycle_two_teams_and_a_restart_mid_creating(make_server):
    """Must-show 1: two teams' quotas and a cluster policy from Creating to Deleted, a stale TargetVersion refused, a
    Slurm cluster refused, and a SIGKILL while the records are Creating: after the restart they reach Created."""
    path = os.path.join(tempfile.mkdtemp(), "state.db")
    server = make_server("--clock", "manual", "--db", path, in_memory=False)
    sm = make_client(server.endpoint)
    cluster = eks(sm, server)
    slurm = sm.create_cluster(ClusterName="slurm", InstanceGroups=[group("controller", 1)])["ClusterArn"]
    assert refused(quota, sm, slurm)[0] == "ValidationException"
    policy = scheduler_config(sm, cluster)["ClusterSchedulerConfigId"]
    team_a = quota(sm, cluster, name="a", team="team-a", resources=[{"InstanceType": P5, "Count": 1}],
                   config={"ResourceSharingConfig": {"Strategy": "LendAndBorrow", "BorrowLimit": 100}})["ComputeQuotaId"]
    team_b = quota(sm, cluster, name="b", team="team-b", resources=[{"InstanceType": "ml.c5.xlarge", "Count": 1}],
                   config={"ResourceSharingConfig": {"Strategy": "DontLend"}})["ComputeQuotaId"]
    assert {cq(sm, i)["Status"] for i in (team_a, team_b)} == {"Creating"}
    server.signal(9)
    server.wait(10)
    server = make_server("--clock", "manual", "--db", path, in_memory=False)
    sm = make_client(server.endpoint)
    assert {cq(sm, i)["Status"] for i in (team_a, team_b)} == {"Creating"} and sc(sm, policy)["Status"] == "Creating"
    assert settle(server)
    assert {cq(sm, i)["Status"] for i in (team_a, team_b)} == {"Created"} and sc(sm, policy)["Status"] == "Created"
    sm.update_compute_quota(ComputeQuotaId=team_a, TargetVersion=1, ComputeQuotaTarget={"TeamName": "team-a", "FairShareWeight": 50})
    assert error_of(sm.update_compute_quota, ComputeQuotaId=team_a, TargetVersion=1)[0] == "ConflictException"  # Updating
    assert settle(server)
    assert error_of(sm.update_compute_quota, ComputeQuotaId=team_a, TargetVersion=1) == (
        "ConflictException", f"TargetVersion 1 does not match the current version 2 of compute quota {team_a}.")
    for delete in (lambda: sm.delete_compute_quota(ComputeQuotaId=team_a), lambda: sm.delete_compute_quota(ComputeQuotaId=team_b),
                   lambda: sm.delete_cluster_scheduler_config(ClusterSchedulerConfigId=policy)):
        delete()
    assert settle(server)
    assert [q["Status"] for q in sm.list_compute_quotas()["ComputeQuotaSummaries"]] == ["Deleted", "Deleted"]
    sm.delete_cluster(ClusterName="k")  # nothing live is left: not blocked


def test_R263_R269_R276_R278_R284_delete_times_recheck_on_every_update_version_details_and_block_order(manual, sm):
    cluster = eks(sm, manual)
    first = quota(sm, cluster, name="first", team="first", resources=[{"InstanceType": "ml.c5.xlarge", "Count": 1}])["ComputeQuotaId"]
    second = quota(sm, cluster, name="second", team="second")["ComputeQuotaId"]  # the same instant as `first`
    assert refused(sm.delete_cluster, ClusterName="k")[1].endswith(f"({first}, {second}) and cannot be deleted. Delete them first.")
    advance(manual, 10)
    sm.delete_compute_quota(ComputeQuotaId=second)
    described = cq(sm, second)
    assert described["LastModifiedTime"] > described["CreationTime"]  # the Delete's acceptance (R278)
    assert [q["LastModifiedTime"] for q in sm.list_compute_quotas(NameContains="second")["ComputeQuotaSummaries"]] == [described["LastModifiedTime"]]
    # R263: once the cpu group is gone, any update of `first` re-checks its stored resources.
    sm.update_cluster(ClusterName="k", InstanceGroupsToDelete=["cpu"])
    assert settle(manual)
    assert refused(sm.update_compute_quota, ComputeQuotaId=first, TargetVersion=1, Description="only this") == (
        "ValidationException", "Instance type ml.c5.xlarge is not used by any instance group of cluster k.")
    # R269 with R275: an older version's StatusDetails name that version's components.
    id = scheduler_config(sm, cluster, config={"PriorityClasses": [{"Name": "a", "Weight": 1}], "IdleResourceSharing": "Enabled"})[
        "ClusterSchedulerConfigId"]
    advance(manual, 1)
    sm.update_cluster_scheduler_config(ClusterSchedulerConfigId=id, TargetVersion=1, SchedulerConfig={})
    assert sc(sm, id)["StatusDetails"] == {"FairShare": "Updating"}
    assert sc(sm, id, ClusterSchedulerConfigVersion=1)["StatusDetails"] == {
        "FairShare": "Updating", "PriorityClasses": "Updating", "IdleResourceSharing": "Updating"}
