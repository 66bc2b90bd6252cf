"""botocore waiters for clusters, for servers on a real clock (botocore's SageMaker model has none for clusters).

On a manual clock use `HyperPodLocal.wait_for`, which moves the clock instead of sleeping.
"""
from __future__ import annotations

from typing import Any, Dict

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


def get_waiter(client: Any, name: str) -> Any:
    """A `botocore.waiter.Waiter` named `name` (`"ClusterInService"` or `"ClusterDeleted"`) for a SageMaker
    `client`; call `.wait(ClusterName=…)`. It raises `botocore.exceptions.WaiterError` on a failure state
    (`Failed`; for `ClusterInService` also a cluster that does not exist) or when its attempts run out.
    An unknown `name` raises ValueError."""
    import botocore.waiter

    if name not in WAITER_NAMES:
        raise ValueError(f"unknown waiter {name!r}; hyperpod-local's waiters are {', '.join(WAITER_NAMES)}")
    return botocore.waiter.create_waiter_with_client(name, botocore.waiter.WaiterModel(WAITER_MODEL), client)
