"""The container files (issue #7): docker/Dockerfile and docker/docker-compose.yml are well formed and say what the
image promises; `hyperpod-local health`, the image's HEALTHCHECK, exits 0 only for a healthy server. (No Docker engine
runs here; scripts/check-runtime-deps.sh, run by scripts/test.sh, checks the runtime stage's libraries.)"""
import json
import os
import shutil
import subprocess

import yaml

from conftest import BINARY, ROOT

DOCKERFILE = os.path.join(ROOT, "docker", "Dockerfile")
COMPOSE = os.path.join(ROOT, "docker", "docker-compose.yml")
KEYWORDS = {"FROM", "RUN", "CMD", "LABEL", "EXPOSE", "ENV", "ADD", "COPY", "ENTRYPOINT", "VOLUME", "USER", "WORKDIR", "ARG",
            "ONBUILD", "STOPSIGNAL", "HEALTHCHECK", "SHELL"}


def instructions():
    lines, current = [], ""
    for raw in open(DOCKERFILE):
        line = raw.rstrip("\n")
        if not current and (not line.strip() or line.lstrip().startswith("#")):
            continue
        current += line.rstrip("\\").strip() + " "
        if not line.endswith("\\"):
            lines.append(current.strip())
            current = ""
    assert current == "", "a continued line never ends"
    return [(line.split(None, 1)[0], line.split(None, 1)[1] if " " in line else "") for line in lines]


def test_dockerfile_is_multi_stage_static_non_root_with_healthcheck():
    parsed = instructions()
    assert all(keyword in KEYWORDS for keyword, _ in parsed), [k for k, _ in parsed if k not in KEYWORDS]
    stages = [args for keyword, args in parsed if keyword == "FROM"]
    assert len(stages) == 2 and stages[0].startswith("swift:") and stages[1].startswith("debian:bookworm-slim")
    runs = " ".join(args for keyword, args in parsed if keyword == "RUN")
    assert "--static-swift-stdlib" in runs and "useradd" in runs
    assert ("USER", "hyperpod") in parsed
    assert ("EXPOSE", "4580") in parsed
    assert ("VOLUME", '["/data"]') in parsed
    env = image_environment()
    assert env["HYPERPOD_LOCAL_HOST"] == "0.0.0.0" and env["HYPERPOD_LOCAL_DB"].startswith("/data/")
    # Issue #18: bound beyond loopback without a token, the server refuses to start unless the image says it is open.
    assert env["HYPERPOD_LOCAL_ADMIN_OPEN"] == "1"
    assert env["HYPERPOD_LOCAL_SEED"] == "/seeds" and ("COPY", "Seeds /seeds") in parsed
    assert env["HYPERPOD_LOCAL_ADDRESS_FILE"].startswith("/tmp/")
    assert any(keyword == "HEALTHCHECK" and '"hyperpod-local", "health"' in args for keyword, args in parsed)
    assert ("ARG", 'RUNTIME_PACKAGES="libsqlite3-0 zlib1g ca-certificates"') in parsed
    ignored = open(os.path.join(ROOT, ".dockerignore")).read().split()
    assert ".build" in ignored and ".git" in ignored


def image_environment():
    """The ENV lines of the runtime stage, as a dict."""
    env = {}
    for keyword, args in instructions():
        if keyword == "ENV":
            for pair in args.split():
                key, _, value = pair.partition("=")
                env[key] = value
    return env


def test_compose_file_gates_the_tests_on_a_healthy_emulator_that_keeps_no_state():
    compose = yaml.safe_load(open(COMPOSE))
    service = compose["services"]["hyperpod"]
    assert service["build"] == {"context": "..", "dockerfile": "docker/Dockerfile"}
    assert service["healthcheck"]["test"] == ["CMD", "hyperpod-local", "health"]
    assert "127.0.0.1:4580:4580" in service["ports"]  # published on loopback only: the image leaves the admin API open
    # A test suite's service starts empty (but for the seeds) on every `up`: in memory, no volume.
    assert service["environment"]["HYPERPOD_LOCAL_IN_MEMORY"] == "1" and "volumes" not in service
    tests = compose["services"]["tests"]
    assert tests["depends_on"] == {"hyperpod": {"condition": "service_healthy"}}
    assert tests["environment"]["AWS_ENDPOINT_URL_SAGEMAKER"] == "http://hyperpod:4580"
    if shutil.which("docker") and subprocess.run(["docker", "compose", "version"], capture_output=True).returncode == 0:
        run = subprocess.run(["docker", "compose", "-f", COMPOSE, "config", "-q"], capture_output=True, text=True)
        assert run.returncode == 0, run.stderr


def test_health_subcommand_exits_0_for_a_healthy_server_and_1_otherwise(make_server):
    server = make_server()
    ok = subprocess.run([BINARY, "health", "--port", str(server.port)], capture_output=True, timeout=10)
    assert ok.returncode == 0
    server.stop()
    down = subprocess.run([BINARY, "health", "--port", str(server.port)], capture_output=True, timeout=10)
    assert down.returncode == 1


def container_env(folder, **extra):
    """The image's environment with its paths moved under `folder`: /seeds is the repository's Seeds (the image copies
    it there), /data and /tmp are `folder`."""
    env = {}
    for key, value in image_environment().items():
        for inside, outside in [("/seeds", os.path.join(ROOT, "Seeds")), ("/data/", folder + "/"), ("/tmp/", folder + "/")]:
            if value.startswith(inside):
                value = outside + value[len(inside):]
                break
        env[key] = value
    env["HYPERPOD_LOCAL_HOST"] = "127.0.0.1"  # loopback only on a shared machine; the image binds 0.0.0.0
    env.update(extra)
    return env


def start_like_the_image(folder, *args, **extra):
    env = {k: v for k, v in os.environ.items() if not k.startswith("HYPERPOD_LOCAL_")}
    env.update(container_env(folder, **extra))
    process = subprocess.Popen([BINARY, "serve", *args], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env)
    line = process.stdout.readline().decode()
    assert line.startswith("hyperpod-local listening on http://127.0.0.1:"), line
    return process, int(line.rsplit(":", 1)[1])


def health_like_the_healthcheck(folder):
    env = {k: v for k, v in os.environ.items() if not k.startswith("HYPERPOD_LOCAL_")}
    env.update(container_env(folder))
    return subprocess.run([BINARY, "health"], env=env, capture_output=True, text=True, timeout=10)


def test_the_image_loads_its_seed_files_and_its_healthcheck_follows_a_port_given_by_flag():
    """`docker run hyperpod-local serve --port N` with the image's environment: the example seeds are loaded, and the
    HEALTHCHECK (plain `hyperpod-local health`, HYPERPOD_LOCAL_PORT=4580 in its environment) checks port N."""
    import tempfile
    import boto3
    with tempfile.TemporaryDirectory() as folder:
        port = free_port()
        process, bound = start_like_the_image(folder, "--port", str(port), "--clock", "manual")
        try:
            assert bound == port
            assert health_like_the_healthcheck(folder).returncode == 0
            sm = boto3.client("sagemaker", endpoint_url=f"http://127.0.0.1:{port}", region_name="us-east-1",
                              aws_access_key_id="test", aws_secret_access_key="test")
            names = sorted(c["ClusterName"] for c in sm.list_clusters()["ClusterSummaries"])
            seeded = sorted(json.load(open(os.path.join(ROOT, "Seeds", f)))["ClusterName"] for f in os.listdir(os.path.join(ROOT, "Seeds")))
            assert names == seeded and len(names) == 2
        finally:
            process.terminate()
            process.wait(timeout=10)
        failed = health_like_the_healthcheck(folder)
        assert failed.returncode == 1 and "hyperpod-local health:" in failed.stderr


def test_the_image_healthcheck_follows_hyperpod_local_port():
    """`docker run -e HYPERPOD_LOCAL_PORT=N`: the server and the HEALTHCHECK both read it."""
    import tempfile
    with tempfile.TemporaryDirectory() as folder:
        port = free_port()
        process, bound = start_like_the_image(folder, "--in-memory", HYPERPOD_LOCAL_PORT=str(port), HYPERPOD_LOCAL_ADDRESS_FILE="")
        try:
            assert bound == port
            env = {k: v for k, v in os.environ.items() if not k.startswith("HYPERPOD_LOCAL_")}
            env.update(container_env(folder, HYPERPOD_LOCAL_PORT=str(port), HYPERPOD_LOCAL_ADDRESS_FILE=""))
            assert subprocess.run([BINARY, "health"], env=env, capture_output=True, timeout=10).returncode == 0
        finally:
            process.terminate()
            process.wait(timeout=10)


def free_port():
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
