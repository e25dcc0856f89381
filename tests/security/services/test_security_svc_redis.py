"""Security (services/store rooms): attacks on the real Redis server, each denied.

The session redis-server (tests/conftest.py) runs with the ACL file `oms up` gives it: the `default` user
is off, each program has its own user limited to data commands (oms/services/redis.py).
"""

from __future__ import annotations

import stat

import pytest
import redis

from oms.services.redis import RedisServer
from oms.store.cache import HotCache


def test_anonymous_and_wrong_password_clients_are_refused(redis_server: RedisServer) -> None:
    with pytest.raises(redis.AuthenticationError):
        redis.Redis(host="127.0.0.1", port=redis_server.port, socket_connect_timeout=1).ping()
    with pytest.raises(redis.AuthenticationError):
        redis.Redis(host="127.0.0.1", port=redis_server.port, username="recorder", password="guess").ping()
    with pytest.raises(redis.AuthenticationError):  # the old default user with a guessed password
        redis.Redis(host="127.0.0.1", port=redis_server.port, password=redis_server.users["recorder"]).ping()


@pytest.mark.parametrize(
    "command",
    [
        ("CONFIG", "SET", "dir", "/tmp"),
        ("CONFIG", "GET", "requirepass"),
        ("MODULE", "LOAD", "/tmp/evil.so"),
        ("DEBUG", "SLEEP", "0"),
        ("FLUSHALL",),
        ("FLUSHDB",),
        ("ACL", "SETUSER", "recorder", "+@all"),
        ("ACL", "LIST"),
        ("SHUTDOWN", "NOSAVE"),
        ("SLAVEOF", "127.0.0.1", "1"),
        ("KEYS", "*"),
        ("BGSAVE",),
        ("CLIENT", "KILL", "TYPE", "normal"),
    ],
)
def test_app_user_cannot_run_admin_commands(redis_server: RedisServer, command: tuple[str, ...]) -> None:
    app = redis.Redis.from_url(redis_server.url_for("recorder"))
    try:
        with pytest.raises(redis.exceptions.NoPermissionError, match="no permissions"):
            app.execute_command(*command)
    finally:
        app.close()
    assert redis_server.client().ping()  # still up and unchanged


def test_app_user_does_its_job(redis_server: RedisServer) -> None:
    cache = HotCache(redis_server.url_for("recorder"), prefix="sectest")
    try:
        assert cache.r.set("sectest:x", "1") and cache.r.get("sectest:x") == b"1"
        assert cache.open_orders(1) == set()  # scripts and reads are allowed
    finally:
        cache.r.delete("sectest:x")
        cache.close()


def test_acl_and_password_files_are_private(redis_server: RedisServer) -> None:
    for p in (redis_server.acl_path, redis_server.data_dir / "auth" / "users.json"):
        assert stat.S_IMODE(p.stat().st_mode) == 0o600, p
    assert "@" not in redis_server.url
