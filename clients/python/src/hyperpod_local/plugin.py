"""The pytest plugin of hyperpod-local's test kit, registered through the `pytest11` entry point.

Fixtures:

- `hyperpod_local`: the session's server (one per test run: port 0, `--in-memory`, `--clock manual`), emptied
  before each test (`reset()`, and timing overrides a test made are undone). A `HyperPodLocal`.
- `sagemaker`: a boto3 SageMaker client of `hyperpod_local`.
- `hyperpod_local_factory`: starts extra servers (`hyperpod_local_factory("--seed", "42", clock=None)`), stopped
  after the test; e.g. for restart tests on a `db` file. A `HyperPodLocalFactory`.
- `hyperpod_local_session`: the session's server without the reset, for fixtures of a wider scope.
- `hyperpod_local_options`: the keyword arguments the session's server is made with; override it in a
  `conftest.py` (session scope) to start it differently, e.g. `return {"timing": "instant", "seed": 42}`.

Options: `--hyperpod-local-bin PATH` (the binary), `--hyperpod-local-url URL` (or `HYPERPOD_LOCAL_URL`: attach to a
running server instead of starting one; the factory still starts binaries), `--hyperpod-local-keep-logs` (keep
every server's log file; their paths are listed at the end). When a test fails, the log lines its servers wrote
during the test are added to its report.
"""
from __future__ import annotations

import os
from typing import Any, Dict, Generator, Iterator, List, Optional, Tuple

import pytest

from ._errors import HyperPodLocalError
from ._server import HyperPodLocal, HyperPodLocalFactory

#: Environment variable read when `--hyperpod-local-url` is not given.
URL_ENV = "HYPERPOD_LOCAL_URL"
#: The most log lines added to a failing test's report per server.
REPORT_LOG_LINES = 200
#: The log lines shown when the session's server has exited under the tests.
EXIT_LOG_LINES = 20

_TRACKED = pytest.StashKey[List[Tuple[HyperPodLocal, int]]]()
_FACTORY = pytest.StashKey[HyperPodLocalFactory]()
_KEPT_LOGS = pytest.StashKey[List[str]]()
_TIMING_BASELINE = pytest.StashKey[Dict[str, float]]()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("hyperpod-local", "hyperpod-local test kit")
    group.addoption("--hyperpod-local-bin", dest="hyperpod_local_bin", default=None, metavar="PATH",
                    help="the hyperpod-local binary to start (else HYPERPOD_LOCAL_BIN, PATH, the repository's "
                         ".build/release)")
    group.addoption("--hyperpod-local-url", dest="hyperpod_local_url", default=None, metavar="URL",
                    help=f"use the hyperpod-local server running at URL instead of starting one (else {URL_ENV})")
    group.addoption("--hyperpod-local-keep-logs", dest="hyperpod_local_keep_logs", action="store_true",
                    default=False, help="keep the log file of every hyperpod-local server the run starts")


def pytest_configure(config: pytest.Config) -> None:
    config.stash[_KEPT_LOGS] = []


def _keep_logs(config: pytest.Config) -> bool:
    return bool(config.getoption("hyperpod_local_keep_logs"))


def _command_line_options(config: pytest.Config, log_dir: Optional[str]) -> Dict[str, Any]:
    """What the command line says about starting servers, as `HyperPodLocal` keyword arguments."""
    options: Dict[str, Any] = {}
    binary = config.getoption("hyperpod_local_bin")
    if binary:
        options["binary"] = binary
    if _keep_logs(config):
        options["keep_log"] = True
        options["log_dir"] = log_dir
    return options


def _remember_log(config: pytest.Config, server: HyperPodLocal) -> None:
    if _keep_logs(config) and server.log_path and server.log_path not in config.stash[_KEPT_LOGS]:
        config.stash[_KEPT_LOGS].append(server.log_path)


@pytest.fixture(scope="session")
def hyperpod_local_options() -> Dict[str, Any]:
    """Keyword arguments of `HyperPodLocal` for the session's server; none by default (port 0, `--in-memory`,
    `--clock manual`). Override in a conftest.py with a session-scoped fixture of the same name.
    `--hyperpod-local-bin` and `--hyperpod-local-keep-logs` win over `binary`, `keep_log` and `log_dir` here."""
    return {}


@pytest.fixture(scope="session")
def hyperpod_local_log_dir(pytestconfig: pytest.Config, tmp_path_factory: pytest.TempPathFactory) -> Optional[str]:
    """The folder kept log files go to (under pytest's base temporary folder) with `--hyperpod-local-keep-logs`;
    None without it (log files are then removed)."""
    if not _keep_logs(pytestconfig):
        return None
    return str(tmp_path_factory.mktemp("hyperpod-local-logs", numbered=False))


@pytest.fixture(scope="session")
def hyperpod_local_session(pytestconfig: pytest.Config, hyperpod_local_options: Dict[str, Any],
                           hyperpod_local_log_dir: Optional[str]) -> Iterator[HyperPodLocal]:
    """The session's server, started once (or attached to, with `--hyperpod-local-url`), stopped at the end.
    Not reset between tests: use `hyperpod_local` in tests.

    When it cannot be had (no binary, a server that does not start, a URL that does not answer), the run stops
    there with one message (`pytest.exit`, exit status 4, a usage error) rather than an error in every test."""
    url = pytestconfig.getoption("hyperpod_local_url") or os.environ.get(URL_ENV)
    try:
        if url:
            token = hyperpod_local_options.get("admin_token") or os.environ.get("HYPERPOD_LOCAL_ADMIN_TOKEN")
            server = HyperPodLocal.attach(url, admin_token=token, region=hyperpod_local_options.get("region"))
        else:
            server = HyperPodLocal(**{**hyperpod_local_options,
                                      **_command_line_options(pytestconfig, hyperpod_local_log_dir)})
            server.start()
    except (HyperPodLocalError, ValueError, TypeError) as error:
        # BinaryNotFoundError, ServerStartError, an attach that fails, options HyperPodLocal refuses
        pytest.exit(f"hyperpod-local: the session's server is not available, so no test can use it.\n{error}",
                    returncode=pytest.ExitCode.USAGE_ERROR)
    if server.attached:
        yield server
        return
    _remember_log(pytestconfig, server)
    try:
        yield server
    finally:
        server.stop()


def _track(node: Any, server: HyperPodLocal, since: int) -> None:
    tracked = node.stash.setdefault(_TRACKED, [])
    tracked.append((server, since))


@pytest.fixture
def hyperpod_local(request: pytest.FixtureRequest, hyperpod_local_session: HyperPodLocal) -> HyperPodLocal:
    """The session's server, emptied for this test: `reset()` (clusters, pending transitions, capacity pools,
    quotas, settings, faults, training plans, task governance) and the timing overrides of earlier tests undone.
    The virtual clock is not turned back: it only moves forward.

    Fails the test at setup (one short message, no traceback) when the session's server has exited, e.g. killed
    by an earlier test: how it ended and its last log lines."""
    server = hyperpod_local_session
    ended = server.exit_description()
    if ended is not None:
        lines = server.log().splitlines()[-EXIT_LOG_LINES:]
        pytest.fail(f"the session's hyperpod-local server (pid {server.pid}, {server.endpoint_url}) {ended} "
                    f"before this test; its last log lines:\n" + "\n".join(lines), pytrace=False)
    server.reset()
    config = request.config
    current = server.timing.get()
    baseline = config.stash.setdefault(_TIMING_BASELINE, current)
    if current != baseline:
        server.timing.set(baseline)
    if not server.attached:
        _track(request.node, server, server.log_size())
    return server


@pytest.fixture
def sagemaker(hyperpod_local: HyperPodLocal) -> Any:
    """A boto3 SageMaker client of `hyperpod_local` (dummy credentials, the server's default account and region,
    no retries)."""
    return hyperpod_local.client()


@pytest.fixture
def hyperpod_local_factory(request: pytest.FixtureRequest, pytestconfig: pytest.Config,
                           hyperpod_local_log_dir: Optional[str]) -> Iterator[HyperPodLocalFactory]:
    """Starts extra servers for this test: `hyperpod_local_factory(*args, **options)` takes what `HyperPodLocal`
    takes and answers the started server; every one is stopped after the test."""
    factory = HyperPodLocalFactory(_command_line_options(pytestconfig, hyperpod_local_log_dir))
    request.node.stash[_FACTORY] = factory
    try:
        yield factory
    finally:
        for server in factory.servers:
            _remember_log(pytestconfig, server)
        factory.close()


def _log_sections(item: pytest.Item) -> List[Tuple[str, str]]:
    servers: List[Tuple[HyperPodLocal, int]] = []
    if _TRACKED in item.stash:
        tracked = item.stash[_TRACKED]
        servers += tracked
    factory = item.stash.get(_FACTORY, None)
    if factory is not None:
        servers += [(server, 0) for server in factory.servers]
    keep = _keep_logs(item.config)
    sections = []
    for server, since in servers:
        if server.attached or not server.log_path:
            continue
        lines = server.log(since).splitlines()
        left_out = len(lines) - REPORT_LOG_LINES
        text = "\n".join(lines[-REPORT_LOG_LINES:])
        if left_out > 0:
            text = f"({left_out} earlier lines left out)\n{text}"
        where = server.log_path if keep else "removed after the run; --hyperpod-local-keep-logs keeps it"
        title = f"hyperpod-local log (pid {server.pid}) during the test ({where})"
        sections.append((title, text or "(nothing logged)"))
    return sections


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Generator[None, Any, None]:
    outcome = yield
    report = outcome.get_result()
    if report.failed:
        for title, text in _log_sections(item):
            report.sections.append((title, text))


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    kept = config.stash.get(_KEPT_LOGS, [])
    if kept:
        terminalreporter.write_sep("-", "hyperpod-local logs kept")
        for path in kept:
            terminalreporter.write_line(path)
