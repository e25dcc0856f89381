"""Connector room: what this connector has told the engine, kept in a file that survives SIGKILL.

Touches one append-only JSON-lines file per venue (`<journal_dir>/conn-<venue>.journal`). Every line
is written (and flushed to the kernel, so a killed process loses nothing) right after the matching
event went to the exec ring: an order being sent, its accept, each fill's trade id, its end. After a
restart, reconciliation compares the venue with this record, so a fill the engine already got is
never sent twice and a fill it missed is replayed (FLAG_REPLAY). A crash between ring and file can
at worst replay one fill the engine already has; the engine drops that by trade id.

At start the file is compacted: orders that ended more than `keep_s` ago are left out.
"""

from __future__ import annotations

import contextlib
import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path


@dataclass(slots=True)
class Tracked:
    """One OMS order as this connector knows it."""

    oms_id: int
    market: str
    symbol: str
    instrument: int
    account: int = 0
    side: int = 0
    order_type: int = 0
    tif: int = 0
    flags: int = 0
    price: int = 0
    qty: int = 0
    trigger: int = 0
    seq: int = 0
    cid: str = ""  # current wire client id (changes on a spot cancel-replace)
    gen: int = 0
    algo: bool = False  # futures conditional order living on /fapi/v1/algoOrder until it fires
    venue_oid: int = 0
    accepted: bool = False
    terminal: int = 0  # EVENT kind that ended it (0 = open)
    trades: set[int] = field(default_factory=set)
    cum: int = 0
    created_ms: int = 0
    ended_ms: int = 0
    old_cids: set[str] = field(
        default_factory=set
    )  # cids replaced by cancel-replace (their CANCELED is ours)
    adopted: bool = False
    fired: bool = False  # a conditional order whose trigger released it (not journaled)
    old_oids: set[int] = field(
        default_factory=set
    )  # venue ids before a cancel-replace (their trades are ours)
    cancel_wanted: bool = False  # a cancel was taken from the ring (re-sent at restart while open)


class Journal:
    def __init__(self, path: str | os.PathLike[str], keep_s: float = 86400.0) -> None:
        self.path = Path(path)
        self.keep_s = keep_s
        self.orders: dict[int, Tracked] = {}
        self.by_cid: dict[str, int] = {}
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._load()
        self._compact()
        self._f = open(self.path, "a", buffering=1)  # noqa: SIM115 - kept open for the process lifetime

    # ---- reading back ---------------------------------------------------------------------------
    def _load(self) -> None:
        if not self.path.exists():
            return
        with open(self.path) as f:
            for _n, line in enumerate(f, 1):
                line = line.strip()
                if not line:
                    continue
                try:
                    self._apply(json.loads(line))
                except (ValueError, KeyError, TypeError):
                    # a torn last line (killed mid-write) is expected; anything else is worth a look
                    continue

    def _apply(self, r: dict) -> None:
        op = r["op"]
        if op == "order":
            t = Tracked(
                oms_id=r["id"],
                market=r["m"],
                symbol=r["s"],
                instrument=r["i"],
                account=r.get("a", 0),
                side=r.get("side", 0),
                order_type=r.get("t", 0),
                tif=r.get("tif", 0),
                flags=r.get("fl", 0),
                price=r.get("p", 0),
                qty=r.get("q", 0),
                trigger=r.get("tp", 0),
                seq=r.get("seq", 0),
                cid=r["c"],
                gen=r.get("g", 0),
                algo=r.get("algo", False),
                created_ms=r.get("ts", 0),
                adopted=r.get("adopt", False),
            )
            self.orders[t.oms_id] = t
            self.by_cid[t.cid] = t.oms_id
            return
        t = self.orders.get(r["id"])
        if t is None:
            return
        if op == "ack":
            t.accepted = True
            t.venue_oid = r.get("v", t.venue_oid)
        elif op == "fill":
            t.trades.add(int(r["t"]))
            t.cum += int(r.get("q", 0))
        elif op == "cxl":
            t.cancel_wanted = True
        elif op == "cum":
            t.cum = int(r["q"])
        elif op == "end":
            t.terminal = int(r["k"])
            t.ended_ms = int(r.get("ts", 0))
        elif op == "mod":
            if r.get("c") and r["c"] != t.cid:
                t.old_cids.add(t.cid)
                t.cid = r["c"]
                t.gen = r.get("g", t.gen)
                self.by_cid[t.cid] = t.oms_id
            t.price = r.get("p", t.price)
            t.qty = r.get("q", t.qty)
            t.old_oids.update(r.get("ov", []))
            t.venue_oid = r.get("v", t.venue_oid)

    def _compact(self) -> None:
        cutoff = (time.time() - self.keep_s) * 1000
        keep = {k: t for k, t in self.orders.items() if not t.terminal or t.ended_ms >= cutoff}
        self.orders = keep
        self.by_cid = {}
        for t in keep.values():
            self.by_cid[t.cid] = t.oms_id
            for c in t.old_cids:
                self.by_cid[c] = t.oms_id
        tmp = self.path.with_suffix(".tmp")
        with open(tmp, "w") as f:
            for t in keep.values():
                for rec in _records_of(t):
                    f.write(json.dumps(rec, separators=(",", ":")) + "\n")
        os.replace(tmp, self.path)

    # ---- writing --------------------------------------------------------------------------------
    def _write(self, rec: dict) -> None:
        self._f.write(json.dumps(rec, separators=(",", ":")) + "\n")

    def add(self, t: Tracked) -> None:
        self.orders[t.oms_id] = t
        self.by_cid[t.cid] = t.oms_id
        self._write(_records_of(t)[0])

    def acked(self, t: Tracked) -> None:
        t.accepted = True
        self._write({"op": "ack", "id": t.oms_id, "v": t.venue_oid})

    def filled(self, t: Tracked, trade_id: int, lots: int) -> None:
        """Record a fill already applied to `t` (trade id added, cum raised) and sent."""
        self._write({"op": "fill", "id": t.oms_id, "t": trade_id, "q": lots})

    def cancel_wanted(self, t: Tracked) -> None:
        """Write-ahead of a cancel command: kept so a restart re-sends it if the order is still open."""
        if not t.cancel_wanted:
            t.cancel_wanted = True
            self._write({"op": "cxl", "id": t.oms_id})

    def ended(self, t: Tracked, kind: int) -> None:
        t.terminal = kind
        t.ended_ms = int(time.time() * 1000)
        self._write({"op": "end", "id": t.oms_id, "k": kind, "ts": t.ended_ms})

    def modified(self, t: Tracked, cid: str, gen: int, price: int, qty: int, venue_oid: int) -> None:
        if cid != t.cid:
            t.old_cids.add(t.cid)
            t.cid, t.gen = cid, gen
            self.by_cid[cid] = t.oms_id
        if venue_oid and t.venue_oid and venue_oid != t.venue_oid:
            t.old_oids.add(t.venue_oid)
        t.price, t.qty, t.venue_oid = price, qty, venue_oid or t.venue_oid
        self._write(
            {
                "op": "mod",
                "id": t.oms_id,
                "c": cid,
                "g": gen,
                "p": price,
                "q": qty,
                "v": t.venue_oid,
                "ov": sorted(t.old_oids),
            }
        )

    def find_cid(self, cid: str) -> Tracked | None:
        k = self.by_cid.get(cid)
        return None if k is None else self.orders.get(k)

    def open_orders(self) -> list[Tracked]:
        return [t for t in self.orders.values() if not t.terminal]

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self._f.close()


def _records_of(t: Tracked) -> list[dict]:
    out: list[dict] = [
        {
            "op": "order",
            "id": t.oms_id,
            "m": t.market,
            "s": t.symbol,
            "i": t.instrument,
            "a": t.account,
            "side": t.side,
            "t": t.order_type,
            "tif": t.tif,
            "fl": t.flags,
            "p": t.price,
            "q": t.qty,
            "tp": t.trigger,
            "seq": t.seq,
            "c": next(iter(sorted(t.old_cids)), t.cid) if t.old_cids else t.cid,
            "g": 0 if t.old_cids else t.gen,
            "algo": t.algo,
            "ts": t.created_ms,
            "adopt": t.adopted,
        }
    ]
    if t.old_cids:
        out.append(
            {
                "op": "mod",
                "id": t.oms_id,
                "c": t.cid,
                "g": t.gen,
                "p": t.price,
                "q": t.qty,
                "v": t.venue_oid,
                "ov": sorted(t.old_oids),
            }
        )
    if t.accepted:
        out.append({"op": "ack", "id": t.oms_id, "v": t.venue_oid})
    for tr in sorted(t.trades):
        out.append({"op": "fill", "id": t.oms_id, "t": tr, "q": 0})
    if t.cum:
        out.append({"op": "cum", "id": t.oms_id, "q": t.cum})
    if t.cancel_wanted:
        out.append({"op": "cxl", "id": t.oms_id})
    if t.terminal:
        out.append({"op": "end", "id": t.oms_id, "k": t.terminal, "ts": t.ended_ms})
    return out
