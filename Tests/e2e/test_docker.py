"""The container files (issue #7): docker/Dockerfile and docker/docker-compose.yml are well formed and say what the
image promises; `hyperpod-local health`, the image's HEALTHCHECK, exits 0 only for a healthy server. (No Docker engine
runs here; scripts/check-runtime-deps.sh, run by scripts/test.sh, checks the runtime stage's libraries.)"""
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
    env = " ".join(args for keyword, args in parsed if keyword == "ENV")
    assert "HYPERPOD_LOCAL_HOST=0.0.0.0" in env and "HYPERPOD_LOCAL_DB=/data/" in env and "HYPERPOD_LOCAL_SEED=/seeds" in env
    assert any(keyword == "HEALTHCHECK" and '"hyperpod-local", "health"' in args for keyword, args in parsed)
    assert ("ARG", 'RUNTIME_PACKAGES="libsqlite3-0 zlib1g ca-certificates"') in parsed
    ignored = open(os.path.join(ROOT, ".dockerignore")).read().split()
    assert ".build" in ignored and ".git" in ignored


def test_compose_file_gates_the_tests_on_a_healthy_emulator():
    compose = yaml.safe_load(open(COMPOSE))
    service = compose["services"]["hyperpod"]
    assert service["build"] == {"context": "..", "dockerfile": "docker/Dockerfile"}
    assert service["healthcheck"]["test"] == ["CMD", "hyperpod-local", "health"]
    assert "4580:4580" in service["ports"] and "hyperpod-data:/data" in service["volumes"]
    tests = compose["services"]["tests"]
    assert tests["depends_on"] == {"hyperpod": {"condition": "service_healthy"}}
    assert tests["environment"]["AWS_ENDPOINT_URL_SAGEMAKER"] == "http://hyperpod:4580"
    assert "hyperpod-data" in compose["volumes"]
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
