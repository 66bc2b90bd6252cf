"""Fixtures that start the real hyperpod-local binary on port 0 and talk to it over loopback.

The binary is `.build/release/hyperpod-local` (scripts/test.sh builds it first; HYPERPOD_LOCAL_BIN overrides).
Logs go to a file per server (a pipe could fill up and stall the server); `Server.log()` reads it.
"""
import os
import re
import select
import signal
import socket
import subprocess
import tempfile
import time

import boto3
import pytest
from botocore.config import Config

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BINARY = os.environ.get("HYPERPOD_LOCAL_BIN", os.path.join(ROOT, ".build/release/hyperpod-local"))
# The request corpus the tests send (real request files; Tests/Fixtures/README.md says where each came from).
CORPUS = os.path.join(ROOT, "Tests", "Fixtures", "corpus")
LISTENING = re.compile(r"^hyperpod-local listening on http://(.+):(\d+)$")


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


class Server:
    """One running hyperpod-local process."""

    def __init__(self, *args, env=None, in_memory=True):
        if not os.path.exists(BINARY):
            raise RuntimeError(f"{BINARY} is missing: run `swift build -c release` (scripts/test.sh does)")
        self.logfile = tempfile.NamedTemporaryFile(prefix="hyperpod-local-", suffix=".log", delete=False)
        full_env = {k: v for k, v in os.environ.items() if not k.startswith("HYPERPOD_LOCAL_")}
        full_env.update(env or {})
        self.process = subprocess.Popen(
            [BINARY, "serve", "--port", "0", *(["--in-memory"] if in_memory else []), "--check-responses", *args],
            stdout=subprocess.PIPE, stderr=self.logfile, env=full_env,
        )
        line = self._first_line(timeout=10)
        match = LISTENING.match(line)
        if not match:
            self.process.kill()
            raise RuntimeError(f"unexpected first line {line!r}; log: {self.log()}")
        self.host, self.port = match.group(1), int(match.group(2))
        self.endpoint = f"http://{self.host}:{self.port}"

    def _first_line(self, timeout):
        deadline = time.monotonic() + timeout
        data = b""
        fd = self.process.stdout.fileno()
        while b"\n" not in data:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or self.process.poll() is not None:
                raise RuntimeError(f"server did not announce itself; log: {self.log()}")
            ready, _, _ = select.select([fd], [], [], remaining)
            if ready:
                chunk = os.read(fd, 4096)
                if not chunk:
                    continue
                data += chunk
        return data.split(b"\n", 1)[0].decode()

    def log(self):
        with open(self.logfile.name, errors="replace") as f:
            return f.read()

    def connect(self, timeout=5):
        sock = socket.create_connection((self.host, self.port), timeout=timeout)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return sock

    def open_sockets(self):
        """Sockets the server holds open (the listener plus client connections).

        Only sockets: Dispatch opens its own epoll, eventfd and signalfd descriptors lazily, after start-up."""
        fd_dir = f"/proc/{self.process.pid}/fd"
        count = 0
        for name in os.listdir(fd_dir):
            try:
                count += os.readlink(os.path.join(fd_dir, name)).startswith("socket:")
            except FileNotFoundError:
                pass
        return count

    def signal(self, sig):
        self.process.send_signal(sig)

    def wait(self, timeout):
        return self.process.wait(timeout=timeout)

    def stop(self):
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process.stdout.close()
        self.logfile.close()
        if os.path.exists(self.logfile.name):  # stop() may be called twice (a test, then its fixture)
            os.unlink(self.logfile.name)


@pytest.fixture
def make_server():
    """Starts servers with extra flags; stops them after the test."""
    servers = []

    def start(*args, env=None, in_memory=True):
        server = Server(*args, env=env, in_memory=in_memory)
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


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
