"""Bus room: cross-host order intake, NATS `cmd.<sender>.<verb>.<exchange>.<market>.<symbol>` → command ring.

Touches the command ring it is given (names.bridge_commands, as its single producer) and its NATS
subscription. Off by default (`[bus] intake = false`). A second host, logged in to NATS as
`intake-<sender>` (the server lets it publish only under `cmd.<sender>.>`), sends a request (JSON
`CommandIn`, or an OMSF frame of COMMAND records) and gets `{"ok": true, "accepted": n, "seq": [...]}`
once the command is in the engine's ring, or `{"ok": false, "code": "rejected"|"transient"|
"rate_limited", "error": "..."}` naming what was wrong. Before anything reaches the engine:
- the sender must be configured (`[bus.intake_senders.<sender>]`), within its rate (token bucket), and
  every command's account must be one of the sender's accounts (risk/trading-state verbs need admin);
- every command is checked against its subject (verb ↔ kind, exchange/market ↔ ids) and its fields;
- the bridge assigns the sequence numbers (monotonic from the wall clock at start, so they do not
  repeat across restarts); a sender's own `seq` is ignored, it cannot replay or collide.
A full ring is a transient error (retry), never a silent drop.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping

import msgspec
import numpy as np

from oms.bus import frames as F
from oms.bus import subjects
from oms.bus.settings import IntakeSender
from oms.errors import OmsError, Rejected, Transient
from oms.ids import MARKETS, VENUES
from oms.shm import records as R
from oms.shm.ring import Ring

SOURCE_BRIDGE = 2  # COMMAND.source of commands that came in over NATS

VERB_KIND = {
    "submit": R.SUBMIT_ORDER,
    "modify": R.MODIFY_ORDER,
    "cancel": R.CANCEL_ORDER,
    "cancel_all": R.CANCEL_ALL,
    "risk_limit": R.SET_RISK_LIMIT,
    "trading_state": R.SET_TRADING_STATE,
    "leverage": R.SET_LEVERAGE,
    "margin_mode": R.SET_MARGIN_MODE,
}
MARGIN_MODES = {"cross": R.MARGIN_CROSS, "isolated": R.MARGIN_ISOLATED}
SIDES = {"buy": R.SIDE_BUY, "sell": R.SIDE_SELL}
ORDER_TYPES = {
    "limit": R.ORD_LIMIT,
    "market": R.ORD_MARKET,
    "stop_market": R.ORD_STOP_MARKET,
    "stop_limit": R.ORD_STOP_LIMIT,
    "take_profit_market": R.ORD_TAKE_PROFIT_MARKET,
    "take_profit_limit": R.ORD_TAKE_PROFIT_LIMIT,
    "trailing_stop_market": R.ORD_TRAILING_STOP_MARKET,
}
TIFS = {"gtc": R.TIF_GTC, "ioc": R.TIF_IOC, "fok": R.TIF_FOK, "gtx": R.TIF_GTX}
# OCO: both legs say "oco", the second's ref_id is the first's client_order_id; bracket: the entry says
# "bracket_entry", each exit "bracket_child" with ref_id = the entry's id (send them in one request, entry
# first, so the engine links them in one pass; oms/engine/conditional.py).
CONTINGENCIES = {
    "": R.CONT_NONE,
    "none": R.CONT_NONE,
    "oco": R.CONT_OCO,
    "bracket_entry": R.CONT_BRACKET_ENTRY,
    "bracket_child": R.CONT_BRACKET_CHILD,
}


class CommandIn(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """JSON form of one command (prices in ticks, quantities in lots, as in the COMMAND record)."""

    client_order_id: int = 0
    account: int = 0
    instrument: int = 0
    side: str = ""
    order_type: str = "limit"
    tif: str = "gtc"
    price: int = 0
    qty: int = 0
    trigger_price: int = 0
    trail: int = 0
    ref_id: int = 0
    contingency: str = ""
    flags: int = 0
    expire_ns: int = 0
    seq: int = 0
    param_id: int = 0
    param_scope: int = 0
    param_value: int = 0
    leverage: int = 0  # SetLeverage: whole-number leverage (param_value = leverage x 100)
    margin_mode: str = ""  # SetMarginMode: "cross" or "isolated" (param_id)


class Reply(msgspec.Struct, omit_defaults=True):
    ok: bool
    accepted: int = 0
    seq: list[int] = msgspec.field(default_factory=list)
    code: str = ""
    error: str = ""


_dec_one = msgspec.json.Decoder(CommandIn)
_dec_many = msgspec.json.Decoder(list[CommandIn])
_enc = msgspec.json.Encoder()


def _pick(table: dict[str, int], value: str, field: str) -> int:
    try:
        return table[value.lower()]
    except KeyError:
        raise Rejected(f"field {field}={value!r} is not one of {', '.join(table)}") from None


def to_records(cs: subjects.CommandSubject, items: list[CommandIn]) -> np.ndarray:
    kind = VERB_KIND[cs.verb]
    out = R.new(R.COMMAND, len(items))
    venue = VENUES[cs.exchange] if cs.exchange != subjects.ALL else 0
    market = MARKETS[cs.market] if cs.market != subjects.ALL else 0
    for i, c in enumerate(items):
        r = out[i]
        r["kind"], r["venue"], r["market"] = kind, venue, market
        r["account"], r["instrument"] = c.account, c.instrument
        r["client_order_id"], r["ref_id"], r["flags"] = c.client_order_id, c.ref_id, c.flags
        r["price"], r["qty"], r["trigger_price"], r["trail"] = c.price, c.qty, c.trigger_price, c.trail
        r["expire_ns"], r["seq"] = c.expire_ns, c.seq
        r["param_id"], r["param_scope"], r["param_value"] = c.param_id, c.param_scope, c.param_value
        if c.side:
            r["side"] = _pick(SIDES, c.side, f"[{i}].side")
        r["order_type"] = _pick(ORDER_TYPES, c.order_type, f"[{i}].order_type")
        r["tif"] = _pick(TIFS, c.tif, f"[{i}].tif")
        r["contingency"] = _pick(CONTINGENCIES, c.contingency, f"[{i}].contingency")
        if c.leverage:
            r["param_value"] = c.leverage * 100
        if c.margin_mode:
            r["param_id"] = _pick(MARGIN_MODES, c.margin_mode, f"[{i}].margin_mode")
    return out


def check(cs: subjects.CommandSubject, recs: np.ndarray) -> None:
    """Raise Rejected naming the first record/field that does not fit the subject or the kind."""
    kind = VERB_KIND[cs.verb]
    venue = VENUES.get(cs.exchange, 0)
    market = MARKETS.get(cs.market, 0)
    for i, r in enumerate(recs):
        where = f"command [{i}]"
        if int(r["kind"]) != kind:
            raise Rejected(f"{where}: kind {int(r['kind'])} does not match verb {cs.verb!r} (kind {kind})")
        if venue and int(r["venue"]) != venue:
            raise Rejected(f"{where}: venue {int(r['venue'])} but the subject says {cs.exchange} ({venue})")
        if market and int(r["market"]) != market:
            raise Rejected(f"{where}: market {int(r['market'])} but the subject says {cs.market} ({market})")
        if kind in (R.SUBMIT_ORDER, R.MODIFY_ORDER, R.CANCEL_ORDER) and int(r["client_order_id"]) == 0:
            raise Rejected(f"{where}: client_order_id is required (a non-zero OMS order id)")
        if kind in (R.SUBMIT_ORDER, R.MODIFY_ORDER, R.CANCEL_ORDER, R.CANCEL_ALL) and not (venue and market):
            raise Rejected(f"{where}: order commands need a concrete exchange and market in the subject")
        if kind == R.SUBMIT_ORDER:
            if int(r["instrument"]) == 0:
                raise Rejected(f"{where}: instrument id is required (from the instrument registry)")
            if int(r["side"]) not in (R.SIDE_BUY, R.SIDE_SELL):
                raise Rejected(f"{where}: side must be buy or sell")
            if int(r["qty"]) <= 0:
                raise Rejected(f"{where}: qty {int(r['qty'])} must be > 0 lots")
            if (
                int(r["order_type"]) in (R.ORD_LIMIT, R.ORD_STOP_LIMIT, R.ORD_TAKE_PROFIT_LIMIT)
                and int(r["price"]) <= 0
            ):
                raise Rejected(f"{where}: price {int(r['price'])} must be > 0 ticks for a limit order")
            cont = int(r["contingency"])
            if cont not in (R.CONT_NONE, R.CONT_OCO, R.CONT_BRACKET_ENTRY, R.CONT_BRACKET_CHILD):
                raise Rejected(
                    f"{where}: contingency {cont} is not one of none/oco/bracket_entry/bracket_child"
                )
            if cont == R.CONT_BRACKET_CHILD and int(r["ref_id"]) == 0:
                raise Rejected(f"{where}: a bracket_child needs ref_id = its entry's client_order_id")
            if cont != R.CONT_NONE and int(r["ref_id"]) == int(r["client_order_id"]):
                raise Rejected(f"{where}: ref_id must name the other order, not this one")
        if kind == R.MODIFY_ORDER and int(r["qty"]) < 0:
            raise Rejected(f"{where}: qty {int(r['qty'])} must be >= 0 lots")
        if kind in (R.SET_LEVERAGE, R.SET_MARGIN_MODE):
            if not (venue and market) or int(r["instrument"]) == 0 or int(r["account"]) == 0:
                raise Rejected(f"{where}: {cs.verb} needs an exchange, market, symbol and an account")
            if kind == R.SET_LEVERAGE and not 100 <= int(r["param_value"]) <= 100_000:
                raise Rejected(f"{where}: leverage must be a whole number 1..1000 (field leverage)")
            if kind == R.SET_MARGIN_MODE and int(r["param_id"]) not in R.MARGIN_MODE_NAMES:
                raise Rejected(f"{where}: margin_mode must be cross or isolated")


class RateLimited(Transient):
    """The sender is over its configured rate: retry later."""


# verbs that change limits or the venue for every account on the key: admin senders only
ADMIN_VERBS = ("risk_limit", "trading_state", "leverage", "margin_mode")


class _Bucket:
    def __init__(self, rate: float, burst: int, now: float) -> None:
        self.rate, self.burst, self.tokens, self.t = rate, float(burst), float(burst), now

    def take(self, n: int, now: float) -> bool:
        self.tokens = min(self.burst, self.tokens + (now - self.t) * self.rate)
        self.t = now
        if self.tokens < n:
            return False
        self.tokens -= n
        return True


class CommandIntake:
    """Turns NATS requests of known senders into COMMAND records in the engine's ring."""

    def __init__(
        self,
        ring: Ring,
        resolve_id: Callable[[str, str, str], int] | None = None,
        *,
        senders: Mapping[str, IntakeSender],
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """`resolve_id(exchange, market, symbol)` fills a missing instrument id from the subject
        (e.g. `InstrumentRegistry.id_of`); without it the sender must give `instrument`.
        `senders`: who may send, on which accounts, at which rate (`[bus.intake_senders]`)."""
        self.ring = ring
        self.resolve_id = resolve_id
        self.senders = dict(senders)
        self.clock = clock
        self._buckets = {n: _Bucket(s.rate_per_s, s.burst, clock()) for n, s in self.senders.items()}
        self.next_seq = time.time_ns()  # bridge-assigned, increasing across restarts
        self.accepted = 0
        self.rejected = 0

    def _check_verb(self, cs: subjects.CommandSubject) -> None:
        if cs.verb in ADMIN_VERBS and not self.senders[cs.sender].admin:
            raise Rejected(f"sender {cs.sender!r} may not send {cs.verb} (needs admin = true in its config)")

    def _check_accounts(self, cs: subjects.CommandSubject, recs: np.ndarray) -> None:
        allowed = set(self.senders[cs.sender].accounts)
        for i, a in enumerate(recs["account"]):
            if int(a) not in allowed:
                raise Rejected(
                    f"command [{i}]: account {int(a)} is not one of sender {cs.sender!r}'s accounts "
                    f"{sorted(allowed)}"
                )

    def _assign_seq(self, recs: np.ndarray) -> None:
        start = max(self.next_seq, time.time_ns())
        recs["seq"] = np.arange(start, start + len(recs), dtype=np.uint64)
        self.next_seq = start + len(recs)

    def handle(self, subject: str, data: bytes) -> bytes:
        """Process one request; returns the reply bytes (never raises for bad input)."""
        try:
            cs = subjects.parse_command(subject)
            if cs.sender not in self.senders:
                raise Rejected(
                    f"sender {cs.sender!r} is not configured for order intake; add "
                    f"[bus.intake_senders.{cs.sender}] with its accounts"
                )
            recs = self._decode(cs, data)
            if not self._buckets[cs.sender].take(len(recs), self.clock()):
                snd = self.senders[cs.sender]
                raise RateLimited(
                    f"sender {cs.sender!r} is over its rate ({snd.rate_per_s:g}/s, burst {snd.burst}); "
                    "retry later"
                )
            self._check_verb(cs)
            if self.resolve_id is not None and cs.symbol != "ALL" and (recs["instrument"] == 0).any():
                recs["instrument"][recs["instrument"] == 0] = self.resolve_id(
                    cs.exchange, cs.market, cs.symbol
                )
            check(cs, recs)
            self._check_accounts(cs, recs)
            self._assign_seq(recs)
            recs["source"] = SOURCE_BRIDGE
            recs["ts_ns"] = np.where(recs["ts_ns"] == 0, time.time_ns(), recs["ts_ns"])
            free = self.ring.capacity - self.ring.depth()
            if free < len(recs):
                raise Transient(f"engine command ring is full ({free} free, {len(recs)} sent); retry")
            n = self.ring.publish_batch(recs)
            if n != len(recs):  # single producer: cannot happen after the free check
                raise Transient(f"engine command ring took {n} of {len(recs)} records; retry the rest")
            self.accepted += n
            return _enc.encode(Reply(ok=True, accepted=n, seq=[int(x) for x in recs["seq"]]))
        except OmsError as e:
            self.rejected += 1
            code = (
                "rate_limited"
                if isinstance(e, RateLimited)
                else "transient"
                if isinstance(e, Transient)
                else "rejected"
            )
            return _enc.encode(Reply(ok=False, code=code, error=str(e)))

    def _decode(self, cs: subjects.CommandSubject, data: bytes) -> np.ndarray:
        if data[:4] == F.MAGIC:
            h, recs = F.decode(data)
            if h.family != "COMMAND":
                raise Rejected(f"command frame carries {h.family} records; send COMMAND records")
            return recs.copy()
        if not data.strip():
            raise Rejected("empty command payload; send a JSON object, a JSON list or a COMMAND frame")
        try:
            items = _dec_many.decode(data) if data.lstrip()[:1] == b"[" else [_dec_one.decode(data)]
        except msgspec.ValidationError as e:
            raise Rejected(f"command JSON: {e}") from e
        except msgspec.DecodeError as e:
            raise Rejected(f"command payload is not valid JSON: {e}") from e
        if not items:
            raise Rejected("command list is empty")
        if len(items) > 1024:
            raise Rejected(f"{len(items)} commands in one request; at most 1024")
        return to_records(cs, items)
