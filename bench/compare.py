#!/usr/bin/env python3
"""Benchmark (not a test; issues #8, #14): hyperpod-local against moto's server, an older hyperpod-local ("before"),
and nginx answering the same bytes (the ceiling), row by row in one run, then cold start and resident memory.

Every server runs at once on its own port, and each row is measured in rounds in which each server and the nginx
ceilings take their turn (medians reported), so a slow minute of a shared machine hits all of them alike.

    python3 bench/compare.py [--seconds 5] [--rounds 3]
    HYPERPOD_LOCAL_BIN=.build-static/release/hyperpod-local MOTO_SERVER=/path/to/moto_server python3 bench/compare.py
    HYPERPOD_LOCAL_BEFORE_BIN=/path/to/an/older/hyperpod-local python3 bench/compare.py   # adds a "before" column

A second hyperpod-local runs with `--auth verify` (issue #18): its DescribeCluster row carries a real SigV4 signature,
recomputed and checked on every request, and is reported as a ratio to the default `parse` mode.

Rows: DescribeCluster (2 groups, 4 nodes), ListClusterNodes (a page of 100 of a 100-node cluster) and
GET /_hyperpod/health with `wrk -t1 -c8`, each request carrying a SigV4 `Authorization` header; two nginx ceilings for
the same bytes: answered from memory (`return 200 '…'`, the same POST with the same headers: the true ceiling) and
served from a file (GET, a weaker one); UpdateCluster (scale by ±1) and CreateCluster+DeleteCluster over one keep-alive
connection. moto is
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
import statistics
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
HP = os.environ.get("HYPERPOD_LOCAL_BIN", os.path.join(ROOT, ".build/release/hyperpod-local"))
BEFORE = os.environ.get("HYPERPOD_LOCAL_BEFORE_BIN", "")
MOTO = os.environ.get("MOTO_SERVER", os.path.join(ROOT, ".venv-moto/bin/moto_server"))
LCC = {"SourceS3Uri": "s3://sagemaker-bench/lcc/", "OnCreate": "on_create.sh"}  # moto insists on the sagemaker- prefix


# moto routes a request to a service by the SigV4 credential scope: every request carries one.
AUTHORIZATION = "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20261201/us-east-1/sagemaker/aws4_request, SignedHeaders=host, Signature=x"

# The `--auth verify` server (issue #18) checks real signatures: its requests are signed with this credential.
VERIFY_KEY, VERIFY_SECRET = "AKIABENCH0000000001", "bench-secret-0001"
IDENTITIES = {"principals": {"arn:aws:iam::123456789012:user/bench": {}},
              "credentials": [{"accessKeyId": VERIFY_KEY, "secretAccessKey": VERIFY_SECRET,
                               "principal": "arn:aws:iam::123456789012:user/bench"}]}
SIGNED_PORTS = set()  # ports of servers whose requests must carry a valid signature


def sign(port, target, payload):
    """SigV4 headers for `POST /` with this body, signed now (valid 15 minutes), as an SDK signs them."""
    import datetime
    import hashlib
    import hmac
    now = datetime.datetime.now(datetime.timezone.utc)
    amz_date, day = now.strftime("%Y%m%dT%H%M%SZ"), now.strftime("%Y%m%d")
    headers = {"content-type": "application/x-amz-json-1.1", "host": f"127.0.0.1:{port}", "x-amz-date": amz_date,
               "x-amz-target": f"SageMaker.{target}"}
    signed = ";".join(sorted(headers))
    canonical = "\n".join(["POST", "/", "", *(f"{k}:{headers[k]}" for k in sorted(headers)), "", signed,
                           hashlib.sha256(payload).hexdigest()])
    scope = f"{day}/us-east-1/sagemaker/aws4_request"
    to_sign = "\n".join(["AWS4-HMAC-SHA256", amz_date, scope, hashlib.sha256(canonical.encode()).hexdigest()])
    key = ("AWS4" + VERIFY_SECRET).encode()
    for part in [day, "us-east-1", "sagemaker", "aws4_request"]:
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    signature = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
    return {"Content-Type": headers["content-type"], "X-Amz-Date": amz_date, "X-Amz-Target": headers["x-amz-target"],
            "Authorization": f"AWS4-HMAC-SHA256 Credential={VERIFY_KEY}/{scope}, SignedHeaders={signed}, Signature={signature}"}


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
    payload = json.dumps(body)
    headers = sign(port, target, payload.encode()) if port in SIGNED_PORTS else {
        "X-Amz-Target": f"SageMaker.{target}", "Content-Type": "application/x-amz-json-1.1", "Authorization": AUTHORIZATION,
        "X-Amz-Date": "20261201T000000Z"}
    c.request("POST", "/", payload, headers)
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


def start_hp(port, binary=None, extra=()):
    p = subprocess.Popen([binary or HP, "serve", "--port", str(port), "--in-memory", "--timing", "instant", *extra,
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
        elif port in SIGNED_PORTS:  # the same signed request each time: valid for 15 minutes, as long as a round
            f.write(f'wrk.method = "POST"\nwrk.body = {json.dumps(json.dumps(body))}\n')
            for name, value in sign(port, target, json.dumps(body).encode()).items():
                f.write(f'wrk.headers["{name}"] = "{value}"\n')
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


class Nginx:
    """nginx with the same bytes as hyperpod-local answers, two ways: from memory (`return 200 '…'`, the same POST
    with the same headers as hyperpod-local gets: the true ceiling) and from a file (GET: nginx refuses POST to
    files; a weaker ceiling)."""

    REQUESTS = {"describe": ("DescribeCluster", {"ClusterName": "bench"}),
                "list": ("ListClusterNodes", {"ClusterName": "big", "MaxResults": 100}), "health": (None, None)}

    def __init__(self, bodies, tmp):
        self.port, self.tmp = free_port(), tmp
        site = os.path.join(tmp, "site")
        os.makedirs(site, exist_ok=True)
        locations, self.in_memory = "", set()
        for name, body in bodies.items():
            with open(os.path.join(site, name), "wb") as f:
                f.write(body)
            text = body.decode().replace("\\", "\\\\").replace("'", "\\'")
            if len(text) > 4000 or "$" in text:  # nginx's longest parameter; `$` would be a variable
                continue
            self.in_memory.add(name)
            locations += f"  location = /mem/{name} {{ default_type application/x-amz-json-1.1; return 200 '{text}'; }}\n"
        conf = os.path.join(tmp, "nginx.conf")
        with open(conf, "w") as f:
            f.write(f"worker_processes 1; daemon on; pid {tmp}/nginx.pid; error_log {tmp}/nginx.err;\n"
                    f"events {{ worker_connections 1024; }}\nhttp {{ access_log off; client_body_temp_path {tmp};\n"
                    f"  server {{ listen 127.0.0.1:{self.port}; root {site}; default_type application/x-amz-json-1.1;\n"
                    f"{locations}  }}\n}}\n")
        subprocess.run([shutil.which("nginx") or "/usr/sbin/nginx", "-c", conf], check=True)
        wait_port(self.port)

    def memory(self, name, seconds):
        if name not in self.in_memory:
            return 0.0
        target, body = self.REQUESTS[name]
        return wrk(self.port, target, body, seconds, self.tmp, path=f"/mem/{name}")[0]

    def file(self, name, seconds):
        text = subprocess.run(["wrk", "-t1", "-c8", f"-d{int(seconds)}s", f"http://127.0.0.1:{self.port}/{name}"],
                              capture_output=True, text=True).stdout
        return next((float(l.split()[1]) for l in text.splitlines() if l.startswith("Requests/sec")), 0.0)

    def stop(self):
        subprocess.run(["kill", open(f"{self.tmp}/nginx.pid").read().strip()])


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


def setup(port):
    """The clusters every row uses; returns the bodies nginx must answer (DescribeCluster, a node page, health)."""
    call(port, "CreateCluster", {"ClusterName": "bench", "InstanceGroups": [group("a", 2), group("b", 2)]})
    call(port, "CreateCluster", {"ClusterName": "big", "InstanceGroups": [group("a", 100)]})
    time.sleep(0.5)  # instant timing: the transitions run on the next request
    _, describe = call(port, "DescribeCluster", {"ClusterName": "bench"})
    _, nodes = call(port, "ListClusterNodes", {"ClusterName": "big", "MaxResults": 100})
    health = b""
    try:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        connection.request("GET", "/_hyperpod/health")
        response = connection.getresponse()
        health = response.read() if response.status == 200 else b""
    except OSError:
        pass
    return {"describe": describe, "list": nodes, "health": health}


def wrk_row(port, key, seconds, tmp):
    if key == "health":
        return wrk(port, None, None, seconds, tmp, path="/_hyperpod/health")
    target, body = Nginx.REQUESTS[key]
    return wrk(port, target, body, seconds, tmp)


def loop_row(port, key, seconds, statuses):
    def update(conn, n):
        status, _ = call(port, "UpdateCluster", {"ClusterName": "bench", "InstanceGroups": [group("a", 2 + n % 2)]}, conn)
        statuses.add(status)

    def cycle(conn, n):
        call(port, "CreateCluster", {"ClusterName": f"c{n}-{port}", "InstanceGroups": [group("a", 1)]}, conn)
        call(port, "DeleteCluster", {"ClusterName": f"c{n}-{port}"}, conn)

    return loop(port, seconds, update if key == "update" else cycle)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=5)
    parser.add_argument("--rounds", type=int, default=3, help="rounds per row; servers and ceilings take turns in each")
    args = parser.parse_args()
    tmp = tempfile.mkdtemp()
    median = statistics.median
    # Every server runs at once, each on its own port; a row is measured in rounds in which each server (and the
    # nginx ceilings) takes its turn, so a slow minute of this shared machine hits them alike. Medians are reported.
    identities = os.path.join(tmp, "identities.json")
    with open(identities, "w") as f:
        json.dump(IDENTITIES, f)

    def start_verifying(port):
        SIGNED_PORTS.add(port)
        return start_hp(port, extra=("--auth", "verify", "--identities", identities))

    candidates = [("hyperpod-local", lambda port: start_hp(port), HP), ("verify", start_verifying, HP)]
    if BEFORE:
        candidates.append(("before", lambda port: start_hp(port, BEFORE), BEFORE))
    candidates.append(("moto", start_moto, MOTO))
    servers, starters = {}, {}
    for name, starter, path in candidates:
        if not os.path.exists(path):
            print(f"{name}: {path} missing, skipped")
            continue
        port = free_port()
        servers[name] = (port, starter(port))
        starters[name] = starter
    bodies = {name: setup(port) for name, (port, _) in servers.items()}
    nginx = Nginx(bodies["hyperpod-local"], tmp)
    results = {name: {} for name in servers}
    memory, files = {}, {}
    statuses = {name: set() for name in servers}
    try:
        for key in ["describe", "list", "health"]:
            rounds = {name: [] for name in servers}
            mem_rounds, file_rounds = [], []
            for _ in range(args.rounds):
                for name, (port, _) in servers.items():
                    if (key == "health" and name == "moto") or (name == "verify" and key != "describe"):
                        continue
                    rounds[name].append(wrk_row(port, key, args.seconds, tmp))
                mem_rounds.append(nginx.memory(key, args.seconds))
                file_rounds.append(nginx.file(key, args.seconds))
            for name, values in rounds.items():
                if values:
                    results[name][key] = (median(v[0] for v in values), any(v[1] for v in values))
            memory[key], files[key] = median(mem_rounds), median(file_rounds)
        for key in ["update", "cycles"]:
            rounds = {name: [] for name in servers}
            for _ in range(args.rounds):
                for name, (port, _) in servers.items():
                    if name != "verify":
                        rounds[name].append(loop_row(port, key, args.seconds, statuses[name]))
            for name, values in rounds.items():
                if values:
                    results[name][key] = median(values)
        for name, (port, process) in servers.items():
            results[name]["rss"] = rss_mib(process.pid)
            results[name]["list_count"] = len(json.loads(bodies[name]["list"] or b"{}").get("ClusterNodeSummaries", []))
    finally:
        nginx.stop()
        for port, process in servers.values():
            process.kill()
            process.wait()
    for name in servers:
        if name != "verify":
            results[name]["cold"] = cold_start(starters[name])
    hp, before, moto = results.get("hyperpod-local", {}), results.get("before", {}), results.get("moto", {})
    verify = results.get("verify", {})

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

    print(f"machine: {os.cpu_count()} cores; {args.rounds} rounds of {args.seconds:g} s per row, medians; wrk -t1 -c8 for "
          "the first three rows, every request with a SigV4 Authorization header; hyperpod-local at its default log "
          "level (info: one line per request, to /dev/null)")
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
    if "describe" in verify:
        v, h = value(verify, "describe"), value(hp, "describe")
        print(f"{'DescribeCluster, --auth verify (req/s)':44} {cell(verify, 'describe'):>15}   verify/parse {ratio(v, h)} "
              "(each request's SigV4 signature recomputed and checked; issue #18 asks for at least 0.70)")
    print(f"UpdateCluster statuses: {', '.join(f'{n} {sorted(s)}' for n, s in statuses.items() if s)}")
    sizes = ", ".join(f"{n} {r.get('list_count')}" for n, r in results.items())
    print(f"ListClusterNodes page sizes: {sizes}")


if __name__ == "__main__":
    main()
