"""The command line: environment variables, precedence and bad values (issue #2)."""
import subprocess

import pytest

from conftest import BINARY, Server
from http_client import Reader


def test_environment_variables_configure_the_server(make_server):
    server = make_server(env={"HYPERPOD_LOCAL_MAX_HEADER_BYTES": "1024"})
    sock = server.connect()
    sock.sendall(b"GET /_hyperpod/health HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 2000 + b"\r\n\r\n")
    assert Reader(sock).response().status == 431


def test_command_line_wins_over_the_environment(make_server):
    server = make_server("--max-header-bytes", "16384", env={"HYPERPOD_LOCAL_MAX_HEADER_BYTES": "1024"})
    sock = server.connect()
    sock.sendall(b"GET /_hyperpod/health HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 2000 + b"\r\n\r\n")
    assert Reader(sock).response().status == 200


@pytest.mark.parametrize("args,env,message", [
    (["--log-level", "loud"], {}, "--log-level"),
    (["--auth", "maybe"], {}, "--auth"),
    (["--account-id", "12"], {}, "--account-id"),
    ([], {"HYPERPOD_LOCAL_MAX_CONNECTIONS": "many"}, "HYPERPOD_LOCAL_MAX_CONNECTIONS"),
    (["--port", "70000"], {}, "port"),
    (["--max-body-bytes", "100000000000"], {}, "--max-body-bytes"),
    (["--header-timeout", "1e300"], {}, "timeouts"),
])
def test_bad_values_exit_nonzero_with_a_message(args, env, message):
    result = subprocess.run([BINARY, "serve", "--in-memory", *args], capture_output=True, text=True, env=env, timeout=10)
    assert result.returncode != 0
    assert message in result.stderr



def test_help_lists_every_environment_variable():
    result = subprocess.run([BINARY, "serve", "--help"], capture_output=True, text=True, timeout=10)
    for name in ("HOST", "PORT", "DB", "IN_MEMORY", "REGION", "ACCOUNT_ID", "AUTH", "MAX_BODY_BYTES", "MAX_HEADER_BYTES",
                 "HEADER_TIMEOUT", "IDLE_TIMEOUT", "MAX_CONNECTIONS", "LOG_LEVEL"):
        assert f"HYPERPOD_LOCAL_{name}" in result.stdout


def test_version_flag_prints_the_version():
    result = subprocess.run([BINARY, "--version"], capture_output=True, text=True, timeout=10)
    assert result.returncode == 0
    assert result.stdout.strip() == "0.1.0"
