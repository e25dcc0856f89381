"""Store room: versioned schema migrations for PostgreSQL (`oms db migrate`).

Touches the database it is given: the `schema_migrations` table and whatever each migration creates.
Migrations are the files `oms/store/migrations/NNNN_name.sql`, applied in order, each in its own
transaction, under an advisory lock so two migrators never race. An applied migration whose file has
changed since (checksum) is an error naming the file: migrations are append-only, add a new one.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from importlib import resources

import psycopg

from oms import log
from oms.errors import ConfigError

_log = log.get(__name__)
_NAME = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")
_LOCK_KEY = 0x6F6D735F6D6967  # "oms_mig"


@dataclass(frozen=True, slots=True)
class Migration:
    version: int
    name: str
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()


def available() -> list[Migration]:
    out: list[Migration] = []
    root = resources.files("oms.store") / "migrations"
    for f in sorted(root.iterdir(), key=lambda p: p.name):
        if not f.name.endswith(".sql"):
            continue
        m = _NAME.match(f.name)
        if not m:
            raise ConfigError(f"migration file {f.name!r} must be named NNNN_lower_case_name.sql")
        out.append(Migration(int(m.group(1)), m.group(2), f.read_text()))
    versions = [m.version for m in out]
    if len(set(versions)) != len(versions):
        raise ConfigError(f"two migration files share a version number: {versions}")
    return out


def applied(conn: psycopg.Connection) -> dict[int, tuple[str, str]]:
    conn.execute(
        "CREATE TABLE IF NOT EXISTS schema_migrations (version integer PRIMARY KEY, name text NOT NULL, "
        "checksum text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())"
    )
    rows = conn.execute("SELECT version, name, checksum FROM schema_migrations").fetchall()
    return {int(v): (n, c) for v, n, c in rows}


def migrate(dsn: str, *, target: int | None = None) -> list[Migration]:
    """Apply every pending migration (up to `target`); returns the ones applied. Idempotent."""
    done: list[Migration] = []
    try:
        conn = psycopg.connect(dsn, autocommit=True, connect_timeout=5)
    except psycopg.OperationalError as e:
        raise ConfigError(f"cannot connect to PostgreSQL ({_safe(dsn)}): {str(e).strip()}") from e
    with conn:
        conn.execute("SELECT pg_advisory_lock(%s)", (_LOCK_KEY,))
        try:
            have = applied(conn)
            for m in available():
                if target is not None and m.version > target:
                    break
                if m.version in have:
                    _name, checksum = have[m.version]
                    if checksum != m.checksum:
                        raise ConfigError(
                            f"migration {m.version:04d}_{m.name}.sql changed after it was applied "
                            f"(checksum {checksum[:12]} in the database, {m.checksum[:12]} on disk); "
                            "migrations are append-only: restore the file and add a new migration"
                        )
                    continue
                with conn.transaction():
                    conn.execute(m.sql)
                    conn.execute(
                        "INSERT INTO schema_migrations (version, name, checksum) VALUES (%s, %s, %s)",
                        (m.version, m.name, m.checksum),
                    )
                _log.info("applied migration %04d_%s", m.version, m.name)
                done.append(m)
        finally:
            conn.execute("SELECT pg_advisory_unlock(%s)", (_LOCK_KEY,))
    return done


def status(dsn: str) -> list[tuple[Migration, bool]]:
    with psycopg.connect(dsn, autocommit=True, connect_timeout=5) as conn:
        have = applied(conn)
    return [(m, m.version in have) for m in available()]


def _safe(dsn: str) -> str:
    """The DSN without its password, for messages."""
    dsn = re.sub(r"(password\s*=\s*)\S+", r"\1***", dsn)
    return re.sub(r"(://[^:/@]+:)[^@]+@", r"\1***@", dsn)
