"""botocore waiters for clusters, for servers on a real clock (botocore's SageMaker model has none for clusters).

On a manual clock use `HyperPodLocal.wait_for`, which moves the clock instead of sleeping.
"""
from __future__ import annotations

from typing import Any, Dict

from ._errors import WaitError

#: A botocore waiter model (version 2) with `ClusterInService` and `ClusterDeleted`. Delays are wall-clock seconds;
#: the defaults wait up to 5 minutes, ample for the `fast` and `instant` profiles. Override per call with
#: `waiter.wait(ClusterName=…, WaiterConfig={"Delay": 1, "MaxAttempts": 60})`.
WAITER_MODEL: Dict[str, Any] = {
    "version": 2,
    "waiters": {
        "ClusterInService": {
            "operation": "DescribeCluster",
            "delay": 2,
            "maxAttempts": 150,
            "acceptors": [
                {"matcher": "path", "argument": "ClusterStatus", "expected": "InService", "state": "success"},
                {"matcher": "path", "argument": "ClusterStatus", "expected": "Failed", "state": "failure"},
                {"matcher": "error", "expected": "ResourceNotFound", "state": "failure"},
            ],
        },
        "ClusterDeleted": {
            "operation": "DescribeCluster",
            "delay": 2,
            "maxAttempts": 150,
            "acceptors": [
                {"matcher": "error", "expected": "ResourceNotFound", "state": "success"},
                {"matcher": "path", "argument": "ClusterStatus", "expected": "Failed", "state": "failure"},
            ],
        },
    },
}

WAITER_NAMES = tuple(WAITER_MODEL["waiters"])
# The status each waiter waits for, in `HyperPodLocal.wait_for`'s terms.
_TARGETS = {"ClusterInService": "InService", "ClusterDeleted": "Deleted"}


def get_waiter(client: Any, name: str) -> Any:
    """A `botocore.waiter.Waiter` named `name` (`"ClusterInService"` or `"ClusterDeleted"`) for a SageMaker
    `client`; call `.wait(ClusterName=…)`. It raises `botocore.exceptions.WaiterError` on a failure state
    (`Failed`; for `ClusterInService` also a cluster that does not exist) or when its attempts run out.
    An unknown `name` raises ValueError."""
    import botocore.waiter

    if name not in WAITER_NAMES:
        raise ValueError(f"unknown waiter {name!r}; hyperpod-local's waiters are {', '.join(WAITER_NAMES)}")
    return botocore.waiter.create_waiter_with_client(name, botocore.waiter.WaiterModel(WAITER_MODEL), client)


class OneCheckWaiter:
    """The waiter `HyperPodLocal.waiter` answers on a server with a manual clock.

    Such a clock stands still while a waiter sleeps between polls (only the admin API moves it), so a botocore
    waiter would poll 150 times 2 wall-clock seconds for nothing. This one checks once: `wait(ClusterName=…)`
    returns when the cluster has the status already (e.g. after `settle()`), raises botocore's `WaiterError` on a
    failure state as the botocore waiter does, and otherwise raises the kit's `WaitError` at once, pointing to
    `HyperPodLocal.wait_for` (which moves the virtual clock). `WaiterConfig`'s `MaxAttempts` is set to 1. Every
    other attribute is the botocore waiter's (`name`, `config`).
    """

    def __init__(self, waiter: Any) -> None:
        self._waiter = waiter

    def wait(self, **kwargs: Any) -> None:
        """One DescribeCluster: returns if it matches, else raises (see the class)."""
        from botocore.exceptions import WaiterError as BotocoreWaiterError

        config = dict(kwargs.pop("WaiterConfig", None) or {})
        config["MaxAttempts"] = 1
        try:
            self._waiter.wait(WaiterConfig=config, **kwargs)
        except BotocoreWaiterError as error:
            if not str(error.kwargs.get("reason", "")).startswith("Max attempts exceeded"):
                raise
            cluster = str(kwargs.get("ClusterName", "?"))
            current = str((error.last_response or {}).get("ClusterStatus", "?"))
            target = _TARGETS.get(self._waiter.name, "?")
            raise WaitError(
                f"waiter {self._waiter.name}: cluster {cluster} is {current}, and the server's clock is manual: it "
                f"stands still while a waiter sleeps, so the waiter checked once instead of polling in vain. Use "
                f"wait_for({cluster!r}, {target!r}), which moves the virtual clock to each pending transition (or "
                f"settle() before the waiter)", cluster=cluster, cluster_status=current) from None

    def __getattr__(self, name: str) -> Any:
        if name == "_waiter":  # not set yet (e.g. while copying): no recursion
            raise AttributeError(name)
        return getattr(self._waiter, name)

    def __repr__(self) -> str:
        return f"<OneCheckWaiter {self._waiter.name} (manual clock)>"
