"""The kit against the real binary, through its own fixtures: every helper does what the admin API says."""
import os
import shutil
import subprocess
import sys
import time
import urllib.request
from datetime import timedelta

import pytest
from botocore.exceptions import ClientError, WaiterError

from hyperpod_local import HyperPodLocal, HyperPodLocalError, ServerStartError, WaitError

GROUP = {
    "InstanceGroupName": "workers", "InstanceType": "ml.c5.xlarge", "InstanceCount": 2,
    "ExecutionRole": "arn:aws:iam::111122223333:role/hyperpod",
    "LifeCycleConfig": {"SourceS3Uri": "s3://my-bucket/lcc/", "OnCreate": "on_create.sh"},
}
ACCOUNT = "111122223333"


def status(sagemaker, name):
    return sagemaker.describe_cluster(ClusterName=name)["ClusterStatus"]


def test_wait_for_moves_the_manual_clock_only_as_far_as_the_cluster_needs(hyperpod_local, sagemaker):
    sagemaker.create_cluster(ClusterName="demo", InstanceGroups=[GROUP])
    assert status(sagemaker, "demo") == "Creating"
    before = hyperpod_local.clock.now()
    description = hyperpod_local.wait_for("demo", "InService")
    assert description["ClusterStatus"] == "InService" and description["ClusterName"] == "demo"
    assert timedelta(0) < hyperpod_local.clock.now() - before <= timedelta(seconds=10)  # fast profile, not a day
    nodes = sagemaker.list_cluster_nodes(ClusterName="demo")["ClusterNodeSummaries"]
    assert [n["InstanceStatus"]["Status"] for n in nodes] == ["Running", "Running"]
    sagemaker.delete_cluster(ClusterName="demo")
    assert hyperpod_local.wait_for("demo", "Deleted") == {}
    assert sagemaker.list_clusters()["ClusterSummaries"] == []


def test_wait_for_raises_with_the_failure_when_capacity_runs_out(hyperpod_local, sagemaker):
    hyperpod_local.capacity.set({"ml.c5.xlarge": 0})
    sagemaker.create_cluster(ClusterName="demo", InstanceGroups=[GROUP])
    with pytest.raises(WaitError) as caught:
        hyperpod_local.wait_for("demo", "InService")
    assert caught.value.cluster_status == "Failed"
    assert "do not have sufficient capacity" in caught.value.failure_message


def test_capacity_set_and_get_count_the_instances_in_use(hyperpod_local, sagemaker):
    sagemaker.create_cluster(ClusterName="demo", InstanceGroups=[GROUP])
    hyperpod_local.settle()
    pools = hyperpod_local.capacity.set({"ml.c5.xlarge": 1})["pools"]
    assert pools == [{"instanceType": "ml.c5.xlarge", "size": 3, "inUse": 2, "free": 1}]
    assert hyperpod_local.capacity.unlimited()["unlimited"] is True


def test_timing_overrides_lengthen_a_launch_and_settle_stops_at_max_seconds(hyperpod_local, sagemaker):
    assert hyperpod_local.timing.set(T_launch=600)["T_launch"] == 600
    sagemaker.create_cluster(ClusterName="demo", InstanceGroups=[GROUP])
    short = hyperpod_local.settle(max_seconds=60)
    assert short.settled is False and status(sagemaker, "demo") == "Creating"
    before = hyperpod_local.clock.now()
    done = hyperpod_local.settle()
    assert done.settled is True and done.set_aside == [] and status(sagemaker, "demo") == "InService"
    assert done.now - before >= timedelta(seconds=500)


def test_the_clock_moves_forward_only(hyperpod_local):
    start = hyperpod_local.clock.now()
    assert hyperpod_local.clock.advance(90) == start + timedelta(seconds=90)
    assert hyperpod_local.clock.set(start + timedelta(days=1)) == start + timedelta(days=1)
    with pytest.raises(HyperPodLocalError) as caught:
        hyperpod_local.clock.set(start)
    assert caught.value.http_status == 409 and "cannot go backwards" in caught.value.message
    assert hyperpod_local.clock.get().mode == "manual"


def test_quotas_refuse_a_cluster_beyond_them(hyperpod_local, sagemaker):
    quotas = hyperpod_local.quotas.set({"Number of SageMaker HyperPod clusters": 1})["quotas"]
    assert {"name": "Number of SageMaker HyperPod clusters", "value": 1, "usage": 0, "unit": "Clusters"} in quotas
    sagemaker.create_cluster(ClusterName="one", InstanceGroups=[GROUP])
    with pytest.raises(ClientError) as caught:
        sagemaker.create_cluster(ClusterName="two", InstanceGroups=[GROUP])
    assert caught.value.response["Error"]["Code"] == "ResourceLimitExceeded"


def test_faults_fail_a_node_and_an_operation_until_cleared(hyperpod_local, sagemaker):
    sagemaker.create_cluster(ClusterName="demo", InstanceGroups=[GROUP])
    hyperpod_local.wait_for("demo", "InService")
    node = sagemaker.list_cluster_nodes(ClusterName="demo")["ClusterNodeSummaries"][0]["InstanceId"]
    hyperpod_local.faults.node_failure("demo", node)
    described = sagemaker.describe_cluster_node(ClusterName="demo", NodeId=node)["NodeDetails"]["InstanceStatus"]
    assert described == {"Status": "Failure", "Message": f"Node {node} failed health checks: HardwareFailure"}
    fault = hyperpod_local.faults.api_error("ListClusters", "ThrottlingException")
    assert [f["id"] for f in hyperpod_local.faults.list()] == [fault]
    with pytest.raises(ClientError) as caught:
        sagemaker.list_clusters()
    assert caught.value.response["Error"]["Code"] == "ThrottlingException"
    hyperpod_local.faults.clear()
    assert [c["ClusterName"] for c in sagemaker.list_clusters()["ClusterSummaries"]] == ["demo"]
    with pytest.raises(HyperPodLocalError) as unknown:
        hyperpod_local.faults.inject("meteor-strike")
    assert unknown.value.http_status == 400 and "kind must be one of" in unknown.value.message


def test_accounts_are_partitions_and_reset_can_empty_one(hyperpod_local):
    mine, default = hyperpod_local.client(account_id=ACCOUNT), hyperpod_local.client()
    arn = mine.create_cluster(ClusterName="demo", InstanceGroups=[GROUP])["ClusterArn"]
    default.create_cluster(ClusterName="demo", InstanceGroups=[GROUP])
    assert arn.startswith(f"arn:aws:sagemaker:us-east-1:{ACCOUNT}:cluster/")
    assert [c["ClusterArn"] for c in hyperpod_local.state(account=ACCOUNT)["clusters"]] == [arn]
    assert hyperpod_local.state(account=ACCOUNT)["pendingTimers"][0]["resourceArn"] == arn
    hyperpod_local.reset(account=ACCOUNT)
    assert mine.list_clusters()["ClusterSummaries"] == []
    assert len(default.list_clusters()["ClusterSummaries"]) == 1


def test_env_points_the_aws_cli_at_the_server(hyperpod_local):
    hyperpod_local.client(account_id=ACCOUNT).create_cluster(ClusterName="demo", InstanceGroups=[GROUP])
    aws = shutil.which("aws", path=os.path.dirname(sys.executable)) or shutil.which("aws")
    assert aws, "the AWS CLI (awscli, in Tests/e2e/requirements.txt) is needed here"
    run = subprocess.run([aws, "sagemaker", "describe-cluster", "--cluster-name", "demo", "--query", "ClusterArn",
                          "--output", "text"], env=hyperpod_local.env(account_id=ACCOUNT), capture_output=True,
                         text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip().startswith(f"arn:aws:sagemaker:us-east-1:{ACCOUNT}:cluster/")


def test_waiters_on_a_settled_manual_clock_need_no_waiting(hyperpod_local, sagemaker):
    sagemaker.create_cluster(ClusterName="demo", InstanceGroups=[GROUP])
    hyperpod_local.settle()
    hyperpod_local.waiter("ClusterInService").wait(ClusterName="demo", WaiterConfig={"MaxAttempts": 1})
    sagemaker.delete_cluster(ClusterName="demo")
    hyperpod_local.settle()
    hyperpod_local.waiter("ClusterDeleted").wait(ClusterName="demo", WaiterConfig={"MaxAttempts": 1})
    hyperpod_local.capacity.set({"ml.c5.xlarge": 0})
    sagemaker.create_cluster(ClusterName="short", InstanceGroups=[GROUP])
    hyperpod_local.settle()
    with pytest.raises(WaiterError, match="terminal failure state"):
        hyperpod_local.waiter("ClusterInService").wait(ClusterName="short", WaiterConfig={"MaxAttempts": 1})
    with pytest.raises(ValueError, match="ClusterInService, ClusterDeleted"):
        hyperpod_local.waiter("ClusterUpdated")


def test_a_waiter_on_a_manual_clock_fails_at_once_pointing_to_wait_for(hyperpod_local, sagemaker):
    sagemaker.create_cluster(ClusterName="demo", InstanceGroups=[GROUP])
    started = time.monotonic()
    with pytest.raises(WaitError, match=r"clock is manual.*wait_for\('demo', 'InService'\)"):
        hyperpod_local.waiter("ClusterInService").wait(ClusterName="demo")
    assert time.monotonic() - started < 30  # not 150 polls of 2 s
    hyperpod_local.wait_for("demo", "InService")


def test_on_a_real_clock_wait_for_a_status_a_steady_cluster_will_not_reach_fails_at_once(hyperpod_local_factory):
    server = hyperpod_local_factory(clock=None, timing="instant")
    server.client().create_cluster(ClusterName="demo", InstanceGroups=[GROUP])
    server.wait_for("demo", "InService", poll_interval=0.05)
    started = time.monotonic()
    with pytest.raises(WaitError, match="is InService and the server has no pending transition for it") as caught:
        server.wait_for("demo", "Deleting")  # timeout: the default 300 s
    assert time.monotonic() - started < 30 and caught.value.cluster_status == "InService"


def test_wait_for_a_cluster_that_is_not_there_names_account_and_region(hyperpod_local, sagemaker):
    sagemaker.create_cluster(ClusterName="demo", InstanceGroups=[GROUP])
    with pytest.raises(WaitError) as caught:
        hyperpod_local.wait_for("demo", "InService", account_id=ACCOUNT)
    assert str(caught.value) == (f"no cluster 'demo' in account {ACCOUNT} / region us-east-1 (the default region; "
                                 f"pass region= to wait_for to look in another)")
    with pytest.raises(WaitError, match="^no cluster 'nope' in account 000000000000 / region us-east-1 "):
        hyperpod_local.wait_for("nope", "InService")


def test_state_capacity_and_quotas_answer_their_documented_keys(hyperpod_local):
    assert {"account", "region", "clusters", "pendingTimers", "clock"} <= set(hyperpod_local.state())
    assert set(hyperpod_local.capacity.get()) == {"account", "region", "unlimited", "pools"}
    quotas = hyperpod_local.quotas.get()
    assert set(quotas) == {"account", "region", "quotas"}
    assert set(quotas["quotas"][0]) == {"name", "value", "usage", "unit"}


def test_waiters_follow_a_real_clock(hyperpod_local_factory):
    server = hyperpod_local_factory(clock=None, timing="instant")
    sagemaker = server.client()
    assert server.clock.get().mode == "real"
    sagemaker.create_cluster(ClusterName="demo", InstanceGroups=[GROUP])
    server.waiter("ClusterInService").wait(ClusterName="demo", WaiterConfig={"Delay": 0.05, "MaxAttempts": 100})
    sagemaker.delete_cluster(ClusterName="demo")
    server.waiter("ClusterDeleted").wait(ClusterName="demo", WaiterConfig={"Delay": 0.05, "MaxAttempts": 100})


def test_the_admin_token_is_sent_and_needed(hyperpod_local_factory):
    server = hyperpod_local_factory(admin_token="t0ken")
    server.reset()
    intruder = HyperPodLocal.attach(server.endpoint_url)  # health needs no token
    with pytest.raises(HyperPodLocalError) as caught:
        intruder.reset()
    assert caught.value.http_status == 403


def test_a_bad_option_fails_the_start_with_the_servers_own_message(hyperpod_local_factory):
    with pytest.raises(ServerStartError) as caught:
        hyperpod_local_factory(clock="sometimes")
    assert "exited with status 64 before listening" in str(caught.value) and "sometimes" in str(caught.value)


def test_a_restart_on_the_database_file_resumes_pending_transitions(hyperpod_local_factory, tmp_path):
    server = hyperpod_local_factory(db=tmp_path / "state.sqlite")
    sagemaker, port = server.client(), server.port
    sagemaker.create_cluster(ClusterName="demo", InstanceGroups=[GROUP])
    assert server.stop() == 0
    server.start()
    assert server.port == port  # port 0 at first; the restart reuses the port it got
    assert status(sagemaker, "demo") == "Creating"  # a client made before the restart
    server.wait_for("demo", "InService")
    server.kill()
    server.start()
    assert status(sagemaker, "demo") == "InService"


def test_attach_sees_what_the_started_server_holds(hyperpod_local, sagemaker):
    sagemaker.create_cluster(ClusterName="demo", InstanceGroups=[GROUP])
    attached = HyperPodLocal.attach(hyperpod_local.endpoint_url)
    assert [c["ClusterName"] for c in attached.client().list_clusters()["ClusterSummaries"]] == ["demo"]
    attached.stop()
    assert hyperpod_local.running


def test_moto_reset_route_empties_the_server_as_mock_aws_in_server_mode_calls_it(hyperpod_local, sagemaker):
    """moto's @mock_aws with TEST_SERVER_MODE=true POSTs {TEST_SERVER_MODE_ENDPOINT}/moto-api/reset, bodiless,
    before and after each test (requests.post(url))."""
    sagemaker.create_cluster(ClusterName="demo", InstanceGroups=[GROUP])
    request = urllib.request.Request(hyperpod_local.endpoint_url + "/moto-api/reset", data=b"", method="POST")
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 200
    assert sagemaker.list_clusters()["ClusterSummaries"] == []
    assert hyperpod_local.state()["pendingTimers"] == []
