"""A stand-in for the hyperpod-local binary, for the kit's unit tests: `fake_server.py serve --port 0 …`.

It behaves like the real server where the kit depends on it (the first stdout line, `GET /_hyperpod/health`, SIGTERM
ends it with status 0, the log on stderr) and records every other request, so a test can check what the kit sent:

- `GET /_fake/requests` answers the requests so far: `{"method", "path", "query", "body", "headers"}` each;
- `POST /_fake/respond {"status": 409, "body": {...}}` makes the next request answer that;
- `POST /_fake/timeline {"cluster": "demo", "steps": [[0, "Creating"], [2, "InService"]]}` gives DescribeCluster a
  cluster whose status changes at those virtual seconds from now (`"Deleted"`: it is gone); `GET /_hyperpod/state` lists the changes still
  to come as `pendingTimers`, and the clock routes move the fake's virtual time (a manual clock).

`FAKE_MODE` picks a misbehaviour: `exit` (an error on stderr, status 1), `bad-line` (another first line),
`silent` (never announces itself), `ignore-term` (SIGTERM is ignored), `unhealthy` (health answers 503). The first
log line is the command line and the environment variables beginning `HYPERPOD_LOCAL_` or `FAKE_`, as JSON.
`FAKE_CLOCK=real` gives a real clock: virtual time runs with wall time (the clock routes answer mode `real`).
A `--port` that is taken ends it as the real server ends: `Error: cannot listen on …: the port is in use …`, status 1.
"""
import json
import os
import signal
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

START = 1_800_000_000.0
STATE = {"now": START, "requests": [], "respond": [], "timelines": {}}
LOCK = threading.Lock()
REAL_CLOCK = os.environ.get("FAKE_CLOCK") == "real"
STARTED = time.monotonic()


def now():
    """The fake's virtual time: moved by the clock routes (manual), or with wall time (FAKE_CLOCK=real)."""
    return START + (time.monotonic() - STARTED) if REAL_CLOCK else STATE["now"]


def log(line):
    sys.stderr.write(line + "\n")
    sys.stderr.flush()


def status_of(cluster):
    steps = STATE["timelines"].get(cluster)
    if steps is None:
        return None
    current = None
    for at, status in steps:
        if at <= now() + 1e-9:
            current = status
    return current


def clock_answer():
    return {"now": round(now(), 3), "mode": "real" if REAL_CLOCK else "manual", "timeScale": 1.0, "timing": "fast"}


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        log("request " + (fmt % args))

    def answer(self, status, body, content_type="application/json"):
        data = b"" if body is None else (body if isinstance(body, bytes) else json.dumps(body).encode())
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def handle_any(self):
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        url = urllib.parse.urlsplit(self.path)
        path = url.path
        query = dict(urllib.parse.parse_qsl(url.query))
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = raw.decode()
        with LOCK:
            if path == "/_fake/requests":
                return self.answer(200, STATE["requests"])
            if path == "/_fake/respond":
                STATE["respond"].append(body)
                return self.answer(200, {})
            if path == "/_fake/timeline":
                STATE["timelines"][body["cluster"]] = [(now() + at, status) for at, status in body["steps"]]
                return self.answer(200, {})
            if path == "/_hyperpod/health":
                if os.environ.get("FAKE_MODE") == "unhealthy":
                    return self.answer(503, {"error": "not yet"})
                return self.answer(200, {"status": "running", "version": "fake", "uptimeSeconds": 0})
            STATE["requests"].append({"method": self.command, "path": path, "query": query, "body": body,
                                      "headers": {k.lower(): v for k, v in self.headers.items()}})
            if STATE["respond"]:
                programmed = STATE["respond"].pop(0)
                return self.answer(programmed["status"], programmed.get("body"))
            return self.route(self.command, path, query, body or {})

    def route(self, method, path, query, body):
        if path == "/" and method == "POST":
            target = self.headers.get("X-Amz-Target", "")
            if target == "SageMaker.DescribeCluster":
                name = body.get("ClusterName")
                status = status_of(name)
                if status is None or status == "Deleted":  # a step "Deleted": the cluster is gone from then on
                    return self.answer(400, {"__type": "ResourceNotFound", "message": f"Cluster {name} not found"},
                                       "application/x-amz-json-1.1")
                return self.answer(200, {"ClusterArn": f"arn:aws:sagemaker:us-east-1:000000000000:cluster/{name}",
                                         "ClusterName": name, "ClusterStatus": status, "InstanceGroups": []},
                                   "application/x-amz-json-1.1")
            if target == "SageMaker.ListClusters":
                return self.answer(200, {"ClusterSummaries": []}, "application/x-amz-json-1.1")
            return self.answer(400, {"__type": "UnknownOperationException", "message": target},
                               "application/x-amz-json-1.1")
        if path == "/_hyperpod/clock":
            if method == "POST":
                if "advanceSeconds" in body:
                    if body["advanceSeconds"] < 0:
                        return self.answer(400, {"error": "advanceSeconds must be a number ≥ 0"})
                    STATE["now"] += body["advanceSeconds"]
                elif "set" in body:
                    if body["set"] < STATE["now"]:
                        return self.answer(409, {"error": "The clock cannot go backwards"})
                    STATE["now"] = body["set"]
            return self.answer(200, clock_answer())
        if path == "/_hyperpod/settle":
            later = [at for steps in STATE["timelines"].values() for at, _ in steps if at > STATE["now"]]
            STATE["now"] = max(later, default=STATE["now"])
            return self.answer(200, {**clock_answer(), "settled": True, "setAside": []})
        if path == "/_hyperpod/state":
            timers = [{"resourceArn": f"arn:aws:sagemaker:us-east-1:000000000000:cluster/{name}",
                       "event": json.dumps({"becomes": status}), "dueAt": round(at, 3), "attempts": 0,
                       "setAside": False}
                      for name, steps in STATE["timelines"].items() for at, status in steps if at > now()]
            return self.answer(200, {"account": query.get("account", "000000000000"), "clusters": [],
                                     "pendingTimers": timers, "clock": clock_answer()})
        if path == "/_hyperpod/reset":
            return self.answer(200, {"reset": True})
        if path == "/_hyperpod/faults" and method == "POST":
            return self.answer(201, {"id": "fault-1"})
        if path == "/_hyperpod/faults":
            return self.answer(200, {"faults": []})
        if path.startswith("/_hyperpod/faults/"):
            return self.answer(200, {})
        if path == "/_hyperpod/timing":
            durations = {"T_setup": 2.0, "T_launch": 1.0}
            durations.update(body if method == "PUT" else {})
            return self.answer(200, {"timing": "fast", "durations": durations})
        if path in ("/_hyperpod/capacity", "/_hyperpod/quotas", "/_hyperpod/settings"):
            return self.answer(200, {"echo": body, "query": query})
        if path == "/_hyperpod/ami-releases":
            return self.answer(201, {})
        return self.answer(404, {"error": f"no route {method} {path}"})

    do_GET = do_POST = do_PUT = do_DELETE = handle_any


def main():
    args = sys.argv[1:]
    log(json.dumps({"argv": args, "env": {k: v for k, v in os.environ.items()
                                          if k.startswith(("HYPERPOD_LOCAL_", "FAKE_"))}}))
    mode = os.environ.get("FAKE_MODE", "")
    if mode == "exit":
        log("Error: the fake was told to fail (bad.json)")
        sys.exit(1)
    if mode == "silent":
        time.sleep(60)
        return
    if mode == "ignore-term":
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
    else:
        signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
    port = int(args[args.index("--port") + 1]) if "--port" in args else 4580
    try:
        server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    except OSError:
        log(f"Error: cannot listen on 127.0.0.1:{port}: the port is in use by another process; choose another with "
            "--port, or --port 0 for a free one (the first stdout line names it)")
        sys.exit(1)
    if mode == "bad-line":
        print("hello from somewhere else", flush=True)
    else:
        print(f"hyperpod-local listening on http://127.0.0.1:{server.server_address[1]}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
