"""Services room: NATS users and per-subject permissions, one user per program of the stack.

Touches `<nats data dir>/auth/users.json` (mode 0600 in a 0700 directory): the generated passwords, made
at first start and kept across restarts. `authorization_block()` renders the `authorization { users }`
section of nats.conf. What each program may publish and subscribe is the table `PERMISSIONS` below;
anything not listed is denied by the server (a publish outside the list is dropped with a permissions
violation, a subscribe outside it is refused). Only `admin` (operators, `oms` tools, tests) has `>`.

- only the bridge subscribes to `cmd.>` and publishes `orders.>`, `fills.>` (and the other event kinds);
- `audit.<origin>` only from the programs that audit (gateway, connectors for key rotations);
- a remote order sender `intake-<name>` may publish only `cmd.<name>.>`: the bridge reads the sender's
  identity from that token, which the server guarantees (oms/bus/intake.py maps it to accounts).
"""

from __future__ import annotations

import json
import re
import secrets
from pathlib import Path

from oms.credentials import check_private, write_private

INBOX = "_INBOX.>"
JS_API = "$JS.API.>"
ADMIN = "admin"
EVENT_SUBJECTS = ["orders.>", "fills.>", "market.>", "positions.>", "risk.>"]
# program -> (publish allow, subscribe allow); a `conn-<venue>` program uses the "conn" row
PERMISSIONS: dict[str, tuple[list[str], list[str]]] = {
    # the bridge answers intake requests through allow_responses (no general `_INBOX.>` publish)
    # node.<name>.cmd.>: intake requests forwarded between engine nodes' bridges (oms/bus/route.py)
    "bridge": ([*EVENT_SUBJECTS, JS_API, "monitor.stats.bridge", "node.>"], ["cmd.>", "node.>", INBOX]),
    "recorder": ([JS_API, "$JS.ACK.>", INBOX, "audithead.>", "monitor.stats.recorder"], [INBOX]),
    "monitor": ([INBOX], ["monitor.stats.>", "orders.>", "fills.>", "risk.>", INBOX]),
    "engine": (["monitor.stats.engine", "positions.>"], [INBOX]),  # PositionFeed (oms/engine/report.py)
    "marketdata": (["monitor.stats.marketdata"], [INBOX]),
    "gateway": (["audit.gateway", "monitor.stats.gateway"], [INBOX]),
    "conn": (["audit.secrets", "monitor.stats.{name}"], [INBOX]),
    "keys": (["monitor.stats.keys", "audit.secrets"], [INBOX]),  # key-rotation schedule (oms/procs/keys.py)
}
PROGRAMS = tuple(PERMISSIONS)
_NAME = re.compile(r"^[a-z0-9][a-z0-9_\-]{0,47}$")


def permissions(user: str) -> tuple[list[str], list[str]] | None:
    """(publish, subscribe) allow lists of `user`; None = everything (admin)."""
    if user == ADMIN:
        return None
    if user.startswith("intake-"):
        return [f"cmd.{user.removeprefix('intake-')}.>"], [INBOX]
    row = PERMISSIONS.get(user) or PERMISSIONS.get(user.split("-")[0])
    if row is None:  # an unknown program gets nothing but its inbox
        return [], [INBOX]
    pub, sub = row
    return [p.format(name=user) for p in pub], [s.format(name=user) for s in sub]


class NatsUsers:
    """The user → password table of one nats-server, persisted 0600 next to its config."""

    def __init__(self, auth_dir: Path) -> None:
        self.path = auth_dir / "users.json"
        self.users: dict[str, str] = {}
        if self.path.exists():
            check_private(self.path, "NATS user table")
            self.users = dict(json.loads(self.path.read_text()))

    def ensure(self, names: list[str] | tuple[str, ...]) -> bool:
        """Make a password for every name that has none; True if the table changed (and was saved)."""
        changed = False
        for name in (ADMIN, *names):
            if not _NAME.match(name):
                raise ValueError(f"NATS user name {name!r} must be 1-48 lower-case letters, digits, '_', '-'")
            if name not in self.users:
                self.users[name] = secrets.token_urlsafe(24)
                changed = True
        if changed:
            write_private(self.path, json.dumps(self.users, indent=1))
        return changed

    def password(self, name: str) -> str:
        try:
            return self.users[name]
        except KeyError:
            raise KeyError(f"no NATS user {name!r}; known: {', '.join(sorted(self.users))}") from None


def _quoted(items: list[str]) -> str:
    return "[" + ", ".join(json.dumps(i) for i in items) + "]"


def authorization_block(users: NatsUsers) -> str:
    lines = ["authorization {", "  users = ["]
    for name, pw in sorted(users.users.items()):
        perms = permissions(name)
        entry = f"    {{ user: {json.dumps(name)}, password: {json.dumps(pw)}"
        if perms is not None:
            pub, sub = perms
            # an empty allow list would mean "no restriction" to the server: deny everything instead
            pub_rule = f"allow: {_quoted(pub)}" if pub else 'deny: [">"]'
            entry += (
                f", permissions: {{ publish: {{ {pub_rule} }}, "
                f"subscribe: {{ allow: {_quoted(sub)} }}"
                + (", allow_responses: true" if name == "bridge" else "")
                + " }"
            )
        lines.append(entry + " }")
    lines += ["  ]", "}"]
    return "\n".join(lines) + "\n"
