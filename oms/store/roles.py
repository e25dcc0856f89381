"""Store room: the database roles the programs log in as (never the owner).

Touches roles and grants of the database it is given, as its owner. `grant_app_role(owner_dsn, role,
password)` makes `role` a LOGIN member of the NOLOGIN group `oms_app`, which may only:
- SELECT/INSERT events and fills, SELECT/INSERT/UPDATE orders (the recorder's upsert);
- SELECT/INSERT audit_log and SELECT audit_head: no UPDATE/DELETE/TRUNCATE, and no way to drop or
  disable the triggers (that needs the owner); the head is advanced by the owner's trigger;
- SELECT schema_migrations.
Run after `migrate()` (the grants name the tables the migrations made).
"""

from __future__ import annotations

import psycopg
from psycopg import sql

GROUP = "oms_app"
GRANTS: dict[str, str] = {
    "events": "SELECT, INSERT",
    "fills": "SELECT, INSERT",
    "orders": "SELECT, INSERT, UPDATE",
    "audit_log": "SELECT, INSERT",
    "audit_head": "SELECT",
    "schema_migrations": "SELECT",
}


def role_name(program: str) -> str:
    """`oms_<program>` with '-' as '_' (conn-<venue> → oms_conn_<venue>)."""
    return "oms_" + program.replace("-", "_")


def grant_app_role(owner_dsn: str, role: str, password: str) -> None:
    """Create or update the LOGIN role `role` (member of oms_app) and (re)apply the group's grants."""
    with psycopg.connect(owner_dsn, autocommit=True) as c:
        have = {r[0] for r in c.execute("SELECT rolname FROM pg_roles").fetchall()}
        if GROUP not in have:
            c.execute(sql.SQL("CREATE ROLE {} NOLOGIN").format(sql.Identifier(GROUP)))
        verb = "ALTER" if role in have else "CREATE"
        c.execute(
            sql.SQL(
                verb + " ROLE {} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOBYPASSRLS PASSWORD {}"
            ).format(sql.Identifier(role), sql.Literal(password))
        )
        c.execute(sql.SQL("GRANT {} TO {}").format(sql.Identifier(GROUP), sql.Identifier(role)))
        tables = {r[0] for r in c.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")}
        for table, privs in GRANTS.items():
            if table in tables:
                c.execute(
                    sql.SQL("REVOKE ALL ON {} FROM {}").format(sql.Identifier(table), sql.Identifier(GROUP))
                )
                c.execute(
                    sql.SQL("GRANT " + privs + " ON {} TO {}").format(
                        sql.Identifier(table), sql.Identifier(GROUP)
                    )
                )
