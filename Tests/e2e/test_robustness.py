"""The service core under attack (issue #14): a transition that fails every time is isolated (docs/behaviour.md#r39),
ids under --seed never collide with stored ones, one database file belongs to one server, and a database written by a
newer schema is refused. No request answers 500."""
import json
import os
import signal
import sqlite3
import subprocess
import time
import urllib.error
import urllib.request

import pytest

from conftest import BINARY, Server, make_client
from test_clusters import group

POISON = "no-such-event"


def request(server, path, body=None, method=None):
    """(status, JSON body) of an admin call, whatever the status."""
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(server.endpoint + path, data=data, method=method or ("POST" if data else "GET"))
    try:
        with urllib.request.urlopen(req, timeout=10) as response:
            return response.status, json.load(response)
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"{}")


def serve(*args, env=None):
    """Runs `serve` expecting it to refuse to start; returns the finished process."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("HYPERPOD_LOCAL_")}
    clean.update(env or {})
    return subprocess.run([BINARY, "serve", "--port", "0", *args], capture_output=True, text=True, timeout=20, env=clean)


def plant_poisoned_transition(db, cluster_name):
    """In a stopped server's file: the cluster's own transitions are replaced by one whose event no build knows, due at
    the persisted clock's time (overdue once the server runs again)."""
    connection = sqlite3.connect(db)
    with connection:
        arn, generation = connection.execute("SELECT arn, generation FROM clusters WHERE name = ?", (cluster_name,)).fetchone()
        now_ms = connection.execute("SELECT anchor_virtual_ms FROM clock_state").fetchone()[0]
        connection.execute("DELETE FROM scheduled_transitions WHERE resource_arn = ?", (arn,))
        connection.execute("INSERT INTO scheduled_transitions (resource_arn, generation, event, due_at_ms, fire_at_ms) "
                           "VALUES (?, ?, ?, ?, ?)", (arn, generation, POISON, now_ms, now_ms))
    connection.close()
    return arn


def poisoned_rows(server):
    status, state = request(server, "/_hyperpod/state")
    assert status == 200, state
    return [t for t in state["pendingTimers"] if t["event"] == POISON]


def failure_lines(server):
    return [line for line in server.log().splitlines()
            if "scheduler.transition_failed" in line or "scheduler.transition_set_aside" in line]


def test_R39_a_transition_that_fails_every_time_is_set_aside_and_the_others_fire_on_a_real_clock(tmp_path):
    db = str(tmp_path / "state.sqlite")
    first = Server("--db", db, "--clock", "manual", in_memory=False)
    try:
        make_client(first.endpoint).create_cluster(ClusterName="poisoned", InstanceGroups=[group()])
    finally:
        first.stop()
    arn = plant_poisoned_transition(db, "poisoned")

    # A real clock, 100 virtual seconds a second: the retries (1, 2, 4, 8 s) take 0.15 s of wall time.
    server = Server("--db", db, "--clock", "real", "--time-scale", "100", in_memory=False)
    try:
        sm = make_client(server.endpoint)
        sm.create_cluster(ClusterName="healthy", InstanceGroups=[group()])
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:  # a real clock: the states come when they come, within a bound
            if sm.describe_cluster(ClusterName="healthy")["ClusterStatus"] == "InService" \
                    and all(row["setAside"] for row in poisoned_rows(server)):
                break
            time.sleep(0.05)
        assert sm.describe_cluster(ClusterName="healthy")["ClusterStatus"] == "InService"

        # The broken cluster answers with the state it has.
        assert sm.describe_cluster(ClusterName="poisoned")["ClusterStatus"] == "Creating"
        assert sorted(c["ClusterName"] for c in sm.list_clusters()["ClusterSummaries"]) == ["healthy", "poisoned"]

        # The admin state route lists the set-aside transition with its attempts and error.
        [row] = poisoned_rows(server)
        assert row["resourceArn"] == arn and row["setAside"] is True and row["attempts"] == 5
        assert row["lastError"] == f"unknown transition event '{POISON}'"

        # Settle and the clock route answer; settle reports the transition instead of failing.
        status, settled = request(server, "/_hyperpod/settle", {"maxSeconds": 60})
        assert status == 200 and settled["settled"] is False
        assert [t["event"] for t in settled["setAside"]] == [POISON]
        status, body = request(server, "/_hyperpod/clock", {"advanceSeconds": 10})
        assert status in (200, 409), body  # 409: a real clock may refuse manual moves; never a 500

        # The log says it once per attempt, not once per millisecond, and then stops.
        lines = failure_lines(server)
        assert len(lines) == 5, lines
        assert sum("transition_set_aside" in line for line in lines) == 1
        time.sleep(0.5)
        assert len(failure_lines(server)) == 5
    finally:
        server.stop()


def test_a_cluster_whose_stored_record_is_damaged_is_reported_not_a_500(tmp_path):
    """A database edited by hand: one cluster's stored document is no longer JSON. Its calls answer 400 naming the damage
    (an SDK does not retry them), DescribeCluster shows what its row still says, DeleteCluster removes it, and the other
    cluster is untouched."""
    db = str(tmp_path / "state.sqlite")
    first = Server("--db", db, "--clock", "manual", in_memory=False)
    try:
        sm = make_client(first.endpoint)
        arn = sm.create_cluster(ClusterName="damaged", InstanceGroups=[group()])["ClusterArn"]
        sm.create_cluster(ClusterName="healthy", InstanceGroups=[group()])
    finally:
        first.stop()
    connection = sqlite3.connect(db)
    with connection:
        connection.execute("UPDATE clusters SET document = '{broken' WHERE name = 'damaged'")
    connection.close()

    server = Server("--db", db, "--clock", "manual", in_memory=False)
    try:
        sm = make_client(server.endpoint)
        described = sm.describe_cluster(ClusterName="damaged")
        assert (described["ClusterArn"], described["ClusterStatus"], described["InstanceGroups"]) == (arn, "Creating", [])
        assert "cannot read the stored record" in described["FailureMessage"]
        for call in (lambda: sm.list_cluster_nodes(ClusterName="damaged"),
                     lambda: sm.update_cluster(ClusterName="damaged", InstanceGroups=[group(count=2)])):
            with pytest.raises(sm.exceptions.ClientError) as caught:
                call()
            error = caught.value.response
            assert error["ResponseMetadata"]["HTTPStatusCode"] == 400
            assert error["Error"]["Code"] == "ValidationException"
            assert f"cannot read the stored record of cluster '{arn}'" in error["Error"]["Message"]

        # The damaged cluster's timers are set aside; the other cluster's fire.
        status, settled = request(server, "/_hyperpod/settle", {"maxSeconds": 3600})
        assert status == 200 and [t["resourceArn"] for t in settled["setAside"]] == [arn]
        assert sm.describe_cluster(ClusterName="healthy")["ClusterStatus"] == "InService"
        status, state = request(server, "/_hyperpod/state")
        assert status == 200
        [listed] = [c for c in state["clusters"] if c["ClusterName"] == "damaged"]
        assert "cannot be read" in listed["error"]

        # DeleteCluster removes the record at once, with its set-aside timers.
        assert sm.delete_cluster(ClusterName="damaged")["ClusterArn"] == arn
        assert [c["ClusterName"] for c in sm.list_clusters()["ClusterSummaries"]] == ["healthy"]
        with pytest.raises(sm.exceptions.ResourceNotFound):
            sm.describe_cluster(ClusterName="damaged")
        status, settled = request(server, "/_hyperpod/settle", {})
        assert status == 200 and settled["settled"] is True and settled["setAside"] == []
        assert "InternalFailure" not in server.log()
    finally:
        server.stop()

def test_seed_on_an_existing_database_never_reuses_stored_ids(tmp_path):
    """Restart with the same --seed on the same file, then CreateCluster from another account: no 500 (the ids of the
    first run are stored), and the run is still reproducible."""
    db = str(tmp_path / "state.sqlite")
    server = Server("--db", db, "--clock", "manual", "--seed", "1", in_memory=False)
    try:
        make_client(server.endpoint, access_key="111111111111").create_cluster(ClusterName="first", InstanceGroups=[group()])
        request(server, "/_hyperpod/settle", {})
    finally:
        server.stop()
    server = Server("--db", db, "--clock", "manual", "--seed", "1", in_memory=False)
    try:
        other = make_client(server.endpoint, access_key="222222222222")
        created = other.create_cluster(ClusterName="second", InstanceGroups=[group()])
        request(server, "/_hyperpod/settle", {})
        first_arn = make_client(server.endpoint, access_key="111111111111").describe_cluster(ClusterName="first")["ClusterArn"]
        assert created["ClusterArn"].rsplit("/", 1)[1] != first_arn.rsplit("/", 1)[1]
        events = other.list_cluster_events(ClusterName="second")["Events"]
        assert events
    finally:
        server.stop()
    connection = sqlite3.connect(db)
    ids = [row[0] for row in connection.execute("SELECT event_id FROM cluster_events")]
    connection.close()
    assert len(ids) == len(set(ids))


def test_a_second_server_on_the_same_database_file_exits_at_once(tmp_path):
    db = str(tmp_path / "state.sqlite")
    owner = Server("--db", db, "--clock", "manual", in_memory=False)
    try:
        second = serve("--db", db)
        assert second.returncode == 1 and second.stdout == ""
        assert second.stderr.strip() == (
            f"Error: database {db} is in use by another hyperpod-local (pid {owner.process.pid}); "
            "stop it, or give this one another --db (or --in-memory)")
        # The owner was not disturbed.
        sm = make_client(owner.endpoint)
        sm.create_cluster(ClusterName="still-mine", InstanceGroups=[group()])
        assert sm.describe_cluster(ClusterName="still-mine")["ClusterStatus"] == "Creating"
    finally:
        owner.stop()
    # Once the owner is gone, the file is free again.
    again = Server("--db", db, "--clock", "manual", in_memory=False)
    again.stop()


def test_a_server_killed_with_sigkill_leaves_no_lock_behind(tmp_path):
    db = str(tmp_path / "state.sqlite")
    owner = Server("--db", db, "--clock", "manual", in_memory=False)
    owner.process.send_signal(signal.SIGKILL)
    owner.process.wait(timeout=10)
    again = Server("--db", db, "--clock", "manual", in_memory=False)
    try:
        assert make_client(again.endpoint).list_clusters()["ClusterSummaries"] == []
    finally:
        again.stop()
        owner.stop()


def test_a_database_written_by_a_newer_schema_is_refused_naming_both_versions(tmp_path):
    db = str(tmp_path / "state.sqlite")
    Server("--db", db, "--clock", "manual", in_memory=False).stop()
    connection = sqlite3.connect(db)
    with connection:
        known = max(int(row[0][1:].split(":")[0]) for row in connection.execute("SELECT identifier FROM grdb_migrations"))
        connection.execute("INSERT INTO grdb_migrations (identifier) VALUES ('v99: a schema from the future')")
    connection.close()
    refused = serve("--db", db)
    assert refused.returncode == 1
    assert refused.stderr.strip() == (
        f"Error: database {db} was written by a newer hyperpod-local (schema version 99; this one knows schema versions "
        f"up to {known}); start a newer hyperpod-local on it, or use another --db")


def test_a_clean_stop_leaves_the_whole_state_in_the_database_file(tmp_path):
    """After SIGTERM the write-ahead log is written back: a copy of the .sqlite file alone holds every cluster."""
    db = str(tmp_path / "state.sqlite")
    server = Server("--db", db, "--clock", "manual", in_memory=False)
    make_client(server.endpoint).create_cluster(ClusterName="kept", InstanceGroups=[group()])
    server.stop()
    # Written back: the log is empty, or gone (SQLite deletes it when the last connection closes before the exit).
    assert not os.path.exists(db + "-wal") or os.path.getsize(db + "-wal") == 0
    copy = str(tmp_path / "copy.sqlite")
    with open(db, "rb") as source, open(copy, "wb") as target:
        target.write(source.read())
    again = Server("--db", copy, "--clock", "manual", in_memory=False)
    try:
        assert [c["ClusterName"] for c in make_client(again.endpoint).list_clusters()["ClusterSummaries"]] == ["kept"]
    finally:
        again.stop()
