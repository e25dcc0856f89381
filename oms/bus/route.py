"""Bus room: scale-out command routing — each account belongs to one engine node; NATS intake hands a
command to the node that owns its account.

Touches its NATS subscriptions and, through the node's own `CommandIntake`, that node's command ring.
Every node's bridge subscribes twice:
 - the public `cmd.<verb>.<exchange>.<market>.<symbol>` in the queue group `oms-bridge` (any one node
   gets each request): commands of accounts this node owns go into its ring; those of another node are
   forwarded as a request to `node.<owner>.cmd.<...>` and that node's reply is returned as it is;
 - its own `node.<me>.cmd.>`: forwarded commands, taken only for accounts it owns (never forwarded
   again, so a wrong table cannot loop).
The table (`[bus].owners`: node name → accounts) is the same on every node. A request whose accounts
are on several nodes, or on none, is rejected with a message naming the table; a node that does not
answer in time is a transient error (retry). Replies are the intake's `Reply` JSON.
"""

from __future__ import annotations

from typing import Any

import msgspec
import numpy as np

from oms.bus import subjects
from oms.bus.intake import CommandIntake, Reply
from oms.errors import OmsError, Rejected, Transient

NODE_PREFIX = "node"
_enc = msgspec.json.Encoder()


def node_subject(node: str, subject: str) -> str:
    return f"{NODE_PREFIX}.{node}.{subject}"


def _reply_error(e: OmsError) -> bytes:
    return _enc.encode(
        Reply(ok=False, code="transient" if isinstance(e, Transient) else "rejected", error=str(e))
    )


class AccountRouter:
    """Routes intake requests by account (see the module docstring)."""

    def __init__(
        self, intake: CommandIntake, me: str, owners: dict[str, list[int]], nc: Any, *, timeout_s: float = 2.0
    ) -> None:
        self.intake, self.me, self.nc, self.timeout_s = intake, me, nc, timeout_s
        self.owner: dict[int, str] = {}
        for node, accounts in owners.items():
            for a in accounts:
                if a in self.owner and self.owner[a] != node:
                    raise Rejected(f"[bus].owners: account {a} is given to both {self.owner[a]} and {node}")
                self.owner[int(a)] = node
        if me not in owners:
            raise Rejected(
                f"[bus].owners has no entry for this node {me!r}; nodes: {', '.join(sorted(owners))}"
            )
        self.forwarded = 0

    def owner_of(self, recs: np.ndarray) -> str:
        """The one node owning every account of `recs` (Rejected when none or several)."""
        nodes = {self.owner.get(int(a), "") for a in np.unique(recs["account"])}
        if "" in nodes:
            missing = sorted(int(a) for a in np.unique(recs["account"]) if int(a) not in self.owner)
            raise Rejected(f"account(s) {missing} belong to no engine node; [bus].owners: {self._table()}")
        if len(nodes) > 1:
            raise Rejected(
                f"one request holds accounts of several nodes ({', '.join(sorted(nodes))}); "
                "send one request per node's accounts"
            )
        return nodes.pop()

    def _table(self) -> str:
        by: dict[str, list[int]] = {}
        for a, n in sorted(self.owner.items()):
            by.setdefault(n, []).append(a)
        return "; ".join(f"{n}: {a}" for n, a in sorted(by.items()))

    async def on_public(self, subject: str, data: bytes) -> bytes:
        """A request on the public cmd.> subject: take it here or forward it to its owner."""
        try:
            cs = subjects.parse_command(subject)
            node = self.owner_of(self.intake._decode(cs, data))
        except OmsError as e:
            self.intake.rejected += 1
            return _reply_error(e)
        if node == self.me:
            return self.intake.handle(subject, data)
        try:
            msg = await self.nc.request(node_subject(node, subject), data, timeout=self.timeout_s)
        except Exception as e:  # timeout, no responders: the owner is down or restarting
            return _reply_error(Transient(f"engine node {node} did not answer ({type(e).__name__}); retry"))
        self.forwarded += 1
        return bytes(msg.data)

    async def on_node(self, subject: str, data: bytes) -> bytes:
        """A request forwarded to this node: only its own accounts, never forwarded again."""
        inner = subject.split(".", 2)[2] if subject.count(".") >= 2 else subject
        try:
            node = self.owner_of(self.intake._decode(subjects.parse_command(inner), data))
            if node != self.me:
                raise Rejected(
                    f"forwarded to {self.me} but the accounts belong to {node}; check [bus].owners"
                )
        except OmsError as e:
            self.intake.rejected += 1
            return _reply_error(e)
        return self.intake.handle(inner, data)

    async def subscribe(self, nc: Any) -> None:
        """Both subscriptions on `nc` (the intake connection)."""

        async def public(msg: Any) -> None:
            reply = await self.on_public(msg.subject, msg.data)
            if msg.reply:
                await msg.respond(reply)

        async def own(msg: Any) -> None:
            reply = await self.on_node(msg.subject, msg.data)
            if msg.reply:
                await msg.respond(reply)

        await nc.subscribe(subjects.COMMAND_WILDCARD, queue="oms-bridge", cb=public)
        await nc.subscribe(node_subject(self.me, subjects.COMMAND_WILDCARD), cb=own)
        await nc.flush()
