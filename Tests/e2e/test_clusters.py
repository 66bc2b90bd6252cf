"""Cluster lifecycle end to end (issue #4; spec §3–§6, §8, §9, §13, §14a), on the release binary with boto3 and the
AWS CLI. Time moves only through the admin clock (RA3) and settle (RA11): nothing here sleeps for a state."""
import base64
import json
import os
import re
import signal
import sqlite3
import subprocess
import tempfile
import urllib.request

import pytest
from botocore.exceptions import ClientError

from conftest import CORPUS, ROOT, Server, make_client

ROLE = "arn:aws:iam::111122223333:role/hyperpod"
INSTANCE_ID = re.compile(r"^i-[0-9a-f]{17}$")
ARN = re.compile(r"^arn:aws:sagemaker:us-east-1:000000000000:cluster/[a-z0-9]{12}$")


def admin(server, path, body=None, method=None):
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(server.endpoint + path, data=data, method=method or ("POST" if data else "GET"))
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.load(response)


def group(name="workers", count=2, **extra):
    g = {"InstanceGroupName": name, "InstanceType": "ml.c5.xlarge", "InstanceCount": count, "ExecutionRole": ROLE,
         "LifeCycleConfig": {"SourceS3Uri": "s3://my-bucket/lcc/", "OnCreate": "on_create.sh"}}
    g.update(extra)
    return g


def status(sm, name):
    return sm.describe_cluster(ClusterName=name)["ClusterStatus"]


def test_R41_create_passes_creating_then_in_service_on_a_manual_clock(manual, sm):
    arn = sm.create_cluster(ClusterName="demo", InstanceGroups=[group("a", 2), group("b", 60)])["ClusterArn"]
    assert ARN.match(arn)
    described = sm.describe_cluster(ClusterName="demo")
    assert described["ClusterStatus"] == "Creating"
    assert [(g["InstanceGroupName"], g["Status"], g["CurrentCount"], g["TargetCount"]) for g in described["InstanceGroups"]] == [
        ("a", "Creating", 0, 2), ("b", "Creating", 0, 60)]
    assert sm.list_cluster_nodes(ClusterName="demo")["ClusterNodeSummaries"] == []

    admin(manual, "/_hyperpod/clock", {"advanceSeconds": 1.999})
    assert sm.list_cluster_nodes(ClusterName="demo")["ClusterNodeSummaries"] == []
    admin(manual, "/_hyperpod/clock", {"advanceSeconds": 0.001})  # T_setup = 2 s: every slot is Pending with an instance
    nodes = sm.list_cluster_nodes(ClusterName="demo", MaxResults=100)["ClusterNodeSummaries"]
    assert len(nodes) == 62 and {n["InstanceStatus"]["Status"] for n in nodes} == {"Pending"}
    admin(manual, "/_hyperpod/clock", {"advanceSeconds": 1})  # first batches (T_launch = 1 s)
    groups = sm.describe_cluster(ClusterName="demo")["InstanceGroups"]
    assert [(g["Status"], g["CurrentCount"]) for g in groups] == [("InService", 2), ("Creating", 50)]
    assert status(sm, "demo") == "Creating"
    admin(manual, "/_hyperpod/clock", {"advanceSeconds": 1})  # b's second batch of 10
    assert status(sm, "demo") == "InService"
    assert [g["CurrentCount"] for g in sm.describe_cluster(ClusterName="demo")["InstanceGroups"]] == [2, 60]


def test_R40_fast_profile_on_the_real_clock_settles(make_server):
    server = make_server()  # real clock, fast profile
    sm = make_client(server.endpoint)
    sm.create_cluster(ClusterName="quick", InstanceGroups=[group()])
    assert status(sm, "quick") == "Creating"
    result = admin(server, "/_hyperpod/settle", {"maxSeconds": 60})
    assert result["settled"] is True and result["mode"] == "real"
    assert status(sm, "quick") == "InService"


def test_R90_describe_by_arn_echoes_the_request(manual, sm):
    arn = sm.create_cluster(
        ClusterName="echo", InstanceGroups=[group(ThreadsPerCore=2, OnStartDeepHealthChecks=["InstanceStress"])],
        VpcConfig={"SecurityGroupIds": ["sg-0123abcd"], "Subnets": ["subnet-0aaa", "subnet-0bbb"]},
    )["ClusterArn"]
    admin(manual, "/_hyperpod/settle", {})
    d = sm.describe_cluster(ClusterName=arn)
    assert d["ClusterArn"] == arn and d["ClusterName"] == "echo" and d["ClusterStatus"] == "InService"
    assert d["VpcConfig"] == {"SecurityGroupIds": ["sg-0123abcd"], "Subnets": ["subnet-0aaa", "subnet-0bbb"]}
    assert d["NodeRecovery"] == "Automatic"  # R90 default
    g = d["InstanceGroups"][0]
    assert g["ThreadsPerCore"] == 2 and g["OnStartDeepHealthChecks"] == ["InstanceStress"]
    assert g["ExecutionRole"] == ROLE and g["LifeCycleConfig"]["SourceS3Uri"] == "s3://my-bucket/lcc/"
    assert g["CurrentImageId"] == g["DesiredImageId"] and re.match(r"^ami-[0-9a-f]{17}$", g["CurrentImageId"])
    assert "FailureMessage" not in d and "Orchestrator" not in d  # R11, R90


def test_R12_timestamps_are_epoch_seconds_with_three_decimals(manual, sm):
    import http.client
    sm.create_cluster(ClusterName="ts", InstanceGroups=[group()])
    conn = http.client.HTTPConnection(manual.host, manual.port)
    conn.request("POST", "/", body=b'{"ClusterName":"ts"}', headers={"X-Amz-Target": "SageMaker.DescribeCluster"})
    raw = conn.getresponse().read().decode()
    assert re.search(r'"CreationTime":\d{10}\.\d{3}[,}]', raw), raw
    clock = admin(manual, "/_hyperpod/clock")
    assert json.loads(raw)["CreationTime"] == pytest.approx(clock["now"], abs=0.001)


def test_R93_R94_nodes_have_valid_ids_addresses_hostnames_and_placement(manual, sm):
    sm.create_cluster(ClusterName="nodes", InstanceGroups=[group(count=3)],
                      VpcConfig={"SecurityGroupIds": ["sg-1"], "Subnets": ["subnet-0abc"]})
    admin(manual, "/_hyperpod/settle", {})
    nodes = sm.list_cluster_nodes(ClusterName="nodes")["ClusterNodeSummaries"]
    assert len(nodes) == 3
    ips = set()
    for node in nodes:
        assert INSTANCE_ID.match(node["InstanceId"])
        assert node["InstanceStatus"] == {"Status": "Running", "Message": ""}
        assert "NodeLogicalId" not in node  # legacy cluster (R34)
        details = sm.describe_cluster_node(ClusterName="nodes", NodeId=node["InstanceId"])["NodeDetails"]
        ip = details["PrivatePrimaryIp"]
        assert re.match(r"^10\.\d+\.\d+\.\d+$", ip) and ip not in ips
        ips.add(ip)
        assert details["PrivateDnsHostname"] == node["PrivateDnsHostname"] == "ip-" + ip.replace(".", "-") + ".ec2.internal"
        zone = details["Placement"]["AvailabilityZone"]
        assert zone in ("us-east-1a", "us-east-1b", "us-east-1c", "us-east-1d")
        assert details["Placement"]["AvailabilityZoneId"] == "use1-az" + str("abcd".index(zone[-1]) + 1)
    # One subnet: one /20 block, addresses issued sequentially from its fifth (R35).
    last_octets = sorted(int(ip.split(".")[3]) for ip in ips)
    assert last_octets == [4, 5, 6]
    with pytest.raises(ClientError) as caught:
        sm.describe_cluster_node(ClusterName="nodes", NodeId="i-0123456789abcdef0")
    assert caught.value.response["Error"]["Code"] == "ResourceNotFound"


def test_R35_a_full_block_continues_in_the_next_one_and_addresses_stay_unique(manual, sm):
    """R35's /20 issues 4,091 addresses (.4 of the block up to the last but one); a larger fleet without VpcConfig
    continues in the next /20 instead of repeating an address (emulator decision). Addresses are per partition, and a
    freed one is issued again first."""
    admin(manual, "/_hyperpod/quotas", {"ml.c5.xlarge for cluster usage": 10000, "Maximum number instances allowed per SageMaker HyperPod cluster": 10000,
                                        "Total number of instances allowed across SageMaker HyperPod clusters": 10000}, method="PUT")
    sm.create_cluster(ClusterName="big", InstanceGroups=[group("a", count=2050), group("b", count=2050)])
    admin(manual, "/_hyperpod/settle", {})

    def addresses(client, name):
        found, token = {}, None
        while token != "":
            page = client.list_cluster_nodes(ClusterName=name, MaxResults=100, **({"NextToken": token} if token else {}))
            for node in page["ClusterNodeSummaries"]:
                found[node["InstanceId"]] = node["PrivateDnsHostname"].split(".")[0][3:].replace("-", ".")
            token = page["NextToken"]
        return found

    ips = addresses(sm, "big")
    assert len(ips) == 4100 and len(set(ips.values())) == 4100
    as_int = sorted(int.from_bytes(bytes(int(o) for o in ip.split(".")), "big") for ip in ips.values())
    first_block = int.from_bytes(bytes([10, 1, 0, 0]), "big")
    assert as_int[:4091] == list(range(first_block + 4, first_block + 4095))  # 10.1.0.4 … 10.1.15.254
    assert as_int[4091:] == list(range(first_block + 4096 + 4, first_block + 4096 + 13))  # then 10.1.16.4 …

    # Another account's partition starts again at 10.1.0.4.
    other = make_client(manual.endpoint, access_key="444455556666")
    other.create_cluster(ClusterName="small", InstanceGroups=[group(count=1)])
    admin(manual, "/_hyperpod/settle", {})
    assert list(addresses(other, "small").values()) == ["10.1.0.4"]

    # A node removed from the full block frees its address; the next launch takes it.
    victim = next(i for i, ip in ips.items() if ip == "10.1.7.7")
    sm.batch_delete_cluster_nodes(ClusterName="big", NodeIds=[victim])
    admin(manual, "/_hyperpod/settle", {})
    sm.update_cluster(ClusterName="big", InstanceGroups=[group("a", count=2050), group("b", count=2050)])
    admin(manual, "/_hyperpod/settle", {})
    after = addresses(sm, "big")
    assert len(after) == 4100 and len(set(after.values())) == 4100
    assert victim not in after and "10.1.7.7" in after.values()


def test_R87_R88_R89_delete_passes_deleting_then_resource_not_found(manual, sm):
    arn = sm.create_cluster(ClusterName="gone", InstanceGroups=[group()])["ClusterArn"]
    admin(manual, "/_hyperpod/settle", {})
    assert sm.delete_cluster(ClusterName="gone")["ClusterArn"] == arn
    d = sm.describe_cluster(ClusterName="gone")
    assert d["ClusterStatus"] == "Deleting" and d["InstanceGroups"][0]["CurrentCount"] == 2  # counts unchanged
    assert {n["InstanceStatus"]["Status"] for n in sm.list_cluster_nodes(ClusterName="gone")["ClusterNodeSummaries"]} == {"ShuttingDown"}
    with pytest.raises(ClientError) as caught:
        sm.delete_cluster(ClusterName="gone")
    assert caught.value.response["Error"] == {"Code": "ConflictException", "Message": "Cluster gone is already being deleted."}
    admin(manual, "/_hyperpod/settle", {})
    with pytest.raises(ClientError) as caught:
        sm.describe_cluster(ClusterName=arn)
    assert caught.value.response["Error"] == {"Code": "ResourceNotFound", "Message": f"Could not find cluster '{arn}'"}
    # The name is free again; the id is new (R30).
    again = sm.create_cluster(ClusterName="gone", InstanceGroups=[group()])["ClusterArn"]
    assert again != arn


def test_R32_R66_not_found_and_in_use(manual, sm):
    with pytest.raises(ClientError) as caught:
        sm.describe_cluster(ClusterName="nothing")
    assert caught.value.response["Error"] == {
        "Code": "ResourceNotFound", "Message": "Could not find cluster 'arn:aws:sagemaker:us-east-1:000000000000:cluster/nothing'"}
    sm.create_cluster(ClusterName="twice", InstanceGroups=[group()])
    with pytest.raises(ClientError) as caught:
        sm.create_cluster(ClusterName="twice", InstanceGroups=[group()])
    assert caught.value.response["Error"] == {"Code": "ResourceInUse", "Message": "Cluster twice already exists."}


def test_R27_a_cluster_is_invisible_from_another_account_or_region(manual):
    home = make_client(manual.endpoint, region="us-east-1", access_key="111111111111")
    arn = home.create_cluster(ClusterName="private", InstanceGroups=[group()])["ClusterArn"]
    assert ":111111111111:" in arn
    for other in (make_client(manual.endpoint, region="us-east-1", access_key="222222222222"),
                  make_client(manual.endpoint, region="eu-west-1", access_key="111111111111")):
        for name in ("private", arn):
            with pytest.raises(ClientError) as caught:
                other.describe_cluster(ClusterName=name)
            assert caught.value.response["Error"]["Code"] == "ResourceNotFound"
        assert other.list_clusters()["ClusterSummaries"] == []
        other.create_cluster(ClusterName="private", InstanceGroups=[group()])  # the name is free there


def test_R92_R95_list_filters_sorts_and_walks_25_clusters_one_by_one(manual, sm):
    names = [f"c{i:02d}" for i in range(25)]
    # botocore sends request timestamps as whole epoch seconds: create on whole seconds so the strict bounds are exact.
    import math
    admin(manual, "/_hyperpod/clock", {"set": math.ceil(admin(manual, "/_hyperpod/clock")["now"]) + 1})
    times = []
    for name in names:
        sm.create_cluster(ClusterName=name, InstanceGroups=[group(count=0)])
        times.append(admin(manual, "/_hyperpod/clock")["now"])
        admin(manual, "/_hyperpod/clock", {"advanceSeconds": 1})
    seen, token, pages = [], None, 0
    while True:
        page = sm.list_clusters(MaxResults=1, **({"NextToken": token} if token else {}))
        seen += [s["ClusterName"] for s in page["ClusterSummaries"]]
        pages += 1
        token = page.get("NextToken")
        if not token:
            break
        # A cluster created mid-walk does not disturb it (keyset, R95).
        if pages == 10:
            sm.create_cluster(ClusterName="zz-late", InstanceGroups=[group(count=0)])
    assert seen[:25] == names and seen.count("zz-late") <= 1 and len(seen) in (25, 26)
    assert page["NextToken"] == ""  # R11: "" on the last page
    by_name = sm.list_clusters(SortBy="NAME", SortOrder="Descending", MaxResults=100)["ClusterSummaries"]
    assert [s["ClusterName"] for s in by_name] == sorted(names + ["zz-late"], reverse=True)
    contains = sm.list_clusters(NameContains="C1", MaxResults=100)["ClusterSummaries"]  # case-insensitive
    assert [s["ClusterName"] for s in contains] == [f"c1{i}" for i in range(10)]
    import datetime
    after = datetime.datetime.fromtimestamp(times[19], tz=datetime.timezone.utc)
    before = datetime.datetime.fromtimestamp(times[22], tz=datetime.timezone.utc)
    window = sm.list_clusters(CreationTimeAfter=after, CreationTimeBefore=before, MaxResults=100)["ClusterSummaries"]
    assert [s["ClusterName"] for s in window] == ["c20", "c21"]  # both bounds strict
    with pytest.raises(ClientError) as caught:
        sm.list_clusters(NextToken="not-a-token")
    assert caught.value.response["Error"] == {"Code": "ValidationException", "Message": "Invalid NextToken value."}
    other_params = sm.list_clusters(MaxResults=1)["NextToken"]
    with pytest.raises(ClientError):
        sm.list_clusters(MaxResults=1, SortBy="NAME", NextToken=other_params)


def test_R114_R115_tags(manual, sm):
    arn = sm.create_cluster(ClusterName="tagged", InstanceGroups=[group()], Tags=[{"Key": "team", "Value": "ml"}])["ClusterArn"]
    sm.add_tags(ResourceArn=arn, Tags=[{"Key": "env", "Value": "dev"}, {"Key": "team", "Value": "infra"}])
    assert sm.list_tags(ResourceArn=arn)["Tags"] == [{"Key": "team", "Value": "infra"}, {"Key": "env", "Value": "dev"}]
    sm.delete_tags(ResourceArn=arn, TagKeys=["team", "absent"])
    assert sm.list_tags(ResourceArn=arn)["Tags"] == [{"Key": "env", "Value": "dev"}]
    with pytest.raises(ClientError) as caught:
        sm.add_tags(ResourceArn=arn, Tags=[{"Key": "aws:reserved", "Value": "x"}])
    assert caught.value.response["Error"]["Message"] == "Tag keys starting with 'aws:' are reserved."
    with pytest.raises(ClientError) as caught:
        sm.add_tags(ResourceArn=arn, Tags=[{"Key": f"k{i}", "Value": "v"} for i in range(50)])
    assert caught.value.response["Error"]["Message"] == "Tag limit exceeded: a resource can have at most 50 tags."


def test_RA3_clock_never_goes_backwards_and_settle_reports(manual):
    now = admin(manual, "/_hyperpod/clock")["now"]
    with pytest.raises(urllib.error.HTTPError) as caught:
        admin(manual, "/_hyperpod/clock", {"set": now - 10})
    assert caught.value.code == 409 and "backwards" in json.load(caught.value)["error"]
    with pytest.raises(urllib.error.HTTPError) as caught:
        admin(manual, "/_hyperpod/clock", {"timeScale": 2})
    assert caught.value.code == 409  # manual clock
    moved = admin(manual, "/_hyperpod/clock", {"set": now + 100})
    assert moved["now"] == pytest.approx(now + 100)


def test_RA2_reset_empties_the_state(manual, sm):
    sm.create_cluster(ClusterName="temp", InstanceGroups=[group()])
    admin(manual, "/_hyperpod/quotas", {"Number of SageMaker HyperPod clusters": 1}, method="PUT")
    admin(manual, "/_hyperpod/capacity", {"ml.c5.xlarge": 0}, method="PUT")
    admin(manual, "/_hyperpod/faults", {"kind": "latency", "operation": "ListTags", "milliseconds": 1})
    assert admin(manual, "/_hyperpod/reset", {}) == {"reset": True}
    assert sm.list_clusters()["ClusterSummaries"] == []
    assert admin(manual, "/_hyperpod/state")["pendingTimers"] == []
    assert admin(manual, "/_hyperpod/faults")["faults"] == []
    assert admin(manual, "/_hyperpod/capacity")["unlimited"] is True
    quotas = {q["name"]: q["value"] for q in admin(manual, "/_hyperpod/quotas")["quotas"]}
    assert quotas["Number of SageMaker HyperPod clusters"] == 100


def test_admin_off_and_token(make_server):
    off = make_server("--admin", "off")
    with pytest.raises(urllib.error.HTTPError) as caught:
        admin(off, "/_hyperpod/clock")
    assert caught.value.code == 404
    assert admin(off, "/_hyperpod/health")["status"] == "running"
    locked = make_server("--admin-token", "s3cret")
    with pytest.raises(urllib.error.HTTPError) as caught:
        admin(locked, "/_hyperpod/clock")
    assert caught.value.code == 403
    request = urllib.request.Request(locked.endpoint + "/_hyperpod/clock", headers={"X-Hyperpod-Admin-Token": "s3cret"})
    assert json.load(urllib.request.urlopen(request))["mode"] == "real"


def test_crash_safety_sigkill_mid_transition_loses_nothing(tmp_path):
    db = str(tmp_path / "state.sqlite")
    server = Server("--db", db, "--clock", "manual", in_memory=False)
    try:
        sm = make_client(server.endpoint)
        arn = sm.create_cluster(ClusterName="durable", InstanceGroups=[group(count=3)])["ClusterArn"]
        admin(server, "/_hyperpod/clock", {"advanceSeconds": 2.5})  # setup done, nodes Pending, launch due at +3
        created_at = sm.describe_cluster(ClusterName="durable")["CreationTime"]
        pending = admin(server, "/_hyperpod/state")["pendingTimers"]
        assert len(pending) == 1
        server.process.send_signal(signal.SIGKILL)
        server.process.wait()
    finally:
        server.stop()
    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    again = Server("--db", db, "--clock", "manual", in_memory=False)
    try:
        sm = make_client(again.endpoint)
        d = sm.describe_cluster(ClusterName=arn)
        assert d["ClusterStatus"] == "Creating" and d["CreationTime"] == created_at
        assert admin(again, "/_hyperpod/state")["pendingTimers"] == pending  # same event, same virtual due time
        admin(again, "/_hyperpod/clock", {"advanceSeconds": 0.499})
        assert status(sm, arn) == "Creating"
        admin(again, "/_hyperpod/clock", {"advanceSeconds": 0.001})
        assert status(sm, arn) == "InService"
    finally:
        again.stop()


def test_aws_cli_creates_from_a_corpus_file_and_describes_it(manual):
    env = dict(os.environ, AWS_ACCESS_KEY_ID="x", AWS_SECRET_ACCESS_KEY="x", AWS_DEFAULT_REGION="us-east-1", AWS_MAX_ATTEMPTS="1")
    source = os.path.join(CORPUS, "moto_create-cluster-two-groups-test-fixture.json")
    created = subprocess.run(["aws", "--endpoint-url", manual.endpoint, "sagemaker", "create-cluster",
                              "--cli-input-json", f"file://{source}"], capture_output=True, text=True, env=env, timeout=60)
    assert created.returncode == 0, created.stderr
    arn = json.loads(created.stdout)["ClusterArn"]
    admin(manual, "/_hyperpod/settle", {})
    described = subprocess.run(["aws", "--endpoint-url", manual.endpoint, "sagemaker", "describe-cluster",
                                "--cluster-name", arn], capture_output=True, text=True, env=env, timeout=60)
    assert described.returncode == 0, described.stderr
    body = json.loads(described.stdout)
    with open(source) as f:
        request = json.load(f)
    assert body["ClusterName"] == request["ClusterName"] and body["ClusterStatus"] == "InService"
    assert sum(g["CurrentCount"] for g in body["InstanceGroups"]) == sum(g["InstanceCount"] for g in request["InstanceGroups"]) == 25


def test_pipelined_read_after_write_sees_the_write(manual, sm):
    from http_client import Reader, post
    sm.create_cluster(ClusterName="ordered", InstanceGroups=[group()])
    admin(manual, "/_hyperpod/settle", {})
    for _ in range(3):
        assert status(sm, "ordered") == "InService"  # the answer is cached now
    sock = manual.connect()
    sock.sendall(post("SageMaker.DeleteCluster", b'{"ClusterName":"ordered"}')
                 + post("SageMaker.DescribeCluster", b'{"ClusterName":"ordered"}')
                 + post("SageMaker.ListClusterNodes", b'{"ClusterName":"ordered"}'))
    reader = Reader(sock)
    assert reader.response().status == 200
    assert json.loads(reader.response().body)["ClusterStatus"] == "Deleting"
    nodes = json.loads(reader.response().body)["ClusterNodeSummaries"]
    assert {n["InstanceStatus"]["Status"] for n in nodes} == {"ShuttingDown"}
    sock.close()


def test_reads_answered_concurrently_see_every_acknowledged_write(manual, sm):
    """Reads run off the state queue on snapshots (several at once); an acknowledged write is in every snapshot taken
    after it, whichever connection reads. 8 writers and 8 readers at once: a reader never sees an older state than
    one it was told of."""
    import threading
    names = [f"w{i}" for i in range(8)]
    for name in names:
        sm.create_cluster(ClusterName=name, InstanceGroups=[group(count=1)])
    admin(manual, "/_hyperpod/settle", {})
    acknowledged = {name: 1 for name in names}
    problems, lock, stop = [], threading.Lock(), threading.Event()

    def writer(name):
        client = make_client(manual.endpoint)
        for count in range(2, 12):
            client.update_cluster(ClusterName=name, InstanceGroups=[group(count=count)])
            admin(manual, "/_hyperpod/settle", {})
            with lock:
                acknowledged[name] = count

    def reader():
        client = make_client(manual.endpoint)
        while not stop.is_set():
            for name in names:
                with lock:
                    floor = acknowledged[name]
                target = client.describe_cluster(ClusterName=name)["InstanceGroups"][0]["TargetCount"]
                listed = client.list_cluster_nodes(ClusterName=name, MaxResults=100)["ClusterNodeSummaries"]
                if target < floor or len(listed) < floor:
                    with lock:
                        problems.append((name, floor, target, len(listed)))

    readers = [threading.Thread(target=reader) for _ in range(8)]
    writers = [threading.Thread(target=writer, args=(name,)) for name in names]
    [t.start() for t in readers + writers]
    [t.join() for t in writers]
    stop.set()
    [t.join() for t in readers]
    assert problems == []
    assert all(sm.describe_cluster(ClusterName=n)["InstanceGroups"][0]["CurrentCount"] == 11 for n in names)


def test_R84_instance_type_quota_counts_the_partitions_clusters(manual, sm):
    sm.create_cluster(ClusterName="first", InstanceGroups=[group(count=60, InstanceType="ml.p5.48xlarge")])
    with pytest.raises(ClientError) as caught:
        sm.create_cluster(ClusterName="second", InstanceGroups=[group(count=41, InstanceType="ml.p5.48xlarge")])
    assert caught.value.response["Error"] == {
        "Code": "ResourceLimitExceeded",
        "Message": "The account-level service limit 'ml.p5.48xlarge for cluster usage' is 100 Instances, with current "
                   "utilization of 60 Instances and a request delta of 41 Instances. Please use AWS Service Quotas to "
                   "request an increase for this quota. If AWS Service Quotas is not available, contact AWS support to "
                   "request an increase for this quota.",
    }
    assert [c["ClusterName"] for c in sm.list_clusters()["ClusterSummaries"]] == ["first"]  # nothing was created
    sm.create_cluster(ClusterName="second", InstanceGroups=[group(count=40, InstanceType="ml.p5.48xlarge")])
    sm.delete_cluster(ClusterName="first")  # a Deleting cluster no longer counts
    sm.create_cluster(ClusterName="third", InstanceGroups=[group(count=60, InstanceType="ml.p5.48xlarge")])


def test_R39_real_clock_fires_transitions_in_the_background(make_server):
    # The one test that watches real time pass: its subject is the background timer of --clock real. At 1000× a
    # create settles in about 4 ms of wall time; the state dump fires nothing itself, so it shows the timer's work.
    import time
    server = make_server("--time-scale", "1000")
    make_client(server.endpoint).create_cluster(ClusterName="bg", InstanceGroups=[group()])
    deadline = time.monotonic() + 10
    while True:
        clusters = admin(server, "/_hyperpod/state")["clusters"]
        if clusters and clusters[0]["ClusterStatus"] == "InService":
            break
        assert time.monotonic() < deadline, clusters
        time.sleep(0.01)
    assert admin(server, "/_hyperpod/state")["pendingTimers"] == []


def test_R92_R228_training_plan_filter_and_summary(manual, sm):
    # A real plan (R221 (a) refuses an ARN that names none), bought from an offering and paid (T_payment = 1 s).
    offering = sm.search_training_plan_offerings(InstanceType="ml.p5.48xlarge", InstanceCount=2, DurationHours=24,
                                                 TargetResources=["hyperpod-cluster"])["TrainingPlanOfferings"][0]
    plan = sm.create_training_plan(TrainingPlanName="plan-1", TrainingPlanOfferingId=offering["TrainingPlanOfferingId"])["TrainingPlanArn"]
    admin(manual, "/_hyperpod/clock", {"advanceSeconds": 1})
    gpu = group(InstanceType="ml.p5.48xlarge", TrainingPlanArn=plan)
    sm.create_cluster(ClusterName="planned", InstanceGroups=[gpu, dict(gpu, InstanceGroupName="more")])
    sm.create_cluster(ClusterName="unplanned", InstanceGroups=[group()])
    listed = sm.list_clusters(TrainingPlanArn=plan)["ClusterSummaries"]
    assert [(s["ClusterName"], s["TrainingPlanArns"]) for s in listed] == [("planned", [plan])]  # distinct ARNs (R228)
    # A cluster without plans lists `"TrainingPlanArns": []`, as a real AWS answer does (Tests/Fixtures/
    # runai_list-clusters-fragment-RESPONSE.json), not an absent member.
    everything = {s["ClusterName"]: s for s in sm.list_clusters()["ClusterSummaries"]}
    assert everything["unplanned"]["TrainingPlanArns"] == []
    with open(os.path.join(ROOT, "Tests", "Fixtures", "runai_list-clusters-fragment-RESPONSE.json")) as f:
        assert json.load(f)["ClusterSummaries"][0]["TrainingPlanArns"] == []


def test_huge_or_forged_inputs_are_refused_never_a_crash(manual, sm):
    # Found by attacking the state layer: each of these used to kill the server with an integer overflow.
    import base64
    forged = base64.urlsafe_b64encode(json.dumps({"o": "ListClusters", "b": "x", "k": []}).encode()).decode().rstrip("=")
    for token in (forged,):
        with pytest.raises(ClientError) as caught:
            sm.list_clusters(NextToken=token)
        assert caught.value.response["Error"]["Message"] == "Invalid NextToken value."
    for body in ({"advanceSeconds": 9.3e15}, {"set": 1e300}, {"timeScale": 1e300}):
        with pytest.raises(urllib.error.HTTPError) as caught:
            admin(manual, "/_hyperpod/clock", body)
        assert caught.value.code in (400, 409), body
    assert admin(manual, "/_hyperpod/settle", {"maxSeconds": 1e300})["settled"] is True
    assert admin(manual, "/_hyperpod/health")["status"] == "running"


def test_real_clock_with_a_huge_scale_is_refused_at_start():
    result = subprocess.run([os.environ.get("HYPERPOD_LOCAL_BIN", os.path.join(ROOT, ".build/release/hyperpod-local")),
                             "serve", "--in-memory", "--time-scale", "1e15"], capture_output=True, text=True, timeout=10)
    assert result.returncode != 0 and "--time-scale" in result.stderr


def test_R93_R95_node_pages_walk_every_node_once_in_every_order(manual, sm):
    # boto3 sends timestamps in whole seconds: start on a whole second so launch times compare exactly.
    admin(manual, "/_hyperpod/clock", {"set": int(admin(manual, "/_hyperpod/clock")["now"]) + 10})
    sm.create_cluster(ClusterName="pages", InstanceGroups=[group("b", 30), group("a", 27)])
    admin(manual, "/_hyperpod/settle", {})
    sm.update_cluster(ClusterName="pages", InstanceGroups=[group("a", 30)])  # three nodes launched later
    admin(manual, "/_hyperpod/settle", {})

    def walk(**kwargs):
        seen, token = [], None
        while True:
            page = sm.list_cluster_nodes(ClusterName="pages", MaxResults=7, **kwargs, **({"NextToken": token} if token else {}))
            seen += page["ClusterNodeSummaries"]
            token = page.get("NextToken")
            if not token:
                return seen

    everything = walk()
    assert len(everything) == 60 and len({n["InstanceId"] for n in everything}) == 60
    times = [n["LaunchTime"] for n in everything]
    assert times == sorted(times)
    assert [n["InstanceId"] for n in walk(SortOrder="Descending")] == [n["InstanceId"] for n in everything][::-1]
    by_name = walk(SortBy="NAME")
    assert [(n["InstanceGroupName"], n["InstanceId"]) for n in by_name] == sorted((n["InstanceGroupName"], n["InstanceId"]) for n in everything)
    only_a = walk(InstanceGroupNameContains="A")
    assert {n["InstanceGroupName"] for n in only_a} == {"a"} and len(only_a) == 30
    later = walk(CreationTimeAfter=times[0])
    assert 0 < len(later) < 60 and all(n["LaunchTime"] > times[0] for n in later)
    with pytest.raises(ClientError) as caught:
        sm.list_cluster_nodes(ClusterName="pages", NextToken=sm.list_cluster_nodes(ClusterName="pages")["NextToken"], SortBy="NAME")
    assert caught.value.response["Error"]["Message"] == "Invalid NextToken value."


def test_RA8_RA9_a_partition_named_wrongly_is_refused_not_taken_for_the_default(manual):
    for path, body, method in [("/_hyperpod/settings", {"account": 123456789012, "restrictedInstanceGroupsOnCreate": "allow"}, "PUT"),
                               ("/_hyperpod/settings", {"account": "bad", "restrictedInstanceGroupsOnCreate": "allow"}, "PUT"),
                               ("/_hyperpod/ami-releases", {"region": "us east", "version": "1.0.1", "architecture": "x86_64"}, "POST"),
                               ("/_hyperpod/state?account=12", None, "GET")]:
        with pytest.raises(urllib.error.HTTPError) as caught:
            admin(manual, path, body, method=method)
        assert caught.value.code == 400, path
        assert json.load(caught.value)["error"].split(" must be ")[0] in ("account", "region")
    assert admin(manual, "/_hyperpod/settings")["restrictedInstanceGroupsOnCreate"] == "reject"  # nothing was stored
    # The extension catalogue's body is a map of names: "account" there is an extension name, not a partition.
    assert "account" in admin(manual, "/_hyperpod/extensions?account=111122223333", {"account": {"1.0.0": {"defaults": {}}}},
                              method="PUT")["extensions"]
