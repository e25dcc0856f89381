"""Bus room settings: the `[bus]` section of configs/oms.toml (NATS, JetStream streams, bridge spool).

Touches nothing; read by oms/bus, oms/procs/bridge.py and oms/procs/recorder.py through
`oms.config.load().section("bus")` (or `Settings()` for the defaults). Every field has a default so an
empty `[bus]` section is valid; `validate()` names each bad key, its value and what it must be.
"""

from __future__ import annotations

import re
from typing import TypeVar

import msgspec

T = TypeVar("T")

SECTION = "bus"

KINDS = ("orders", "fills", "market", "positions", "risk")
_STORAGE = ("file", "memory")
_RETENTION = ("limits", "interest", "workqueue")
_DISCARD = ("old", "new")


class StreamLimits(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """Retention and limits of one JetStream stream kind (applied to every exchange's stream of it)."""

    storage: str = "file"
    retention: str = "limits"
    discard: str = "old"
    max_age_s: float = 7 * 86400.0
    # -1 = bounded by age and by the server's JetStream max_file_store; a byte limit is *reserved* on
    # the server at stream creation, so 21 streams × N bytes must fit into its max_file_store
    max_bytes: int = -1
    max_msgs: int = -1
    max_msg_size: int = 8 * 1024 * 1024
    duplicate_window_s: float = 120.0
    replicas: int = 1


def _default_streams() -> dict[str, StreamLimits]:
    return {
        "orders": StreamLimits(),
        "fills": StreamLimits(max_age_s=30 * 86400.0),
        "market": StreamLimits(max_age_s=86400.0),
        "positions": StreamLimits(),
        "risk": StreamLimits(max_age_s=30 * 86400.0),
        "audit": StreamLimits(max_age_s=30 * 86400.0),
    }


class IntakeSender(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """One remote order sender (`[bus.intake_senders.<name>]`, NATS user `intake-<name>`)."""

    accounts: list[int] = msgspec.field(default_factory=list)  # the only accounts it may trade
    rate_per_s: float = 20.0  # commands per second (token bucket) ...
    burst: int = 40  # ... with this many at once
    admin: bool = False  # may send risk_limit / trading_state


class Settings(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """`[bus]`: where NATS is, which streams exist and how the bridge batches and spools."""

    nats_url: str = "nats://127.0.0.1:4222"
    # exchanges that get one stream per kind; "all" carries venue-less events (risk/trading state)
    exchanges: list[str] = msgspec.field(default_factory=lambda: ["binance", "bybit", "okx", "all"])
    streams: dict[str, StreamLimits] = msgspec.field(default_factory=_default_streams)
    # bridge: records per frame, frames awaiting a JetStream ack at once, ack timeout
    frame_records: int = 2048
    max_inflight: int = 64
    ack_timeout_s: float = 5.0
    # bridge spool (frames written here while NATS is unreachable, drained in order afterwards)
    spool_dir: str = "var/spool/bridge"
    spool_max_bytes: int = 1024**3
    spool_segment_bytes: int = 64 * 1024**2
    # scale-out: this node's producer id, stamped on every EVENT record the bridge publishes (0 = keep
    # the engine's own, 100). Engine nodes sharing the streams need distinct ids (>= 1000): their event
    # seqs overlap, and (source, seq) is what JetStream de-duplication and PostgreSQL key on.
    event_source: int = 0
    # scale-out: engine node name -> the accounts it owns (the same table on every node; empty = one
    # node owns all) and this node's name in it. Intake forwards a command to its account's node
    # over NATS (oms/bus/route.py).
    owners: dict[str, list[int]] = msgspec.field(default_factory=dict)
    node: str = ""
    # cross-host order intake (cmd.<sender>.<verb>.<exchange>.<market>.<symbol>): off by default; when on,
    # only the senders listed here are heard, each on its own accounts and rate
    intake: bool = False
    intake_senders: dict[str, IntakeSender] = msgspec.field(default_factory=dict)
    # market data on NATS (market.<exchange>.<market>.<symbol>, MARKET_<EXCHANGE> streams): the bridge
    # reads the marketdata program's md.bridge ring and publishes, per instrument and interval, one
    # frame with the latest BBO and every trade since the last one (0 = publish as it comes)
    market_data: bool = True
    market_interval_ms: int = 100
    # recorder: messages per pull, durable consumer name prefix, redelivery wait
    fetch_batch: int = 64
    durable_prefix: str = "recorder"
    ack_wait_s: float = 60.0


def validate(s: Settings) -> list[tuple[str, object, str]]:
    """Every problem as (key, value, "must be ...")."""
    from oms.ids import VENUES

    bad: list[tuple[str, object, str]] = []
    if not s.nats_url.startswith(("nats://", "tls://", "ws://", "wss://")):
        bad.append(("bus.nats_url", s.nats_url, "must be a nats:// (or tls://, ws://) URL"))
    for ex in s.exchanges:
        if ex != "all" and ex not in VENUES:
            bad.append(("bus.exchanges", ex, f"must be one of {sorted(VENUES)} or 'all'"))
    for kind, lim in s.streams.items():
        key = f"bus.streams.{kind}"
        if kind not in (*KINDS, "audit"):
            bad.append((key, kind, f"must be one of {[*KINDS, 'audit']}"))
        if lim.storage not in _STORAGE:
            bad.append((f"{key}.storage", lim.storage, f"must be one of {list(_STORAGE)}"))
        if lim.retention not in _RETENTION:
            bad.append((f"{key}.retention", lim.retention, f"must be one of {list(_RETENTION)}"))
        if lim.discard not in _DISCARD:
            bad.append((f"{key}.discard", lim.discard, f"must be one of {list(_DISCARD)}"))
        if lim.max_age_s < 0:
            bad.append((f"{key}.max_age_s", lim.max_age_s, "must be >= 0 (0 = unlimited)"))
        if lim.max_bytes == 0 or lim.max_bytes < -1:
            bad.append((f"{key}.max_bytes", lim.max_bytes, "must be > 0 or -1 (unlimited)"))
        if lim.max_msgs == 0 or lim.max_msgs < -1:
            bad.append((f"{key}.max_msgs", lim.max_msgs, "must be > 0 or -1 (unlimited)"))
        if lim.duplicate_window_s <= 0:
            bad.append((f"{key}.duplicate_window_s", lim.duplicate_window_s, "must be > 0 seconds"))
        if not 1 <= lim.replicas <= 5:
            bad.append((f"{key}.replicas", lim.replicas, "must be 1..5"))
    if s.event_source != 0 and not 1000 <= s.event_source <= 0xFFFFFFFF:
        bad.append(
            (
                "bus.event_source",
                s.event_source,
                "must be 0 (keep the engine's) or a node id 1000..4294967295",
            )
        )
    if s.owners and s.node not in s.owners:
        bad.append(("bus.node", s.node, f"must name this node in bus.owners ({', '.join(sorted(s.owners))})"))
    seen: dict[int, str] = {}
    for node, accounts in s.owners.items():
        if not node.replace("-", "").replace("_", "").isalnum():
            bad.append((f"bus.owners.{node}", node, "node names are letters, digits, '-' and '_'"))
        for a in accounts:
            if a in seen and seen[a] != node:
                bad.append((f"bus.owners.{node}", a, f"must not repeat account {a} of {seen[a]}"))
            seen[a] = node
    for name, snd in s.intake_senders.items():
        key = f"bus.intake_senders.{name}"
        if not re.match(r"^[a-z0-9][a-z0-9_\-]{0,47}$", name):
            bad.append((key, name, "must be 1-48 lower-case letters, digits, '_' or '-'"))
        if not snd.accounts or any(a <= 0 for a in snd.accounts):
            bad.append((f"{key}.accounts", snd.accounts, "must list the sender's accounts (ids > 0)"))
        if snd.rate_per_s <= 0 or snd.burst < 1:
            bad.append((f"{key}.rate_per_s", snd.rate_per_s, "must be > 0 with burst >= 1"))
    if s.intake and not s.intake_senders:
        bad.append(("bus.intake", s.intake, "needs at least one [bus.intake_senders.<name>] (who may send)"))
    if not 1 <= s.frame_records <= 65536:
        bad.append(("bus.frame_records", s.frame_records, "must be 1..65536"))
    if not 1 <= s.max_inflight <= 4096:
        bad.append(("bus.max_inflight", s.max_inflight, "must be 1..4096"))
    if s.ack_timeout_s <= 0:
        bad.append(("bus.ack_timeout_s", s.ack_timeout_s, "must be > 0 seconds"))
    if s.spool_max_bytes < s.spool_segment_bytes:
        bad.append(("bus.spool_max_bytes", s.spool_max_bytes, "must be >= bus.spool_segment_bytes"))
    if s.spool_segment_bytes < 64 * 1024:
        bad.append(("bus.spool_segment_bytes", s.spool_segment_bytes, "must be >= 65536"))
    if not 0 <= s.market_interval_ms <= 60_000:
        bad.append(("bus.market_interval_ms", s.market_interval_ms, "must be 0..60000 ms"))
    if not 1 <= s.fetch_batch <= 1024:
        bad.append(("bus.fetch_batch", s.fetch_batch, "must be 1..1024"))
    if s.ack_wait_s <= 1:
        bad.append(("bus.ack_wait_s", s.ack_wait_s, "must be > 1 second"))
    return bad


def load_section(config: str | None, section: str, cls: type[T]) -> T:
    """One room's section: through `oms.config.load` when the config room provides it, else straight
    from the TOML file (or the defaults when no file is given). Errors name the file, key and fix."""
    try:
        from oms.config import load  # type: ignore[attr-defined]  # foundation room
    except ImportError:
        load = None
    if load is not None:
        got = load(config).section(section)
        if isinstance(got, cls):
            return got
    if not config:
        return cls()
    import tomllib

    from oms.errors import ConfigError

    try:
        with open(config, "rb") as fh:
            data = tomllib.load(fh)
    except FileNotFoundError:
        raise ConfigError(f"config file {config} does not exist; pass an existing --config path") from None
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"{config}: not valid TOML: {e}") from None
    try:
        return msgspec.convert(data.get(section, {}), cls)
    except msgspec.ValidationError as e:
        raise ConfigError(f"{config}: [{section}] {e}") from None


def resolve(config: str | None = None, **overrides: object) -> Settings:
    """`[bus]` from the config file, then the non-None overrides (CLI flags); validated."""
    s = load_section(config, SECTION, Settings)
    set_ = {k: v for k, v in overrides.items() if v is not None}
    if set_:
        s = msgspec.structs.replace(s, **set_)
    bad = validate(s)
    if bad:
        from oms.errors import ConfigError

        key, value, must = bad[0]
        raise ConfigError(f"{key} = {value!r}: {must}")
    return s
