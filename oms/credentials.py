"""Foundation: a program's own server credentials, read from a 0600 file named by the environment.

Touches only the file named by `OMS_CREDENTIALS` (read, never written here) and private files created
with `write_private`. `oms up` gives every program of the stack its own credential file
(`var/run/creds/<program>.json`, mode 0600 in a 0700 directory) and passes its *path* in the
environment, never a password on argv: argv is readable by every user (`ps`).

The file is JSON: `{"nats": {"user": ..., "password": ...}, "redis": {"user": ..., "password": ...}}`;
PostgreSQL needs no entry here because its DSN names a libpq passfile (`passfile=...`, also 0600).
A file readable by group or others, or owned by someone else, is refused with a message saying how to
fix it: a credential another user could have read (or planted) is not a credential.
"""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from oms import log
from oms.errors import ConfigError

ENV = "OMS_CREDENTIALS"
_cache: dict[str, tuple[tuple[int, int], dict[str, Any]]] = {}


def check_private(path: str | os.PathLike[str], what: str = "credential file") -> os.stat_result:
    """stat() of a file that must be ours and not readable by group/others; ConfigError naming the fix."""
    p = Path(path)
    try:
        st = p.stat()
    except FileNotFoundError:
        raise ConfigError(f"{what} {p} does not exist; run `oms up` (or point {ENV} at it)") from None
    if st.st_uid != os.geteuid():
        raise ConfigError(f"{what} {p} belongs to uid {st.st_uid}, not to us ({os.geteuid()}); refusing it")
    if st.st_mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise ConfigError(
            f"{what} {p} is readable by group/others (mode {stat.S_IMODE(st.st_mode):o}); run `chmod 600 {p}`"
        )
    return st


def write_private(path: str | os.PathLike[str], data: str | bytes) -> Path:
    """Write a file that is 0600 from its creation (never chmod after write), atomically replaced."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = p.with_name(f".{p.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(data.encode() if isinstance(data, str) else data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, p)
    return p


def load(path: str | os.PathLike[str] | None = None) -> dict[str, Any]:
    """This program's credentials ({} when `OMS_CREDENTIALS` is unset and no path is given)."""
    where = str(path) if path else os.environ.get(ENV, "")
    if not where:
        return {}
    st = check_private(where)
    stamp = (st.st_ino, st.st_mtime_ns)
    hit = _cache.get(where)
    if hit is not None and hit[0] == stamp:
        return hit[1]
    try:
        doc = json.loads(Path(where).read_text())
    except ValueError as e:
        raise ConfigError(f"credential file {where} is not valid JSON ({e}); re-run `oms up`") from None
    if not isinstance(doc, dict):
        raise ConfigError(f"credential file {where} must hold a JSON object")
    for section in doc.values():
        if isinstance(section, dict) and section.get("password"):
            log.redact(str(section["password"]))
    _cache[where] = (stamp, doc)
    return doc


def safe_url(url: str) -> str:
    """The URL(s) with any userinfo removed, for messages and logs."""
    import re

    return re.sub(r"(://)[^/@\s,]*@", r"\1", url)


def nats_options(url: str = "") -> dict[str, str]:
    """`user`/`password` keyword arguments for nats.connect (none when the URL carries its own)."""
    if url and urlsplit(url.split(",")[0]).username:
        return {}
    nats = load().get("nats") or {}
    if not nats.get("user"):
        return {}
    return {"user": str(nats["user"]), "password": str(nats.get("password", ""))}


def redis_options(url: str = "") -> dict[str, str]:
    """`username`/`password` for redis.Redis.from_url (none when the URL carries its own)."""
    if url and urlsplit(url).password:
        return {}
    r = load().get("redis") or {}
    if not r.get("user"):
        return {}
    return {"username": str(r["user"]), "password": str(r.get("password", ""))}
