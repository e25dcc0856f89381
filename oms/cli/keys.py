"""CLI room, `oms keys`: add, list, show-meta, rotate, import and check venue API keys (secrets room's face).

Touches the key store named in `[secrets]` (local keystore file or Vault), the secrets audit file, stdin and
stdout. A secret is read from stdin or a no-echo prompt, never from argv; nothing here prints, logs or
audits a secret or an API key in clear (keys are shown by fingerprint).
"""

from __future__ import annotations

import argparse
import calendar
import getpass
import json
import os
import stat
import sys
import time
from pathlib import Path
from typing import Any

import msgspec

from oms.errors import Rejected
from oms.secrets.audit import open_configured_audit
from oms.secrets.locked import LockedBuffer
from oms.secrets.model import DAY, KeyStore, fingerprint, new_metadata, parse_name
from oms.secrets.rotation import Rotator
from oms.secrets.settings import Settings, load_settings
from oms.secrets.store import open_store


def _csv(text: str | None) -> tuple[str, ...]:
    return tuple(x.strip() for x in (text or "").split(",") if x.strip())


def _read_pair(args: argparse.Namespace, what: str) -> tuple[str, LockedBuffer]:
    """API key and secret: two lines on stdin when it is not a terminal, else prompts (secret unechoed)."""
    if args.stdin or not sys.stdin.isatty():
        raw = bytearray(sys.stdin.buffer.read())
        lines = [ln.strip() for ln in bytes(raw).splitlines() if ln.strip()]
        raw[:] = b"\x00" * len(raw)
        if len(lines) != 2:
            raise Rejected(
                f"{what}: stdin must hold exactly two non-empty lines, the API key then the secret "
                f"(got {len(lines)} lines)"
            )
        api_key = lines[0].decode()
        secret = LockedBuffer.from_bytes(bytearray(lines[1]))
        return api_key, secret
    api_key = input(f"{what}: API key: ").strip()
    text = getpass.getpass(f"{what}: API secret (not echoed): ").strip()
    if not api_key or not text:
        raise Rejected(f"{what}: the API key and the secret must both be non-empty")
    return api_key, LockedBuffer.from_str(text)


def _expiry(text: str | None) -> float:
    if not text:
        return 0.0
    try:
        if text.endswith("d"):
            return time.time() + float(text[:-1]) * DAY
        return float(calendar.timegm(time.strptime(text, "%Y-%m-%d")))
    except ValueError:
        raise Rejected(f"--expires {text!r}: give a date YYYY-MM-DD or a number of days like 90d") from None


def _ctx(args: argparse.Namespace) -> tuple[Settings, KeyStore, Any]:
    s = load_settings(args.config)
    return s, open_store(s), open_configured_audit(s.audit_path, s.audit_store, args.config)


def _age(t: float) -> str:
    d = (time.time() - t) / DAY
    return f"{d:.1f}d" if d >= 1 else f"{d * 24:.1f}h"


def _when(t: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t)) if t else "-"


def cmd_add(args: argparse.Namespace) -> int:
    parse_name(args.name)
    s, store, audit = _ctx(args)
    try:
        have = store.current_version(args.name)
        if have and not args.new_version:
            raise Rejected(
                f"{args.name} already exists (version {have}); use `oms keys rotate {args.name}` to replace "
                "it with a grace period, or `add --new-version`"
            )
        api_key, secret = _read_pair(args, args.name)
        meta = new_metadata(
            permissions=_csv(args.permissions),
            ip_restrictions=_csv(args.ip),
            label=args.label or "",
            rotation_days=s.rotation_days,
            expires_at=_expiry(args.expires),
        )
        with secret:
            v = store.put(args.name, api_key, secret, meta, cas=None if args.new_version else 0)
        audit.record(
            "key.added", args.name, version=v, key=fingerprint(api_key), permissions=meta.permissions
        )
        print(f"{args.name}: version {v} stored (key {fingerprint(api_key)})")
    finally:
        store.close()
    return 0


def _rows(store: KeyStore) -> list[dict[str, Any]]:
    rows = []
    for name in store.names():
        vs = store.versions(name)
        if not vs:
            continue
        cur = vs[-1]
        rows.append(
            {
                "name": name,
                "versions": len(vs),
                "current": cur.version,
                "key": cur.key_fingerprint,
                "age": _age(cur.metadata.created_at),
                "rotate_after": _when(cur.metadata.rotate_after),
                "in_grace": [v.version for v in vs if v.state == "grace"],
                "revoked": [v.version for v in vs if v.state == "revoked"],
                "permissions": list(cur.metadata.permissions),
            }
        )
    return rows


def cmd_list(args: argparse.Namespace) -> int:
    _, store, _ = _ctx(args)
    try:
        rows = _rows(store)
    finally:
        store.close()
    if args.json:
        print(json.dumps(rows))
        return 0
    if not rows:
        print("no keys stored; add one with `oms keys add <exchange>_<market>`")
        return 0
    print(f"{'NAME':<16} {'VER':>4} {'#':>3} {'AGE':>7}  {'ROTATE AFTER':<21} {'KEY':<20} GRACE/REVOKED")
    for r in rows:
        print(
            f"{r['name']:<16} {r['current']:>4} {r['versions']:>3} {r['age']:>7}  {r['rotate_after']:<21} "
            f"{r['key']:<20} {r['in_grace'] or '-'}/{r['revoked'] or '-'}"
        )
    return 0


def cmd_show_meta(args: argparse.Namespace) -> int:
    parse_name(args.name)
    _, store, _ = _ctx(args)
    try:
        vs = store.versions(args.name)
    finally:
        store.close()
    if args.version:
        vs = [v for v in vs if v.version == args.version]
        if not vs:
            raise Rejected(f"{args.name} has no version {args.version}")
    out = [
        {"version": v.version, "state": v.state, "key": v.key_fingerprint, **msgspec.to_builtins(v.metadata)}
        for v in vs
    ]
    if args.json:
        print(json.dumps({"name": args.name, "versions": out}))
        return 0
    for o in out:
        print(f"{args.name} v{o['version']} [{o['state']}] key {o['key']}")
        perms, ips = ", ".join(o["permissions"]) or "-", ", ".join(o["ip_restrictions"]) or "-"
        print(f"  permissions: {perms}   ip: {ips}")
        print(
            f"  created {_when(o['created_at'])}  rotate_after {_when(o['rotate_after'])}  "
            f"expires {_when(o['expires_at'])}  revoke_after {_when(o['revoke_after'])}  "
            f"revoked {_when(o['revoked_at'])}"
        )
    return 0


def cmd_rotate(args: argparse.Namespace) -> int:
    s, store, audit = _ctx(args)
    try:
        api_key, secret = _read_pair(args, f"{args.name} (new key)")
        rot = Rotator(store, audit, s)
        with secret:
            res = rot.rotate(
                args.name,
                api_key,
                secret,
                permissions=_csv(args.permissions) or None,
                ip_restrictions=_csv(args.ip) or None,
                expires_at=_expiry(args.expires),
                grace_s=args.grace,
            )
    finally:
        store.close()
    print(
        f"{res.name}: v{res.old_version} -> v{res.new_version} (key {res.key_fingerprint}); the old key "
        f"stays valid until {_when(res.revoke_after)}, then `oms keys check` (or the schedule) revokes it"
    )
    return 0


def cmd_check(args: argparse.Namespace) -> int:
    s, store, audit = _ctx(args)
    try:
        alerts, revoked = Rotator(store, audit, s).tick()
    finally:
        store.close()
    for a in alerts:
        print(f"ALERT {a.kind}: {a.name} v{a.version}: {a.message}")
    for name, v in revoked:
        print(f"revoked {name} v{v}")
    if not alerts and not revoked:
        print("nothing due")
    return 1 if any(a.kind in ("rotation_overdue", "expired", "revoke_failed") for a in alerts) else 0


def cmd_import(args: argparse.Namespace) -> int:
    """Import keys from a JSON file: {"binance_spot": {"api_key", "secret", "permissions": [...]}}."""
    p = Path(args.file)
    if not p.is_file():
        raise Rejected(f"import file {p} does not exist")
    if p.stat().st_mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise Rejected(
            f"import file {p} is readable by group/others; `chmod 600 {p}` first (it holds secrets)"
        )
    try:
        doc = json.loads(p.read_bytes())
    except ValueError as e:
        raise Rejected(
            f"import file {p} is not valid JSON ({type(e).__name__} at position {e.args!r:.40})"
        ) from None
    if not isinstance(doc, dict) or not doc:
        raise Rejected(f"import file {p} must be a JSON object of <exchange>_<market> -> {{api_key, secret}}")
    for name, entry in doc.items():
        parse_name(name)
        if not isinstance(entry, dict) or not entry.get("api_key") or not entry.get("secret"):
            raise Rejected(f'import file {p}: entry {name!r} needs non-empty "api_key" and "secret"')
    s, store, audit = _ctx(args)
    try:
        for name, entry in doc.items():
            meta = new_metadata(
                permissions=tuple(entry.get("permissions", ())),
                ip_restrictions=tuple(entry.get("ip_restrictions", ())),
                label=str(entry.get("label", "")),
                rotation_days=s.rotation_days,
                expires_at=float(entry.get("expires_at", 0.0)),
            )
            with LockedBuffer.from_str(str(entry.pop("secret"))) as secret:
                v = store.put(name, str(entry["api_key"]), secret, meta)
            fp = fingerprint(str(entry["api_key"]))
            audit.record("key.imported", name, version=v, key=fp, source=str(p))
            print(f"{name}: version {v} imported (key {fp})")
    finally:
        store.close()
        doc.clear()
    print(f"done; delete {p} now (`shred -u {p}`): it holds secrets in clear")
    return 0


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    keys = sub.add_parser("keys", help="venue API keys: add, list, show-meta, rotate, import, check")
    keys.add_argument(
        "--config", default=os.environ.get("OMS_CONFIG"), help="configs/oms.toml to read [secrets]"
    )
    ks = keys.add_subparsers(dest="keys_command", metavar="ACTION", required=True)

    def pair_opts(p: argparse.ArgumentParser) -> None:
        p.add_argument("name", help="<exchange>_<market>, e.g. binance_spot")
        p.add_argument(
            "--stdin", action="store_true", help="read 'api key\\nsecret' from stdin (default if piped)"
        )
        p.add_argument("--permissions", help="comma list, e.g. SPOT,FUTURES (metadata)")
        p.add_argument("--ip", help="comma list of IP restrictions set at the venue (metadata)")
        p.add_argument("--expires", help="venue-side expiry: YYYY-MM-DD or e.g. 90d")

    p = ks.add_parser("add", help="store a key (secret from stdin or a prompt, never argv)")
    pair_opts(p)
    p.add_argument("--label", help="free text")
    p.add_argument("--new-version", action="store_true", help="allow adding over an existing name")
    p.set_defaults(func=cmd_add)

    p = ks.add_parser("list", help="names, versions, ages, fingerprints (never values)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_list)

    p = ks.add_parser("show-meta", help="metadata of every version of a key")
    p.add_argument("name")
    p.add_argument("--version", type=int)
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_show_meta)

    p = ks.add_parser("rotate", help="write a new key version; the old one stays valid for the grace period")
    pair_opts(p)
    p.add_argument("--grace", type=float, help="seconds the old key stays valid (default [secrets] grace_s)")
    p.set_defaults(func=cmd_rotate)

    p = ks.add_parser("import", help="import keys from a JSON file (mode 0600)")
    p.add_argument("file")
    p.set_defaults(func=cmd_import)

    p = ks.add_parser("check", help="run the schedule once: alerts and revocations due (exit 1 if overdue)")
    p.set_defaults(func=cmd_check)
