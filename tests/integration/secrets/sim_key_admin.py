"""Secrets room test plugin: the Binance simulator's key management as a venue key API (`[secrets]
key_admins`), for the `keys` program in tests. The real Binance issues and deletes keys only in its web
UI; the simulator has an admin HTTP API (POST /_sim/keys, /_sim/revoke) that plays a venue that can.

`factory()` reads the simulator's URL from OMS_TEST_SIM_ADMIN_URL (the test sets it for the program).
"""

from __future__ import annotations

import json
import os
import secrets
import urllib.request

from oms.secrets.locked import LockedBuffer
from oms.secrets.model import Credential, KeyMetadata


class SimKeyAdmin:
    def __init__(self, url: str) -> None:
        self.url = url

    def _post(self, what: str, body: dict[str, object]) -> None:
        req = urllib.request.Request(
            f"{self.url}/_sim/{what}", json.dumps(body).encode(), {"Content-Type": "application/json"}
        )
        with urllib.request.urlopen(req, timeout=5) as r:
            assert json.loads(r.read())["ok"] is True

    def issue(self, name: str, previous: KeyMetadata) -> tuple[str, LockedBuffer]:
        key, secret = "AK" + secrets.token_hex(16), secrets.token_hex(32)
        self._post(
            "keys", {"key": key, "secret": secret, "permissions": list(previous.permissions or ("SPOT",))}
        )
        return key, LockedBuffer.from_str(secret)

    def revoke(self, name: str, credential: Credential) -> None:
        self._post("revoke", {"key": credential.api_key})


def factory() -> SimKeyAdmin:
    return SimKeyAdmin(os.environ["OMS_TEST_SIM_ADMIN_URL"])
