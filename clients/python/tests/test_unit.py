"""Unit tests of the kit against a fake server (tests/fake_server.py): what it starts, what it sends, what it raises."""
import gc
import os
import signal
import socket
import subprocess
import time
import traceback
from datetime import datetime, timedelta, timezone

import pytest
from botocore.exceptions import ClientError

from conftest import fake_call, first_log_line, sent
from hyperpod_local import (BinaryNotFoundError, HyperPodLocal, HyperPodLocalError, HyperPodLocalFactory,
                            ServerStartError, WaitError, find_binary)

START = 1_800_000_000.0


# -- finding the binary ------------------------------------------------------------------------------------------

def test_no_binary_anywhere_names_all_four_places(tmp_path, monkeypatch):
    monkeypatch.delenv("HYPERPOD_LOCAL_BIN", raising=False)
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(BinaryNotFoundError) as caught:
        find_binary(search_from=[tmp_path])
    message = str(caught.value)
    for place in ("`binary` argument", "--hyperpod-local-bin", "HYPERPOD_LOCAL_BIN", "on PATH",
                  ".build/release/hyperpod-local", str(tmp_path)):
        assert place in message, message


def test_the_binary_is_found_in_order_argument_environment_path_repository(tmp_path, monkeypatch, fake_binary):
    repo = tmp_path / "repo"
    (repo / ".build" / "release").mkdir(parents=True)
    built = repo / ".build" / "release" / "hyperpod-local"
    built.write_text("#!/bin/sh\n")
    built.chmod(0o755)
    on_path = tmp_path / "bin" / "hyperpod-local"
    on_path.parent.mkdir()
    on_path.write_text("#!/bin/sh\n")
    on_path.chmod(0o755)
    monkeypatch.delenv("HYPERPOD_LOCAL_BIN", raising=False)
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    assert find_binary(search_from=[repo / "clients" / "python"]) == str(built)  # a folder above
    monkeypatch.setenv("PATH", str(on_path.parent))
    assert find_binary(search_from=[repo]) == str(on_path)
    monkeypatch.setenv("HYPERPOD_LOCAL_BIN", fake_binary)
    assert find_binary(search_from=[repo]) == fake_binary
    assert find_binary(str(built), search_from=[repo]) == str(built)


def test_a_binary_named_but_missing_is_an_error_not_a_fall_through(tmp_path, monkeypatch, fake_binary):
    monkeypatch.setenv("PATH", os.path.dirname(fake_binary))
    with pytest.raises(BinaryNotFoundError, match="given, .*nothing-here"):
        find_binary(tmp_path / "nothing-here")
    monkeypatch.setenv("HYPERPOD_LOCAL_BIN", str(tmp_path / "nothing-here"))
    with pytest.raises(BinaryNotFoundError, match="HYPERPOD_LOCAL_BIN=.*nothing-here"):
        find_binary()


# -- starting and stopping ---------------------------------------------------------------------------------------

def test_defaults_are_port_0_in_memory_and_a_manual_clock(fake):
    argv = first_log_line(fake)["argv"]
    assert argv == ["serve", "--port", "0", "--in-memory", "--clock", "manual"]
    assert fake.endpoint_url == f"http://127.0.0.1:{fake.port}" and fake.port > 0 and fake.host == "127.0.0.1"
    assert fake.running and fake.pid == fake.process.pid


def test_every_option_becomes_its_flag(fake_binary, hyperpod_local_factory, tmp_path):
    server = hyperpod_local_factory(
        "--extra", "last", binary=fake_binary, db=tmp_path / "state.sqlite", clock=None, timing="instant",
        time_scale=100, delays={"T_launch": 30, "T_dhc": 0.5}, seed=42, seed_dirs=[tmp_path], region="eu-west-1",
        account_id="111122223333", capacity={"ml.p5.48xlarge": 4, "ml.c5.xlarge": {"us-east-1a": 2}},
        quotas={"Number of SageMaker HyperPod clusters": 2}, auth="parse", admin_token="t0ken",
        strict_members=True, check_responses=True, log_level="debug", cors=["http://a", "http://b"],
        max_body_bytes=1000, header_timeout=0.5, address_file=tmp_path / "address")
    argv = first_log_line(server)["argv"]
    assert argv == [
        "serve", "--port", "0", "--db", str(tmp_path / "state.sqlite"), "--timing", "instant", "--time-scale", "100",
        "--region", "eu-west-1", "--account-id", "111122223333", "--auth", "parse", "--admin-token", "t0ken",
        "--log-level", "debug", "--cors", "http://a,http://b", "--max-body-bytes", "1000", "--header-timeout", "0.5",
        "--address-file", str(tmp_path / "address"), "--delay", "T_launch=30", "--delay", "T_dhc=0.5",
        "--seed", "42", "--seed", str(tmp_path), "--capacity", "ml.p5.48xlarge=4",
        "--capacity", "ml.c5.xlarge@us-east-1a=2", "--quota", "Number of SageMaker HyperPod clusters=2",
        "--strict-members", "--check-responses", "--extra", "last"]
    assert server.region == "eu-west-1"


def test_db_and_admin_token_given_as_args_count_too(fake_binary, hyperpod_local_factory, tmp_path):
    server = hyperpod_local_factory("--db", str(tmp_path / "x.sqlite"), "--admin-token", "t0ken", binary=fake_binary)
    assert "--in-memory" not in first_log_line(server)["argv"]
    server.reset()
    assert sent(server)[0]["headers"]["x-hyperpod-admin-token"] == "t0ken"


def test_in_memory_and_db_exclude_each_other(tmp_path):
    with pytest.raises(ValueError):
        HyperPodLocal(in_memory=True, db=tmp_path / "x.sqlite")


def test_the_callers_hyperpod_local_variables_do_not_reach_the_server_but_env_does(fake_binary, hyperpod_local_factory,
                                                                                monkeypatch):
    monkeypatch.setenv("HYPERPOD_LOCAL_TIMING", "realistic")
    server = hyperpod_local_factory(binary=fake_binary, env={"HYPERPOD_LOCAL_MAX_HEADER_BYTES": "1024",
                                                             "FAKE_NOTE": "passed"})
    assert first_log_line(server)["env"] == {"HYPERPOD_LOCAL_MAX_HEADER_BYTES": "1024", "FAKE_NOTE": "passed"}


def test_a_server_that_exits_fails_the_start_with_its_log(fake_binary):
    with pytest.raises(ServerStartError) as caught:
        HyperPodLocal(binary=fake_binary, env={"FAKE_MODE": "exit"}).start()
    assert "exited with status 1 before listening" in str(caught.value)
    assert "Error: the fake was told to fail (bad.json)" in str(caught.value)
    assert isinstance(caught.value, RuntimeError)


def test_another_first_line_fails_the_start(fake_binary):
    with pytest.raises(ServerStartError, match="printed 'hello from somewhere else'"):
        HyperPodLocal(binary=fake_binary, env={"FAKE_MODE": "bad-line"}).start()


def test_a_silent_server_fails_the_start_after_start_timeout_and_is_killed(fake_binary):
    server = HyperPodLocal(binary=fake_binary, env={"FAKE_MODE": "silent"}, start_timeout=0.5)
    with pytest.raises(ServerStartError, match="did not announce its address within 0.5 s"):
        server.start()
    assert server.process.returncode == -signal.SIGKILL


def test_the_start_waits_for_a_healthy_server_unless_told_not_to(fake_binary):
    with pytest.raises(ServerStartError, match="GET /_hyperpod/health failed: it answered HTTP 503"):
        HyperPodLocal(binary=fake_binary, env={"FAKE_MODE": "unhealthy"}, start_timeout=0.5).start()
    trusting = HyperPodLocal(binary=fake_binary, env={"FAKE_MODE": "unhealthy"}, health_check=False).start()
    assert trusting.running
    trusting.stop()


def test_stop_terminates_and_kills_a_server_that_ignores_sigterm(fake_binary):
    polite = HyperPodLocal(binary=fake_binary).start()
    assert polite.stop() == 0
    stubborn = HyperPodLocal(binary=fake_binary, env={"FAKE_MODE": "ignore-term"}, stop_timeout=0.3).start()
    assert stubborn.stop() == -signal.SIGKILL
    assert stubborn.stop() == -signal.SIGKILL  # a second stop is harmless


def test_the_context_manager_starts_and_stops(fake_binary):
    with HyperPodLocal(binary=fake_binary) as server:
        assert server.health()["status"] == "running"
        process = server.process
    assert process.returncode == 0 and not server.running


def test_the_log_outlives_stop_and_is_removed_with_the_object_unless_kept(fake_binary, tmp_path):
    server = HyperPodLocal(binary=fake_binary).start()
    server.reset()
    server.stop()
    path = server.log_path
    assert "request" in server.log() and os.path.exists(path)
    del server
    gc.collect()
    assert not os.path.exists(path)
    kept = HyperPodLocal(binary=fake_binary, keep_log=True, log_dir=tmp_path).start()
    kept.stop()
    path = kept.log_path
    del kept
    gc.collect()
    assert os.path.exists(path) and os.path.dirname(path) == str(tmp_path)


def test_a_stopped_server_starts_again_and_its_log_continues(fake_binary):
    server = HyperPodLocal(binary=fake_binary).start()
    first_pid = server.pid
    server.kill()
    server.start()
    assert server.pid != first_pid and server.health()["status"] == "running"
    assert server.log().count('"argv"') == 2
    server.stop()


def test_signal_and_wait_reach_the_process(fake):
    fake.signal(signal.SIGTERM)
    assert fake.wait(timeout=5) == 0


def test_attach_talks_to_a_running_server_and_leaves_it_running(fake):
    attached = HyperPodLocal.attach(fake.endpoint_url + "/", region="eu-west-1")
    assert attached.attached and attached.process is None and attached.port == fake.port
    attached.reset()
    assert attached.stop() is None and fake.running
    assert [r["path"] for r in sent(fake)] == ["/_hyperpod/reset"]
    with pytest.raises(HyperPodLocalError, match="attached"):
        attached.log()


def test_attach_to_nothing_raises_with_a_short_traceback(tmp_path):
    with pytest.raises(HyperPodLocalError, match="cannot reach hyperpod-local at http://127.0.0.1:9") as caught:
        HyperPodLocal.attach("http://127.0.0.1:9", timeout=2)
    shown = "".join(traceback.format_exception(caught.value))
    assert "During handling" not in shown and "direct cause" not in shown and "urllib" not in shown, shown


def test_a_call_to_a_server_that_died_says_how_it_ended(fake):
    fake.kill()
    with pytest.raises(HyperPodLocalError) as caught:
        fake.reset()
    message = str(caught.value)
    assert f"the hyperpod-local server (pid {fake.pid}) exited with signal 9 (SIGKILL)" in message, message
    assert "cannot reach hyperpod-local" in message
    assert "During handling" not in "".join(traceback.format_exception(caught.value))


def test_a_restart_keeps_the_port_so_clients_made_before_keep_working(fake_binary):
    server = HyperPodLocal(binary=fake_binary).start()
    port, client = server.port, server.client()
    server.stop()
    server.start()
    assert server.port == port and server.endpoint_url == f"http://127.0.0.1:{port}"
    client.list_clusters()  # made before the restart
    server.kill()
    server.start()
    assert server.port == port
    client.list_clusters()
    server.stop()


def test_a_restart_whose_port_was_taken_falls_back_to_a_free_one_with_a_warning(fake_binary):
    server = HyperPodLocal(binary=fake_binary).start()
    port = server.port
    server.stop()
    with socket.socket() as squatter:
        squatter.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        squatter.bind(("127.0.0.1", port))
        squatter.listen()
        with pytest.warns(RuntimeWarning, match=f"port {port} was taken"):
            server.start()
    assert server.port != port and server.health()["status"] == "running"
    server.stop()


def test_the_factory_stops_every_server_it_started_or_adopted(fake_binary):
    with HyperPodLocalFactory({"binary": fake_binary}) as factory:
        one, two = factory(), factory(clock=None)
        adopted = factory.add(HyperPodLocal(binary=fake_binary).start())
        assert "--clock" not in first_log_line(two)["argv"]
    assert [s.process.returncode for s in (one, two, adopted)] == [0, 0, 0]


# -- arguments checked before anything is sent ---------------------------------------------------------------------

@pytest.mark.parametrize("bad", ["123", 123456789012, "12345678901a", "1234567890123", "", "１２３４５６７８９０１２"])
def test_an_account_that_is_not_12_digits_is_refused_before_anything_is_sent(fake, bad):
    calls = [lambda: fake.client(account_id=bad), lambda: fake.env(account_id=bad),
             lambda: fake.waiter("ClusterInService", account_id=bad),
             lambda: fake.wait_for("demo", "InService", account_id=bad),
             lambda: fake.capacity.set({}, account=bad), lambda: fake.capacity.get(account=bad),
             lambda: fake.capacity.unlimited(account=bad), lambda: fake.quotas.set({}, account=bad),
             lambda: fake.quotas.get(account=bad), lambda: fake.settings.set({}, account=bad),
             lambda: fake.settings.get(account=bad), lambda: fake.state(account=bad), lambda: fake.reset(account=bad),
             lambda: HyperPodLocal(account_id=bad)]
    for call in calls:
        with pytest.raises(ValueError, match="must be an AWS account id, a string of 12 digits"):
            call()
    assert sent(fake) == []


def test_an_account_given_as_an_int_is_told_to_be_a_string(fake):
    with pytest.raises(ValueError, match="account_id must be .* got 123456789012 .*give it as a string"):
        fake.client(account_id=123456789012)


def test_a_pool_list_instead_of_a_mapping_is_a_clear_type_error(fake):
    with pytest.raises(TypeError, match=r"capacity.set takes a mapping such as \{\"ml.c5.xlarge\": 4\}, not list"):
        fake.capacity.set(["ml.c5.xlarge"])
    with pytest.raises(TypeError, match="quotas.set takes a mapping"):
        fake.quotas.set(["Number of SageMaker HyperPod clusters"])
    with pytest.raises(TypeError, match="settings.set takes a mapping"):
        fake.settings.set(["volumeAttachmentLimit"])
    with pytest.raises(TypeError, match="timing.set takes a mapping"):
        fake.timing.set(["T_launch"])
    assert sent(fake) == []


def test_wait_for_a_status_that_does_not_exist_fails_before_anything_is_sent(fake):
    with pytest.raises(ValueError) as caught:
        fake.wait_for("demo", "InSerivce")
    assert str(caught.value) == ("'InSerivce' is not a status wait_for can wait for; use one of Creating, InService, "
                                 "Updating, Deleting, Failed, RollingBack, SystemUpdating, Deleted")
    assert sent(fake) == []


# -- the admin API helpers send the documented routes and bodies ---------------------------------------------------

def test_helpers_send_the_routes_and_bodies_of_the_admin_api(fake):
    fake.clock.advance(5)
    fake.clock.set(datetime.fromtimestamp(START + 60, tz=timezone.utc))
    fake.clock.set(START + 61)
    fake.settle()
    fake.settle(max_seconds=600)
    fake.reset()
    fake.reset(account="111122223333", region="eu-west-1")
    fake.capacity.set({"ml.p5.48xlarge": 4, "ml.c5.xlarge": {"us-east-1a": 2}}, account="111122223333")
    fake.capacity.unlimited()
    fake.capacity.get(region="eu-west-1")
    fake.quotas.set({"Number of SageMaker HyperPod clusters": 2})
    fake.quotas.get(account="111122223333")
    fake.faults.inject("node-failure", cluster="demo", node_id="i-1", reason="HardwareFailure")
    fake.faults.api_error("DescribeCluster", "InternalFailure", probability=0.5)
    fake.faults.launch_failure("ml.c5.xlarge", count=2, cause="lifecycle-script")
    fake.faults.latency("*", 20)
    fake.faults.inject("lifecycle-bucket-missing", source_s3_uri="s3://b/p")
    fake.faults.list()
    fake.faults.delete("fault-1")
    fake.faults.clear()
    fake.timing.set(T_launch=30)
    fake.timing.set({"T_setup": 5})
    fake.settings.set({"restrictedInstanceGroupsOnCreate": "allow"}, region="eu-west-1")
    fake.state(account="111122223333", region="eu-west-1")
    fake.state()
    fake.admin_request("POST", "/_hyperpod/ami-releases", {"version": "1.0.1"})
    assert [(r["method"], r["path"], r["body"], r["query"]) for r in sent(fake)] == [
        ("POST", "/_hyperpod/clock", {"advanceSeconds": 5}, {}),
        ("POST", "/_hyperpod/clock", {"set": START + 60}, {}),
        ("POST", "/_hyperpod/clock", {"set": START + 61}, {}),
        ("POST", "/_hyperpod/settle", {}, {}),
        ("POST", "/_hyperpod/settle", {"maxSeconds": 600}, {}),
        ("POST", "/_hyperpod/reset", {}, {}),
        ("POST", "/_hyperpod/reset", {"account": "111122223333", "region": "eu-west-1"}, {}),
        ("PUT", "/_hyperpod/capacity",
         {"ml.p5.48xlarge": 4, "ml.c5.xlarge": {"us-east-1a": 2}, "account": "111122223333"}, {}),
        ("PUT", "/_hyperpod/capacity", {}, {}),
        ("GET", "/_hyperpod/capacity", None, {"region": "eu-west-1"}),
        ("PUT", "/_hyperpod/quotas", {"Number of SageMaker HyperPod clusters": 2}, {}),
        ("GET", "/_hyperpod/quotas", None, {"account": "111122223333"}),
        ("POST", "/_hyperpod/faults", {"kind": "node-failure", "cluster": "demo", "nodeId": "i-1",
                                       "reason": "HardwareFailure"}, {}),
        ("POST", "/_hyperpod/faults", {"kind": "api-error", "operation": "DescribeCluster",
                                       "code": "InternalFailure", "probability": 0.5}, {}),
        ("POST", "/_hyperpod/faults", {"kind": "launch-failure", "instanceType": "ml.c5.xlarge", "count": 2,
                                       "cause": "lifecycle-script"}, {}),
        ("POST", "/_hyperpod/faults", {"kind": "latency", "operation": "*", "milliseconds": 20}, {}),
        ("POST", "/_hyperpod/faults", {"kind": "lifecycle-bucket-missing", "sourceS3Uri": "s3://b/p"}, {}),
        ("GET", "/_hyperpod/faults", None, {}),
        ("DELETE", "/_hyperpod/faults/fault-1", None, {}),
        ("DELETE", "/_hyperpod/faults", None, {}),
        ("PUT", "/_hyperpod/timing", {"T_launch": 30}, {}),
        ("PUT", "/_hyperpod/timing", {"T_setup": 5}, {}),
        ("PUT", "/_hyperpod/settings", {"restrictedInstanceGroupsOnCreate": "allow", "region": "eu-west-1"}, {}),
        ("GET", "/_hyperpod/state", None, {"account": "111122223333", "region": "eu-west-1"}),
        ("GET", "/_hyperpod/state", None, {}),
        ("POST", "/_hyperpod/ami-releases", {"version": "1.0.1"}, {}),
    ]


def test_helpers_answer_typed_values(fake):
    assert fake.clock.now() == datetime.fromtimestamp(START, tz=timezone.utc)
    assert fake.clock.advance(90) == datetime.fromtimestamp(START, tz=timezone.utc) + timedelta(seconds=90)
    clock = fake.clock.get()
    assert (clock.epoch, clock.mode, clock.time_scale, clock.timing) == (START + 90, "manual", 1.0, "fast")
    settled = fake.settle()
    assert settled.settled is True and settled.set_aside == [] and settled.now == clock.now
    assert fake.faults.node_failure("demo", "i-1") == "fault-1"
    assert fake.timing.set(T_launch=30) == {"T_setup": 2.0, "T_launch": 30}


def test_a_naive_datetime_is_refused_before_anything_is_sent(fake):
    with pytest.raises(ValueError, match="no time zone"):
        fake.clock.set(datetime(2030, 1, 1))
    assert sent(fake) == []


def test_a_4xx_raises_with_the_servers_message_and_status(fake):
    with pytest.raises(HyperPodLocalError) as caught:
        fake.clock.advance(-1)
    assert caught.value.http_status == 400 and caught.value.message == "advanceSeconds must be a number ≥ 0"
    assert str(caught.value) == "POST /_hyperpod/clock: HTTP 400: advanceSeconds must be a number ≥ 0"
    fake_call(fake, "/_fake/respond", {"status": 409, "body": {"error": "not now"}})
    with pytest.raises(HyperPodLocalError) as caught:
        fake.quotas.set({"Number of SageMaker HyperPod clusters": 1})
    assert (caught.value.http_status, caught.value.message, caught.value.method, caught.value.path) == (
        409, "not now", "PUT", "/_hyperpod/quotas")


def test_the_admin_token_goes_with_every_admin_call(fake_binary, hyperpod_local_factory):
    server = hyperpod_local_factory(binary=fake_binary, admin_token="t0ken")
    server.reset()
    server.clock.get()
    assert [r["headers"].get("x-hyperpod-admin-token") for r in sent(server)] == ["t0ken", "t0ken"]


# -- clients and environment ---------------------------------------------------------------------------------------

def test_client_signs_with_the_account_as_access_key_in_the_servers_region(fake_binary, hyperpod_local_factory):
    server = hyperpod_local_factory(binary=fake_binary, region="eu-west-1")
    server.client().list_clusters()
    server.client(account_id="111122223333", region="us-west-2").list_clusters()
    auth = [r["headers"]["authorization"] for r in sent(server)]
    assert "Credential=test/" in auth[0] and "/eu-west-1/sagemaker/" in auth[0]
    assert "Credential=111122223333/" in auth[1] and "/us-west-2/sagemaker/" in auth[1]


def test_client_makes_one_attempt_so_an_injected_fault_shows_at_once(fake):
    fake_call(fake, "/_fake/respond", {"status": 500, "body": {"__type": "InternalFailure", "message": "boom"}})
    with pytest.raises(ClientError, match="InternalFailure"):
        fake.client().list_clusters()
    assert len(sent(fake)) == 1


def test_env_points_a_subprocess_at_the_server_without_the_callers_profile(fake, monkeypatch):
    monkeypatch.setenv("AWS_PROFILE", "production")
    monkeypatch.setenv("AWS_SESSION_TOKEN", "real-token")
    monkeypatch.setenv("UNRELATED", "kept")
    env = fake.env(account_id="111122223333")
    assert env["AWS_ENDPOINT_URL_SAGEMAKER"] == fake.endpoint_url and env["AWS_ACCESS_KEY_ID"] == "111122223333"
    assert env["AWS_DEFAULT_REGION"] == env["AWS_REGION"] == "us-east-1" and env["UNRELATED"] == "kept"
    assert "AWS_PROFILE" not in env and "AWS_SESSION_TOKEN" not in env
    assert fake.env(inherit=False) == {
        "AWS_ENDPOINT_URL_SAGEMAKER": fake.endpoint_url, "AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test",
        "AWS_DEFAULT_REGION": "us-east-1", "AWS_REGION": "us-east-1"}
    script = "import os, sys; sys.stdout.write(os.environ['AWS_ENDPOINT_URL_SAGEMAKER'])"
    assert subprocess.run(["python3", "-c", script], env=env, capture_output=True, text=True).stdout == \
        fake.endpoint_url


# -- wait_for on a manual clock ------------------------------------------------------------------------------------

def test_wait_for_moves_the_clock_to_each_pending_transition_and_stops_at_the_status(fake):
    fake_call(fake, "/_fake/timeline", {"cluster": "demo", "steps": [[0, "Creating"], [2, "Creating"],
                                                                     [3.5, "InService"], [100, "Updating"]]})
    description = fake.wait_for("demo", "InService")
    assert description["ClusterStatus"] == "InService" and "ResponseMetadata" not in description
    assert fake.clock.get().epoch == START + 3.5  # not a second further: Updating is still to come
    moves = [r["body"] for r in sent(fake) if r["path"] == "/_hyperpod/clock" and r["method"] == "POST"]
    assert moves == [{"set": START + 2}, {"set": START + 3.5}]


def test_wait_for_deleted_ends_when_the_cluster_is_gone(fake):
    fake_call(fake, "/_fake/timeline", {"cluster": "demo", "steps": [[-1, "Deleting"]]})
    fake_call(fake, "/_fake/timeline", {"cluster": "other", "steps": [[-1, "InService"]]})
    assert fake.wait_for("gone", "Deleted") == {}


def test_wait_for_raises_when_the_cluster_fails(fake):
    fake_call(fake, "/_fake/timeline", {"cluster": "demo", "steps": [[0, "Creating"], [1, "Failed"]]})
    with pytest.raises(WaitError) as caught:
        fake.wait_for("demo", "InService")
    assert caught.value.cluster_status == "Failed" and caught.value.cluster == "demo"
    assert "is Failed while waiting for InService" in str(caught.value)


def test_wait_for_a_cluster_that_does_not_exist_names_the_partition_it_looked_in(fake):
    with pytest.raises(WaitError) as caught:
        fake.wait_for("nope", "InService")
    assert str(caught.value) == ("no cluster 'nope' in account 000000000000 / region us-east-1 (the default account "
                                 "and region; pass account_id= or region= to wait_for to look in another)")
    assert caught.value.cluster_status == "Deleted"
    with pytest.raises(WaitError) as caught:
        fake.wait_for("nope", "InService", account_id="111122223333")
    assert str(caught.value) == ("no cluster 'nope' in account 111122223333 / region us-east-1 (the default region; "
                                 "pass region= to wait_for to look in another)")
    with pytest.raises(WaitError) as caught:
        fake.wait_for("nope", "InService", account_id="111122223333", region="eu-west-1")
    assert str(caught.value) == "no cluster 'nope' in account 111122223333 / region eu-west-1"
    assert fake.wait_for("nope", "Deleted") == {}


def test_wait_for_says_when_the_cluster_is_deleted_while_waiting(fake):
    fake_call(fake, "/_fake/timeline", {"cluster": "demo", "steps": [[0, "Deleting"], [1, "Deleted"]]})
    with pytest.raises(WaitError, match="^cluster demo was deleted while waiting for InService$"):
        fake.wait_for("demo", "InService")


def test_wait_for_raises_when_nothing_is_pending(fake):
    fake_call(fake, "/_fake/timeline", {"cluster": "demo", "steps": [[0, "Updating"]]})
    with pytest.raises(WaitError, match="is Updating and nothing is pending"):
        fake.wait_for("demo", "InService")


def test_wait_for_gives_up_after_max_seconds_of_virtual_time(fake):
    fake_call(fake, "/_fake/timeline", {"cluster": "demo", "steps": [[0, "Creating"], [7200, "InService"]]})
    with pytest.raises(WaitError, match="still Creating after 3600 virtual seconds"):
        fake.wait_for("demo", "InService", max_seconds=3600)
    assert fake.clock.get().epoch == START  # it did not move the clock past what it was allowed


# -- waiting on a real clock; botocore waiters on a manual one ------------------------------------------------------

@pytest.fixture
def fake_real_clock(fake_binary, hyperpod_local_factory):
    """A started fake server whose clock is real: its virtual time runs with wall time."""
    return hyperpod_local_factory(binary=fake_binary, env={"FAKE_CLOCK": "real"})


def describes(server):
    return [r for r in sent(server) if r["headers"].get("x-amz-target") == "SageMaker.DescribeCluster"]


def test_on_a_real_clock_wait_for_fails_at_once_for_a_steady_cluster_with_nothing_pending(fake_real_clock):
    fake_call(fake_real_clock, "/_fake/timeline", {"cluster": "demo", "steps": [[-1, "InService"]]})
    started = time.monotonic()
    with pytest.raises(WaitError) as caught:
        fake_real_clock.wait_for("demo", "Deleting")  # timeout: the default 300 s
    assert time.monotonic() - started < 30  # not the timeout: at once
    assert str(caught.value) == ("cluster demo is InService and the server has no pending transition for it: it will "
                                 "not become Deleting by itself (only an API call such as UpdateCluster or "
                                 "DeleteCluster would change it)")
    assert caught.value.cluster_status == "InService"
    assert len(describes(fake_real_clock)) == 2  # seen steady, and still so after looking at the pending transitions


def test_on_a_real_clock_wait_for_polls_while_a_transition_of_the_cluster_is_pending(fake_real_clock):
    fake_call(fake_real_clock, "/_fake/timeline", {"cluster": "demo", "steps": [[-1, "InService"], [0.3, "Deleting"]]})
    assert fake_real_clock.wait_for("demo", "Deleting", poll_interval=0.05)["ClusterStatus"] == "Deleting"
    assert len(describes(fake_real_clock)) >= 2


def test_a_waiter_on_a_manual_clock_checks_once_and_points_to_wait_for(fake):
    fake_call(fake, "/_fake/timeline", {"cluster": "demo", "steps": [[0, "Creating"], [5, "InService"]]})
    started = time.monotonic()
    with pytest.raises(WaitError) as caught:
        fake.waiter("ClusterInService").wait(ClusterName="demo")
    assert time.monotonic() - started < 30  # not 150 polls of 2 s
    message = str(caught.value)
    assert "cluster demo is Creating, and the server's clock is manual" in message, message
    assert "wait_for('demo', 'InService')" in message and caught.value.cluster_status == "Creating"
    assert len(describes(fake)) == 1
    fake.settle()
    fake.waiter("ClusterInService").wait(ClusterName="demo")  # there already: it returns
    with pytest.raises(WaitError, match="wait_for\\('demo', 'Deleted'\\)"):
        fake.waiter("ClusterDeleted").wait(ClusterName="demo")


def test_a_waiter_on_a_real_clock_is_botocores_own(fake_real_clock):
    waiter = fake_real_clock.waiter("ClusterInService")
    assert type(waiter).__module__.startswith("botocore") and waiter.name == "ClusterInService"


# -- the README ----------------------------------------------------------------------------------------------------

KIT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def call_form(label, function):
    """`label(a, b="x", *, c=None, **kwargs)`: how the README's API table writes a signature."""
    import inspect

    parts, keyword_only_marked = [], False
    parameters = list(inspect.signature(function).parameters.values())
    for i, p in enumerate(parameters):
        if p.kind is p.KEYWORD_ONLY and not keyword_only_marked:
            parts.append("*")
            keyword_only_marked = True
        if p.kind is p.VAR_KEYWORD:
            parts.append(f"**{p.name}")
            continue
        if p.default is p.empty:
            parts.append(p.name)
        else:
            default = f'"{p.default}"' if isinstance(p.default, str) else repr(p.default)
            parts.append(f"{p.name}={default}")
        if p.kind is p.POSITIONAL_ONLY and (i + 1 == len(parameters) or parameters[i + 1].kind is not p.POSITIONAL_ONLY):
            parts.append("/")
    return f"`{label}({', '.join(parts)})"


def test_the_readmes_api_table_gives_every_helpers_signature():
    with open(os.path.join(KIT, "README.md"), encoding="utf-8") as f:
        table = f.read().split("## The API", 1)[1].split("\n\n## ", 1)[0]
    hp = HyperPodLocal()
    helpers = {
        "clock.advance": hp.clock.advance, "clock.set": hp.clock.set, "clock.now": hp.clock.now,
        "clock.get": hp.clock.get, "clock.set_time_scale": hp.clock.set_time_scale, "settle": hp.settle,
        "wait_for": hp.wait_for, "reset": hp.reset, "capacity.set": hp.capacity.set, "capacity.get": hp.capacity.get,
        "capacity.unlimited": hp.capacity.unlimited, "quotas.set": hp.quotas.set, "quotas.get": hp.quotas.get,
        "faults.inject": hp.faults.inject, "faults.node_failure": hp.faults.node_failure,
        "faults.api_error": hp.faults.api_error, "faults.launch_failure": hp.faults.launch_failure,
        "faults.latency": hp.faults.latency, "faults.list": hp.faults.list, "faults.delete": hp.faults.delete,
        "faults.clear": hp.faults.clear, "timing.set": hp.timing.set, "timing.get": hp.timing.get,
        "timing.profile": hp.timing.profile, "settings.set": hp.settings.set, "settings.get": hp.settings.get,
        "state": hp.state, "health": hp.health, "admin_request": hp.admin_request, "client": hp.client,
        "env": hp.env, "waiter": hp.waiter,
    }
    missing = [call_form(label, f) for label, f in helpers.items() if call_form(label, f) + "`" not in table]
    assert missing == [], missing
    assert '`faults.api_error(operation, code="ThrottlingException", probability=1.0)`' in table  # code=, not error_code=


def test_the_readmes_install_lines_bring_the_plugin_and_its_moto_server_line_moto_s_account():
    with open(os.path.join(KIT, "README.md"), encoding="utf-8") as f:
        readme = f.read()
    install = readme.split("## Install", 1)[1].split("```sh\n", 1)[1].split("```", 1)[0].splitlines()
    assert install[0].startswith('pip install "./clients/python[pytest]"'), install
    assert install[1].startswith('pip install "hyperpod-local[pytest] @ git+https://<git host>/<owner>/'
                                 'hyperpod-local.git#subdirectory=clients/python"'), install
    moto = readme.split("## Coming from moto's server mode", 1)[1].split("```sh\n", 1)[1].split("```", 1)[0]
    assert "hyperpod-local serve --timing instant --account-id 123456789012" in moto
