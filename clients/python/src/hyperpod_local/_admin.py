"""Typed helpers over the admin API (`/_hyperpod/…`, docs/admin-api.md of the repository).

Times: the server's virtual clock counts epoch seconds; these helpers hand them out as timezone-aware UTC
`datetime`s. Durations given to them (`advance`, `settle`'s `max_seconds`, timing keys) are *virtual* seconds.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Dict, List, Mapping, Optional, Protocol, TypedDict, Union, cast

JSON = Dict[str, Any]

_ACCOUNT_ID = re.compile(r"[0-9]{12}")


def check_account(value: object, parameter: str = "account") -> Optional[str]:
    """`value` itself when it is None or a string of 12 digits (an AWS account id); else raises ValueError naming
    `parameter`. The kit checks before sending: the access key id of `client(account_id=…)` would otherwise be taken
    silently for no account (the server's default account is used), and an int would fail deep inside botocore."""
    if value is None or (isinstance(value, str) and _ACCOUNT_ID.fullmatch(value)):
        return value
    hint = " (give it as a string: quotes keep leading zeros)" if isinstance(value, int) else ""
    raise ValueError(f"{parameter} must be an AWS account id, a string of 12 digits such as '123456789012', "
                     f"or None; got {value!r}{hint}")


def _check_mapping(value: object, helper: str, example: str) -> None:
    """Raises TypeError unless `value` is a Mapping (a list of names, e.g., would otherwise fail inside `dict()`)."""
    if not isinstance(value, Mapping):
        raise TypeError(f"{helper} takes a mapping such as {example}, not {type(value).__name__} {value!r}")


class ClockAnswer(TypedDict, total=False):
    """The clock as the admin API gives it (in `state()["clock"]`): `now` in epoch seconds (virtual), `mode`
    (`"real"`, `"manual"`), `timeScale` (virtual seconds per wall second), `timing` (the profile)."""

    now: float
    mode: str
    timeScale: float
    timing: str


class PendingTimer(TypedDict, total=False):
    """A pending transition of `state()["pendingTimers"]`: the resource it acts on (`resourceArn`: a cluster's ARN for
    the cluster lifecycle), its `event` (JSON text), `dueAt` (epoch seconds, virtual), the failed `attempts` so
    far, `setAside` (True after 5 failures: it no longer fires), and after a failure `lastError` and `retryAt`."""

    resourceArn: str
    event: str
    dueAt: float
    attempts: int
    setAside: bool
    lastError: str
    retryAt: float


class State(TypedDict, total=False):
    """`GET /_hyperpod/state` of one partition (`HyperPodLocal.state()`): `account`, `region`, `clusters` (as
    DescribeCluster shows them, with `Nodes`, `Tags`, `Attachments`), `pendingTimers`, `clock`, `trainingPlans`,
    `trainingPlanOfferings`, `governancePolicies`."""

    account: str
    region: str
    clusters: List[JSON]
    pendingTimers: List[PendingTimer]
    clock: ClockAnswer
    trainingPlans: List[JSON]
    trainingPlanOfferings: List[JSON]
    governancePolicies: List[JSON]


class CapacityPool(TypedDict, total=False):
    """One capacity pool: `instanceType`, `size` (instances it holds), `inUse`, `free` and, for a per-zone pool,
    `zone`."""

    instanceType: str
    size: int
    inUse: int
    free: int
    zone: str


class CapacityInfo(TypedDict, total=False):
    """The capacity pools of a partition (`capacity.get()`, `.set()`): `unlimited` is True when there are none."""

    account: str
    region: str
    unlimited: bool
    pools: List[CapacityPool]


class Quota(TypedDict, total=False):
    """One service quota: its AWS `name`, `value`, current `usage` and `unit`."""

    name: str
    value: int
    usage: int
    unit: str


class QuotasInfo(TypedDict, total=False):
    """The service quotas of a partition (`quotas.get()`, `.set()`)."""

    account: str
    region: str
    quotas: List[Quota]


class AdminOwner(Protocol):
    """What the helpers need of a server: one admin call."""

    def admin_request(self, method: str, path: str, body: Any = None, *,
                      query: Optional[Mapping[str, Optional[str]]] = None) -> Any: ...


def to_datetime(epoch_seconds: float) -> datetime:
    """Epoch seconds (the server's unit) as a timezone-aware UTC datetime."""
    return datetime.fromtimestamp(epoch_seconds, tz=timezone.utc)


def to_epoch(when: Union[datetime, float, int]) -> float:
    """A timezone-aware datetime, or epoch seconds, as epoch seconds. A naive datetime is refused (ValueError): it
    would be read in the machine's local time zone."""
    if isinstance(when, datetime):
        if when.tzinfo is None or when.tzinfo.utcoffset(when) is None:
            raise ValueError(f"{when!r} has no time zone; give e.g. datetime(…, tzinfo=timezone.utc)")
        return when.timestamp()
    return float(when)


def _partition(body: JSON, account: Optional[str], region: Optional[str]) -> JSON:
    check_account(account)
    if account is not None:
        body["account"] = account
    if region is not None:
        body["region"] = region
    return body


@dataclass(frozen=True)
class ClockState:
    """The virtual clock as `GET /_hyperpod/clock` answers it.

    `now` (UTC) and `epoch` (the same instant in epoch seconds); `mode` is `"real"` or `"manual"`; `time_scale` the
    virtual seconds per wall second of a real clock; `timing` the profile (`instant`, `fast`, `realistic`).
    """

    now: datetime
    epoch: float
    mode: str
    time_scale: float
    timing: str

    @classmethod
    def from_answer(cls, answer: Mapping[str, Any]) -> "ClockState":
        epoch = float(answer["now"])
        return cls(now=to_datetime(epoch), epoch=epoch, mode=str(answer.get("mode", "")),
                   time_scale=float(answer.get("timeScale", 1.0)), timing=str(answer.get("timing", "")))


@dataclass(frozen=True)
class SettleResult:
    """The answer of `POST /_hyperpod/settle`.

    `settled` is False when something was still transitional after `max_seconds` (e.g. launches waiting for
    capacity); `set_aside` lists the transitions set aside after failing 5 times (each a dict as the server gives
    it); `clock` is the clock after the settle; `raw` the whole JSON answer.
    """

    settled: bool
    clock: ClockState
    set_aside: List[JSON] = field(default_factory=list)
    raw: JSON = field(default_factory=dict)

    @property
    def now(self) -> datetime:
        """The virtual time the settle stopped at (UTC)."""
        return self.clock.now


class Clock:
    """The virtual clock: `POST`/`GET /_hyperpod/clock`. Reached as `HyperPodLocal.clock`."""

    def __init__(self, owner: AdminOwner) -> None:
        self._owner = owner

    def get(self) -> ClockState:
        """The clock's time, mode, time scale and timing profile."""
        return ClockState.from_answer(self._owner.admin_request("GET", "/_hyperpod/clock"))

    def now(self) -> datetime:
        """The virtual time now, as a timezone-aware UTC datetime."""
        return self.get().now

    def advance(self, seconds: float) -> datetime:
        """Moves a manual clock forward by `seconds` virtual seconds (≥ 0); transitions due on the way fire in order,
        each at its own time. Answers the new virtual time. A negative amount raises `HyperPodLocalError` (400)."""
        return ClockState.from_answer(
            self._owner.admin_request("POST", "/_hyperpod/clock", {"advanceSeconds": seconds})).now

    def set(self, when: Union[datetime, float]) -> datetime:
        """Moves a manual clock to `when` (an aware datetime, or epoch seconds); transitions due by then fire in
        order. Going backwards raises `HyperPodLocalError` (409). Answers the new virtual time."""
        return ClockState.from_answer(
            self._owner.admin_request("POST", "/_hyperpod/clock", {"set": to_epoch(when)})).now

    def set_time_scale(self, scale: float) -> ClockState:
        """Sets a real clock's virtual seconds per wall second (refused on a manual clock: `HyperPodLocalError`)."""
        return ClockState.from_answer(self._owner.admin_request("POST", "/_hyperpod/clock", {"timeScale": scale}))


class Capacity:
    """Capacity pools of a partition: `GET`/`PUT /_hyperpod/capacity`. Reached as `HyperPodLocal.capacity`."""

    def __init__(self, owner: AdminOwner) -> None:
        self._owner = owner

    def set(self, pools: Mapping[str, Union[int, Mapping[str, int]]], *, account: Optional[str] = None,
            region: Optional[str] = None) -> CapacityInfo:
        """Replaces the partition's pools. `{"ml.p5.48xlarge": 4}`: 4 more instances of the type may launch, in any
        zone; `{"ml.p5.48xlarge": {"us-east-1a": 2}}`: per zone (other zones none); `{}`: unlimited. Launches waiting
        for capacity retry at once. `account` (12 digits) and `region` choose the partition (default: the server's).
        Answers the pools as `get` does. Raises TypeError when `pools` is not a mapping (e.g. a list of types),
        ValueError for an `account` that is not 12 digits, `HyperPodLocalError` (400) for a bad pool."""
        _check_mapping(pools, "capacity.set", '{"ml.c5.xlarge": 4}')
        return cast(CapacityInfo, dict(self._owner.admin_request("PUT", "/_hyperpod/capacity",
                                                                 _partition(dict(pools), account, region))))

    def unlimited(self, *, account: Optional[str] = None, region: Optional[str] = None) -> CapacityInfo:
        """Removes every pool of the partition: every launch finds capacity again."""
        return self.set({}, account=account, region=region)

    def get(self, *, account: Optional[str] = None, region: Optional[str] = None) -> CapacityInfo:
        """`{"account", "region", "unlimited", "pools": [{"instanceType", "size", "inUse", "free"[, "zone"]}]}`.
        Raises ValueError for an `account` that is not 12 digits."""
        return cast(CapacityInfo, dict(self._owner.admin_request(
            "GET", "/_hyperpod/capacity", query={"account": check_account(account), "region": region})))


class Quotas:
    """Service quotas of a partition: `GET`/`PUT /_hyperpod/quotas`. Reached as `HyperPodLocal.quotas`."""

    def __init__(self, owner: AdminOwner) -> None:
        self._owner = owner

    def set(self, values: Mapping[str, int], *, account: Optional[str] = None,
            region: Optional[str] = None) -> QuotasInfo:
        """Sets quota values by their AWS names, e.g. `{"Number of SageMaker HyperPod clusters": 2}` or
        `{"ml.p5.48xlarge for cluster usage": 8}`; the others keep theirs. Answers the quotas as `get` does.
        Raises TypeError when `values` is not a mapping, ValueError for an `account` that is not 12 digits,
        `HyperPodLocalError` (400) for an unknown name."""
        _check_mapping(values, "quotas.set", '{"Number of SageMaker HyperPod clusters": 2}')
        return cast(QuotasInfo, dict(self._owner.admin_request("PUT", "/_hyperpod/quotas",
                                                               _partition(dict(values), account, region))))

    def get(self, *, account: Optional[str] = None, region: Optional[str] = None) -> QuotasInfo:
        """`{"account", "region", "quotas": [{"name", "value", "usage", "unit"}]}`. Raises ValueError for an
        `account` that is not 12 digits."""
        return cast(QuotasInfo, dict(self._owner.admin_request(
            "GET", "/_hyperpod/quotas", query={"account": check_account(account), "region": region})))


_CAMEL = re.compile(r"_([a-z0-9])")


def _camel(name: str) -> str:
    """`node_id` → `nodeId`, `source_s3_uri` → `sourceS3Uri`; a name without `_` is kept as it is."""
    return _CAMEL.sub(lambda m: m.group(1).upper(), name)


class Faults:
    """Fault injection: `POST`/`GET`/`DELETE /_hyperpod/faults`. Reached as `HyperPodLocal.faults`.

    The kinds and their members are listed in the repository's docs/admin-api.md (Faults).
    """

    def __init__(self, owner: AdminOwner) -> None:
        self._owner = owner

    def inject(self, kind: str, **fields: Any) -> str:
        """Adds a fault of `kind` (e.g. `"node-failure"`, `"api-error"`, `"launch-failure"`) and answers its id.

        `fields` are the body's members; snake_case names are sent in the server's camelCase (`node_id=` as
        `nodeId`, `instance_type=` as `instanceType`), camelCase ones as they are. An unknown kind or a bad member
        raises `HyperPodLocalError` with the server's message (400).
        """
        body: JSON = {"kind": kind}
        body.update({_camel(name): value for name, value in fields.items()})
        return str(self._owner.admin_request("POST", "/_hyperpod/faults", body)["id"])

    def node_failure(self, cluster: str, node_id: str, reason: str = "HardwareFailure") -> str:
        """The `Running` node `node_id` (InstanceId or NodeLogicalId) of `cluster` goes `Failure`; it acts once."""
        return self.inject("node-failure", cluster=cluster, node_id=node_id, reason=reason)

    def api_error(self, operation: str, code: str = "ThrottlingException", probability: float = 1.0) -> str:
        """`operation` (e.g. `"DescribeCluster"`, or `"*"`) answers `code` (`ThrottlingException` 400,
        `InternalFailure` 500, `ServiceUnavailable` 503) with the given probability (0–1)."""
        return self.inject("api-error", operation=operation, code=code, probability=probability)

    def launch_failure(self, instance_type: str, count: int = 1, cause: str = "capacity") -> str:
        """The next `count` launches of `instance_type` fail: `cause` is `"capacity"`, `"lifecycle-script"` or
        `"health-check"`."""
        return self.inject("launch-failure", instance_type=instance_type, count=count, cause=cause)

    def latency(self, operation: str, milliseconds: int) -> str:
        """Answers of `operation` (or `"*"`) are delayed by `milliseconds` of wall-clock time."""
        return self.inject("latency", operation=operation, milliseconds=milliseconds)

    def list(self) -> List[JSON]:
        """The active faults (a node failure acts once and is not listed), each with its `id`."""
        return list(self._owner.admin_request("GET", "/_hyperpod/faults")["faults"])

    def delete(self, fault_id: str) -> None:
        """Deletes one fault; an unknown id raises `HyperPodLocalError` (404)."""
        self._owner.admin_request("DELETE", f"/_hyperpod/faults/{fault_id}")

    def clear(self) -> None:
        """Deletes every active fault."""
        self._owner.admin_request("DELETE", "/_hyperpod/faults")


class Timing:
    """Transition durations: `GET`/`PUT /_hyperpod/timing`. Reached as `HyperPodLocal.timing`."""

    def __init__(self, owner: AdminOwner) -> None:
        self._owner = owner

    def set(self, durations: Optional[Mapping[str, float]] = None, /, **more: float) -> Dict[str, float]:
        """Overrides durations in virtual seconds, by key: `set(T_launch=30)` or `set({"T_launch": 30})` (keys:
        `T_setup`, `T_launch`, `T_dhc`, `T_config`, `T_term`, `T_delete`, `T_reboot`, …). An unknown key raises
        `HyperPodLocalError` (400), a `durations` that is not a mapping TypeError. A reset keeps the overrides.
        Answers every effective duration."""
        if durations is not None:
            _check_mapping(durations, "timing.set", '{"T_launch": 30}')
        body = dict(durations or {})
        body.update(more)
        return dict(self._owner.admin_request("PUT", "/_hyperpod/timing", body)["durations"])

    def get(self) -> Dict[str, float]:
        """Every effective duration in virtual seconds, by key."""
        return dict(self._owner.admin_request("GET", "/_hyperpod/timing")["durations"])

    def profile(self) -> str:
        """The timing profile the server runs: `instant`, `fast` or `realistic`."""
        return str(self._owner.admin_request("GET", "/_hyperpod/timing")["timing"])


class Settings:
    """Partition settings: `GET`/`PUT /_hyperpod/settings`. Reached as `HyperPodLocal.settings`."""

    def __init__(self, owner: AdminOwner) -> None:
        self._owner = owner

    def set(self, values: Mapping[str, Any], *, account: Optional[str] = None,
            region: Optional[str] = None) -> JSON:
        """Sets settings by their server names, e.g. `{"restrictedInstanceGroupsOnCreate": "allow"}`,
        `{"volumeAttachmentLimit": 4}`, `{"governanceOnClusterDelete": "cascade"}`. Answers the settings. Raises
        TypeError when `values` is not a mapping, ValueError for an `account` that is not 12 digits."""
        _check_mapping(values, "settings.set", '{"volumeAttachmentLimit": 4}')
        return dict(self._owner.admin_request("PUT", "/_hyperpod/settings",
                                              _partition(dict(values), account, region)))

    def get(self, *, account: Optional[str] = None, region: Optional[str] = None) -> JSON:
        """The partition's settings. Raises ValueError for an `account` that is not 12 digits."""
        return dict(self._owner.admin_request("GET", "/_hyperpod/settings",
                                              query={"account": check_account(account), "region": region}))
