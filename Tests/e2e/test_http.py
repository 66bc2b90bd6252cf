"""HTTP/1.1 framing and limits, end to end over raw sockets against the real binary (issue #2)."""
import gzip
import json
import os
import signal
import socket
import subprocess
import time

import pytest

from http_client import Reader, post


def health_request(extra=b""):
    return b"GET /_hyperpod/health HTTP/1.1\r\nHost: localhost\r\n" + extra + b"\r\n"


def test_two_pipelined_requests_get_two_responses_in_order(server):
    sock = server.connect()
    sock.sendall(health_request() + post("SageMaker.NoSuchOperation"))
    reader = Reader(sock)
    first, second = reader.response(), reader.response()
    assert first.status == 200 and json.loads(first.body)["status"] == "running"
    assert second.status == 400 and json.loads(second.body)["message"] == "Unknown operation SageMaker.NoSuchOperation"
    assert first.header("x-amzn-RequestId") != second.header("x-amzn-RequestId")
    sock.close()


def test_many_pipelined_requests_in_one_write_are_all_answered_in_order(server):
    sock = server.connect()
    targets = [f"SageMaker.Nope{i}" for i in range(200)]
    sock.sendall(b"".join(post(t) for t in targets))
    reader = Reader(sock)
    messages = [json.loads(reader.response().body)["message"] for _ in targets]
    assert messages == [f"Unknown operation {t}" for t in targets]
    sock.close()


def test_keep_alive_connection_serves_sequential_requests(server):
    sock = server.connect()
    reader = Reader(sock)
    for _ in range(5):
        sock.sendall(health_request())
        assert reader.response().status == 200
    sock.close()


def test_chunked_body_with_extensions_and_trailers_is_decoded(server):
    sock = server.connect()
    body = b'{"a": [1, 2, 3]}'
    sock.sendall(
        b"POST / HTTP/1.1\r\nHost: x\r\nX-Amz-Target: SageMaker.NoSuchOp\r\nTransfer-Encoding: chunked\r\n\r\n"
        + b"5;ext=1\r\n" + body[:5] + b"\r\n" + b"%x\r\n" % (len(body) - 5) + body[5:] + b"\r\n0\r\nX-Trailer: t\r\n\r\n"
        + b"POST / HTTP/1.1\r\nHost: x\r\nX-Amz-Target: SageMaker.DescribeCluster\r\nTransfer-Encoding: chunked\r\n\r\n"
        + b"3\r\n[1]\r\n0\r\n\r\n"
    )
    reader = Reader(sock)
    assert reader.response().status == 400  # unknown operation: body framing was consumed exactly
    second = reader.response()
    assert json.loads(second.body)["message"] == "Request body must be a JSON object"  # the chunked body arrived whole
    sock.close()


def test_gzip_request_body_is_inflated(server):
    sock = server.connect()
    sock.sendall(post(body=gzip.compress(b"[1, 2]"), extra=b"Content-Encoding: gzip\r\n"))
    response = Reader(sock).response()
    assert response.status == 400
    assert json.loads(response.body) == {"__type": "SerializationException", "message": "Request body must be a JSON object"}
    sock.close()


def test_corrupt_gzip_body_is_400_and_closes(server):
    sock = server.connect()
    sock.sendall(post(body=b"not gzip at all", extra=b"Content-Encoding: gzip\r\n"))
    reader = Reader(sock)
    assert reader.response().status == 400
    assert reader.closed()


def test_large_response_is_gzipped_when_accepted_and_not_otherwise(server):
    target = "SageMaker." + "X" * 2000
    for accept, gzipped in ((b"Accept-Encoding: gzip, deflate\r\n", True), (b"", False)):
        sock = server.connect()
        sock.sendall(post(target, extra=accept))
        response = Reader(sock).response()
        assert (response.header("Content-Encoding") == "gzip") is gzipped
        assert json.loads(response.text())["message"] == f"Unknown operation {target}"
        if gzipped:
            assert len(response.body) < 1024
        sock.close()


def test_small_response_is_not_gzipped(server):
    sock = server.connect()
    sock.sendall(health_request(b"Accept-Encoding: gzip\r\n"))
    assert Reader(sock).response().header("Content-Encoding") is None
    sock.close()


def test_expect_100_continue_gets_an_interim_response_then_the_answer(server):
    sock = server.connect()
    body = b"[1]"
    sock.sendall(
        b"POST / HTTP/1.1\r\nHost: x\r\nX-Amz-Target: SageMaker.DescribeCluster\r\nExpect: 100-continue\r\n"
        + b"Content-Length: 3\r\n\r\n"
    )
    reader = Reader(sock)
    interim = reader.response()
    assert interim.status == 100
    sock.sendall(body)
    final = reader.response()
    assert final.status == 400 and json.loads(final.body)["message"] == "Request body must be a JSON object"
    sock.close()


def test_http10_request_is_answered_and_closed(server):
    sock = server.connect()
    sock.sendall(b"GET /_hyperpod/health HTTP/1.0\r\n\r\n")
    reader = Reader(sock)
    response = reader.response()
    assert response.status == 200
    assert response.header("Connection") == "close"
    assert reader.closed()


def test_http10_keep_alive_is_honoured(server):
    sock = server.connect()
    reader = Reader(sock)
    for _ in range(2):
        sock.sendall(b"GET /_hyperpod/health HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
        response = reader.response()
        assert response.status == 200 and response.header("Connection") == "keep-alive"
    sock.close()


def test_connection_close_is_honoured(server):
    sock = server.connect()
    sock.sendall(health_request(b"Connection: close\r\n") + health_request())
    reader = Reader(sock)
    response = reader.response()
    assert response.status == 200 and response.header("Connection") == "close"
    assert reader.closed()
    assert reader.buffer == b""  # the pipelined request after `close` was not answered


def test_head_request_gets_headers_only(server):
    sock = server.connect()
    sock.sendall(b"HEAD /_hyperpod/health HTTP/1.1\r\nHost: x\r\n\r\n" + health_request())
    reader = Reader(sock)
    head = reader.response(head_request=True)
    assert head.status == 200 and int(head.header("Content-Length")) > 0
    assert reader.response().status == 200  # no body bytes were sent in between
    sock.close()


def test_half_closed_client_still_gets_its_answers(server):
    sock = server.connect()
    sock.sendall(health_request() + health_request())
    sock.shutdown(socket.SHUT_WR)
    reader = Reader(sock)
    assert [reader.response().status, reader.response().status] == [200, 200]
    assert reader.closed()


# Limits: each answers its status, AWS-shaped, and closes the connection.

def refused(server, data, status):
    sock = server.connect()
    sock.sendall(data)
    reader = Reader(sock)
    response = reader.response()
    assert response.status == status, response.body
    assert response.header("Connection") == "close"
    body = json.loads(response.body)
    assert body["__type"] and body["message"]
    assert response.header("x-amzn-ErrorType") == body["__type"]
    assert reader.closed()
    return response


def test_head_over_16_kib_is_431(server):
    refused(server, b"GET / HTTP/1.1\r\nX-Big: " + b"a" * (17 * 1024) + b"\r\n\r\n", 431)
    refused(server, b"GET /" + b"a" * (17 * 1024) + b" HTTP/1.1\r\n\r\n", 431)


def test_head_of_almost_16_kib_is_accepted(server):
    sock = server.connect()
    sock.sendall(b"GET /_hyperpod/health HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * (15 * 1024) + b"\r\n\r\n")
    assert Reader(sock).response().status == 200
    sock.close()


def test_body_over_the_limit_is_413_before_the_body_is_sent(server):
    # 9 MiB announced, nothing sent: the answer must come without the body (default --max-body-bytes is 8 MiB).
    response = refused(server, b"POST / HTTP/1.1\r\nHost: x\r\nX-Amz-Target: SageMaker.DescribeCluster\r\n"
                       b"Content-Length: 9437184\r\n\r\n", 413)
    assert json.loads(response.body)["__type"] == "RequestEntityTooLargeException"


def test_body_over_the_limit_while_the_client_keeps_sending_is_413_not_a_reset(make_server):
    server = make_server("--max-body-bytes", "1000")
    sock = server.connect()
    sock.sendall(post(body=b"[" + b"1," * 5000 + b"1]"))
    reader = Reader(sock)
    assert reader.response().status == 413
    assert reader.closed()


def test_chunked_body_over_the_limit_is_413(make_server):
    server = make_server("--max-body-bytes", "100")
    refused(server, b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n" + b"40\r\n" + b"a" * 64 + b"\r\n" * 1
            + b"40\r\n" + b"a" * 64 + b"\r\n0\r\n\r\n", 413)


def test_gzip_bomb_is_413(make_server):
    server = make_server("--max-body-bytes", "100000")
    bomb = gzip.compress(b"\0" * 5_000_000)
    refused(server, post(body=bomb, extra=b"Content-Encoding: gzip\r\n"), 413)


@pytest.mark.parametrize("name,data", [
    ("content-length and transfer-encoding",
     b"POST / HTTP/1.1\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"),
    ("duplicate content-length", b"POST / HTTP/1.1\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\n{}"),
    ("invalid content-length", b"POST / HTTP/1.1\r\nContent-Length: 2x\r\n\r\n{}"),
    ("negative content-length", b"POST / HTTP/1.1\r\nContent-Length: -2\r\n\r\n{}"),
    ("bad chunk size", b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nxyz\r\n{}\r\n0\r\n\r\n"),
    ("bare LF in headers", b"GET / HTTP/1.1\r\nHost: x\nX-A: b\r\n\r\n"),
    ("obs-fold in headers", b"GET / HTTP/1.1\r\nX-A: b\r\n c\r\n\r\n"),
    ("garbage", b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03 hello tls\r\n\r\n"),
])
def test_malformed_framing_is_400(server, name, data):
    refused(server, data, 400)


def test_header_timeout_is_408(make_server):
    server = make_server("--header-timeout", "0.3")
    sock = server.connect()
    sock.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nX-Amz-Tar")  # …and nothing more
    reader = Reader(sock)
    response = reader.response()
    assert response.status == 408
    assert json.loads(response.body)["__type"] == "RequestTimeoutException"
    assert reader.closed()


def test_connection_that_sends_nothing_is_closed_silently_after_the_header_timeout(make_server):
    server = make_server("--header-timeout", "0.3")
    sock = server.connect()
    reader = Reader(sock)
    started = time.monotonic()
    assert reader.closed()
    assert reader.buffer == b""  # no 408 for a connection that never started a request
    assert time.monotonic() - started < 3


def test_header_timeout_does_not_cut_a_request_that_arrives_in_time(make_server):
    server = make_server("--header-timeout", "2")
    sock = server.connect()
    reader = Reader(sock)
    sock.sendall(b"GET /_hyperpod/health HTTP/1.1\r\n")
    sock.sendall(b"Host: x\r\n\r\n")
    assert reader.response().status == 200
    sock.close()


def test_idle_keep_alive_connection_is_closed_after_the_idle_timeout(make_server):
    server = make_server("--idle-timeout", "0.3")
    sock = server.connect()
    sock.sendall(health_request())
    reader = Reader(sock)
    assert reader.response().status == 200
    started = time.monotonic()
    assert reader.closed()  # blocks until the server closes it (socket timeout 5 s)
    assert time.monotonic() - started < 3


def test_connections_over_the_limit_get_503_and_the_rest_keep_working(make_server):
    server = make_server("--max-connections", "2")
    held = [server.connect(), server.connect()]
    readers = [Reader(s) for s in held]
    for sock, reader in zip(held, readers):
        sock.sendall(health_request())
        assert reader.response().status == 200
    refused(server, health_request(), 503)
    held[0].close()
    # The freed place is taken by a new connection.
    deadline = time.monotonic() + 5
    while True:
        sock = server.connect()
        sock.sendall(health_request())
        if Reader(sock).response().status == 200:
            break
        assert time.monotonic() < deadline, "the closed connection's place was never freed"
        sock.close()
    held[1].sendall(health_request())
    assert readers[1].response().status == 200


def test_abusive_input_leaks_no_file_descriptors_and_the_server_survives(make_server):
    server = make_server("--header-timeout", "0.5", "--max-body-bytes", "10000")
    assert server.open_sockets() == 1  # the listener
    payloads = [
        b"", b"\r\n", b"GET", b"\x00" * 100, os.urandom(5000), b"GET / HTTP/1.1\r\n" * 2000,
        post(body=b"{}" * 10), b"POST / HTTP/1.1\r\nContent-Length: 100\r\n\r\n{",
        b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nffffffffffffffffffff\r\n",
    ]
    for _ in range(3):
        for data in payloads:
            s = server.connect()
            s.sendall(data)
            s.close()
            s = server.connect()
            s.sendall(data)
            s.shutdown(socket.SHUT_WR)
            Reader(s).closed()
            s.close()
    # Clients that vanish are detected by the server as soon as it reads; connections with partial requests by the
    # header timeout. Check until both have had their chance.
    deadline = time.monotonic() + 5
    while server.open_sockets() > 1 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert server.open_sockets() == 1
    sock = server.connect()
    sock.sendall(health_request())
    assert Reader(sock).response().status == 200
    sock.close()
    assert server.process.poll() is None


# Graceful shutdown.

@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_signal_exits_0_after_answering_the_request_in_flight(make_server, sig):
    server = make_server()
    idle = server.connect()
    sock = server.connect()
    body = b"[1]"
    sock.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nX-Amz-Target: SageMaker.DescribeCluster\r\nContent-Length: 3\r\n\r\n[")
    # Make sure the server has the partial request (a complete request on the same connection would be queued
    # behind it, so use the idle connection to see it is alive).
    idle.sendall(health_request())
    assert Reader(idle).response().status == 200
    started = time.monotonic()
    server.signal(sig)
    # Once it stops accepting, the listener is closed: new connections are refused.
    deadline = time.monotonic() + 5
    while True:
        try:
            socket.create_connection((server.host, server.port), timeout=1).close()
        except (ConnectionRefusedError, ConnectionResetError):  # a reset: caught while the listener closed
            break
        assert time.monotonic() < deadline, "server kept accepting after the signal"
    sock.sendall(body[1:])
    response = Reader(sock).response()
    assert response.status == 400
    assert json.loads(response.body)["message"] == "Request body must be a JSON object"
    assert response.header("Connection") == "close"
    assert Reader(idle).closed()  # the idle keep-alive connection was closed by the drain
    sock.close()
    assert server.wait(timeout=5) == 0
    assert time.monotonic() - started < 5


def test_signal_right_after_start_is_not_lost(make_server):
    # The announce line is written before Dispatch may have registered its signal sources; the signal must still count.
    for _ in range(5):
        server = make_server()
        server.signal(signal.SIGTERM)
        assert server.wait(timeout=5) == 0


# Regressions found by attacking the server (each was a real failure before its fix).

def rss_kib(server):
    with open(f"/proc/{server.process.pid}/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("VmRSS:"))


def test_blank_lines_before_a_request_count_toward_the_head_limit(server):
    refused(server, b"\r\n" * (20 * 1024), 431)


def test_http11_without_host_or_with_two_is_400(server):
    refused(server, b"GET /_hyperpod/health HTTP/1.1\r\n\r\n", 400)
    refused(server, b"GET /_hyperpod/health HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400)


def test_absolute_form_target_is_routed_by_its_path(server):
    sock = server.connect()
    sock.sendall(b"GET http://127.0.0.1/_hyperpod/health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
    assert Reader(sock).response().status == 200
    sock.close()


def test_chunk_extensions_far_larger_than_the_body_are_refused_without_buffering_them(server):
    before = rss_kib(server)
    sock = server.connect()
    sock.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nX-Amz-Target: SageMaker.ListClusters\r\nTransfer-Encoding: chunked\r\n\r\n")
    reader = Reader(sock)
    try:
        for _ in range(200):
            sock.sendall((b"1;" + b"e" * 4000 + b"\r\n \r\n") * 64)
    except (BrokenPipeError, ConnectionResetError):
        pass  # the server answered and closed while we were still sending
    response = reader.response()
    assert response.status == 400
    assert rss_kib(server) - before < 50 * 1024


def test_pipelined_requests_then_half_close_are_all_answered(server):
    for count in (200, 1000):
        sock = server.connect()
        sock.sendall(health_request() * count)
        sock.shutdown(socket.SHUT_WR)
        reader = Reader(sock)
        statuses = [reader.response().status for _ in range(count)]
        assert statuses == [200] * count
        assert reader.closed()
        sock.close()


def test_client_that_pipelines_and_never_reads_does_not_grow_memory_or_stall_others(server):
    before = rss_kib(server)
    greedy = server.connect(timeout=0.5)
    greedy.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    batch = health_request() * 2000
    sent = 0
    deadline = time.monotonic() + 3
    try:
        while time.monotonic() < deadline:
            sent += greedy.send(batch)
    except socket.timeout:
        pass  # the server stopped reading: backpressure reached the client
    assert rss_kib(server) - before < 30 * 1024
    other = server.connect(timeout=2)
    started = time.monotonic()
    other.sendall(health_request())
    assert Reader(other).response().status == 200
    assert time.monotonic() - started < 2  # before the fix: 1.5–12 s
    other.close()
    greedy.close()


def test_pipelining_client_that_keeps_sending_gets_no_spurious_408(make_server):
    server = make_server("--header-timeout", "1")
    sock = server.connect()
    reader = Reader(sock)
    # Each write completes one request and starts the next: the connection is never idle, yet every request's own
    # head arrives within far less than the timeout.
    sock.sendall(health_request() + b"GET /_hyperpod/health HTTP/1.1\r\n")
    statuses = []
    for _ in range(12):
        time.sleep(0.15)  # the stimulus: paced sending, longer in total than the header timeout
        sock.sendall(b"Host: x\r\n\r\nGET /_hyperpod/health HTTP/1.1\r\n")
        statuses.append(reader.response().status)
    assert reader.response().status == 200
    assert statuses == [200] * 12
    sock.close()


def test_clients_pipelining_large_bodies_without_reading_do_not_hold_gigabytes(server):
    before = rss_kib(server)
    body = json.dumps({"ClusterName": "big-body", "Pad": "a" * (2 * 1024 * 1024)}).encode()
    greedy = []
    for _ in range(4):
        sock = server.connect(timeout=0.2)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        greedy.append(sock)
    request = post("SageMaker.DescribeCluster", body)
    deadline = time.monotonic() + 3
    for sock in greedy:
        for _ in range(16):  # 32 MiB per connection if it were all taken in
            try:
                sock.sendall(request)
            except socket.timeout:
                break  # backpressure reached the client
            if time.monotonic() > deadline:
                break
    grown = rss_kib(server) - before
    assert grown < 80 * 1024, f"grew {grown} KiB"
    other = server.connect(timeout=2)
    other.sendall(health_request())
    assert Reader(other).response().status == 200
    for sock in greedy + [other]:
        sock.close()


def test_sigterm_with_large_bodies_in_flight_exits_within_5_seconds(make_server):
    server = make_server()
    body = json.dumps({"ClusterName": "x", "Pad": "a" * (4 * 1024 * 1024)}).encode()
    socks = []
    for _ in range(2):
        sock = server.connect(timeout=0.5)
        try:
            for _ in range(6):
                sock.sendall(post("SageMaker.DescribeCluster", body))
        except socket.timeout:
            pass
        socks.append(sock)
    started = time.monotonic()
    server.signal(signal.SIGTERM)
    assert server.wait(timeout=6) == 0
    assert time.monotonic() - started < 5.5
    for sock in socks:
        sock.close()


def test_many_gzip_bodies_do_not_stall_other_clients(server):
    # Each 8 KB body inflates to 4 MiB: inflating happens off the event loop, one connection's next request waits for
    # its previous answer, so a health check from elsewhere is answered promptly.
    bomb = gzip.compress(b'{"ClusterName":"x","Pad":"' + b" " * (4 * 1024 * 1024) + b'"}')
    flooders = []
    for _ in range(10):
        sock = server.connect(timeout=0.5)
        try:
            sock.sendall(post(body=bomb, extra=b"Content-Encoding: gzip\r\n") * 32)
        except socket.timeout:
            pass
        flooders.append(sock)
    worst = 0
    for _ in range(5):
        other = server.connect(timeout=5)
        started = time.monotonic()
        other.sendall(health_request())
        assert Reader(other).response().status == 200
        worst = max(worst, time.monotonic() - started)
        other.close()
    assert worst < 2, f"health took {worst:.2f} s"  # before the fix: 2–14 s
    for sock in flooders:
        sock.close()
