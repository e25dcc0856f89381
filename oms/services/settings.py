"""Services room: the `[services]` section of configs/oms.toml (the embedded local servers).

Touches nothing; the config loader (oms.config) discovers this module. Port 0 means "pick a free
loopback port at start" (the right default on a shared machine); the ports actually used are written
to `<run_dir>/services.json` by `oms services up`, which is where other programs read them.
"""

from __future__ import annotations

import msgspec

SECTION = "services"
KNOWN = ("nats", "postgres", "redis", "openbao")
_SIZE = r"^\d+(K|M|G|T|KB|MB|GB|TB)?$"


class NatsSettings(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    port: int = 0
    monitor_port: int = 0
    max_memory_store: str = "256MB"  # JetStream caps (defaults would be ~75% of RAM and disk)
    max_file_store: str = "1GB"
    max_payload: str = "8MB"
    # 1 = one local nats-server; 3 or 5 = that many local nodes in one cluster (oms/services/nats_cluster.py)
    cluster: int = 1
    # an existing NATS (cluster) instead of a local one: ["nats://host-a:4222", "nats://host-b:4222", ...]
    urls: list[str] = []
    # JetStream's sync policy: "always" fsyncs every write before the publish is acked (durable by
    # default); a duration like "2m" syncs on a timer (faster, loses up to that much on power loss)
    sync_interval: str = "always"


class PostgresSettings(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    port: int = 0
    database: str = "oms"
    # on by default (synchronous_commit is always on): set false only for a throwaway run, explicitly
    fsync: bool = True


class RedisSettings(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    port: int = 0
    persistent: bool = False  # False: --save "" --appendonly no (a pure cache)


class OpenBaoSettings(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    port: int = 0  # the cluster listener takes port + 1 as well
    root_token: str = ""  # empty = a random token per start (written to services.json, mode 0600)


class Settings(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    data_dir: str = "var/data"  # one sub-directory per service
    run_dir: str = "var/run"  # services.json (pids, ports, urls) lives here
    log_dir: str = "var/log"
    start: list[str] = msgspec.field(default_factory=lambda: list(KNOWN))
    start_timeout_s: float = 60.0
    nats: NatsSettings = msgspec.field(default_factory=NatsSettings)
    postgres: PostgresSettings = msgspec.field(default_factory=PostgresSettings)
    redis: RedisSettings = msgspec.field(default_factory=RedisSettings)
    openbao: OpenBaoSettings = msgspec.field(default_factory=OpenBaoSettings)


def validate(s: Settings) -> list[tuple[str, object, str]]:
    import re

    problems: list[tuple[str, object, str]] = []
    for i, name in enumerate(s.start):
        if name not in KNOWN:
            problems.append((f"start[{i}]", name, f"must be one of {', '.join(KNOWN)}"))
    if len(set(s.start)) != len(s.start):
        problems.append(("start", s.start, "must not name a service twice"))
    for key, port in (
        ("nats.port", s.nats.port),
        ("nats.monitor_port", s.nats.monitor_port),
        ("postgres.port", s.postgres.port),
        ("redis.port", s.redis.port),
    ):
        if not 0 <= port <= 65535:
            problems.append((key, port, "must be 0..65535 (0 picks a free loopback port)"))
    if s.nats.cluster not in (1, 3, 5):
        problems.append(("nats.cluster", s.nats.cluster, "must be 1 (one server), 3 or 5 (a cluster)"))
    for i, url in enumerate(s.nats.urls):
        if not url.startswith(("nats://", "tls://")):
            problems.append(
                (f"nats.urls[{i}]", url, "must be a nats:// or tls:// URL like nats://10.0.0.5:4222")
            )
    if s.nats.urls and s.nats.cluster != 1:
        problems.append(("nats.cluster", s.nats.cluster, "must stay 1 when nats.urls names an existing NATS"))
    if not 0 <= s.openbao.port <= 65534:
        problems.append(("openbao.port", s.openbao.port, "must be 0..65534 (it also binds port + 1)"))
    for key in ("max_memory_store", "max_file_store", "max_payload"):
        v = getattr(s.nats, key)
        if not re.match(_SIZE, v.upper()):
            problems.append((f"nats.{key}", v, "must be a size like 256MB or 1GB"))
    if s.nats.sync_interval != "always" and not re.match(r"^\d+(ms|s|m|h)$", s.nats.sync_interval):
        problems.append(
            ("nats.sync_interval", s.nats.sync_interval, 'must be "always" or a duration like 2m')
        )
    if not re.match(r"^[A-Za-z_][A-Za-z0-9_]{0,62}$", s.postgres.database):
        problems.append(("postgres.database", s.postgres.database, "must be a plain identifier like oms"))
    if s.start_timeout_s <= 0:
        problems.append(("start_timeout_s", s.start_timeout_s, "must be > 0 seconds"))
    for key in ("data_dir", "run_dir", "log_dir"):
        if not getattr(s, key):
            problems.append((key, getattr(s, key), "must be a directory path"))
    return problems
