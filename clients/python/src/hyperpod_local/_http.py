"""The admin API's transport: JSON over HTTP/1.1 with the standard library, never through a proxy."""
from __future__ import annotations

import json
import socket
import urllib.error
import urllib.parse
import urllib.request
from typing import Any, Mapping, Optional

from ._errors import HyperPodLocalError

ADMIN_TOKEN_HEADER = "X-Hyperpod-Admin-Token"

# The server is local (or a compose service): an HTTP(S)_PROXY of the test machine must not carry admin calls.
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def _error_message(raw: bytes) -> str:
    """The server's message out of an error body: `{"error": …}` (admin API), `{"message": …}` (AWS side), else
    the text itself."""
    text = raw.decode("utf-8", errors="replace").strip()
    try:
        parsed = json.loads(text)
    except ValueError:
        return text or "(empty answer)"
    if isinstance(parsed, dict):
        for key in ("error", "message", "Message"):
            if isinstance(parsed.get(key), str):
                return str(parsed[key])
    return text


def request(endpoint_url: str, method: str, path: str, body: Any = None, *,
            query: Optional[Mapping[str, Optional[str]]] = None, admin_token: Optional[str] = None,
            timeout: float = 30.0) -> Any:
    """Sends one request and answers its decoded JSON (None for an empty body, the text for a non-JSON one).

    `body` is encoded as JSON when not None; `query` entries whose value is None are left out; `timeout` is in
    wall-clock seconds. Raises `HyperPodLocalError` for any answer other than 2xx (with the server's message and the
    status) and for a server that cannot be reached.
    """
    url = endpoint_url.rstrip("/") + path
    params = {k: v for k, v in (query or {}).items() if v is not None}
    if params:
        url += "?" + urllib.parse.urlencode(params)
    data = None if body is None else json.dumps(body).encode()
    headers = {"Accept": "application/json"}
    if data is not None:
        headers["Content-Type"] = "application/json"
    if admin_token:
        headers[ADMIN_TOKEN_HEADER] = admin_token
    prepared = urllib.request.Request(url, data=data, method=method, headers=headers)
    try:
        with _OPENER.open(prepared, timeout=timeout) as response:
            raw: bytes = response.read()
    except urllib.error.HTTPError as error:
        raise HyperPodLocalError(_error_message(error.read()), http_status=error.code, method=method,
                                 path=path) from None
    except (urllib.error.URLError, OSError) as error:
        reason = getattr(error, "reason", error)
        # `from None`: urllib's chain (URLError over ConnectionRefusedError, each with its own traceback) says no
        # more than `reason` does, and would bury it.
        raise HyperPodLocalError(f"cannot reach hyperpod-local at {endpoint_url}: {reason}", method=method,
                                 path=path) from None
    if not raw:
        return None
    text = raw.decode("utf-8", errors="replace")
    try:
        return json.loads(text)
    except ValueError:
        return text


def health_check(host: str, port: int, timeout: float) -> int:
    """`GET /_hyperpod/health` with `Connection: close`, read to the end of the connection: answers the HTTP status.

    Reading until the server closes (rather than to the end of the body) means the server has let go of the
    connection when this returns, so a freshly started server holds no connection of the kit's. Raises OSError
    when nothing answers (`timeout` in wall-clock seconds per socket operation)."""
    address = host[1:-1] if host.startswith("[") else host
    with socket.create_connection((address, port), timeout=timeout) as sock:
        sock.sendall(f"GET /_hyperpod/health HTTP/1.1\r\nHost: {host}:{port}\r\nConnection: close\r\n\r\n".encode())
        answer = b""
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                break
            answer += chunk
    status_line = answer.split(b"\r\n", 1)[0].split()
    if len(status_line) < 2 or not status_line[1].isdigit():
        raise OSError(f"not an HTTP answer: {answer[:80]!r}")
    return int(status_line[1])
