"""Start-up as a user meets it: the errors that stop `serve` name what is wrong and what to do, and
`hyperpod-local health` (the container's HEALTHCHECK) finds the server by flag, environment or address file and says
why it fails (issue #13)."""
import os
import socket
import stat
import subprocess
import tempfile

import pytest

from conftest import BINARY

SERVE_USAGE = "Usage: hyperpod-local serve <options>"


def run(*args, env=None, timeout=20):
    clean = {k: v for k, v in os.environ.items() if not k.startswith("HYPERPOD_LOCAL_")}
    clean.update(env or {})
    return subprocess.run([BINARY, *args], capture_output=True, text=True, timeout=timeout, env=clean)


def test_a_port_in_use_names_host_and_port_and_suggests_port_0(make_server):
    server = make_server()
    started = run("serve", "--in-memory", "--port", str(server.port))
    assert started.returncode == 1
    assert started.stderr.strip() == (
        f"Error: cannot listen on 127.0.0.1:{server.port}: the port is in use by another process; choose another with "
        "--port, or --port 0 for a free one (the first stdout line names it)")
    assert started.stdout == ""  # no "listening" line for a harness to misread


def test_a_port_in_use_given_by_environment_names_it_too(make_server):
    server = make_server()
    started = run("serve", "--in-memory", env={"HYPERPOD_LOCAL_PORT": str(server.port)})
    assert started.returncode == 1
    assert f"cannot listen on 127.0.0.1:{server.port}: the port is in use" in started.stderr


def test_a_host_that_is_not_on_this_machine_is_named():
    started = run("serve", "--in-memory", "--port", "0", "--host", "192.0.2.1", "--admin-open")
    assert started.returncode == 1
    assert started.stderr.strip() == "Error: cannot listen on 192.0.2.1:0: 192.0.2.1 is not an address of this machine (--host)"


def test_a_database_in_a_missing_folder_names_the_path():
    path = "/nonexistent-hyperpod-local/state/hyperpod-local.sqlite"
    started = run("serve", "--port", "0", "--db", path)
    assert started.returncode == 1
    assert started.stderr.strip() == (
        f"Error: cannot open database file {path}: the folder /nonexistent-hyperpod-local/state does not exist "
        "(SQLite: unable to open database file)")


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to run the server as another user")
def test_an_unwritable_database_folder_names_the_path():
    """The container's case: /data not writable by the server's user."""
    with tempfile.TemporaryDirectory() as folder:
        os.chmod(folder, 0o755)  # root's; 'nobody' may not create a file in it
        path = os.path.join(folder, "hyperpod-local.sqlite")
        started = subprocess.run(["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups", BINARY, "serve",
                                  "--port", "0", "--db", path], capture_output=True, text=True, timeout=20)
        assert started.returncode == 1
        assert started.stderr.strip() == (
            f"Error: cannot open database file {path}: no permission to create a file in {folder} "
            "(SQLite: unable to open database file)")


def test_a_file_that_is_not_a_database_names_the_path():
    with tempfile.NamedTemporaryFile(suffix=".sqlite") as file:
        file.write(b"this is not SQLite, but long enough to have a header page " * 20)
        file.flush()
        started = run("serve", "--port", "0", "--db", file.name)
        assert started.returncode == 1
        assert started.stderr.strip() == (
            f"Error: cannot open database file {file.name}: the file is not a hyperpod-local database (not SQLite, or "
            "damaged) (SQLite: file is not a database)")


@pytest.mark.parametrize("args, env, message", [
    (["--clock", "sometimes"], {}, "Error: --clock must be real or manual, got 'sometimes'"),
    (["--timing", "slow"], {}, "Error: --timing must be instant, fast or realistic, got 'slow'"),
    (["--bogus"], {}, "Error: Unknown option '--bogus'."),
    (["--port", "http"], {}, "Error: The value 'http' is invalid for '--port <port>'"),
    ([], {"HYPERPOD_LOCAL_PORT": "http"}, "Error: HYPERPOD_LOCAL_PORT='http' is not a valid value"),
])
def test_a_bad_serve_option_prints_serves_usage(args, env, message):
    started = run("serve", "--in-memory", *args, env=env)
    assert started.returncode == 64
    assert started.stderr.startswith(message)
    assert SERVE_USAGE in started.stderr and "See 'hyperpod-local serve --help'" in started.stderr


def test_a_bad_option_without_the_subcommand_name_prints_serves_usage_too():
    """`serve` is the default subcommand: `hyperpod-local --clock x` is `hyperpod-local serve --clock x`."""
    started = run("--in-memory", "--clock", "x")
    assert started.returncode == 64 and SERVE_USAGE in started.stderr


# hyperpod-local health -----------------------------------------------------------------------------------------------


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_health_follows_the_port_flag(make_server):
    server = make_server()
    assert run("health", "--port", str(server.port)).returncode == 0
    assert run("health", "--host", "127.0.0.1", "--port", str(server.port)).returncode == 0
    assert run("health", "--host", "localhost", "--port", str(server.port)).returncode == 0


def test_health_follows_hyperpod_local_port(make_server):
    """The container's HEALTHCHECK runs `hyperpod-local health` with the container's environment: a server moved to
    another port with HYPERPOD_LOCAL_PORT is checked there."""
    server = make_server()
    env = {"HYPERPOD_LOCAL_PORT": str(server.port)}
    assert run("health", env=env).returncode == 0
    # A wildcard bind address in the environment (the image sets 0.0.0.0) is asked on loopback.
    assert run("health", env={**env, "HYPERPOD_LOCAL_HOST": "0.0.0.0"}).returncode == 0
    # A flag wins over the environment.
    wrong = run("health", "--port", str(free_port()), env=env)
    assert wrong.returncode == 1


def test_health_follows_a_port_given_to_serve_by_flag_through_the_address_file(make_server):
    """`docker run image serve --port 9000`: only serve's command line knows the port; serve writes it to the address
    file (HYPERPOD_LOCAL_ADDRESS_FILE, set in the image) and health reads it there."""
    with tempfile.TemporaryDirectory() as folder:
        address_file = os.path.join(folder, "hyperpod-local.address")
        server = make_server(env={"HYPERPOD_LOCAL_ADDRESS_FILE": address_file})
        with open(address_file) as f:
            assert f.read() == f"http://127.0.0.1:{server.port}\npid {server.process.pid}\n"
        env = {"HYPERPOD_LOCAL_ADDRESS_FILE": address_file, "HYPERPOD_LOCAL_PORT": str(free_port())}
        assert run("health", env=env).returncode == 0  # the file wins over HYPERPOD_LOCAL_PORT
        assert run("health", "--address-file", address_file).returncode == 0
        server.stop()
        assert not os.path.exists(address_file)  # removed on a clean stop
        down = run("health", env=env)
        assert down.returncode == 1


def test_health_says_why_it_failed():
    port = free_port()
    refused = run("health", "--port", str(port))
    assert refused.returncode == 1
    assert refused.stderr.strip() == f"hyperpod-local health: 127.0.0.1:{port}: connection refused: no server listens there"


def test_health_reports_a_server_that_answers_but_not_200():
    """Something else on the port (here a listener that answers 503) is reported with its status line."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        port = listener.getsockname()[1]
        process = subprocess.Popen([BINARY, "health", "--port", str(port)], stderr=subprocess.PIPE, text=True)
        connection, _ = listener.accept()
        connection.recv(1024)
        connection.sendall(b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n\r\n")
        connection.close()
        _, stderr = process.communicate(timeout=10)
    assert process.returncode == 1
    assert stderr.strip() == f"hyperpod-local health: 127.0.0.1:{port}: answered HTTP/1.1 503 Service Unavailable"


def test_health_names_an_address_file_that_holds_no_address():
    port = free_port()
    with tempfile.TemporaryDirectory() as folder:
        missing = os.path.join(folder, "hyperpod-local.address")
        failed = run("health", env={"HYPERPOD_LOCAL_ADDRESS_FILE": missing, "HYPERPOD_LOCAL_PORT": str(port)})
    assert failed.returncode == 1
    assert failed.stderr.strip() == (
        f"hyperpod-local health: 127.0.0.1:{port}: connection refused: no server listens there (no address in {missing}: "
        f"is the server up, and started with --address-file {missing}?)")
