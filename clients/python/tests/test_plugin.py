"""The pytest plugin, run through pytester on small test files, against the real binary (HYPERPOD_LOCAL_BIN, PATH or
the repository's .build/release, as the kit finds it)."""
import json
import os

import pytest

KIT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

GROUP = """{"InstanceGroupName": "workers", "InstanceType": "ml.c5.xlarge", "InstanceCount": 2,
            "ExecutionRole": "arn:aws:iam::111122223333:role/hyperpod",
            "LifeCycleConfig": {"SourceS3Uri": "s3://my-bucket/lcc/", "OnCreate": "on_create.sh"}}"""


def test_one_server_per_session_emptied_before_each_test(pytester):
    pytester.makepyfile(f"""
        GROUP = {GROUP}
        PIDS = []

        def test_first(hyperpod_local, sagemaker):
            PIDS.append(hyperpod_local.pid)
            sagemaker.create_cluster(ClusterName="demo", InstanceGroups=[GROUP])
            hyperpod_local.timing.set(T_launch=600)
            hyperpod_local.capacity.set({{"ml.c5.xlarge": 0}})
            assert hyperpod_local.clock.get().mode == "manual"

        def test_second(hyperpod_local, sagemaker):
            PIDS.append(hyperpod_local.pid)
            assert sagemaker.list_clusters()["ClusterSummaries"] == []
            assert hyperpod_local.timing.get()["T_launch"] == 1.0      # the first test's override is undone
            assert hyperpod_local.capacity.get()["unlimited"] is True
            assert sagemaker.meta.endpoint_url == hyperpod_local.endpoint_url
            assert PIDS[0] == PIDS[1]                                  # one server for the session
    """)
    pytester.runpytest("-p", "no:cacheprovider").assert_outcomes(passed=2)


def test_hyperpod_local_options_start_the_session_server_differently(pytester):
    pytester.makeconftest("""
        import pytest

        @pytest.fixture(scope="session")
        def hyperpod_local_options():
            return {"timing": "instant", "region": "eu-west-1", "clock": None}
    """)
    pytester.makepyfile("""
        def test_options(hyperpod_local, sagemaker):
            assert hyperpod_local.timing.profile() == "instant"
            assert hyperpod_local.clock.get().mode == "real"
            assert sagemaker.meta.region_name == "eu-west-1"
    """)
    pytester.runpytest("-p", "no:cacheprovider").assert_outcomes(passed=1)


def test_a_failing_test_reports_the_log_its_servers_wrote_during_the_test(pytester):
    pytester.makepyfile("""
        def test_passes(sagemaker):
            sagemaker.list_clusters()

        def test_fails(sagemaker, hyperpod_local_factory):
            hyperpod_local_factory().client().list_clusters()
            sagemaker.describe_cluster(ClusterName="no-such-cluster")
    """)
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1, failed=1)
    output = result.stdout.str()
    sections = output.split("hyperpod-local log (pid ")[1:]
    assert len(sections) == 2, output  # the session server and the factory's
    session_part, factory_part = sections
    assert "aws.operation=DescribeCluster" in session_part and "aws.error_code=ResourceNotFound" in session_part
    assert "aws.operation=ListClusters" not in session_part  # the passing test's request is not this test's
    assert "aws.operation=ListClusters" in factory_part
    assert "--hyperpod-local-keep-logs keeps it" in output


def test_keep_logs_keeps_every_log_file_and_lists_it(pytester):
    pytester.makepyfile("""
        def test_one(sagemaker, hyperpod_local_factory):
            hyperpod_local_factory()
            sagemaker.list_clusters()
    """)
    result = pytester.runpytest("-p", "no:cacheprovider", "--hyperpod-local-keep-logs")
    result.assert_outcomes(passed=1)
    lines = result.stdout.lines
    listed = lines[lines.index(next(l for l in lines if "hyperpod-local logs kept" in l)) + 1:][:2]
    assert len(listed) == 2 and all(os.path.exists(path) and path.endswith(".log") for path in listed), lines
    assert any("aws.operation=ListClusters" in open(path).read() for path in listed)


def test_url_attaches_to_a_running_server_instead_of_starting_one(pytester, hyperpod_local_factory):
    outside = hyperpod_local_factory()
    outside.client().create_cluster(ClusterName="before", InstanceGroups=[json.loads(GROUP)])
    pytester.makepyfile(f"""
        GROUP = {GROUP}

        def test_attached(hyperpod_local, sagemaker):
            assert hyperpod_local.attached and hyperpod_local.process is None
            assert sagemaker.list_clusters()["ClusterSummaries"] == []    # reset before the test
            sagemaker.create_cluster(ClusterName="made-inside", InstanceGroups=[GROUP])
    """)
    pytester.runpytest("-p", "no:cacheprovider", f"--hyperpod-local-url={outside.endpoint_url}").assert_outcomes(
        passed=1)
    names = [c["ClusterName"] for c in outside.client().list_clusters()["ClusterSummaries"]]
    assert names == ["made-inside"] and outside.running


def test_the_factorys_servers_stop_after_the_test_and_may_restart_on_a_database_file(pytester):
    pytester.makepyfile(f"""
        GROUP = {GROUP}
        SERVERS = []

        def test_restart(hyperpod_local_factory, tmp_path):
            first = hyperpod_local_factory(db=tmp_path / "state.sqlite")
            first.client().create_cluster(ClusterName="kept", InstanceGroups=[GROUP])
            first.stop()
            again = hyperpod_local_factory(db=tmp_path / "state.sqlite")
            assert again.client().describe_cluster(ClusterName="kept")["ClusterStatus"] == "Creating"
            SERVERS.extend([first, again])

        def test_stopped(hyperpod_local):
            assert [s.process.poll() for s in SERVERS] == [0, 0]
    """)
    pytester.runpytest("-p", "no:cacheprovider").assert_outcomes(passed=2)


def test_a_binary_option_that_names_nothing_stops_the_run_once_with_its_name(pytester, tmp_path):
    pytester.makepyfile("""
        def test_needs_a_server(hyperpod_local):
            pass

        def test_needs_a_client(sagemaker):
            pass
    """)
    result = pytester.runpytest("-p", "no:cacheprovider", f"--hyperpod-local-bin={tmp_path}/missing")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.assert_outcomes()  # no test ran: no error per test
    output = result.stdout.str() + result.stderr.str()
    assert output.count(f"the hyperpod-local binary given, {tmp_path}/missing, is not an executable file") == 1, output
    assert "session's server is not available" in output and "Traceback" not in output
    assert len(output.splitlines()) < 20, output


def test_a_session_server_that_was_killed_fails_each_later_test_with_how_it_ended(pytester):
    pytester.makepyfile("""
        import signal

        def test_kills_it(hyperpod_local):
            hyperpod_local.signal(signal.SIGKILL)
            hyperpod_local.wait(timeout=10)

        def test_later(hyperpod_local):
            pass

        def test_later_with_a_client(sagemaker):
            pass

        def test_without_a_server():
            pass
    """)
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(passed=2, errors=2)
    output = result.stdout.str()
    # Once in each of the two setup errors (the short summary may repeat it, cut to the terminal's width).
    errors = output.split("short test summary info")[0]
    assert errors.count("exited with signal 9 (SIGKILL) before this test; its last log lines:") == 2, output
    assert "server.started" in output  # the log's lines
    assert "urllib" not in output and "Traceback" not in output and len(output.splitlines()) < 60, output


def test_the_kit_object_is_what_the_fixture_gives(pytester):
    pytester.makepyfile("""
        from hyperpod_local import HyperPodLocal, HyperPodLocalFactory

        def test_types(hyperpod_local, hyperpod_local_factory, hyperpod_local_session):
            assert isinstance(hyperpod_local, HyperPodLocal) and hyperpod_local is hyperpod_local_session
            assert isinstance(hyperpod_local_factory, HyperPodLocalFactory)
    """)
    pytester.runpytest("-p", "no:cacheprovider").assert_outcomes(passed=1)


def test_the_readmes_first_test_is_ten_lines_and_passes(pytester):
    with open(os.path.join(KIT, "README.md"), encoding="utf-8") as f:
        readme = f.read()
    example = readme.split("## A first test", 1)[1].split("```python\n", 1)[1].split("```", 1)[0]
    assert len(example.rstrip("\n").splitlines()) <= 10
    pytester.makepyfile(example)
    pytester.runpytest("-p", "no:cacheprovider").assert_outcomes(passed=1)


def test_the_main_readmes_pytest_example_passes_with_the_kit(pytester):
    with open(os.path.join(KIT, "..", "..", "README.md"), encoding="utf-8") as f:
        readme = f.read()
    section = readme.split("### 3. Use it from pytest", 1)[1]
    example = section.split("```python\n# test_cluster.py\n", 1)[1].split("```", 1)[0]
    pytester.makepyfile(test_cluster=example)
    pytester.runpytest("-p", "no:cacheprovider").assert_outcomes(passed=2)
