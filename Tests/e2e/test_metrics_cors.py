"""Metrics (spec RA10) and CORS (spec R1, issue #7) end to end."""
import re
import urllib.request

from botocore.exceptions import ClientError

from conftest import make_client
from http_client import Reader
from test_clusters import group


def get(server, path, headers=None):
    request = urllib.request.Request(server.endpoint + path, headers=headers or {})
    with urllib.request.urlopen(request, timeout=10) as response:
        return response.status, dict(response.headers), response.read().decode()


def metric(text, name, **labels):
    selector = ",".join(f'{k}="{v}"' for k, v in labels.items())
    pattern = re.escape(name + ("{" + selector + "}" if labels else "")) + r" ([0-9.e+-]+)$"
    match = re.search(pattern, text, re.M)
    return float(match.group(1)) if match else None


def test_RA10_metrics_count_requests_latencies_clusters_nodes_and_timers(make_server):
    server = make_server("--clock", "manual")
    sm = make_client(server.endpoint)
    sm.create_cluster(ClusterName="m", InstanceGroups=[group("a", 2)])
    sm.describe_cluster(ClusterName="m")
    for _ in range(2):
        try:
            sm.describe_cluster(ClusterName="missing")
        except ClientError:
            pass
    status, headers, text = get(server, "/_hyperpod/metrics")
    assert status == 200 and headers["Content-Type"].startswith("text/plain; version=0.0.4")
    assert metric(text, "hyperpod_requests_total", operation="CreateCluster", status="200") == 1
    assert metric(text, "hyperpod_requests_total", operation="DescribeCluster", status="400") == 2
    assert metric(text, "hyperpod_request_duration_seconds_count") >= 4
    assert metric(text, "hyperpod_request_duration_seconds_bucket", le="+Inf") == metric(text, "hyperpod_request_duration_seconds_count")
    assert metric(text, "hyperpod_clusters", status="Creating") == 1
    assert metric(text, "hyperpod_pending_timers") == 1  # the setup timer
    urllib.request.urlopen(urllib.request.Request(server.endpoint + "/_hyperpod/settle", data=b"{}", method="POST")).read()
    text = get(server, "/_hyperpod/metrics")[2]
    assert metric(text, "hyperpod_clusters", status="InService") == 1
    assert metric(text, "hyperpod_nodes", status="Running") == 2
    assert metric(text, "hyperpod_pending_timers") == 0
    assert "# TYPE hyperpod_request_duration_seconds histogram" in text


def raw(server, data):
    sock = server.connect()
    sock.sendall(data)
    response = Reader(sock).response()
    sock.close()
    return response


def test_R1_cors_preflight_and_response_headers(make_server):
    server = make_server("--cors", "http://localhost:3000, https://console.example")
    preflight = raw(server, b"OPTIONS / HTTP/1.1\r\nHost: x\r\nOrigin: http://localhost:3000\r\n"
                            b"Access-Control-Request-Method: POST\r\nAccess-Control-Request-Headers: content-type,x-amz-target\r\n\r\n")
    assert preflight.status == 204
    assert preflight.header("access-control-allow-origin") == "http://localhost:3000"
    assert "POST" in preflight.header("access-control-allow-methods")
    assert preflight.header("access-control-allow-headers") == "content-type,x-amz-target"
    refused = raw(server, b"OPTIONS / HTTP/1.1\r\nHost: x\r\nOrigin: http://evil.example\r\n\r\n")
    assert refused.status == 403 and refused.header("access-control-allow-origin") is None
    body = b'{"ClusterName":"nope"}'
    answer = raw(server, b"POST / HTTP/1.1\r\nHost: x\r\nOrigin: https://console.example\r\nX-Amz-Target: SageMaker.DescribeCluster\r\n"
                         b"Content-Type: application/x-amz-json-1.1\r\nContent-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body)
    assert answer.status == 400  # the error answer carries the CORS headers too, so a browser can read it
    assert answer.header("access-control-allow-origin") == "https://console.example"
    assert "x-amzn-RequestId" in answer.header("access-control-expose-headers")
    other = raw(server, b"GET /_hyperpod/health HTTP/1.1\r\nHost: x\r\nOrigin: http://evil.example\r\n\r\n")
    assert other.status == 200 and other.header("access-control-allow-origin") is None


def test_R1_cors_any_origin_and_off_by_default(make_server):
    anywhere = make_server("--cors", "*")
    response = raw(anywhere, b"GET /_hyperpod/health HTTP/1.1\r\nHost: x\r\nOrigin: http://a.example\r\n\r\n")
    assert response.header("access-control-allow-origin") == "*"
    default = make_server()
    preflight = raw(default, b"OPTIONS / HTTP/1.1\r\nHost: x\r\nOrigin: http://localhost:3000\r\n\r\n")
    assert preflight.header("access-control-allow-origin") is None and preflight.status in (404, 405)
