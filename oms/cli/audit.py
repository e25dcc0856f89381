"""CLI room, `oms audit`: verify and read the hash-chained audit log (store room's command group).

Touches the database named by --dsn, env OMS_PG_DSN or `[store].postgres_dsn`, read-only; the chain key
file (--key-file or env OMS_AUDIT_KEY_FILE) and the exported heads (--heads FILE, --nats-url), read-only.

    oms audit verify [--dsn DSN] [--key-file F] [--heads F] [--nats-url U] [--json]
                     walk the chain (HMAC under the key) and compare it with the exported heads;
                     exit 0 intact, 1 tampered (each bad row named)
    oms audit tail   [--dsn DSN] [-n 20]    the last rows
"""

from __future__ import annotations

import argparse
import json
import sys

import psycopg

from oms.errors import ConfigError
from oms.store.audit import AuditLog, load_key
from oms.store.settings import resolve


def _log(args: argparse.Namespace) -> AuditLog:
    key = load_key(getattr(args, "key_file", None))
    return AuditLog(resolve(args.dsn, None, args.config).postgres_dsn, key=key)


def _exported(args: argparse.Namespace) -> list[tuple[int, bytes]]:
    from oms.store import audithead

    heads: list[tuple[int, bytes]] = []
    if args.heads:
        heads += audithead.read_file(args.heads)
    if args.nats_url:
        import asyncio

        from oms.bus.bridge import connect_nats

        async def fetch() -> list[tuple[int, bytes]]:
            nc = await connect_nats(args.nats_url, "oms-audit-verify")
            try:
                return await audithead.read_stream(nc.jetstream())
            finally:
                await nc.close()

        heads += asyncio.run(fetch())
    return heads


def _verify(args: argparse.Namespace) -> int:
    from oms.store.audithead import check_exported

    log = _log(args)
    try:
        rep = log.verify()
        heads = _exported(args)
        if heads:
            rep.problems += check_exported(log.rows(), heads)
        elif log.key is None:
            print(
                "warning: no chain key (--key-file / OMS_AUDIT_KEY_FILE) and no exported heads: "
                "a chain rewritten and re-hashed inside the database would pass this check",
                file=sys.stderr,
            )
    except psycopg.OperationalError as e:
        raise ConfigError(f"cannot connect to PostgreSQL: {str(e).strip()}") from e
    except psycopg.errors.UndefinedTable as e:
        raise ConfigError("no audit tables in this database: run `oms db migrate` first") from e
    finally:
        log.close()
    if args.json:
        print(
            json.dumps(
                {
                    "ok": rep.ok,
                    "rows": rep.rows,
                    "head_id": rep.head_id,
                    "head_hash": rep.head_hash.hex(),
                    "problems": rep.problems,
                }
            )
        )
    elif rep.ok:
        print(f"audit log intact: {rep.rows} rows, head id={rep.head_id} hash={rep.head_hash.hex()}")
    else:
        print(f"audit log TAMPERED: {len(rep.problems)} problem(s) in {rep.rows} rows")
        for p in rep.problems:
            print(f"  {p}")
    return 0 if rep.ok else 1


def _tail(args: argparse.Namespace) -> int:
    log = _log(args)
    try:
        rows = log.rows()[-args.n :]
    except psycopg.OperationalError as e:
        raise ConfigError(f"cannot connect to PostgreSQL: {str(e).strip()}") from e
    finally:
        log.close()
    for r in rows:
        print(
            f"{r.id:>8} {r.ts_ns} {r.actor:<16} {r.action:<20} {r.subject:<28} {r.detail} {r.hash.hex()[:16]}"
        )
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("audit", help="audit log (hash chain): verify, tail")
    s = p.add_subparsers(dest="audit_command", metavar="SUBCOMMAND", required=True)
    v = s.add_parser("verify", help="detect changed, removed or reordered rows (exit 1 if any)")
    v.add_argument("--json", action="store_true", help="one JSON object")
    v.add_argument("--key-file", default=None, help="chain key file (default: env OMS_AUDIT_KEY_FILE)")
    v.add_argument("--heads", default=None, help="exported heads file (var/audit/audit-heads.jsonl)")
    v.add_argument("--nats-url", default=None, help="also compare with the heads in JetStream AUDIT_HEAD")
    v.set_defaults(func=_verify)
    t = s.add_parser("tail", help="print the last rows")
    t.add_argument("-n", type=int, default=20)
    t.set_defaults(func=_tail)
    for q in (v, t):
        q.add_argument("--dsn", default=None, help="libpq conninfo (default: env OMS_PG_DSN, [store])")
        q.add_argument("--config", default=None, help="configs/oms.toml path")
