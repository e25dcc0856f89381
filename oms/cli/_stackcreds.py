"""CLI room (`oms up`): every program of the stack gets its own credentials, none of them on argv.

Touches `<root>/var/run/creds/` (0700; one `<program>.json` and `<program>.pgpass` per program, 0600 from
creation), `<root>/var/secrets/audit.key` (the audit chain key, 0600, made once) and, once the services
answer, the database: migrations as the owner, then one LOGIN role per program (`oms_<program>`, member
of `oms_app`, oms/store/roles.py). Each program's environment names files, never secrets:

- `OMS_CREDENTIALS`: its NATS user (subject permissions in oms/services/natsauth.py) and Redis ACL user;
- `OMS_PG_DSN`: its own role, with `passfile=` pointing at its pgpass file;
- `OMS_AUDIT_KEY_FILE`: the chain key (audit writers and `oms audit verify`);
- the recorder also gets `OMS_AUDIT_HEAD_FILE` (where it exports the chain head), the gateway
  `OMS_GATEWAY__AUDIT_DSN` (its decisions into PostgreSQL) and every program
  `OMS_SECRETS__AUDIT_STORE=true` (key rotations into PostgreSQL).
"""

from __future__ import annotations

import json
import secrets
from pathlib import Path
from typing import Any

from oms.credentials import write_private
from oms.store.roles import role_name

AUDIT_KEY = "secrets/audit.key"
AUDIT_HEADS = "audit/audit-heads.jsonl"


def creds_dir(var: Path) -> Path:
    d = var / "run" / "creds"
    d.mkdir(parents=True, exist_ok=True, mode=0o700)
    return d


def prepare(var: Path, plan: dict[str, Any]) -> dict[str, str]:
    """Write each app program's credential files and extend its env; returns {pg role: password}."""
    from oms.store.audit import new_key_file

    services = plan["services"]
    nats, redis, pg = services.get("nats"), services.get("redis"), services.get("postgres")
    d = creds_dir(var)
    key_file = var / AUDIT_KEY
    key_file.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    new_key_file(key_file)
    roles: dict[str, str] = {}
    nats_users = getattr(nats, "users", None)  # None: auth off, or an existing NATS (the operator's users)
    if nats_users is not None:
        missing = [p.name for p in plan["programs"] if p.kind == "app" and p.name not in nats_users.users]
        if missing:  # e.g. a local cluster made with the default users: add them, re-render its config
            nats_users.ensure(missing)
            for node in getattr(nats, "nodes", [nats]):
                node._prepare()
    for p in plan["programs"]:
        if p.kind != "app":
            continue
        doc: dict[str, Any] = {}
        if nats_users is not None:
            doc["nats"] = nats.credential(p.name)
        if redis is not None and redis.auth:
            doc["redis"] = redis.credential(p.name)
        cred = write_private(d / f"{p.name}.json", json.dumps(doc))
        env = {"OMS_CREDENTIALS": str(cred), "OMS_AUDIT_KEY_FILE": str(key_file)}
        if pg is not None:
            role, pw = role_name(p.name), secrets.token_urlsafe(24)
            roles[role] = pw
            passfile = pg.write_passfile(d / f"{p.name}.pgpass", role, pw)
            dsn = pg.dsn_for(pg.database, user=role, passfile=passfile)
            env["OMS_PG_DSN"] = dsn
            env["OMS_SECRETS__AUDIT_STORE"] = "true"
            if p.name == "gateway":
                env["OMS_GATEWAY__AUDIT_DSN"] = dsn
        if p.name == "recorder":
            env["OMS_AUDIT_HEAD_FILE"] = str(var / AUDIT_HEADS)
        p.env = {**p.env, **env}
    return roles


def setup_database(plan: dict[str, Any], roles: dict[str, str]) -> None:
    """As the owner: apply migrations, then (re)create each program's role with its grants."""
    from oms.store.migrate import migrate
    from oms.store.roles import grant_app_role

    pg = plan["services"].get("postgres")
    if pg is None:
        return
    pg.ensure_database(pg.database)
    owner = pg.dsn_for(pg.database)
    migrate(owner)
    for role, pw in roles.items():
        grant_app_role(owner, role, pw)
