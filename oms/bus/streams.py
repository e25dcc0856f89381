"""Bus room: JetStream streams, one per exchange and kind (ORDERS_BINANCE, ...) plus AUDIT and AUDIT_HEAD.

Touches the NATS server's stream configuration only. `desired_streams(settings)` computes the configs
from `[bus]`; `ensure_streams(js, settings)` creates missing streams and updates changed ones, so calling
it at every start is idempotent (an unchanged stream is left untouched). A change JetStream cannot apply
in place (storage type, retention) raises ConfigError naming the stream and key.
"""

from __future__ import annotations

import msgspec
from nats.js import JetStreamContext
from nats.js.api import DiscardPolicy, RetentionPolicy, StorageType, StreamConfig
from nats.js.errors import APIError, NotFoundError

from oms import log
from oms.bus import subjects
from oms.bus.settings import KINDS, Settings, StreamLimits
from oms.errors import ConfigError

_log = log.get(__name__)

_STORAGE = {"file": StorageType.FILE, "memory": StorageType.MEMORY}
_RETENTION = {
    "limits": RetentionPolicy.LIMITS,
    "interest": RetentionPolicy.INTEREST,
    "workqueue": RetentionPolicy.WORK_QUEUE,
}
_DISCARD = {"old": DiscardPolicy.OLD, "new": DiscardPolicy.NEW}


class StreamResult(msgspec.Struct):
    name: str
    action: str  # created | updated | unchanged


def _config(name: str, subj: list[str], lim: StreamLimits, description: str) -> StreamConfig:
    return StreamConfig(
        name=name,
        description=description,
        subjects=subj,
        retention=_RETENTION[lim.retention],
        discard=_DISCARD[lim.discard],
        max_age=lim.max_age_s,
        max_bytes=lim.max_bytes,
        max_msgs=lim.max_msgs,
        max_msg_size=lim.max_msg_size,
        storage=_STORAGE[lim.storage],
        num_replicas=lim.replicas,
        duplicate_window=lim.duplicate_window_s,
    )


def desired_streams(settings: Settings) -> list[StreamConfig]:
    """Every stream `[bus]` asks for: kinds × exchanges, plus AUDIT."""
    out: list[StreamConfig] = []
    for ex in settings.exchanges:
        for kind in KINDS:
            lim = settings.streams.get(kind, StreamLimits())
            out.append(
                _config(
                    subjects.stream_name(kind, ex),
                    subjects.stream_subjects(kind, ex),
                    lim,
                    f"OMS {kind} on {ex}",
                )
            )
    out.append(
        _config(
            subjects.AUDIT_STREAM,
            list(subjects.AUDIT_SUBJECTS),
            settings.streams.get("audit", StreamLimits()),
            "OMS audit records",
        )
    )
    out.append(
        _config(
            subjects.AUDIT_HEAD_STREAM,
            list(subjects.AUDIT_HEAD_SUBJECTS),
            settings.streams.get("audit", StreamLimits()),
            "OMS audit chain heads (a copy the database owner cannot rewrite)",
        )
    )
    return out


_COMPARED = (
    "subjects",
    "retention",
    "discard",
    "max_age",
    "max_bytes",
    "max_msgs",
    "max_msg_size",
    "storage",
    "num_replicas",
    "duplicate_window",
    "description",
)
_FIXED = ("storage", "retention")


def _norm(v: object) -> object:
    if isinstance(v, float):
        return round(v, 3)
    if isinstance(v, list):
        return sorted(v)
    return v


def _diff(have: StreamConfig, want: StreamConfig) -> list[str]:
    return [k for k in _COMPARED if _norm(getattr(have, k)) != _norm(getattr(want, k))]


async def ensure_streams(
    js: JetStreamContext, settings: Settings, *, update: bool = True
) -> list[StreamResult]:
    """Create or update every stream; idempotent. Returns what was done to each.

    With update=False (the recorder) existing streams are left as they are: the bridge owns their
    limits, and a consumer-side process must not fight it over them.
    """
    results: list[StreamResult] = []
    for want in desired_streams(settings):
        name = want.name or ""
        try:
            info = await js.stream_info(name)
        except NotFoundError:
            try:
                await js.add_stream(want)
            except APIError as e:
                raise ConfigError(
                    f"stream {name}: the server refused to create it ({e.description}); check "
                    f"[bus.streams] limits (max_bytes={want.max_bytes}) against the server's JetStream "
                    "max_file_store/max_memory_store"
                ) from e
            _log.info("stream %s created (%s)", name, ",".join(want.subjects or []))
            results.append(StreamResult(name, "created"))
            continue
        changed = _diff(info.config, want)
        if not changed or not update:
            if changed:
                _log.info("stream %s differs from [bus] in %s; left to the bridge", name, ",".join(changed))
            results.append(StreamResult(name, "unchanged"))
            continue
        fixed = [k for k in changed if k in _FIXED]
        if fixed:
            k = fixed[0]
            raise ConfigError(
                f"stream {name}: {k} is {getattr(info.config, k)} on the server but [bus.streams] asks for "
                f"{getattr(want, k)}; JetStream cannot change {k} in place: revert the setting or delete "
                f"the stream (nats stream rm {name}) after draining it"
            )
        try:
            await js.update_stream(want)
        except APIError as e:
            raise ConfigError(
                f"stream {name}: the server refused the update of {changed}: {e.description}"
            ) from e
        _log.info("stream %s updated (%s)", name, ",".join(changed))
        results.append(StreamResult(name, "updated"))
    return results
