"""hyperpod-local's test kit: start (or attach to) the hyperpod-local emulator of the SageMaker HyperPod control
plane, drive its virtual clock and admin API, and get boto3 clients pointed at it.

    from hyperpod_local import HyperPodLocal

    with HyperPodLocal() as hp:                    # the binary on a free port, --in-memory --clock manual
        sm = hp.client()                           # boto3 SageMaker client, dummy credentials
        sm.create_cluster(ClusterName="demo", InstanceGroups=[...])
        hp.wait_for("demo", "InService")           # moves the virtual clock instead of sleeping

Under pytest the plugin (`hyperpod_local.plugin`, registered through the `pytest11` entry point) gives the fixtures
`hyperpod_local`, `sagemaker` and `hyperpod_local_factory`. This module does not import pytest.
"""
from ._admin import (Capacity, CapacityInfo, CapacityPool, Clock, ClockAnswer, ClockState, Faults, PendingTimer, Quota,
                     Quotas, QuotasInfo, Settings, SettleResult, State, Timing)
from ._errors import BinaryNotFoundError, HyperPodLocalError, ServerStartError, WaitError
from ._server import BINARY_ENV, CLUSTER_STATUSES, WAIT_STATUSES, HyperPodLocal, HyperPodLocalFactory, find_binary
from ._waiters import WAITER_MODEL, OneCheckWaiter, get_waiter

__version__ = "0.1.0"

__all__ = [
    "BINARY_ENV",
    "BinaryNotFoundError",
    "CLUSTER_STATUSES",
    "Capacity",
    "CapacityInfo",
    "CapacityPool",
    "Clock",
    "ClockAnswer",
    "ClockState",
    "Faults",
    "HyperPodLocal",
    "HyperPodLocalError",
    "HyperPodLocalFactory",
    "OneCheckWaiter",
    "PendingTimer",
    "Quota",
    "Quotas",
    "QuotasInfo",
    "ServerStartError",
    "Settings",
    "SettleResult",
    "State",
    "Timing",
    "WAITER_MODEL",
    "WAIT_STATUSES",
    "WaitError",
    "find_binary",
    "get_waiter",
]
