"""`HyperPodLocal`: one hyperpod-local server, started by the kit or attached to, and the admin API over it."""
from __future__ import annotations

import os
import re
import select
import shutil
import signal as _signal
import subprocess
import tempfile
import time
import warnings
import weakref
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple, Type, TypeVar, Union, cast

from . import _http
from ._admin import (Capacity, Clock, ClockState, Faults, Quotas, Settings, SettleResult, State, Timing,
                     check_account)
from ._errors import BinaryNotFoundError, HyperPodLocalError, ServerStartError, WaitError
from ._waiters import OneCheckWaiter, get_waiter

PathLike = Union[str, "os.PathLike[str]"]

BINARY_NAME = "hyperpod-local"
#: The environment variable naming the binary (the second place `find_binary` looks).
BINARY_ENV = "HYPERPOD_LOCAL_BIN"
#: The server's first stdout line once it listens.
LISTENING = re.compile(r"^hyperpod-local listening on http://(.+):(\d+)$")
#: Dummy credentials: any value works against the server (unless it runs `--auth verify`/`enforce`).
DUMMY_ACCESS_KEY = "test"
DUMMY_SECRET_KEY = "test"
DEFAULT_REGION = "us-east-1"
# Variables of the caller's environment that would turn an SDK away from the dummy credentials or the endpoint.
_CONFLICTING_ENV = ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN",
                    "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS")
_WILDCARD_HOSTS = {"0.0.0.0": "127.0.0.1", "[::]": "[::1]", "::": "[::1]"}
#: The values of DescribeCluster's ClusterStatus (botocore's `ClusterStatus` enum).
CLUSTER_STATUSES = ("Creating", "InService", "Updating", "Deleting", "Failed", "RollingBack", "SystemUpdating")
#: What `HyperPodLocal.wait_for` can wait for: a ClusterStatus, or `"Deleted"` (the cluster is gone).
WAIT_STATUSES = CLUSTER_STATUSES + ("Deleted",)
# Statuses a cluster leaves only through an API call or a pending transition of its own (Failed ends a wait anyway).
_STEADY = ("InService",)
# What the server (and the kit's fake) writes when `--port` is taken.
_PORT_IN_USE = re.compile(r"port is in use|address already in use", re.IGNORECASE)


def describe_exit(returncode: int) -> str:
    """An exit status as words: `signal 9 (SIGKILL)` for a negative status (killed by that signal), else
    `code 1`."""
    if returncode < 0:
        try:
            name = _signal.Signals(-returncode).name
        except ValueError:
            name = "unknown signal"
        return f"signal {-returncode} ({name})"
    return f"code {returncode}"


def _executable(path: str) -> bool:
    return os.path.isfile(path) and os.access(path, os.X_OK)


def find_binary(binary: Optional[PathLike] = None, *, search_from: Optional[Sequence[PathLike]] = None) -> str:
    """The path of the hyperpod-local binary to start. The first of these wins:

    1. `binary`, when given (pytest: `--hyperpod-local-bin`);
    2. the `HYPERPOD_LOCAL_BIN` environment variable;
    3. `hyperpod-local` on `PATH`;
    4. `.build/release/hyperpod-local` of the repository: in `search_from` (default: the working directory and the
       kit's own folder, which is inside the repository for an editable install) or a folder above it.

    Raises `BinaryNotFoundError` naming all four when none is found, and naming the one given when `binary` or
    `HYPERPOD_LOCAL_BIN` points at something that is not an executable file (no fall-through to the next place).
    """
    if binary is not None:
        given = os.fspath(binary)
        if _executable(given):
            return os.path.abspath(given)
        raise BinaryNotFoundError(f"the hyperpod-local binary given, {given}, is not an executable file")
    from_env = os.environ.get(BINARY_ENV)
    if from_env:
        if _executable(from_env):
            return os.path.abspath(from_env)
        raise BinaryNotFoundError(f"{BINARY_ENV}={from_env} is not an executable file")
    on_path = shutil.which(BINARY_NAME)
    if on_path:
        return on_path
    starts = [os.path.abspath(os.fspath(s)) for s in (search_from or [os.getcwd(), os.path.dirname(__file__)])]
    for start in starts:
        folder = start
        while True:
            candidate = os.path.join(folder, ".build", "release", BINARY_NAME)
            if _executable(candidate):
                return candidate
            parent = os.path.dirname(folder)
            if parent == folder:
                break
            folder = parent
    raise BinaryNotFoundError(
        "no hyperpod-local binary found. Looked, in this order, at:\n"
        "  1. the `binary` argument (pytest: --hyperpod-local-bin): not given\n"
        f"  2. the {BINARY_ENV} environment variable: not set\n"
        f"  3. {BINARY_NAME} on PATH: not there\n"
        f"  4. the repository's .build/release/{BINARY_NAME}, in or above {' and '.join(starts)}: not there\n"
        "Build it in a clone of the repository with `swift build -c release --product hyperpod-local` "
        "(or use the container image and HyperPodLocal.attach / --hyperpod-local-url).")


def _flag_value(args: Sequence[str], flag: str) -> Optional[str]:
    """The value of `flag` in a command line (`--flag v` or `--flag=v`), the last one winning."""
    value = None
    for i, arg in enumerate(args):
        if arg == flag and i + 1 < len(args):
            value = args[i + 1]
        elif arg.startswith(flag + "="):
            value = arg[len(flag) + 1:]
    return value


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(float(value))


class _Resources:
    """What a started server holds, released by `HyperPodLocal.stop` or, for a server nobody stopped, when the
    object is collected or the interpreter exits (then the process is killed)."""

    def __init__(self) -> None:
        self.process: Optional["subprocess.Popen[bytes]"] = None
        self.log_path: Optional[str] = None
        self.keep_log = False

    def release(self) -> None:
        process = self.process
        if process is not None:
            if process.poll() is None:
                process.kill()
                process.wait()
            if process.stdout is not None:
                process.stdout.close()
        if self.log_path and not self.keep_log:
            try:
                os.unlink(self.log_path)
            except FileNotFoundError:
                pass


_Server = TypeVar("_Server", bound="HyperPodLocal")


class HyperPodLocal:
    """One hyperpod-local server: started from the binary by the kit, or attached to (`HyperPodLocal.attach`).

    As a context manager it starts on entry and stops on exit::

        with HyperPodLocal() as hp:                       # port 0, --in-memory, --clock manual
            sm = hp.client()
            sm.create_cluster(ClusterName="demo", InstanceGroups=[...])
            hp.wait_for("demo", "InService")              # moves the virtual clock; no sleeping

    As a plain object: `hp = HyperPodLocal(...).start()`, then `hp.stop()`.

    Every `serve` option has a keyword here (`None`/`False` leaves it out, so the server's default holds);
    `args` are added at the end of the command line as they are, for anything else. The kit's defaults differ
    from the server's in three places: `port=0` (a free port, read from the server's first stdout line),
    `in_memory=True` (unless `db` is given) and `clock="manual"` (`clock=None` leaves the server's default,
    `real`). Environment variables beginning `HYPERPOD_LOCAL_` are not passed on to the server (they would
    configure it behind the test's back); `env` adds variables, those included.

    The server's log (stderr: one line per request) goes to a file (`log()`, `log_path`), removed once the
    object is collected unless `keep_log=True`.

    Raises `ServerStartError` (with the log) from `start` when the server does not come up, `BinaryNotFoundError`
    when there is no binary; the admin helpers raise `HyperPodLocalError` with the server's message on a 4xx.
    """

    def __init__(self, *args: str, binary: Optional[PathLike] = None, port: int = 0, host: Optional[str] = None,
                 in_memory: Optional[bool] = None, db: Optional[PathLike] = None, clock: Optional[str] = "manual",
                 timing: Optional[str] = None, time_scale: Optional[float] = None,
                 delays: Optional[Mapping[str, float]] = None, seed: Optional[int] = None,
                 seed_dirs: Sequence[PathLike] = (), region: Optional[str] = None, account_id: Optional[str] = None,
                 capacity: Optional[Mapping[str, Union[int, Mapping[str, int]]]] = None,
                 quotas: Optional[Mapping[str, int]] = None, auth: Optional[str] = None,
                 identities: Optional[PathLike] = None, admin: Optional[bool] = None,
                 admin_token: Optional[str] = None, admin_open: bool = False, strict_members: bool = False,
                 check_responses: bool = False, log_level: Optional[str] = None,
                 cors: Union[str, Sequence[str], None] = None, max_body_bytes: Optional[int] = None,
                 max_header_bytes: Optional[int] = None, header_timeout: Optional[float] = None,
                 idle_timeout: Optional[float] = None, max_connections: Optional[int] = None,
                 address_file: Optional[PathLike] = None, env: Optional[Mapping[str, str]] = None,
                 start_timeout: float = 30.0, stop_timeout: float = 10.0, health_check: bool = True,
                 keep_log: bool = False, log_dir: Optional[PathLike] = None) -> None:
        """Configures a server; nothing starts before `start()` (or `with`). Timeouts are wall-clock seconds:
        `start_timeout` for the first stdout line and the health check, `stop_timeout` between SIGTERM and
        SIGKILL. `health_check=False` skips `GET /_hyperpod/health` after the `listening` line (the server
        listens once it prints it; the check's connection may still be open on the server's side for a moment
        after `start()`, which matters only to a test that counts the server's sockets). `region` is also the
        default region of `client()` and `env()` (else `--region` of `args`, else us-east-1). `admin_token` (or
        `--admin-token` of `args`) is passed to the server and sent as `X-Hyperpod-Admin-Token` by the helpers.
        `in_memory` defaults to True unless `db` (or `--db` in `args`) is given. Raises ValueError for
        `in_memory=True` together with `db`, and for an `account_id` that is not a string of 12 digits."""
        if in_memory and db is not None:
            raise ValueError("in_memory=True and db= exclude each other")
        check_account(account_id, "account_id")
        self._args = [str(a) for a in args]
        self._binary = binary
        self._env = dict(env or {})
        self._start_timeout = start_timeout
        self._stop_timeout = stop_timeout
        self._health_check = health_check
        self._log_dir = None if log_dir is None else os.fspath(log_dir)
        #: The token sent as `X-Hyperpod-Admin-Token` with every admin call (None: none sent).
        self.admin_token = admin_token or _flag_value(self._args, "--admin-token")
        #: The default region of `client()` and `env()`.
        self.region = region or _flag_value(self._args, "--region") or DEFAULT_REGION
        if in_memory is None:
            in_memory = db is None and _flag_value(self._args, "--db") is None
        self._options = self._serve_options(
            port=port, host=host, in_memory=in_memory, db=db, clock=clock,
            timing=timing, time_scale=time_scale, delays=delays, seed=seed, seed_dirs=seed_dirs, region=region,
            account_id=account_id, capacity=capacity, quotas=quotas, auth=auth, identities=identities, admin=admin,
            admin_token=admin_token, admin_open=admin_open, strict_members=strict_members,
            check_responses=check_responses, log_level=log_level, cors=cors, max_body_bytes=max_body_bytes,
            max_header_bytes=max_header_bytes, header_timeout=header_timeout, idle_timeout=idle_timeout,
            max_connections=max_connections, address_file=address_file)
        self._resources = _Resources()
        self._resources.keep_log = keep_log
        self._finalizer = weakref.finalize(self, self._resources.release)
        self._endpoint: Optional[str] = None
        self._host: Optional[str] = None
        self._port: Optional[int] = None
        self._attached = False
        self._binary_path: Optional[str] = None
        self._port_option = port
        # The port of the last start, reused by a restart when `port` is 0 (clients made earlier keep working).
        self._last_port: Optional[int] = None
        #: The virtual clock (`/_hyperpod/clock`).
        self.clock = Clock(self)
        #: Capacity pools (`/_hyperpod/capacity`).
        self.capacity = Capacity(self)
        #: Service quotas (`/_hyperpod/quotas`).
        self.quotas = Quotas(self)
        #: Fault injection (`/_hyperpod/faults`).
        self.faults = Faults(self)
        #: Transition durations (`/_hyperpod/timing`).
        self.timing = Timing(self)
        #: Partition settings (`/_hyperpod/settings`).
        self.settings = Settings(self)

    @staticmethod
    def _serve_options(*, port: int, host: Optional[str], in_memory: bool, db: Optional[PathLike],
                       clock: Optional[str], timing: Optional[str], time_scale: Optional[float],
                       delays: Optional[Mapping[str, float]], seed: Optional[int], seed_dirs: Sequence[PathLike],
                       region: Optional[str], account_id: Optional[str],
                       capacity: Optional[Mapping[str, Union[int, Mapping[str, int]]]],
                       quotas: Optional[Mapping[str, int]], auth: Optional[str], identities: Optional[PathLike],
                       admin: Optional[bool], admin_token: Optional[str], admin_open: bool, strict_members: bool,
                       check_responses: bool, log_level: Optional[str], cors: Union[str, Sequence[str], None],
                       max_body_bytes: Optional[int], max_header_bytes: Optional[int],
                       header_timeout: Optional[float], idle_timeout: Optional[float],
                       max_connections: Optional[int], address_file: Optional[PathLike]) -> List[str]:
        out = ["--port", str(port)]
        valued: List[Tuple[str, Any]] = [
            ("--host", host), ("--db", None if db is None else os.fspath(db)), ("--clock", clock),
            ("--timing", timing), ("--time-scale", None if time_scale is None else _number(time_scale)),
            ("--region", region), ("--account-id", account_id), ("--auth", auth),
            ("--identities", None if identities is None else os.fspath(identities)),
            ("--admin", None if admin is None else ("on" if admin else "off")), ("--admin-token", admin_token),
            ("--log-level", log_level),
            ("--cors", cors if cors is None or isinstance(cors, str) else ",".join(cors)),
            ("--max-body-bytes", max_body_bytes), ("--max-header-bytes", max_header_bytes),
            ("--header-timeout", None if header_timeout is None else _number(header_timeout)),
            ("--idle-timeout", None if idle_timeout is None else _number(idle_timeout)),
            ("--max-connections", max_connections),
            ("--address-file", None if address_file is None else os.fspath(address_file)),
        ]
        if in_memory:
            out.append("--in-memory")
        for flag, value in valued:
            if value is not None:
                out += [flag, str(value)]
        for key, seconds in (delays or {}).items():
            out += ["--delay", f"{key}={_number(seconds)}"]
        if seed is not None:
            out += ["--seed", str(seed)]
        for folder in seed_dirs:
            out += ["--seed", os.fspath(folder)]
        for instance_type, pool in (capacity or {}).items():
            if isinstance(pool, Mapping):
                out += [arg for zone, n in pool.items() for arg in ("--capacity", f"{instance_type}@{zone}={n}")]
            else:
                out += ["--capacity", f"{instance_type}={pool}"]
        for name, value in (quotas or {}).items():
            out += ["--quota", f"{name}={value}"]
        for flag, on in (("--admin-open", admin_open), ("--strict-members", strict_members),
                         ("--check-responses", check_responses)):
            if on:
                out.append(flag)
        return out

    # -- attaching ---------------------------------------------------------------------------------------------

    @classmethod
    def attach(cls: Type[_Server], url: str, *, admin_token: Optional[str] = None, region: Optional[str] = None,
               timeout: float = 10.0) -> _Server:
        """A `HyperPodLocal` for a server that already runs at `url` (e.g. `http://hyperpod:4580`, the compose
        service). Checks `GET /_hyperpod/health` (within `timeout` wall-clock seconds; `HyperPodLocalError` if it
        does not answer); `stop()` leaves that server running and it has no `process` or `log()`."""
        server = cls(clock=None, admin_token=admin_token, region=region)
        server._attached = True
        server._endpoint = url.rstrip("/")
        match = re.match(r"^https?://(\[[^\]]+\]|[^:/]+)(?::(\d+))?", server._endpoint)
        if not match:
            raise ValueError(f"{url!r} is not an http:// URL")
        server._host = match.group(1)
        server._port = int(match.group(2)) if match.group(2) else (443 if url.startswith("https") else 80)
        _http.request(server._endpoint, "GET", "/_hyperpod/health", timeout=timeout)
        return server

    # -- lifecycle ---------------------------------------------------------------------------------------------

    @property
    def command(self) -> List[str]:
        """The command line `start()` runs (the binary as found by `find_binary`): after a first start of a server
        made with `port=0`, `--port` is the port it had."""
        return self._command(self._reusable_port())

    def _command(self, port: Optional[int]) -> List[str]:
        binary = self._binary_path or find_binary(self._binary)
        options = list(self._options)
        if port is not None:
            options[1] = str(port)  # the options begin with `--port N`
        return [binary, "serve", *options, *self._args]

    def _reusable_port(self) -> Optional[int]:
        if self._port_option == 0 and self._last_port is not None and _flag_value(self._args, "--port") is None:
            return self._last_port
        return None

    def start(self: _Server) -> _Server:
        """Starts the binary, reads the port from its first stdout line and waits until `GET /_hyperpod/health`
        answers 200 (within `start_timeout` wall-clock seconds); answers `self`.

        May follow a `stop()` or `kill()`: the server starts again with the same options (on the same `db` file,
        if any), its log appended to the same file, and on the same port, so `endpoint_url` and the clients made
        before the restart keep working. With `port=0` the restart asks for the port the server had; if another
        process took that port meanwhile, it falls back to a free port (port 0 again) with a `RuntimeWarning`, and
        clients made earlier must then be made anew.

        Raises `BinaryNotFoundError` without a binary, `ServerStartError` (with the command and the log) when the
        server exits, prints another first line or stays unhealthy for `start_timeout` seconds, and
        `HyperPodLocalError` for a server that runs already or is attached."""
        if self._attached:
            raise HyperPodLocalError("an attached server is started by someone else")
        if self.running:
            raise HyperPodLocalError(f"already running at {self._endpoint}")
        self._binary_path = find_binary(self._binary)
        previous = self._reusable_port()
        if previous is not None:
            since = self.log_size()
            try:
                return self._launch(self._command(previous))
            except ServerStartError:
                if not _PORT_IN_USE.search(self.log(since)):
                    raise
            # The port was taken while the server was stopped: a free one, as at the first start.
            warnings.warn(f"hyperpod-local: port {previous} was taken while the server was stopped; it restarts on a "
                          f"free port, and clients made before the restart must be made again", RuntimeWarning,
                          stacklevel=2)
        return self._launch(self._command(None))

    def _launch(self: _Server, command: List[str]) -> _Server:
        resources = self._resources
        if resources.process is not None and resources.process.stdout is not None:
            resources.process.stdout.close()
        if resources.log_path is None:
            handle, resources.log_path = tempfile.mkstemp(prefix="hyperpod-local-", suffix=".log", dir=self._log_dir)
            os.close(handle)
        env = {k: v for k, v in os.environ.items() if not k.startswith("HYPERPOD_LOCAL_")}
        env.update(self._env)
        with open(resources.log_path, "ab") as log:
            resources.process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                                 stderr=log, env=env)
        deadline = time.monotonic() + self._start_timeout
        try:
            line = self._first_line(deadline, command)
            match = LISTENING.match(line)
            if not match:
                raise ServerStartError(f"`{' '.join(command)}` printed {line!r} where it should have said "
                                       f"`hyperpod-local listening on http://HOST:PORT`; its log:\n{self.log()}")
            self._host = _WILDCARD_HOSTS.get(match.group(1), match.group(1))
            self._port = int(match.group(2))
            self._endpoint = f"http://{self._host}:{self._port}"
            if self._health_check:
                self._wait_healthy(deadline, command)
        except BaseException:
            process = resources.process
            if process.poll() is None:
                process.kill()
                process.wait()
            self._endpoint = None
            raise
        self._last_port = self._port
        return self

    def _first_line(self, deadline: float, command: Sequence[str]) -> str:
        process = self._resources.process
        assert process is not None and process.stdout is not None
        fd = process.stdout.fileno()
        data = b""
        while b"\n" not in data:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise ServerStartError(f"`{' '.join(command)}` did not announce its address within "
                                       f"{self._start_timeout:g} s; its log:\n{self.log()}")
            if not select.select([fd], [], [], min(remaining, 0.5))[0]:
                continue
            chunk = os.read(fd, 4096)
            if not chunk:  # end of stdout: the server exited
                try:
                    status: Optional[int] = process.wait(timeout=max(0.5, deadline - time.monotonic()))
                except subprocess.TimeoutExpired:
                    status = None
                raise ServerStartError(f"`{' '.join(command)}` exited with status {status} before listening; "
                                       f"its log:\n{self.log()}")
            data += chunk
        return data.split(b"\n", 1)[0].decode("utf-8", errors="replace")

    def _wait_healthy(self, deadline: float, command: Sequence[str]) -> None:
        assert self._host is not None and self._port is not None
        while True:
            try:
                status = _http.health_check(self._host, self._port,
                                            timeout=max(0.1, min(5.0, deadline - time.monotonic())))
                problem = f"it answered HTTP {status}"
                if status == 200:
                    return
            except OSError as error:
                problem = str(error)
            process = self._resources.process
            if time.monotonic() >= deadline or process is None or process.poll() is not None:
                raise ServerStartError(f"`{' '.join(command)}` announced {self._endpoint} but GET /_hyperpod/health "
                                       f"failed: {problem}; its log:\n{self.log()}")
            time.sleep(0.05)

    @property
    def process(self) -> Optional["subprocess.Popen[bytes]"]:
        """The server's process (None before `start()` and for an attached server)."""
        return self._resources.process

    @property
    def pid(self) -> Optional[int]:
        """The server process's id (None before `start()` and for an attached server)."""
        process = self._resources.process
        return None if process is None else process.pid

    @property
    def running(self) -> bool:
        """True while the started process runs (an attached server: always True)."""
        if self._attached:
            return True
        process = self._resources.process
        return process is not None and process.poll() is None and self._endpoint is not None

    @property
    def attached(self) -> bool:
        """True for a server made by `attach` (not started by the kit)."""
        return self._attached

    def signal(self, sig: int) -> None:
        """Sends `sig` (e.g. `signal.SIGTERM`, `signal.SIGKILL`) to the server process."""
        self._require_process().send_signal(sig)

    def wait(self, timeout: Optional[float] = None) -> int:
        """Waits up to `timeout` wall-clock seconds (None: for ever) for the process to exit; answers its exit status
        (negative: killed by that signal). Raises `subprocess.TimeoutExpired` when it does not exit in time."""
        return self._require_process().wait(timeout=timeout)

    def stop(self, timeout: Optional[float] = None) -> Optional[int]:
        """Stops the server: SIGTERM (it answers the requests in flight and exits 0), then SIGKILL if it has not
        exited after `timeout` wall-clock seconds (default `stop_timeout`). Safe to call twice, and on a server that
        exited already. Answers the exit status (None for an attached server, which is left running). The log stays
        readable."""
        process = self._resources.process
        if self._attached or process is None:
            return None
        if process.poll() is None:
            process.send_signal(_signal.SIGTERM)
            try:
                process.wait(timeout=self._stop_timeout if timeout is None else timeout)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        if process.stdout is not None:
            process.stdout.close()
        return process.returncode

    def kill(self) -> Optional[int]:
        """SIGKILL at once (a crash: a database file keeps only what was committed); answers the exit status."""
        process = self._resources.process
        if self._attached or process is None:
            return None
        if process.poll() is None:
            process.kill()
        process.wait()
        if process.stdout is not None:
            process.stdout.close()
        return process.returncode

    def _require_process(self) -> "subprocess.Popen[bytes]":
        process = self._resources.process
        if process is None:
            raise HyperPodLocalError("no process: " + ("the server is attached" if self._attached else "not started"))
        return process

    def __enter__(self: _Server) -> _Server:
        if not self._attached and not self.running:
            self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- where it is, its log ----------------------------------------------------------------------------------

    @property
    def endpoint_url(self) -> str:
        """`http://HOST:PORT`, the `endpoint_url` for any SDK (a wildcard `--host` is given as loopback)."""
        if self._endpoint is None:
            raise HyperPodLocalError("the server is not started")
        return self._endpoint

    @property
    def host(self) -> str:
        """The host of `endpoint_url`."""
        self.endpoint_url  # noqa: B018 - raises when not started
        assert self._host is not None
        return self._host

    @property
    def port(self) -> int:
        """The TCP port the server listens on."""
        self.endpoint_url  # noqa: B018 - raises when not started
        assert self._port is not None
        return self._port

    @property
    def log_path(self) -> Optional[str]:
        """The log file (the server's stderr), None for an attached server or before `start()`."""
        return self._resources.log_path

    def log_size(self) -> int:
        """The log's size in bytes now: `log(since=…)` later gives what was written after this point."""
        path = self._resources.log_path
        return os.path.getsize(path) if path and os.path.exists(path) else 0

    def log(self, since: int = 0) -> str:
        """The server's log (stderr) from byte offset `since`: one line per request (`aws.operation`,
        `http.status`, `aws.error_code`, `latency_ms`, `request.id`) and the scheduler's lines. Raises
        `HyperPodLocalError` for an attached server, whose log is its own process's."""
        if self._attached:
            raise HyperPodLocalError(f"the server at {self._endpoint} is attached: its log is its own process's")
        path = self._resources.log_path
        if not path or not os.path.exists(path):
            return ""
        with open(path, "rb") as f:
            f.seek(since)
            return f.read().decode("utf-8", errors="replace")

    def __repr__(self) -> str:
        where = self._endpoint or "not started"
        kind = "attached" if self._attached else f"pid {self.pid}" if self.pid else "not started"
        return f"<HyperPodLocal {where} ({kind})>"

    # -- admin API ---------------------------------------------------------------------------------------------

    def admin_request(self, method: str, path: str, body: Any = None, *,
                      query: Optional[Mapping[str, Optional[str]]] = None) -> Any:
        """Any admin route, for those without a helper: e.g. `admin_request("POST", "/_hyperpod/ami-releases",
        {"version": "1.0.1", "architecture": "x86_64", "security": False})`. Answers the decoded JSON; raises
        `HyperPodLocalError` with the server's message for an answer other than 2xx, and one saying how the
        process ended (e.g. `exited with signal 9 (SIGKILL)`) when a server the kit started is no longer running."""
        try:
            return _http.request(self.endpoint_url, method, path, body, query=query, admin_token=self.admin_token)
        except HyperPodLocalError as error:
            ended = self.exit_description() if error.http_status is None else None
            if ended is None:
                raise
            raise HyperPodLocalError(f"the hyperpod-local server (pid {self.pid}) {ended}; {error.message}",
                                     method=method, path=path) from None

    def exit_description(self) -> Optional[str]:
        """How the process the kit started ended, e.g. `exited with signal 9 (SIGKILL)` or `exited with code 1`;
        None while it runs, before `start()`, and for an attached server."""
        process = self._resources.process
        if self._attached or process is None or process.poll() is None:
            return None
        return f"exited with {describe_exit(process.returncode)}"

    def health(self) -> Dict[str, Any]:
        """`{"status": "running", "version": …, "uptimeSeconds": …}` (wall-clock seconds since start)."""
        return dict(self.admin_request("GET", "/_hyperpod/health"))

    def reset(self, account: Optional[str] = None, region: Optional[str] = None) -> None:
        """Empties the server: clusters with their nodes, events and tags, pending transitions, capacity pools,
        quotas, settings and faults, training plans and task governance. With `account` (12 digits) and/or
        `region`: that partition's clusters and settings only. The timing overrides and the clock stay. Raises
        ValueError for an `account` that is not a string of 12 digits."""
        check_account(account)
        body: Dict[str, Any] = {}
        if account is not None:
            body["account"] = account
        if region is not None:
            body["region"] = region
        self.admin_request("POST", "/_hyperpod/reset", body)

    def settle(self, max_seconds: Optional[float] = None) -> SettleResult:
        """Advances a manual clock from due transition to due transition until none is pending, at most
        `max_seconds` virtual seconds (default: a day). `SettleResult.settled` is False when something is still
        transitional then (e.g. launches waiting for capacity); a MinInstanceCount timeout does not count, and
        the clock stops 1 ms short of a training plan's window start, drain or end."""
        body: Dict[str, Any] = {} if max_seconds is None else {"maxSeconds": max_seconds}
        answer = dict(self.admin_request("POST", "/_hyperpod/settle", body))
        return SettleResult(settled=bool(answer.get("settled")), clock=ClockState.from_answer(answer),
                            set_aside=list(answer.get("setAside", [])), raw=answer)

    def state(self, account: Optional[str] = None, region: Optional[str] = None) -> State:
        """A partition's whole state (default: the server's account and region): `account`, `region`, `clusters`
        (as DescribeCluster shows them, with `Nodes`, `Tags`, `Attachments`), `trainingPlans`,
        `trainingPlanOfferings`, `governancePolicies`, `pendingTimers` (each with `resourceArn`, `event`, `dueAt` in
        epoch seconds of the virtual clock, `attempts`, `setAside`) and `clock`. Raises ValueError for an `account`
        that is not a string of 12 digits."""
        return cast(State, dict(self.admin_request("GET", "/_hyperpod/state",
                                                   query={"account": check_account(account), "region": region})))

    # -- clients -----------------------------------------------------------------------------------------------

    def client(self, service: str = "sagemaker", account_id: Optional[str] = None, region: Optional[str] = None,
               **kwargs: Any) -> Any:
        """A boto3 client for the server: dummy credentials, `endpoint_url`, `region` (default: the server's).

        With `account_id` (12 digits) the access key id is that account, so the server puts the client's resources
        in that account's partition (ARNs `arn:aws:sagemaker:<region>:<account_id>:…`); without it they land in
        the server's default account. The client makes one attempt per call (no retries, so an injected fault
        shows at once); pass `config=botocore.config.Config(...)` to change that. Other `kwargs` go to
        `boto3.client`. Annotated `Any`: with boto3-stubs, annotate your variable as `SageMakerClient`.
        Raises ValueError for an `account_id` that is not a string of 12 digits."""
        check_account(account_id, "account_id")
        import boto3
        from botocore.config import Config

        kwargs.setdefault("config", Config(retries={"mode": "standard", "total_max_attempts": 1}))
        return boto3.client(service, endpoint_url=self.endpoint_url, region_name=region or self.region,
                            aws_access_key_id=account_id or DUMMY_ACCESS_KEY,
                            aws_secret_access_key=DUMMY_SECRET_KEY, **kwargs)

    def env(self, account_id: Optional[str] = None, region: Optional[str] = None, *,
            inherit: bool = True) -> Dict[str, str]:
        """Environment variables for a subprocess that should talk to this server (the AWS CLI, `hyp`,
        sagemaker-core, another SDK): `AWS_ENDPOINT_URL_SAGEMAKER`, `AWS_ACCESS_KEY_ID` (the `account_id`, when
        given), `AWS_SECRET_ACCESS_KEY`, `AWS_DEFAULT_REGION` and `AWS_REGION`.

        With `inherit=True` (the default) the answer is a copy of `os.environ` with those set and without
        `AWS_PROFILE`, `AWS_DEFAULT_PROFILE`, `AWS_SESSION_TOKEN`, `AWS_SECURITY_TOKEN` and
        `AWS_IGNORE_CONFIGURED_ENDPOINT_URLS`, ready for `subprocess.run(..., env=hp.env())`; with
        `inherit=False` only the five variables. Raises ValueError for an `account_id` that is not a string of 12
        digits."""
        check_account(account_id, "account_id")
        region = region or self.region
        ours = {
            "AWS_ENDPOINT_URL_SAGEMAKER": self.endpoint_url,
            "AWS_ACCESS_KEY_ID": account_id or DUMMY_ACCESS_KEY,
            "AWS_SECRET_ACCESS_KEY": DUMMY_SECRET_KEY,
            "AWS_DEFAULT_REGION": region,
            "AWS_REGION": region,
        }
        if not inherit:
            return ours
        merged = {k: v for k, v in os.environ.items() if k not in _CONFLICTING_ENV}
        merged.update(ours)
        return merged

    def waiter(self, name: str, *, account_id: Optional[str] = None, region: Optional[str] = None) -> Any:
        """A botocore waiter (`"ClusterInService"`, `"ClusterDeleted"`) on a client of this server, for a real
        clock: `hp.waiter("ClusterInService").wait(ClusterName="demo", WaiterConfig={"Delay": 1})` polls every
        `Delay` wall-clock seconds (default 2, at most 150 times).

        On a manual clock, which stands still while a waiter polls, it answers a `OneCheckWaiter`: its `wait` checks
        once and raises `WaitError` at once, pointing to `wait_for`, unless the cluster has the status already (e.g.
        after `settle()`). Raises ValueError for an unknown `name` or an `account_id` that is not 12 digits."""
        waiter = get_waiter(self.client(account_id=account_id, region=region), name)
        if self.clock.get().mode == "manual":
            return OneCheckWaiter(waiter)
        return waiter

    def wait_for(self, cluster: str, status: str, *, account_id: Optional[str] = None, region: Optional[str] = None,
                 max_seconds: float = 86400.0, timeout: float = 300.0, poll_interval: float = 1.0
                 ) -> Dict[str, Any]:
        """Waits until `cluster` (name or ARN) has ClusterStatus `status` (one of `CLUSTER_STATUSES`: `"Creating"`,
        `"InService"`, `"Updating"`, `"Deleting"`, `"Failed"`, `"RollingBack"`, `"SystemUpdating"`; or `"Deleted"`:
        gone) and answers its DescribeCluster response (`{}` for `"Deleted"`).

        On a manual clock it never sleeps: it moves the virtual clock to the next pending transition of the
        partition, one at a time (so it stops exactly when the status is reached), for at most `max_seconds`
        virtual seconds. On a real clock it polls DescribeCluster every `poll_interval` wall-clock seconds for at
        most `timeout` wall-clock seconds.

        Raises ValueError at once for a `status` that is not one of those (e.g. a typo) or an `account_id` that is
        not 12 digits. Raises `WaitError` (with `cluster_status` and `failure_message`):

        - when there is no such cluster in the partition (the message names account and region) and `status` is
          not `"Deleted"`;
        - when the cluster turns `Failed`, or is deleted, while waiting for another status;
        - when it will not change by itself: on a manual clock, nothing is pending in the partition; on a real
          clock, it is `InService` and the server has no pending transition for it (checked twice, so a transition
          firing in between is seen) — only an API call (UpdateCluster, DeleteCluster, …) would change it;
        - when `max_seconds` (manual clock) or `timeout` (real clock) runs out."""
        if status not in WAIT_STATUSES:
            raise ValueError(f"{status!r} is not a status wait_for can wait for; use one of "
                             f"{', '.join(WAIT_STATUSES)}")
        region_given = region
        region = region or self.region
        sm = self.client(account_id=account_id, region=region)
        clock = self.clock.get()
        manual = clock.mode == "manual"
        virtual_deadline = clock.epoch + max_seconds
        wall_deadline = time.monotonic() + timeout
        seen = False
        while True:
            current, description = self._cluster_status(sm, cluster)
            if current == status:
                return description
            failure = description.get("FailureMessage")
            if current == "Deleted":
                message = (f"cluster {cluster} was deleted while waiting for {status}" if seen
                           else self._no_cluster(cluster, account_id, region, region_given is not None))
                raise WaitError(message, cluster=cluster, cluster_status=current)
            seen = True
            if current == "Failed":
                raise WaitError(f"cluster {cluster} is Failed while waiting for {status}"
                                + (f": {failure}" if failure else ""),
                                cluster=cluster, cluster_status=current, failure_message=failure)
            if manual:
                state = self.state(account=account_id, region=region)
                now = float(state["clock"]["now"])
                due = [float(t["dueAt"]) for t in state.get("pendingTimers", []) if not t.get("setAside")]
                if not due:
                    raise WaitError(f"cluster {cluster} is {current} and nothing is pending: it will not become "
                                    f"{status} by itself" + (f" ({failure})" if failure else ""),
                                    cluster=cluster, cluster_status=current, failure_message=failure)
                next_due = min(due)
                if next_due > virtual_deadline:
                    raise WaitError(f"cluster {cluster} is still {current} after {max_seconds:g} virtual seconds "
                                    f"(the next transition is due later)", cluster=cluster, cluster_status=current,
                                    failure_message=failure)
                if next_due > now:
                    self.clock.set(next_due)
                else:
                    self.clock.advance(0.001)
            else:
                if current in _STEADY and not self._pending_for(description, account_id, region):
                    again, description = self._cluster_status(sm, cluster)
                    if again == current:
                        raise WaitError(f"cluster {cluster} is {current} and the server has no pending transition "
                                        f"for it: it will not become {status} by itself (only an API call such as "
                                        f"UpdateCluster or DeleteCluster would change it)",
                                        cluster=cluster, cluster_status=current, failure_message=failure)
                    continue  # it changed in between: look again at once
                if time.monotonic() >= wall_deadline:
                    raise WaitError(f"cluster {cluster} is still {current} after {timeout:g} s", cluster=cluster,
                                    cluster_status=current, failure_message=failure)
                time.sleep(poll_interval)

    def _pending_for(self, description: Mapping[str, Any], account_id: Optional[str], region: str) -> bool:
        """Whether the partition has a pending (not set aside) transition of the described cluster."""
        arn = str(description.get("ClusterArn", "")).lower()
        timers = self.state(account=account_id, region=region).get("pendingTimers", [])
        return any(str(t.get("resourceArn", "")).lower() == arn and not t.get("setAside") for t in timers)

    def _no_cluster(self, cluster: str, account_id: Optional[str], region: str, region_given: bool) -> str:
        """`no cluster 'x' in account A / region R`, with a hint at the arguments not given that choose another
        partition."""
        account = account_id
        if account is None:
            try:
                account = self.state(region=region).get("account")
            except HyperPodLocalError:
                account = None
        message = f"no cluster {cluster!r} in account {account or '(the server default)'} / region {region}"
        defaults = [(what, argument) for what, argument, given in (("account", "account_id=", account_id is not None),
                                                                   ("region", "region=", region_given)) if not given]
        if defaults:
            message += (f" (the default {' and '.join(w for w, _ in defaults)}; pass "
                        f"{' or '.join(a for _, a in defaults)} to wait_for to look in another)")
        return message

    @staticmethod
    def _cluster_status(sm: Any, cluster: str) -> Tuple[str, Dict[str, Any]]:
        from botocore.exceptions import ClientError

        try:
            description = dict(sm.describe_cluster(ClusterName=cluster))
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") == "ResourceNotFound":
                return "Deleted", {}
            raise
        description.pop("ResponseMetadata", None)
        return str(description.get("ClusterStatus")), description


class HyperPodLocalFactory:
    """Starts extra servers (`factory(*args, **options)` takes what `HyperPodLocal` takes, over `defaults`) and
    stops every one of them on `close()` or at the end of a `with` block; the pytest fixture
    `hyperpod_local_factory` is one, closed after each test. `servers` lists them in start order."""

    def __init__(self, defaults: Optional[Mapping[str, Any]] = None) -> None:
        self.defaults: Dict[str, Any] = dict(defaults or {})
        self.servers: List[HyperPodLocal] = []

    def __call__(self, *args: str, **options: Any) -> HyperPodLocal:
        """Starts a server (see `HyperPodLocal` and `HyperPodLocal.start`) and answers it."""
        server = HyperPodLocal(*args, **{**self.defaults, **options})
        server.start()
        self.servers.append(server)
        return server

    def add(self, server: _Server) -> _Server:
        """Adopts a server started elsewhere (e.g. a subclass of `HyperPodLocal`): `close()` stops it too."""
        self.servers.append(server)
        return server

    def close(self) -> None:
        """Stops every server, the last started first; each is stopped even if stopping another fails."""
        errors: List[BaseException] = []
        for server in reversed(self.servers):
            try:
                server.stop()
            except Exception as error:  # noqa: BLE001 - stop the others, then report
                errors.append(error)
        if errors:
            raise errors[0]

    def __enter__(self) -> "HyperPodLocalFactory":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
