"""Fixtures of the kit's own tests. The plugin under test is loaded through its `pytest11` entry point (the kit is
installed); `fake_binary` is a stand-in for the server (tests/fake_server.py) for the unit tests."""
import json
import os
import sys
import urllib.request

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))


@pytest.fixture(scope="session")
def fake_binary(tmp_path_factory):
    """An executable that runs tests/fake_server.py with this interpreter, as a binary would be run."""
    path = tmp_path_factory.mktemp("fake-bin") / "hyperpod-local"
    path.write_text(f'#!/bin/sh\nexec "{sys.executable}" "{HERE}/fake_server.py" "$@"\n')
    path.chmod(0o755)
    return str(path)


@pytest.fixture
def fake(fake_binary, hyperpod_local_factory):
    """A started fake server."""
    return hyperpod_local_factory(binary=fake_binary)


def sent(server):
    """The requests the fake server received so far (health checks left out)."""
    with urllib.request.urlopen(server.endpoint_url + "/_fake/requests", timeout=5) as response:
        return json.load(response)


def fake_call(server, path, body):
    request = urllib.request.Request(server.endpoint_url + path, data=json.dumps(body).encode(), method="POST")
    with urllib.request.urlopen(request, timeout=5) as response:
        return json.load(response)


def first_log_line(server):
    """The fake's first log line: its command line and HYPERPOD_LOCAL_/FAKE_ environment."""
    return json.loads(server.log().splitlines()[0])
