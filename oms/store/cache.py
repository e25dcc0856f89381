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
from oms.store.writer import latest_per_order

# Many orders per call. ARGV: prefix, ttl, nf, nf field names, then per order: client_order_id,
# account, seq, terminal (0/1), nf values ('' = leave the stored value). Keys are built in the script
# (fine for a single Redis; a Redis Cluster would need hash tags).
_ORDERS_LUA = """
local p, ttl, nf = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3])
local names = {}
for j = 1, nf do names[j] = ARGV[3 + j] end
local i = 4 + nf
local applied = 0
while i <= #ARGV do
  local coid, acct, seq, term = ARGV[i], ARGV[i + 1], tonumber(ARGV[i + 2]), ARGV[i + 3]
  local key = p .. ':order:' .. coid
  local cur = tonumber(redis.call('HGET', key, 'seq') or '-1')
  if seq > cur then
    local kv = {'seq', ARGV[i + 2], 'client_order_id', coid, 'account', acct}
    for j = 1, nf do
      local v = ARGV[i + 3 + j]
      if v ~= '' then kv[#kv + 1] = names[j]; kv[#kv + 1] = v end
    end
    redis.call('HSET', key, unpack(kv))
    if term == '1' then
      redis.call('SREM', p .. ':open:' .. acct, coid)
      if ttl > 0 then redis.call('EXPIRE', key, ttl) end
    else
      redis.call('SADD', p .. ':open:' .. acct, coid)
      redis.call('PERSIST', key)
    end
    applied = applied + 1
  end
  i = i + 4 + nf
end
return applied
"""
_ORDER_FIELDS = (
    "kind", "status", "venue", "market", "instrument", "venue_order_id", "side", "cum_qty", "leaves_qty",
    "ts_ns", "price", "qty",
)  # fmt: skip
_ORDERS_PER_CALL = 500
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

_TERMINAL = [R.ORDER_REJECTED, R.ORDER_CANCELED, R.ORDER_EXPIRED]


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
        from oms.credentials import redis_options

        # this program's own ACL user from its 0600 credential file, unless the URL names one
        self.r = redis.Redis.from_url(url, socket_connect_timeout=2, socket_timeout=5, **redis_options(url))
        self.p = prefix
        self.ttl_closed_order_s = ttl_closed_order_s
        self.ttl_bbo_s = ttl_bbo_s
        self.ttl_balance_s = ttl_balance_s
        self.ttl_position_s = ttl_position_s
        self._orders = self.r.register_script(_ORDERS_LUA)
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
        calls = self._orders_calls(pipe, latest_per_order(recs))
        kinds = recs["kind"]
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

    def _orders_calls(self, pipe: redis.client.Pipeline, o: np.ndarray) -> int:
        """Queue one script call per _ORDERS_PER_CALL orders (latest record per order)."""
        if len(o) == 0:
            return 0
        kind = o["kind"]
        terminal = np.isin(kind, _TERMINAL) | ((kind == R.ORDER_FILLED) & (o["leaves_qty"] <= 0))
        fill = kind == R.ORDER_FILLED
        cols: list[list[object]] = [
            o["client_order_id"].tolist(),
            o["account"].tolist(),
            o["seq"].tolist(),
            terminal.astype(np.int8).tolist(),
        ]
        for f in _ORDER_FIELDS:
            vals: list[object] = o[f].tolist()
            if f in ("price", "qty"):  # a fill's price/qty are the fill's, not the order's
                vals = ["" if is_fill else v for v, is_fill in zip(vals, fill.tolist(), strict=True)]
            cols.append(vals)
        rows = list(zip(*cols, strict=True))
        head = [self.p, self.ttl_closed_order_s, len(_ORDER_FIELDS), *_ORDER_FIELDS]
        calls = 0
        for i in range(0, len(rows), _ORDERS_PER_CALL):
            args = list(head)
            for row in rows[i : i + _ORDERS_PER_CALL]:
                args.extend(row)
            self._orders(keys=[], args=args, client=pipe)
            calls += 1
        return calls

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
