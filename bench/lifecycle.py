#!/usr/bin/env python3
"""Benchmark (not a test): cold start, idle memory, and create+delete cycles per second of the release binary.

    python3 bench/lifecycle.py [--runs 20] [--seconds 5]
    HYPERPOD_LOCAL_BIN=.build-static/release/hyperpod-local python3 bench/lifecycle.py   # a static-stdlib build

Cold start: wall time from exec to the first 200 on /_hyperpod/health (target under 50 ms), median of --runs starts
on a new temporary database each. Idle memory: VmRSS right after start and after the cycles. Cycles: CreateCluster
then DeleteCluster (one 2-node group, instant timing so deletes complete) over one keep-alive connection.
"""
import argparse
import http.client
import json
import os
import statistics
import subprocess
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BINARY = os.environ.get("HYPERPOD_LOCAL_BIN", os.path.join(ROOT, ".build/release/hyperpod-local"))


def start(db, *extra):
    process = subprocess.Popen([BINARY, "serve", "--port", "0", "--db", db, "--log-level", "error", *extra],
                               stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    line = process.stdout.readline().decode()
    port = int(line.rsplit(":", 1)[1])
    return process, port


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        return next(int(l.split()[1]) for l in f if l.startswith("VmRSS:"))


def wait_healthy(port):
    """Polls GET /_hyperpod/health until it answers 200."""
    while True:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
            conn.request("GET", "/_hyperpod/health")
            if conn.getresponse().status == 200:
                return
        except OSError:
            pass


def cold_start(runs):
    times = []
    for _ in range(runs):
        with tempfile.TemporaryDirectory() as d:
            began = time.perf_counter()
            process, port = start(os.path.join(d, "s.sqlite"))
            wait_healthy(port)
            times.append((time.perf_counter() - began) * 1000)
            process.terminate()
            process.wait()
    return times


def cycles(seconds):
    with tempfile.TemporaryDirectory() as d:
        process, port = start(os.path.join(d, "s.sqlite"), "--timing", "instant")
        idle = rss_kib(process.pid)
        conn = http.client.HTTPConnection("127.0.0.1", port)

        def call(op, body):
            conn.request("POST", "/", body=json.dumps(body), headers={"X-Amz-Target": f"SageMaker.{op}"})
            response = conn.getresponse()
            data = response.read()
            assert response.status == 200, data
        group = {"InstanceGroupName": "g", "InstanceType": "ml.c5.xlarge", "InstanceCount": 2,
                 "ExecutionRole": "arn:aws:iam::111122223333:role/r"}
        done, began, i = 0, time.perf_counter(), 0
        while time.perf_counter() - began < seconds:
            name = f"bench-{i}"
            call("CreateCluster", {"ClusterName": name, "InstanceGroups": [group]})
            call("DeleteCluster", {"ClusterName": name})
            done += 1
            i += 1
        elapsed = time.perf_counter() - began
        after = rss_kib(process.pid)
        process.terminate()
        process.wait()
        return done / elapsed, idle, after


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=5)
    args = parser.parse_args()
    subprocess.run(["swift", "build", "-c", "release", "--product", "hyperpod-local"], cwd=ROOT, check=True,
                   stdout=subprocess.DEVNULL)
    starts = cold_start(args.runs)
    rate, idle, after = cycles(args.seconds)
    print(f"cold start (exec → first 200 on /_hyperpod/health), {args.runs} runs: median {statistics.median(starts):.1f} ms, "
          f"min {min(starts):.1f} ms, max {max(starts):.1f} ms (target < 50 ms)")
    print(f"resident memory: {idle / 1024:.1f} MiB idle after start (target < 20 MiB), {after / 1024:.1f} MiB after the cycles")
    print(f"CreateCluster + DeleteCluster cycles (one keep-alive connection, instant timing): {rate:.0f} per second")


if __name__ == "__main__":
    main()
