#!/usr/bin/env python3
"""Benchmark (not a test, issue #8): hyperpod-local against moto's server and against nginx serving the same bytes (the
ceiling), row by row in one run, then cold start and resident memory.

    python3 bench/compare.py [--seconds 5]
    HYPERPOD_LOCAL_BIN=.build-static/release/hyperpod-local MOTO_SERVER=/path/to/moto_server python3 bench/compare.py
    HYPERPOD_LOCAL_BEFORE_BIN=/path/to/an/older/hyperpod-local python3 bench/compare.py   # adds a "before" column

Rows: DescribeCluster (2 groups, 4 nodes), ListClusterNodes (a page of 100 of a 100-node cluster) and
GET /_hyperpod/health with `wrk -t1 -c8`, each request carrying a SigV4 `Authorization` header; two nginx ceilings for
the same bytes: answered from memory (`return 200 '…'`, the same POST with the same headers: the true ceiling) and
served from a file (GET, a weaker one); UpdateCluster (scale by ±1) and CreateCluster+DeleteCluster over one keep-alive connection. moto is
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
BEFORE = os.environ.get("HYPERPOD_LOCAL_BEFORE_BIN", "")
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


def start_hp(port, binary=None):
    p = subprocess.Popen([binary or HP, "serve", "--port", str(port), "--in-memory", "--log-level", "error", "--timing", "instant",
                          "--quota", "ml.c5.xlarge for cluster usage=1000000",
                          "--quota", "Total number of instances allowed across SageMaker HyperPod clusters=1000000"],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_port(port)
    return p


def start_moto(port):
    p = subprocess.Popen([MOTO, "-p", str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_port(port)
    return p


def wrk(port, target, body, seconds, tmp, path="/"):
    """POST `body` as SageMaker.`target` (the path too may be chosen: the nginx ceiling answers per path); a
    `target` of None is a plain GET of `path`."""
    script = os.path.join(tmp, f"{target}.lua")
    with open(script, "w") as f:
        if target is None:
            f.write(f'wrk.method = "GET"\nwrk.headers["Authorization"] = "{AUTHORIZATION}"\n')
        else:
            f.write(f'wrk.method = "POST"\nwrk.body = {json.dumps(json.dumps(body))}\n'
                    f'wrk.headers["X-Amz-Target"] = "SageMaker.{target}"\nwrk.headers["Content-Type"] = "application/x-amz-json-1.1"\n'
                    f'wrk.headers["Authorization"] = "{AUTHORIZATION}"\nwrk.headers["X-Amz-Date"] = "20261201T000000Z"\n')
    out = subprocess.run(["wrk", "-t1", "-c8", f"-d{int(seconds)}s", "-s", script, f"http://127.0.0.1:{port}{path}"],
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
    """nginx with the same bytes, two ways: answered from memory (`return 200 '…'`, the same request as hyperpod-local
    gets) and served from a file (GET: nginx refuses POST to files). Returns ({name: req/s}, {name: req/s})."""
    port = free_port()
    site = os.path.join(tmp, "site")
    os.makedirs(site, exist_ok=True)
    locations = ""
    for name, body in bodies.items():
        with open(os.path.join(site, name), "wb") as f:
            f.write(body)
        text = body.decode().replace("\\", "\\\\").replace("'", "\\'")
        if len(text) > 4000 or "$" in text:  # nginx's longest parameter; `$` would be a variable
            continue
        locations += f"  location = /mem/{name} {{ default_type application/x-amz-json-1.1; return 200 '{text}'; }}\n"
    conf = os.path.join(tmp, "nginx.conf")
    with open(conf, "w") as f:
        f.write(f"worker_processes 1; daemon on; pid {tmp}/nginx.pid; error_log {tmp}/nginx.err;\n"
                f"events {{ worker_connections 1024; }}\nhttp {{ access_log off; client_body_temp_path {tmp};\n"
                f"  server {{ listen 127.0.0.1:{port}; root {site}; default_type application/x-amz-json-1.1;\n{locations}  }}\n}}\n")
    subprocess.run([shutil.which("nginx") or "/usr/sbin/nginx", "-c", conf], check=True)
    wait_port(port)
    memory, files = {}, {}
    requests = {"describe": ("DescribeCluster", {"ClusterName": "bench"}),
                "list": ("ListClusterNodes", {"ClusterName": "big", "MaxResults": 100}), "health": (None, None)}
    try:
        for name in bodies:
            target, body = requests[name]
            if f"/mem/{name} " in locations:
                memory[name] = wrk(port, target, body, seconds, tmp, path=f"/mem/{name}")[0]
            text = subprocess.run(["wrk", "-t1", "-c8", f"-d{int(seconds)}s", f"http://127.0.0.1:{port}/{name}"],
                                  capture_output=True, text=True).stdout
            files[name] = next((float(l.split()[1]) for l in text.splitlines() if l.startswith("Requests/sec")), 0.0)
    finally:
        subprocess.run(["kill", open(f"{tmp}/nginx.pid").read().strip()])
    return memory, files


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
    health = b""
    if name != "moto":
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        connection.request("GET", "/_hyperpod/health")
        health = connection.getresponse().read()
        row["health"] = wrk(port, None, None, seconds, tmp, path="/_hyperpod/health")

    def update(conn, n):
        status, data = call(port, "UpdateCluster", {"ClusterName": "bench", "InstanceGroups": [group("a", 2 + n % 2)]}, conn)
        row.setdefault("update_status", set()).add(status)

    row["update"] = loop(port, seconds, update)

    def cycle(conn, n):
        call(port, "CreateCluster", {"ClusterName": f"c{n}", "InstanceGroups": [group("a", 1)]}, conn)
        call(port, "DeleteCluster", {"ClusterName": f"c{n}"}, conn)

    row["cycles"] = loop(port, seconds, cycle)
    return row, {"describe": describe, "list": nodes, "health": health}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=5)
    args = parser.parse_args()
    tmp = tempfile.mkdtemp()
    results, bodies = {}, {}
    servers = [("hyperpod-local", lambda port: start_hp(port), HP)]
    if BEFORE:
        servers.append(("before", lambda port: start_hp(port, BEFORE), BEFORE))
    servers.append(("moto", start_moto, MOTO))
    for name, starter, path in servers:
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
    memory, files = nginx_ceiling(bodies, args.seconds, tmp)
    hp, before, moto = results.get("hyperpod-local", {}), results.get("before", {}), results.get("moto", {})

    def cell(r, key):
        if key not in r:
            return "–"
        v = r[key]
        return f"{v[0]:,.0f}{' (errors)' if v[1] else ''}" if isinstance(v, tuple) else f"{v:,.1f}"

    def value(r, key):
        v = r.get(key, 0)
        return v[0] if isinstance(v, tuple) else v

    def ratio(a, b):
        return f"{a / b:.2f}" if a and b else "–"

    print(f"machine: {os.cpu_count()} cores; {args.seconds:g} s per row; wrk -t1 -c8 for the first three rows, "
          "every request with a SigV4 Authorization header")
    print(f"{'row':44} {'hyperpod-local':>15} {'before':>10} {'moto':>10} {'nginx mem':>10} {'nginx file':>10} "
          f"{'hp/before':>9} {'hp/moto':>8} {'hp/mem':>7} {'hp/file':>7}")
    rows = [("describe", "DescribeCluster (req/s)"), ("list", "ListClusterNodes page of 100 (req/s)"),
            ("health", "GET /_hyperpod/health (req/s)"), ("update", "UpdateCluster ±1, one connection (req/s)"),
            ("cycles", "Create+Delete cycles, one connection (/s)"), ("cold", "cold start to first answer (ms, median of 5)"),
            ("rss", "resident memory after the rows (MiB)")]
    for key, label in rows:
        h = value(hp, key)
        m, f = memory.get(key, 0), files.get(key, 0)
        print(f"{label:44} {cell(hp, key):>15} {cell(before, key):>10} {cell(moto, key):>10} "
              f"{(f'{m:,.0f}' if m else '–'):>10} {(f'{f:,.0f}' if f else '–'):>10} {ratio(h, value(before, key)):>9} "
              f"{ratio(h, value(moto, key)):>8} {ratio(h, m):>7} {ratio(h, f):>7}")
    print(f"UpdateCluster statuses: hyperpod-local {sorted(hp.get('update_status', []))}, moto {sorted(moto.get('update_status', []))}")
    print(f"ListClusterNodes page sizes: hyperpod-local {hp.get('list_count')}, moto {moto.get('list_count')}")


if __name__ == "__main__":
    main()
