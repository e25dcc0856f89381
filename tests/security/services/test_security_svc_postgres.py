"""Security (services/store rooms): attacks on the real PostgreSQL server, each denied.

The session server (tests/conftest.py) runs as `oms up` runs it: scram-sha-256 only, a generated
superuser password in a 0600 file, no `trust` line. The programs' role (oms/store/roles.py) is attacked
as a program would be: it tries to rewrite the audit log, move its head, drop or disable the triggers.
"""

from __future__ import annotations

import shutil
import stat
import subprocess

import psycopg
import pytest

from oms.services.postgres import PostgresServer
from oms.store.audit import AuditLog

NO_PASSWORD = "passfile=/nonexistent"


def test_connect_without_or_with_a_wrong_password_is_refused(postgres_server: PostgresServer) -> None:
    base = f"host=127.0.0.1 port={postgres_server.port} dbname=postgres connect_timeout=3"
    with pytest.raises(psycopg.OperationalError, match="no password supplied"):
        psycopg.connect(f"{base} user=postgres {NO_PASSWORD}")
    with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
        psycopg.connect(f"{base} user=postgres password=guess {NO_PASSWORD}")
    # the unix socket asks for the password as well (no `trust` for local connections)
    sock = postgres_server._socket_dir()
    if sock:
        with pytest.raises(psycopg.OperationalError, match="no password supplied"):
            psycopg.connect(
                f"host={sock} port={postgres_server.port} user=postgres dbname=postgres {NO_PASSWORD}"
            )


def test_psql_without_the_password_is_refused(postgres_server: PostgresServer) -> None:
    psql = postgres_server.bin_dir / "psql"
    if not psql.exists():
        psql_path = shutil.which("psql")
        if psql_path is None:
            pytest.skip(
                "no psql binary next to the server's nor on PATH (the psycopg test covers the attack)"
            )
        psql = psql_path  # type: ignore[assignment]
    r = subprocess.run(
        [
            str(psql),
            "-w",
            "-h",
            "127.0.0.1",
            "-p",
            str(postgres_server.port),
            "-U",
            "postgres",
            "-c",
            "select 1",
        ],
        capture_output=True,
        text=True,
        env={"PATH": "/usr/bin:/bin", "PGPASSFILE": "/nonexistent", "HOME": "/nonexistent"},
        timeout=30,
    )
    assert r.returncode != 0 and "no password supplied" in r.stderr, r.stderr


def test_hba_allows_only_scram_and_the_password_files_are_private(postgres_server: PostgresServer) -> None:
    with postgres_server.connect() as c:
        rules = c.execute("select type, auth_method from pg_hba_file_rules").fetchall()
        assert rules and {m for _, m in rules} == {"scram-sha-256"}, rules
        assert c.execute("show password_encryption").fetchone() == ("scram-sha-256",)
    for p in (postgres_server.auth_dir / "postgres.password", postgres_server.passfile):
        assert stat.S_IMODE(p.stat().st_mode) == 0o600, p
    assert "password" not in postgres_server.dsn  # the DSN names a passfile, never the secret


def test_app_role_appends_and_reads_audit_but_cannot_rewrite_it(app_db: tuple[str, str]) -> None:
    owner, app = app_db
    log = AuditLog(app, key=b"k" * 32)
    for i in range(3):
        log.append("gateway", "SubmitOrder", f"order:{i}", {"qty": i})
    assert log.verify().ok and log.head()[0] == 3
    log.close()
    attacks = {
        "UPDATE audit_log SET actor = 'mallory' WHERE id = 1": "permission denied",
        "DELETE FROM audit_log WHERE id = 3": "permission denied",
        "TRUNCATE audit_log": "permission denied",
        "UPDATE audit_head SET last_id = 0": "permission denied",
        "DROP TRIGGER audit_log_no_update ON audit_log": "must be owner",
        "ALTER TABLE audit_log DISABLE TRIGGER USER": "must be owner",
        "DROP TABLE audit_log": "must be owner",
        "DROP FUNCTION audit_log_append_only() CASCADE": "must be owner",
        "CREATE TABLE evil (x int)": "permission denied",
        "ALTER ROLE CURRENT_USER SUPERUSER": "must be superuser",
        # a row that does not extend the chain (forged prev_hash) is refused by the owner's trigger
        "INSERT INTO audit_log (id, ts_ns, actor, action, subject, detail, ext_id, prev_hash, hash) "
        "VALUES (4, 1, 'x', 'y', 'z', '{}', NULL, '\\x00', '\\x00')": "does not extend the chain",
    }
    for sql, needle in attacks.items():
        with psycopg.connect(app, autocommit=True) as c, pytest.raises(psycopg.Error) as ei:
            c.execute(sql)
        assert needle in str(ei.value), (sql, str(ei.value))
    with psycopg.connect(owner) as c:  # nothing changed
        assert c.execute("select count(*), max(actor) from audit_log").fetchone() == (3, "gateway")


def test_app_role_is_not_the_owner(app_db: tuple[str, str]) -> None:
    _, app = app_db
    with psycopg.connect(app) as c:
        row = c.execute(
            "select r.rolsuper, r.rolcreaterole, r.rolcreatedb, t.tableowner = current_user "
            "from pg_roles r, pg_tables t where r.rolname = current_user and t.tablename = 'audit_log'"
        ).fetchone()
    assert row == (False, False, False, False)
