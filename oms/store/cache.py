"""Store room: the Redis hot cache (open orders, positions, balances, last BBO) fed by the recorder.

Touches keys under `<prefix>:` in the Redis it is given:

| key                               | type | content                                 | TTL                |
|-----------------------------------|------|-----------------------------------------|--------------------|
| {p}:order:{client_order_id}       | hash | latest order state + `seq`              | closed orders only |
| {p}:open:{account}                | set  | client_order_ids still working          | none               |
| {p}:pos:{account}:{instrument}    | hash | qty (lots, signed), fills, seq          | ttl_position_s (0) |
| {p}:bal:{account}:{venue}:{asset} | hash | free, locked (strings), ts_ns           | ttl_balance_s      |
| {p}:bbo:{instrument}              | hash | bid/ask px/qty (ticks/lots), ts_ns, seq | ttl_bbo_s          |

Every write is guarded by the record's `seq` inside a Lua script (a record older than the stored one is
ignored; a fill already counted is not counted again), so JetStream redelivery and replays are harmless.
Writes are pipelined and aggregated per frame (one script call per order / position / instrument).
Balances have no EVENT kind in the ring layouts, so `put_balance` is the API a connector calls directly.
"""

from __future__ import annotations

import numpy as np
import redis

from oms.shm import records as R

# KEYS[1]=order hash, KEYS[2]=open set; ARGV: seq, terminal(0/1), ttl, then field/value pairs
_ORDER_LUA = """
local cur = tonumber(redis.call('HGET', KEYS[1], 'seq') or '-1')
local seq = tonumber(ARGV[1])
if seq <= cur then return 0 end
local kv = {}
for i = 4, #ARGV do kv[#kv + 1] = ARGV[i] end
redis.call('HSET', KEYS[1], 'seq', ARGV[1], unpack(kv))
if ARGV[2] == '1' then
  redis.call('SREM', KEYS[2], ARGV[4 + 1])
  if tonumber(ARGV[3]) > 0 then redis.call('EXPIRE', KEYS[1], ARGV[3]) end
else
  redis.call('SADD', KEYS[2], ARGV[4 + 1])
  redis.call('PERSIST', KEYS[1])
end
return 1
"""
# KEYS[1]=position hash; ARGV: ttl, then (seq, delta) pairs in increasing seq
_POS_LUA = """
local last = tonumber(redis.call('HGET', KEYS[1], 'seq') or '-1')
local applied = 0
for i = 2, #ARGV, 2 do
  local seq = tonumber(ARGV[i])
  if seq > last then
    redis.call('HINCRBY', KEYS[1], 'qty', ARGV[i + 1])
    redis.call('HINCRBY', KEYS[1], 'fills', 1)
    last = seq
    applied = applied + 1
  end
end
redis.call('HSET', KEYS[1], 'seq', tostring(last))
if tonumber(ARGV[1]) > 0 then redis.call('EXPIRE', KEYS[1], ARGV[1]) end
return applied
"""
# KEYS[1]=bbo hash; ARGV: seq, ttl, field/value pairs
_BBO_LUA = """
local cur = tonumber(redis.call('HGET', KEYS[1], 'ts_ns') or '-1')
if tonumber(ARGV[3]) < cur then return 0 end
local kv = {}
for i = 4, #ARGV do kv[#kv + 1] = ARGV[i] end
redis.call('HSET', KEYS[1], 'seq', ARGV[1], unpack(kv))
if tonumber(ARGV[2]) > 0 then redis.call('EXPIRE', KEYS[1], ARGV[2]) end
return 1
"""

_TERMINAL = {R.ORDER_REJECTED, R.ORDER_CANCELED, R.ORDER_EXPIRED}
_ORDER_KINDS = set(range(R.ORDER_SUBMITTED, R.MODIFY_REJECTED + 1))


class HotCache:
    def __init__(
        self,
        url: str,
        *,
        prefix: str = "oms",
        ttl_closed_order_s: int = 3600,
        ttl_bbo_s: int = 10,
        ttl_balance_s: int = 300,
        ttl_position_s: int = 0,
    ) -> None:
        self.r = redis.Redis.from_url(url, socket_connect_timeout=2, socket_timeout=5)
        self.p = prefix
        self.ttl_closed_order_s = ttl_closed_order_s
        self.ttl_bbo_s = ttl_bbo_s
        self.ttl_balance_s = ttl_balance_s
        self.ttl_position_s = ttl_position_s
        self._order = self.r.register_script(_ORDER_LUA)
        self._pos = self.r.register_script(_POS_LUA)
        self._bbo = self.r.register_script(_BBO_LUA)

    def close(self) -> None:
        self.r.close()

    # ---- writes from EVENT records ---------------------------------------------------------------
    def apply_events(self, recs: np.ndarray) -> int:
        """Update orders and positions from EVENT records (any order; guarded by seq). Returns calls made."""
        if len(recs) == 0:
            return 0
        pipe = self.r.pipeline(transaction=False)
        calls = 0
        kinds = recs["kind"]
        order_mask = np.isin(kinds, list(_ORDER_KINDS)) & (recs["client_order_id"] != 0)
        if order_mask.any():
            o = recs[order_mask]
            # last record per order within this batch
            order = np.lexsort((o["seq"], o["client_order_id"]))
            o = o[order]
            last = np.ones(len(o), bool)
            last[:-1] = o["client_order_id"][1:] != o["client_order_id"][:-1]
            for rec in o[last]:
                self._order_call(pipe, rec)
                calls += 1
        fills = recs[kinds == R.ORDER_FILLED]
        if len(fills):
            key = fills["account"].astype(np.uint64) << np.uint64(32) | fills["instrument"].astype(np.uint64)
            for k in np.unique(key):
                f = fills[key == k]
                f = f[np.argsort(f["seq"], kind="stable")]
                delta = f["qty"] * f["side"].astype(np.int64)
                args: list[int] = [self.ttl_position_s]
                for s, d in zip(f["seq"].tolist(), delta.tolist(), strict=True):
                    args += [s, d]
                acct, inst = int(k) >> 32, int(k) & 0xFFFFFFFF
                self._pos(keys=[f"{self.p}:pos:{acct}:{inst}"], args=args, client=pipe)
                calls += 1
        pipe.execute()
        return calls

    def _order_call(self, pipe: redis.client.Pipeline, rec: np.void) -> None:
        kind = int(rec["kind"])
        terminal = kind in _TERMINAL or (kind == R.ORDER_FILLED and int(rec["leaves_qty"]) <= 0)
        coid = int(rec["client_order_id"])
        fields = [
            "client_order_id", coid,
            "kind", kind,
            "status", int(rec["status"]),
            "account", int(rec["account"]),
            "venue", int(rec["venue"]),
            "market", int(rec["market"]),
            "instrument", int(rec["instrument"]),
            "venue_order_id", int(rec["venue_order_id"]),
            "side", int(rec["side"]),
            "cum_qty", int(rec["cum_qty"]),
            "leaves_qty", int(rec["leaves_qty"]),
            "ts_ns", int(rec["ts_ns"]),
        ]  # fmt: skip
        if kind != R.ORDER_FILLED:
            fields += ["price", int(rec["price"]), "qty", int(rec["qty"])]
        self._order(
            keys=[f"{self.p}:order:{coid}", f"{self.p}:open:{int(rec['account'])}"],
            args=[int(rec["seq"]), 1 if terminal else 0, self.ttl_closed_order_s, *fields],
            client=pipe,
        )

    # ---- writes from MARKET records --------------------------------------------------------------
    def apply_market(self, recs: np.ndarray) -> int:
        """Last BBO per instrument from MarketDataBBO records (TTL ttl_bbo_s)."""
        bbo = recs[recs["kind"] == R.MD_BBO]
        if len(bbo) == 0:
            return 0
        pipe = self.r.pipeline(transaction=False)
        order = np.lexsort((bbo["ts_ns"], bbo["instrument"]))
        bbo = bbo[order]
        last = np.ones(len(bbo), bool)
        last[:-1] = bbo["instrument"][1:] != bbo["instrument"][:-1]
        n = 0
        for rec in bbo[last]:
            self._bbo(
                keys=[f"{self.p}:bbo:{int(rec['instrument'])}"],
                args=[
                    int(rec["seq"]),
                    self.ttl_bbo_s,
                    int(rec["ts_ns"]),
                    "bid_px",
                    int(rec["price"]),
                    "bid_qty",
                    int(rec["qty"]),
                    "ask_px",
                    int(rec["ask_price"]),
                    "ask_qty",
                    int(rec["ask_qty"]),
                    "ts_ns",
                    int(rec["ts_ns"]),
                    "ts_venue_ns",
                    int(rec["ts_venue_ns"]),
                ],
                client=pipe,
            )
            n += 1
        pipe.execute()
        return n

    def put_balance(self, account: int, venue: int, asset: str, free: str, locked: str, ts_ns: int) -> None:
        key = f"{self.p}:bal:{account}:{venue}:{asset}"
        pipe = self.r.pipeline(transaction=True)
        pipe.hset(key, mapping={"free": free, "locked": locked, "ts_ns": ts_ns})
        if self.ttl_balance_s:
            pipe.expire(key, self.ttl_balance_s)
        pipe.execute()

    # ---- reads -----------------------------------------------------------------------------------
    def open_orders(self, account: int) -> set[int]:
        return {int(x) for x in self.r.smembers(f"{self.p}:open:{account}")}

    def order(self, client_order_id: int) -> dict[str, int]:
        return {k.decode(): int(v) for k, v in self.r.hgetall(f"{self.p}:order:{client_order_id}").items()}

    def position(self, account: int, instrument: int) -> int:
        v = self.r.hget(f"{self.p}:pos:{account}:{instrument}", "qty")
        return int(v) if v is not None else 0

    def bbo(self, instrument: int) -> dict[str, int]:
        return {k.decode(): int(v) for k, v in self.r.hgetall(f"{self.p}:bbo:{instrument}").items()}

    def balance(self, account: int, venue: int, asset: str) -> dict[str, str]:
        raw = self.r.hgetall(f"{self.p}:bal:{account}:{venue}:{asset}")
        return {k.decode(): v.decode() for k, v in raw.items()}
