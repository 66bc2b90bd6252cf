"""Fixtures of the end-to-end suite, on top of the project's own test kit (clients/python, `hyperpod_local`).

Every server the suite starts is a `hyperpod_local.HyperPodLocal`: the kit starts the binary on port 0, reads the
address from its first stdout line, waits for health, keeps its log in a file (`log()`), and stops it (SIGTERM, then
SIGKILL) — so every end-to-end test exercises the kit. The kit's pytest plugin (installed with the kit, which
scripts/test.sh does into both of the suite's virtual environments) provides `hyperpod_local_factory`, which stops a
test's servers after it and adds their log to a failing test's report. What stays here is the suite's own shape:
servers on the server's default (real) clock unless a test passes `--clock manual`, always `--check-responses`, the
binary `.build/release/hyperpod-local` (HYPERPOD_LOCAL_BIN or --hyperpod-local-bin override it), a module-scoped
`server`, and `sagemaker`, a client of it (which overrides the plugin's fixture of that name).
"""
import os
import subprocess

import boto3
import pytest
from botocore.config import Config

try:
    from hyperpod_local import HyperPodLocal
except ImportError as missing:  # pragma: no cover - a setup problem, said plainly
    raise ImportError("the end-to-end suite runs on the test kit: `pip install -e clients/python` into this virtual "
                      "environment (scripts/test.sh does)") from missing

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BINARY = os.environ.get("HYPERPOD_LOCAL_BIN") or os.path.join(ROOT, ".build/release/hyperpod-local")
# The request corpus the tests send (real request files; Tests/Fixtures/README.md says where each came from).
CORPUS = os.path.join(ROOT, "Tests", "Fixtures", "corpus")


def pytest_configure(config):
    """`--hyperpod-local-bin` (the kit's option) names the binary for this suite too."""
    global BINARY
    BINARY = config.getoption("hyperpod_local_bin", None) or BINARY


def require_client(name, package, probe):
    """Skips the calling test with a one-line reason when the client `name` is missing on this machine (the command
    `probe` fails), except under CI (`CI=true`), where a missing client fails: CI proves every client."""
    try:
        present = subprocess.run(probe, capture_output=True, timeout=60).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        present = False
    if present:
        return
    reason = f"{name} client missing: install Debian's {package} (.ci/run does)"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(reason + "; under CI every client must run", pytrace=False)
    pytest.skip(reason)


class Server(HyperPodLocal):
    """A running server as this suite starts it: `serve --port 0 [--in-memory] --check-responses *args`, on the
    server's default clock unless `args` say otherwise; started at once. Raises the kit's ServerStartError (a
    RuntimeError, with the server's log) when it does not come up. Ready once it prints its `listening` line: no
    health request first, so a new server holds no connection (tests count its sockets)."""

    def __init__(self, *args, env=None, in_memory=True):
        super().__init__(*args, binary=BINARY, clock=None, in_memory=in_memory, check_responses=True, env=env,
                         health_check=False)
        self.start()

    @property
    def endpoint(self):
        return self.endpoint_url

    def connect(self, timeout=5):
        import socket

        sock = socket.create_connection((self.host, self.port), timeout=timeout)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return sock

    def open_sockets(self):
        """Sockets the server holds open (the listener plus client connections).

        Only sockets: Dispatch opens its own epoll, eventfd and signalfd descriptors lazily, after start-up."""
        fd_dir = f"/proc/{self.pid}/fd"
        count = 0
        for name in os.listdir(fd_dir):
            try:
                count += os.readlink(os.path.join(fd_dir, name)).startswith("socket:")
            except FileNotFoundError:
                pass
        return count


@pytest.fixture
def make_server(hyperpod_local_factory):
    """Starts servers with extra flags; the kit's factory stops them after the test."""

    def start(*args, env=None, in_memory=True):
        return hyperpod_local_factory.add(Server(*args, env=env, in_memory=in_memory))

    return start


@pytest.fixture
def manual(make_server):
    """A server on a manual clock with the fast profile: time moves only through the admin API (RA3, RA11)."""
    return make_server("--clock", "manual")


@pytest.fixture
def sm(manual):
    """A boto3 SageMaker client of the `manual` server."""
    return make_client(manual.endpoint)


@pytest.fixture(scope="module")
def server():
    s = Server()
    yield s
    s.stop()


def make_client(endpoint, region="us-east-1", access_key="AKIDEXAMPLE", **config):
    return boto3.client(
        "sagemaker", endpoint_url=endpoint, region_name=region,
        aws_access_key_id=access_key, aws_secret_access_key="secret",
        config=Config(retries={"max_attempts": 1}, **config),
    )


@pytest.fixture
def sagemaker(server):
    return make_client(server.endpoint)
