"""Crash safety and soak (issue #8). The default test command runs short versions; scripts/stress.sh runs the long ones
(HYPERPOD_STRESS_KILLS=20, HYPERPOD_STRESS_SOAK_SECONDS=60, HYPERPOD_STRESS_CLIENTS=64)."""
import os
import random
import signal
import sqlite3
import threading
import time

from botocore.config import Config
from botocore.exceptions import ClientError, EndpointConnectionError, ConnectionClosedError, ReadTimeoutError
import boto3

from conftest import Server, make_client
from test_clusters import admin, group
from test_update_cluster import EKS_ARN, VPC

KILLS = int(os.environ.get("HYPERPOD_STRESS_KILLS", "3"))
SOAK_SECONDS = float(os.environ.get("HYPERPOD_STRESS_SOAK_SECONDS", "5"))
CLIENTS = int(os.environ.get("HYPERPOD_STRESS_CLIENTS", "16"))
TRANSPORT = (EndpointConnectionError, ConnectionClosedError, ReadTimeoutError, ConnectionError, OSError)


def continuous_request(name, count):
    return dict(ClusterName=name, InstanceGroups=[group("a", count)], VpcConfig=VPC, NodeProvisioningMode="Continuous",
                Orchestrator={"Eks": {"ClusterArn": EKS_ARN.replace("my-eks", name)}})


def test_crash_safety_sigkill_during_writes_loses_nothing_acknowledged(tmp_path):
    db = str(tmp_path / "state.sqlite")
    rng = random.Random(20261201)
    expected = {}      # cluster → TargetCount of group a after the last acknowledged write
    in_flight = {}     # cluster → TargetCount if the write in flight at the kill was applied
    outcomes = {"applied": 0, "not applied": 0}

    def resolve_in_flight(sm):
        """After a restart: the write in flight at the kill was applied whole or not at all; adopt what happened."""
        for name, count in in_flight.items():
            try:
                target = sm.describe_cluster(ClusterName=name)["InstanceGroups"][0]["TargetCount"]
            except ClientError as e:
                assert e.response["Error"]["Code"] == "ResourceNotFound" and name not in expected, name
                outcomes["not applied"] += 1  # a create that never committed
                continue
            assert target in {expected.get(name), count} - {None}, (name, target, expected.get(name), count)
            outcome = "either (same count)" if expected.get(name) == count else "applied" if target == count else "not applied"
            outcomes[outcome] = outcomes.get(outcome, 0) + 1
            expected[name] = target
        in_flight.clear()

    for round_ in range(KILLS):
        server = Server("--db", db, "--timing", "fast", "--time-scale", "50", in_memory=False)
        sm = make_client(server.endpoint, connect_timeout=2, read_timeout=5)
        resolve_in_flight(sm)
        stop = threading.Event()

        def writer():
            while not stop.is_set():
                names = sorted(expected)
                op = rng.random()
                try:
                    if op < 0.15 or not names:
                        name = f"k{round_}-{len(expected)}"
                        count = rng.randrange(0, 4)
                        in_flight.clear(); in_flight[name] = count
                        sm.create_cluster(**continuous_request(name, count))
                        expected[name] = count
                    elif op < 0.75:
                        name = rng.choice(names)
                        count = rng.randrange(0, 6)
                        in_flight.clear(); in_flight[name] = count
                        sm.update_cluster(ClusterName=name, InstanceGroups=[group("a", count)])
                        expected[name] = count
                    else:
                        name = rng.choice(names)
                        listed = sm.list_cluster_nodes(ClusterName=name)["ClusterNodeSummaries"]
                        running = [n["InstanceId"] for n in listed if n["InstanceStatus"]["Status"] == "Running"]
                        if not running:
                            continue
                        in_flight.clear(); in_flight[name] = expected[name] - 1
                        out = sm.batch_delete_cluster_nodes(ClusterName=name, NodeIds=[running[0]])
                        expected[name] -= len(out.get("Successful", []))
                    in_flight.clear()
                except ClientError:
                    in_flight.clear()  # refused: nothing changed
                except TRANSPORT:
                    return  # the server was killed: the write in flight may or may not have been committed

        thread = threading.Thread(target=writer)
        thread.start()
        time.sleep(rng.uniform(0.3, 1.0))
        server.process.send_signal(signal.SIGKILL)
        server.process.wait()
        stop.set()
        thread.join(timeout=30)
        server.stop()
        with sqlite3.connect(db) as conn:
            assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"

    server = Server("--db", db, "--clock", "manual", in_memory=False)
    try:
        sm = make_client(server.endpoint)
        assert admin(server, "/_hyperpod/settle", {"maxSeconds": 3600})["settled"]  # pending timers resumed and finished
        resolve_in_flight(sm)
        print(f"\ncrash safety: {KILLS} SIGKILLs, {len(expected)} clusters acknowledged, integrity_check ok after each; "
              f"writes in flight at a kill: {outcomes}")
        assert len(expected) >= KILLS  # writes were really acknowledged between the kills
        found = {c["ClusterName"]: c for c in sm.get_paginator("list_clusters").paginate().build_full_result()["ClusterSummaries"]}
        assert set(found) == set(expected)  # every acknowledged cluster, and no other
        for name in found:
            g = sm.describe_cluster(ClusterName=name)["InstanceGroups"][0]
            assert g["TargetCount"] == expected[name], (name, g["TargetCount"], expected[name])
            listed = sm.get_paginator("list_cluster_nodes").paginate(ClusterName=name).build_full_result()["ClusterNodeSummaries"]
            assert len(listed) == g["TargetCount"] == g["CurrentCount"]  # applied whole, never half
            assert {n["InstanceStatus"]["Status"] for n in listed} <= {"Running"}
    finally:
        server.stop()


def test_soak_concurrent_keep_alive_clients_no_5xx_no_drops_no_leaks(make_server, tmp_path):
    # A database file, not --in-memory: the state the run adds (thousands of clusters and their events) then lives in
    # the file, and resident memory measures the process alone.
    server = make_server("--db", str(tmp_path / "soak.sqlite"), "--timing", "fast", "--time-scale", "20",
                         "--quota", "ml.c5.xlarge for cluster usage=100000",
                         "--quota", "Number of SageMaker HyperPod clusters=100000",
                         "--quota", "Total number of instances allowed across SageMaker HyperPod clusters=100000",
                         in_memory=False)
    errors, statuses, refusals, lock = [], {}, {}, threading.Lock()

    def rss_and_fds():
        """Resident memory (KiB), open sockets and other open descriptors of the server."""
        with open(f"/proc/{server.process.pid}/status") as f:
            rss = next(int(line.split()[1]) for line in f if line.startswith("VmRSS"))
        fd_dir = f"/proc/{server.process.pid}/fd"
        targets = []
        for fd in os.listdir(fd_dir):
            try:
                targets.append(os.readlink(f"{fd_dir}/{fd}"))
            except FileNotFoundError:  # closed while listed
                pass
        sockets = sum(1 for t in targets if t.startswith("socket:"))
        return rss, sockets, len(targets) - sockets

    def when_connections_closed():
        """The server's descriptors once it has seen every client's close: the clients closed their connections
        themselves, and the server's read of the end of each one may still be on its way (bounded, 10 s of wall clock)."""
        deadline = time.monotonic() + 10
        while True:
            now = rss_and_fds()
            if now[1] <= baseline_sockets or time.monotonic() > deadline:
                return now
            time.sleep(0.05)

    def client(i, seconds):
        sm = boto3.client("sagemaker", endpoint_url=server.endpoint, region_name="us-east-1", aws_access_key_id="x",
                          aws_secret_access_key="x", config=Config(retries={"max_attempts": 1}, max_pool_connections=1))
        try:
            run(sm, i, seconds)
        finally:
            sm.close()  # the keep-alive connection ends here, not whenever the garbage collector gets to it

    def run(sm, i, seconds):
        rng = random.Random(i)
        mine = []
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            try:
                op = rng.random()
                if op < 0.1 or not mine:
                    name = f"s{i}-{len(mine)}-{rng.randrange(10**6)}"
                    sm.create_cluster(ClusterName=name, InstanceGroups=[group("a", rng.randrange(0, 3))])
                    mine.append(name)
                elif op < 0.5:
                    sm.describe_cluster(ClusterName=rng.choice(mine))
                elif op < 0.65:
                    sm.list_cluster_nodes(ClusterName=rng.choice(mine), MaxResults=100)
                elif op < 0.75:
                    sm.list_clusters(MaxResults=10)
                elif op < 0.85:
                    sm.update_cluster(ClusterName=rng.choice(mine), InstanceGroups=[group("a", rng.randrange(0, 4))])
                elif op < 0.92:
                    sm.list_cluster_events(ClusterName=rng.choice(mine), MaxResults=20)
                else:
                    sm.delete_cluster(ClusterName=mine.pop(rng.randrange(len(mine))))
                status = 200
            except ClientError as e:
                status = e.response["ResponseMetadata"]["HTTPStatusCode"]
                with lock:
                    code = e.response["Error"]["Code"]
                    refusals[code] = refusals.get(code, 0) + 1
            except Exception as e:  # a dropped connection or a timeout
                with lock:
                    errors.append(repr(e))
                continue
            with lock:
                statuses[status] = statuses.get(status, 0) + 1

    baseline_sockets = rss_and_fds()[1]  # the listening socket(s), with no client connected
    warm = [threading.Thread(target=client, args=(i, 1.0)) for i in range(CLIENTS)]
    [t.start() for t in warm]
    [t.join() for t in warm]
    before = when_connections_closed()
    threads = [threading.Thread(target=client, args=(100 + i, SOAK_SECONDS)) for i in range(CLIENTS)]
    [t.start() for t in threads]
    [t.join() for t in threads]
    after = when_connections_closed()
    print(f"\nsoak: {CLIENTS} clients × {SOAK_SECONDS} s: {sum(statuses.values())} answers {statuses}, "
          f"refusals {refusals}, resident memory {before[0] / 1024:.1f} → {after[0] / 1024:.1f} MiB, "
          f"open sockets {before[1]} → {after[1]}, other descriptors {before[2]} → {after[2]}")
    assert errors == []
    assert not [s for s in statuses if s >= 500], statuses
    assert sum(statuses.values()) > CLIENTS * SOAK_SECONDS  # it really was busy
    assert after[1] <= baseline_sockets, (baseline_sockets, after)  # every closed connection's socket closed
    # Files, pipes and event descriptors: flat. Dispatch may open an event descriptor or two as its pool grows; a leak
    # would grow with the thousands of requests.
    assert after[2] <= before[2] + 4, (before, after)
    assert after[0] <= before[0] + 30 * 1024, (before, after)  # resident memory (KiB): no leak beyond the new state
    assert "InternalFailure" not in server.log()
