#!/usr/bin/env python3
"""Benchmark (not a test, issue #8): hyperpod-local against moto's server and against nginx serving the same bytes (the
ceiling), row by row in one run, then cold start and resident memory.

    python3 bench/compare.py [--seconds 5]
    HYPERPOD_LOCAL_BIN=.build-static/release/hyperpod-local MOTO_SERVER=/path/to/moto_server python3 bench/compare.py

Rows: DescribeCluster (2 groups, 4 nodes) and ListClusterNodes (a page of 100 of a 100-node cluster) with
`wrk -t1 -c8`; UpdateCluster (scale by ±1) and CreateCluster+DeleteCluster over one keep-alive connection. moto is
`moto[server]` from PyPI in its own virtual environment (it needs a newer botocore than the test suite pins):
`python3 -m venv .venv-moto && .venv-moto/bin/pip install 'moto[server]'`. Needs wrk and nginx.
"""
import argparse
import http.client
import json
import os
import shutil
import socket
import subprocess
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
HP = os.environ.get("HYPERPOD_LOCAL_BIN", os.path.join(ROOT, ".build/release/hyperpod-local"))
MOTO = os.environ.get("MOTO_SERVER", os.path.join(ROOT, ".venv-moto/bin/moto_server"))
LCC = {"SourceS3Uri": "s3://sagemaker-bench/lcc/", "OnCreate": "on_create.sh"}  # moto insists on the sagemaker- prefix


# moto routes a request to a service by the SigV4 credential scope: every request carries one.
AUTHORIZATION = "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20261201/us-east-1/sagemaker/aws4_request, SignedHeaders=host, Signature=x"


def group(name, count):
    return {"InstanceGroupName": name, "InstanceType": "ml.c5.xlarge", "InstanceCount": count,
            "ExecutionRole": "arn:aws:iam::111122223333:role/r", "LifeCycleConfig": LCC}


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def call(port, target, body, conn=None):
    c = conn or http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    c.request("POST", "/", json.dumps(body), {"X-Amz-Target": f"SageMaker.{target}", "Content-Type": "application/x-amz-json-1.1",
                                              "Authorization": AUTHORIZATION,
                                              "X-Amz-Date": "20261201T000000Z"})
    r = c.getresponse()
    data = r.read()
    return r.status, data


def wait_port(port, timeout=30):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.02)
    raise RuntimeError(f"port {port} never opened")


def start_hp(port):
    p = subprocess.Popen([HP, "serve", "--port", str(port), "--in-memory", "--log-level", "error", "--timing", "instant",
                          "--quota", "ml.c5.xlarge for cluster usage=1000000",
                          "--quota", "Total number of instances allowed across SageMaker HyperPod clusters=1000000"],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_port(port)
    return p


def start_moto(port):
    p = subprocess.Popen([MOTO, "-p", str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_port(port)
    return p


def wrk(port, target, body, seconds, tmp):
    script = os.path.join(tmp, f"{target}.lua")
    with open(script, "w") as f:
        f.write(f'wrk.method = "POST"\nwrk.body = {json.dumps(json.dumps(body))}\n'
                f'wrk.headers["X-Amz-Target"] = "SageMaker.{target}"\nwrk.headers["Content-Type"] = "application/x-amz-json-1.1"\n'
                f'wrk.headers["Authorization"] = "{AUTHORIZATION}"\nwrk.headers["X-Amz-Date"] = "20261201T000000Z"\n')
    out = subprocess.run(["wrk", "-t1", "-c8", f"-d{int(seconds)}s", "-s", script, f"http://127.0.0.1:{port}/"],
                         capture_output=True, text=True).stdout
    rps = next((float(l.split()[1]) for l in out.splitlines() if l.startswith("Requests/sec")), 0.0)
    errors = "Non-2xx" in out or "Socket errors" in out
    return rps, errors


def loop(port, seconds, step):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    n, deadline = 0, time.monotonic() + seconds
    while time.monotonic() < deadline:
        step(conn, n)
        n += 1
    return n / seconds


def nginx_ceiling(bodies, seconds, tmp):
    """nginx serving each body as a static file (GET: nginx refuses POST to files): requests/s by body name."""
    port = free_port()
    site = os.path.join(tmp, "site")
    os.makedirs(site, exist_ok=True)
    for name, body in bodies.items():
        with open(os.path.join(site, name), "wb") as f:
            f.write(body)
    conf = os.path.join(tmp, "nginx.conf")
    with open(conf, "w") as f:
        f.write(f"worker_processes 1; daemon on; pid {tmp}/nginx.pid; error_log {tmp}/nginx.err;\n"
                f"events {{ worker_connections 1024; }}\nhttp {{ access_log off; client_body_temp_path {tmp};\n"
                f"  server {{ listen 127.0.0.1:{port}; root {site}; default_type application/x-amz-json-1.1; }}\n}}\n")
    subprocess.run([shutil.which("nginx") or "/usr/sbin/nginx", "-c", conf], check=True)
    wait_port(port)
    out = {}
    try:
        for name in bodies:
            text = subprocess.run(["wrk", "-t1", "-c8", f"-d{int(seconds)}s", f"http://127.0.0.1:{port}/{name}"],
                                  capture_output=True, text=True).stdout
            out[name] = next((float(l.split()[1]) for l in text.splitlines() if l.startswith("Requests/sec")), 0.0)
    finally:
        subprocess.run(["kill", open(f"{tmp}/nginx.pid").read().strip()])
    return out


def rss_mib(pid):
    with open(f"/proc/{pid}/status") as f:
        return next(int(l.split()[1]) for l in f if l.startswith("VmRSS")) / 1024


def cold_start(starter):
    times = []
    for _ in range(5):
        port = free_port()
        t = time.monotonic()
        p = starter(port)
        times.append((time.monotonic() - t) * 1000)
        p.kill()
        p.wait()
    return sorted(times)[2]


def measure(name, port, seconds, tmp):
    row = {}
    call(port, "CreateCluster", {"ClusterName": "bench", "InstanceGroups": [group("a", 2), group("b", 2)]})
    call(port, "CreateCluster", {"ClusterName": "big", "InstanceGroups": [group("a", 100)]})
    time.sleep(0.5)  # instant timing: the transitions run on the next request
    status, describe = call(port, "DescribeCluster", {"ClusterName": "bench"})
    status2, nodes = call(port, "ListClusterNodes", {"ClusterName": "big", "MaxResults": 100})
    row["describe"] = wrk(port, "DescribeCluster", {"ClusterName": "bench"}, seconds, tmp)
    row["list"] = wrk(port, "ListClusterNodes", {"ClusterName": "big", "MaxResults": 100}, seconds, tmp)
    row["list_count"] = len(json.loads(nodes).get("ClusterNodeSummaries", []))

    def update(conn, n):
        status, data = call(port, "UpdateCluster", {"ClusterName": "bench", "InstanceGroups": [group("a", 2 + n % 2)]}, conn)
        row.setdefault("update_status", set()).add(status)

    row["update"] = loop(port, seconds, update)

    def cycle(conn, n):
        call(port, "CreateCluster", {"ClusterName": f"c{n}", "InstanceGroups": [group("a", 1)]}, conn)
        call(port, "DeleteCluster", {"ClusterName": f"c{n}"}, conn)

    row["cycles"] = loop(port, seconds, cycle)
    return row, {"describe": describe, "list": nodes}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=5)
    args = parser.parse_args()
    tmp = tempfile.mkdtemp()
    results, bodies = {}, {}
    for name, starter, path in [("hyperpod-local", start_hp, HP), ("moto", start_moto, MOTO)]:
        if not os.path.exists(path):
            print(f"{name}: {path} missing, skipped")
            continue
        port = free_port()
        process = starter(port)
        try:
            results[name], body = measure(name, port, args.seconds, tmp)
            results[name]["rss"] = rss_mib(process.pid)
            if name == "hyperpod-local":
                bodies = body
        finally:
            process.kill()
            process.wait()
        results[name]["cold"] = cold_start(starter)
    ceiling = nginx_ceiling(bodies, args.seconds, tmp)
    hp, moto = results.get("hyperpod-local", {}), results.get("moto", {})

    def cell(r, key):
        if key not in r:
            return "–"
        v = r[key]
        return f"{v[0]:,.0f}{' (errors)' if v[1] else ''}" if isinstance(v, tuple) else f"{v:,.1f}"

    print(f"machine: {os.cpu_count()} cores; {args.seconds:g} s per row; wrk -t1 -c8 for the first two rows")
    print(f"{'row':44} {'hyperpod-local':>16} {'moto':>14} {'nginx':>10} {'hp/moto':>8} {'hp/nginx':>9}")
    for key, label in [("describe", "DescribeCluster (req/s)"), ("list", "ListClusterNodes page of 100 (req/s)")]:
        h, m = hp.get(key, (0, False))[0], moto.get(key, (0, False))[0]
        print(f"{label:44} {cell(hp, key):>16} {cell(moto, key):>14} {ceiling.get(key.replace('describe', 'describe'), 0):>10,.0f} "
              f"{(h / m if m else float('nan')):>8.1f} {(h / ceiling[key] if ceiling.get(key) else float('nan')):>9.2f}")
    for key, label in [("update", "UpdateCluster ±1, one connection (req/s)"), ("cycles", "Create+Delete cycles, one connection (/s)")]:
        h, m = hp.get(key, 0), moto.get(key, 0)
        print(f"{label:44} {cell(hp, key):>16} {cell(moto, key):>14} {'':>10} {(h / m if m else float('nan')):>8.1f}")
    print(f"{'cold start to first answer (ms, median of 5)':44} {cell(hp, 'cold'):>16} {cell(moto, 'cold'):>14}")
    print(f"{'resident memory after the rows (MiB)':44} {cell(hp, 'rss'):>16} {cell(moto, 'rss'):>14}")
    print(f"UpdateCluster statuses: hyperpod-local {sorted(hp.get('update_status', []))}, moto {sorted(moto.get('update_status', []))}")
    print(f"ListClusterNodes page sizes: hyperpod-local {hp.get('list_count')}, moto {moto.get('list_count')}")


if __name__ == "__main__":
    main()
