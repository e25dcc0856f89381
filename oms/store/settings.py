"""Store room settings: the `[store]` section (PostgreSQL DSN, Redis URL, hot-cache TTLs).

Touches nothing; read by oms/store, oms/procs/recorder.py and `oms db` / `oms audit`. The DSN may also
come from the environment (`OMS_PG_DSN`, `OMS_REDIS_URL`), which wins over the file so a password
never has to sit in configs/oms.toml.
"""

from __future__ import annotations

import msgspec

SECTION = "store"


class Settings(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """`[store]`: where PostgreSQL and Redis are and how long cached entries live."""

    postgres_dsn: str = "host=127.0.0.1 port=5432 user=postgres dbname=oms"
    redis_url: str = "redis://127.0.0.1:6379/0"
    redis_prefix: str = "oms"
    # hot cache TTLs (seconds; 0 = no expiry)
    ttl_closed_order_s: int = 3600
    ttl_bbo_s: int = 10
    ttl_balance_s: int = 300
    ttl_position_s: int = 0
    # recorder: retry interval while PostgreSQL is unreachable
    reconnect_s: float = 0.5
    # recorder: PostgreSQL connections per stream that write one fetched batch in parallel (each a part
    # of the batch by client_order_id, each its own transaction; the batch is acked once all committed)
    writers: int = 4
    # recorder: export the audit chain's head to this file (and JetStream AUDIT_HEAD) every interval;
    # "" = JetStream only. `oms up` sets it (env OMS_AUDIT_HEAD_FILE) to var/audit/audit-heads.jsonl
    audit_head_file: str = ""
    audit_head_interval_s: float = 10.0


def validate(s: Settings) -> list[tuple[str, object, str]]:
    bad: list[tuple[str, object, str]] = []
    if not s.postgres_dsn.strip():
        bad.append(("store.postgres_dsn", s.postgres_dsn, "must be a libpq conninfo or postgresql:// URL"))
    if not s.redis_url.startswith(("redis://", "rediss://", "unix://")):
        bad.append(("store.redis_url", s.redis_url, "must be a redis://, rediss:// or unix:// URL"))
    if not s.redis_prefix or ":" in s.redis_prefix:
        bad.append(("store.redis_prefix", s.redis_prefix, "must be a non-empty word without ':'"))
    for key in ("ttl_closed_order_s", "ttl_bbo_s", "ttl_balance_s", "ttl_position_s"):
        if getattr(s, key) < 0:
            bad.append((f"store.{key}", getattr(s, key), "must be >= 0 seconds (0 = no expiry)"))
    if s.audit_head_interval_s <= 0:
        bad.append(("store.audit_head_interval_s", s.audit_head_interval_s, "must be > 0 seconds"))
    if s.reconnect_s <= 0:
        bad.append(("store.reconnect_s", s.reconnect_s, "must be > 0 seconds"))
    if not 1 <= s.writers <= 32:
        bad.append(("store.writers", s.writers, "must be 1..32 parallel PostgreSQL writers per stream"))
    return bad


def resolve(dsn: str | None = None, redis_url: str | None = None, config: str | None = None) -> Settings:
    """Settings with CLI arguments > environment > config file > defaults."""
    import os

    from oms.bus.settings import load_section

    # an explicit --dsn without --config needs nothing from the file (and must not fail on another
    # room's half-written section)
    s = Settings() if (dsn and not config) else load_section(config, SECTION, Settings)
    env_dsn, env_redis = os.environ.get("OMS_PG_DSN"), os.environ.get("OMS_REDIS_URL")
    s = msgspec.structs.replace(
        s,
        audit_head_file=os.environ.get("OMS_AUDIT_HEAD_FILE") or s.audit_head_file,
        postgres_dsn=dsn or env_dsn or s.postgres_dsn,
        redis_url=redis_url or env_redis or s.redis_url,
    )
    bad = validate(s)
    if bad:
        from oms.errors import ConfigError

        key, value, must = bad[0]
        raise ConfigError(f"{key} = {value!r}: {must}")
    return s
