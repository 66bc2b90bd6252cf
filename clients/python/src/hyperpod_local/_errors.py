"""The exceptions of the kit. Every one is a `HyperPodLocalError`, itself a `RuntimeError`."""
from __future__ import annotations

from typing import Optional


class HyperPodLocalError(RuntimeError):
    """Something the kit or the server refused.

    For an answer of the admin API other than 2xx, `message` is the server's own `{"error": …}` text and
    `http_status` the HTTP status (400 bad body, 403 missing admin token, 404 unknown route, 409 not allowed now);
    `method` and `path` name the request. For a server that cannot be reached, `http_status` is None.
    """

    def __init__(self, message: str, *, http_status: Optional[int] = None, method: Optional[str] = None,
                 path: Optional[str] = None) -> None:
        self.message = message
        self.http_status = http_status
        self.method = method
        self.path = path
        where = f"{method} {path}: " if method and path else ""
        status = f"HTTP {http_status}: " if http_status is not None else ""
        super().__init__(f"{where}{status}{message}")


class ServerStartError(HyperPodLocalError):
    """The server did not start: it exited, printed something other than its `listening on` line, or did not answer
    `GET /_hyperpod/health` in time. The message holds the command line and the server's log (its stderr)."""


class BinaryNotFoundError(ServerStartError):
    """No hyperpod-local binary was found; the message names every place that was looked at."""


class WaitError(HyperPodLocalError):
    """`HyperPodLocal.wait_for` gave up: the cluster reached a status it will not leave for the one waited for
    (`Failed`, or gone), nothing was pending any more, or the time allowed ran out.

    `cluster` is the name or ARN waited on, `cluster_status` the status it had last (`"Deleted"` once it is gone)
    and `failure_message` its `FailureMessage`, if DescribeCluster gave one.
    """

    def __init__(self, message: str, *, cluster: str, cluster_status: str,
                 failure_message: Optional[str] = None) -> None:
        self.cluster = cluster
        self.cluster_status = cluster_status
        self.failure_message = failure_message
        super().__init__(message)
