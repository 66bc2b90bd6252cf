#!/usr/bin/env python3
"""Benchmark (not a test, issue #8): hyperpod-local at scale.

    python3 bench/scale.py [--clusters 1000] [--nodes 100] [--big-nodes 10000] [--seconds 5] [--keep DIR]

Seeds CLUSTERS clusters of NODES nodes each (two groups) through the API on a database file, with the quotas raised by
`--quota`, plus one cluster of BIG_NODES nodes to page through; settles them InService on the manual clock; then
measures, on that database:

- DescribeCluster latency: each cluster's first answer after a restart (nothing cached, Python client, one keep-alive
  connection), then random clusters with `wrk --latency` (one connection, and 8);
- a ListClusterNodes page of 100: random 100-node clusters with `wrk --latency`, and every page of the big cluster by
  NextToken (offset 0 … BIG_NODES - 100), both sort orders;
- the write path at that size: UpdateCluster ±1 node, CreateCluster + DeleteCluster;
- resident memory (VmRSS, and the peak VmHWM) after all of it;
- start-up on the database: exec → first 200 on /_hyperpod/health, and → the first DescribeCluster answer (median of 5).

Needs wrk. HYPERPOD_LOCAL_BIN picks the binary (default: the release build).
"""
import argparse
import atexit
import http.client
import json
import os
import re
import statistics
import subprocess
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor

from lifecycle import wait_healthy

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BINARY = os.environ.get("HYPERPOD_LOCAL_BIN", os.path.join(ROOT, ".build/release/hyperpod-local"))
TYPES = ("ml.c5.xlarge", "ml.g5.xlarge")
LCC = {"SourceS3Uri": "s3://bench-bucket/lcc/", "OnCreate": "on_create.sh"}
HEADERS = {"Content-Type": "application/x-amz-json-1.1"}


def quotas(total):
    return [f"{t} for cluster usage={total}" for t in TYPES] + [
        f"Total number of instances allowed across SageMaker HyperPod clusters={total}",
        "Number of SageMaker HyperPod clusters=100000",
        "Maximum number instances allowed per SageMaker HyperPod cluster=100000",
    ]


def start(db, quota_values):
    args = [BINARY, "serve", "--port", "0", "--db", db, "--log-level", "error", "--clock", "manual"]
    for q in quota_values:
        args += ["--quota", q]
    began = time.perf_counter()
    process = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    atexit.register(lambda: process.poll() is None and process.kill())  # no server outlives a failed run
    port = int(process.stdout.readline().decode().rsplit(":", 1)[1])
    return process, port, began


class Client:
    def __init__(self, port):
        self.port = port
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=600)

    def call(self, target, body):
        self.conn.request("POST", "/", json.dumps(body), {**HEADERS, "X-Amz-Target": f"SageMaker.{target}"})
        r = self.conn.getresponse()
        data = r.read()
        if r.status != 200:
            raise RuntimeError(f"{target}: {r.status} {data[:300]!r}")
        return json.loads(data)

    def admin(self, method, path, body=None):
        self.conn.request(method, path, json.dumps(body) if body is not None else None)
        r = self.conn.getresponse()
        data = r.read()
        if r.status != 200:
            raise RuntimeError(f"{path}: {r.status} {data[:300]!r}")
        return json.loads(data)


def create_request(name, nodes):
    half = nodes // 2
    return {"ClusterName": name, "InstanceGroups": [
        {"InstanceGroupName": f"group-{i}", "InstanceType": TYPES[i], "InstanceCount": count,
         "ExecutionRole": "arn:aws:iam::111122223333:role/hyperpod", "LifeCycleConfig": LCC}
        for i, count in enumerate((half, nodes - half)) if count]}


def seed(port, clusters, nodes, big_nodes):
    names = [f"scale-{i:04d}" for i in range(clusters)]

    def create(chunk):
        client = Client(port)
        for name in chunk:
            client.call("CreateCluster", create_request(name, nodes))

    began = time.perf_counter()
    with ThreadPoolExecutor(4) as pool:
        list(pool.map(create, [names[i::4] for i in range(4)]))
    if big_nodes:
        Client(port).call("CreateCluster", create_request("scale-big", big_nodes))
    created = time.perf_counter() - began
    began = time.perf_counter()
    settled = Client(port).admin("POST", "/_hyperpod/settle", {})
    assert settled["settled"], settled
    return names, created, time.perf_counter() - began


def percentiles(samples_ms):
    s = sorted(samples_ms)
    pick = lambda q: s[min(len(s) - 1, int(q * len(s)))]
    return {"p50": pick(0.50), "p99": pick(0.99), "max": s[-1], "n": len(s)}


def fmt(p):
    return f"p50 {p['p50']:.2f} ms, p99 {p['p99']:.2f} ms, max {p['max']:.2f} ms (n={p['n']})"


def wrk(port, lua, connections, seconds):
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as f:
        f.write(lua)
    try:
        out = subprocess.run(["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--latency", "-s", f.name,
                              f"http://127.0.0.1:{port}/"], capture_output=True, text=True, check=True).stdout
    finally:
        os.unlink(f.name)

    def ms(text):
        value, unit = re.match(r"([\d.]+)(us|ms|s)", text).groups()
        return float(value) * {"us": 0.001, "ms": 1, "s": 1000}[unit]

    lat = {q: ms(re.search(rf"^\s+{q}%\s+(\S+)", out, re.M).group(1)) for q in ("50", "99")}
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return {"p50": lat["50"], "p99": lat["99"], "rps": rps, "non2xx": int(errors.group(1)) if errors else 0}


def random_names_lua(target, names, extra=""):
    listed = ",".join(f'"{n}"' for n in names)
    return f"""
local names = {{{listed}}}
request = function()
  local body = '{{"ClusterName":"' .. names[math.random(#names)] .. '"{extra}}}'
  return wrk.format("POST", "/", {{["X-Amz-Target"] = "SageMaker.{target}",
                                   ["Content-Type"] = "application/x-amz-json-1.1"}}, body)
end
"""


def rss(pid):
    with open(f"/proc/{pid}/status") as f:
        fields = dict(line.split(":", 1) for line in f)
    return int(fields["VmRSS"].split()[0]) / 1024, int(fields["VmHWM"].split()[0]) / 1024


def stop(process):
    process.terminate()
    process.wait()


def page_walk(client, sort_by, nodes):
    times, token, offset, by_offset = [], None, 0, {}
    while True:
        body = {"ClusterName": "scale-big", "MaxResults": 100, "SortBy": sort_by}
        if token:
            body["NextToken"] = token
        began = time.perf_counter()
        page = client.call("ListClusterNodes", body)
        elapsed = (time.perf_counter() - began) * 1000
        times.append(elapsed)
        assert len(page["ClusterNodeSummaries"]) == min(100, nodes - offset), (offset, len(page["ClusterNodeSummaries"]))
        by_offset[offset] = elapsed
        offset += len(page["ClusterNodeSummaries"])
        token = page.get("NextToken")
        if not token:
            break
    assert offset == nodes, offset
    return times, by_offset


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--clusters", type=int, default=1000)
    parser.add_argument("--nodes", type=int, default=100)
    parser.add_argument("--big-nodes", type=int, default=10_000)
    parser.add_argument("--seconds", type=int, default=5)
    parser.add_argument("--keep", help="directory for the database (kept, and reused when it holds one)")
    args = parser.parse_args()
    directory = args.keep or tempfile.mkdtemp(prefix="hyperpod-scale-")
    os.makedirs(directory, exist_ok=True)
    db = os.path.join(directory, "scale.sqlite")
    quota_values = quotas(args.clusters * args.nodes + args.big_nodes + 1000)
    names = [f"scale-{i:04d}" for i in range(args.clusters)]
    total = args.clusters * args.nodes + args.big_nodes
    print(f"binary {BINARY}\ndatabase {db}")

    if not os.path.exists(db):
        process, port, _ = start(db, quota_values)
        names, created, settled = seed(port, args.clusters, args.nodes, args.big_nodes)
        now, peak = rss(process.pid)
        print(f"seeded {args.clusters} clusters × {args.nodes} nodes + 1 × {args.big_nodes} = {total:,} nodes: "
              f"CreateCluster calls {created:.1f} s ({(args.clusters + 1) / created:.0f}/s), settle {settled:.1f} s; "
              f"resident memory of the seeding server {now:.1f} MiB (peak {peak:.1f} MiB)")
        stop(process)
    size = sum(os.path.getsize(os.path.join(directory, f)) for f in os.listdir(directory) if f.startswith("scale.sqlite"))
    print(f"database size {size / 1e6:.0f} MB")

    # Start-up on the database.
    health, first_describe = [], []
    for _ in range(5):
        process, port, began = start(db, quota_values)
        wait_healthy(port)
        health.append((time.perf_counter() - began) * 1000)
        Client(port).call("DescribeCluster", {"ClusterName": names[-1]})
        first_describe.append((time.perf_counter() - began) * 1000)
        stop(process)
    print(f"start-up: exec → first 200 on health median {statistics.median(health):.1f} ms (max {max(health):.1f}); "
          f"→ first DescribeCluster answer median {statistics.median(first_describe):.1f} ms (max {max(first_describe):.1f})")

    process, port, _ = start(db, quota_values)
    client = Client(port)
    status = client.call("DescribeCluster", {"ClusterName": names[0]})
    assert status["ClusterStatus"] == "InService" and sum(g["CurrentCount"] for g in status["InstanceGroups"]) == args.nodes, status
    listed = client.call("ListClusters", {"MaxResults": 100})
    assert len(listed["ClusterSummaries"]) == min(100, args.clusters + (1 if args.big_nodes else 0)), listed

    cold = []
    for name in names:
        began = time.perf_counter()
        client.call("DescribeCluster", {"ClusterName": name})
        cold.append((time.perf_counter() - began) * 1000)
    print(f"DescribeCluster, first answer per cluster after a restart (uncached), Python client: {fmt(percentiles(cold))}")

    for connections in (1, 8):
        r = wrk(port, random_names_lua("DescribeCluster", names), connections, args.seconds)
        print(f"DescribeCluster, random cluster, wrk -c{connections}: p50 {r['p50']:.2f} ms, p99 {r['p99']:.2f} ms, "
              f"{r['rps']:,.0f} req/s, non-2xx {r['non2xx']}")
    # The same with a writer busy beside it: every write clears the DescribeCluster cache, and reads wait behind it.
    stop_writer, writes = threading.Event(), [0]

    def writer():
        w = Client(port)
        while not stop_writer.is_set():
            name = names[(writes[0] * 7) % len(names)]
            for count in (args.nodes // 2 + 1, args.nodes // 2):  # +1, settle, back, settle
                w.call("UpdateCluster", {"ClusterName": name, "InstanceGroups": [
                    {"InstanceGroupName": "group-0", "InstanceType": TYPES[0], "InstanceCount": count,
                     "ExecutionRole": "arn:aws:iam::111122223333:role/hyperpod", "LifeCycleConfig": LCC}]})
                w.admin("POST", "/_hyperpod/settle", {})
                writes[0] += 1
    thread = threading.Thread(target=writer)
    thread.start()
    r = wrk(port, random_names_lua("DescribeCluster", names), 1, args.seconds)
    stop_writer.set()
    thread.join()
    client.admin("POST", "/_hyperpod/settle", {})
    print(f"DescribeCluster, random cluster, wrk -c1, while one client sends UpdateCluster ±1 back to back "
          f"and settle after each ({writes[0] / args.seconds:.0f} updates/s): p50 {r['p50']:.2f} ms, p99 {r['p99']:.2f} ms, {r['rps']:,.0f} req/s, "
          f"non-2xx {r['non2xx']}")

    for connections in (1, 8):
        r = wrk(port, random_names_lua("ListClusterNodes", names, ',"MaxResults":100'), connections, args.seconds)
        print(f"ListClusterNodes page of 100, random 100-node cluster, wrk -c{connections}: p50 {r['p50']:.2f} ms, "
              f"p99 {r['p99']:.2f} ms, {r['rps']:,.0f} req/s, non-2xx {r['non2xx']}")

    if args.big_nodes:
        for sort_by in ("CREATION_TIME", "NAME"):
            page_walk(client, sort_by, args.big_nodes)  # a first walk reads the cluster's pages into the cache
            times, by_offset = page_walk(client, sort_by, args.big_nodes)
            marks = [0, (args.big_nodes // 200) * 100, args.big_nodes - 100]
            print(f"ListClusterNodes page of 100 through the {args.big_nodes:,}-node cluster, SortBy {sort_by}, Python client: "
                  f"{fmt(percentiles(times))}; at offsets " + ", ".join(f"{m:,}: {by_offset[m]:.2f} ms" for m in marks))

    for size in (100, 10):
        times, token, listed = [], None, 0
        while token != "":
            began = time.perf_counter()
            page = client.call("ListClusters", {"MaxResults": size, **({"NextToken": token} if token else {})})
            times.append((time.perf_counter() - began) * 1000)
            listed += len(page["ClusterSummaries"])
            token = page.get("NextToken", "")
        assert listed == args.clusters + (1 if args.big_nodes else 0), listed
        print(f"ListClusters, every page of {size} through the {listed:,} clusters, Python client: {fmt(percentiles(times))}")

    updates = []
    for i in range(25):
        name = names[(i * 37) % len(names)]
        for count in (args.nodes // 2 + 1, args.nodes // 2):  # +1, then back: the database stays as seeded
            began = time.perf_counter()
            client.call("UpdateCluster", {"ClusterName": name, "InstanceGroups": [
                {"InstanceGroupName": "group-0", "InstanceType": TYPES[0], "InstanceCount": count,
                 "ExecutionRole": "arn:aws:iam::111122223333:role/hyperpod", "LifeCycleConfig": LCC}]})
            updates.append((time.perf_counter() - began) * 1000)
            client.admin("POST", "/_hyperpod/settle", {})
    print(f"UpdateCluster ±1 node on a {args.nodes}-node cluster among {args.clusters}: {fmt(percentiles(updates))}")
    client.admin("POST", "/_hyperpod/settle", {})
    cycles = []
    for i in range(50):
        began = time.perf_counter()
        client.call("CreateCluster", create_request(f"extra-{i}", 4))
        client.call("DeleteCluster", {"ClusterName": f"extra-{i}"})
        cycles.append((time.perf_counter() - began) * 1000)
    print(f"CreateCluster + DeleteCluster (4 nodes) among {args.clusters} clusters: {fmt(percentiles(cycles))}")
    client.admin("POST", "/_hyperpod/settle", {})

    now, peak = rss(process.pid)
    print(f"resident memory after the runs: {now:.1f} MiB (peak {peak:.1f} MiB)")
    stop(process)
    if not args.keep:
        subprocess.run(["rm", "-rf", directory])


if __name__ == "__main__":
    main()
