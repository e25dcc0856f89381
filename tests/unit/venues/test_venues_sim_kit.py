"""The simulator kit on its own: history paging, the rate limiter with a venue's own answers, error
tables checked against the kit's reasons, the matching core with a made-up venue's table, and the
`ban_seconds` fault answered the Binance way through the Binance simulator."""

from __future__ import annotations

from decimal import Decimal

import pytest

from oms.venues.sim.kit import (
    REASONS,
    Accounts,
    MarketCore,
    Order,
    RateLimiter,
    SimError,
    SymbolSpec,
    Window,
    page,
)

D = Decimal
ROWS = [(i, 1000 + 10 * i) for i in range(1, 21)]  # (id, time)


def _page(**kw: int | None) -> list[int]:
    return [r[0] for r in page(ROWS, id_of=lambda r: r[0], time_of=lambda r: r[1], **kw)]  # type: ignore[arg-type]


def test_page_cursor_time_and_newest() -> None:
    assert _page(limit=5) == [16, 17, 18, 19, 20]  # nothing asked: the newest
    assert _page(limit=5, from_id=3) == [3, 4, 5, 6, 7]  # a cursor walks forward
    assert _page(limit=3, start_time=1055) == [6, 7, 8]
    assert _page(limit=3, end_time=1055) == [3, 4, 5]  # only an end: the newest before it
    assert _page(limit=50, start_time=1100, end_time=1120) == [10, 11, 12]
    assert _page(limit=5, from_id=99) == []
    assert _page(limit=0) == []


class _Answers:
    def banned(self, ip: str, until_ms: int, retry_s: int) -> SimError:
        return SimError(10018, f"banned {ip} for {retry_s}s", 403)

    def too_much_weight(self, ip: str, window: Window, retry_s: int) -> SimError:
        return SimError(10006, f"Too many visits! retry in {retry_s}s", 200)

    def too_many_orders(self, window: Window, retry_s: int, counts: dict[str, int]) -> SimError:
        return SimError(10006, f"orders {counts[window.name]}>{window.limit}/{window.name}", 200)


def test_rate_limiter_uses_the_venues_answers_then_bans() -> None:
    lim = RateLimiter(Window("1S", 1000, 3), [Window("1S", 1000, 2)], _Answers(), ban_seconds=5)
    assert [lim.charge("ip", 1, 10_000) for _ in range(3)] == [1, 2, 3]
    with pytest.raises(SimError) as e:
        lim.charge("ip", 1, 10_001)
    assert (e.value.code, e.value.status, e.value.msg) == (10006, 200, "Too many visits! retry in 1s")
    with pytest.raises(SimError) as e:  # came back before Retry-After: banned
        lim.charge("ip", 1, 10_500)
    assert (e.value.code, e.value.status) == (10018, 403) and lim.banned_until["ip"] == 15_500
    assert lim.charge("other", 1, 10_500) == 1  # per IP
    assert lim.order(7, 20_000) == {"1S": 1} and lim.order(7, 20_001) == {"1S": 2}
    with pytest.raises(SimError, match="orders 3>2/1S"):
        lim.order(7, 20_002)
    assert lim.order(7, 21_000) == {"1S": 1}  # the next window


def test_error_table_must_cover_the_kits_reasons() -> None:
    acc = Accounts({"USDT": D(1000), "XYZ": D(10)}, {"USDT": D(1000)})
    spec = SymbolSpec(
        "XYZUSDT", "spot", "XYZ", "USDT", D("0.1"), D("1"), D("1"), D("1000"), D("1"), D("1e9"), D("10")
    )
    with pytest.raises(ValueError, match=r"missing reasons.*market_closed"):
        MarketCore(
            "spot", [spec], acc, lambda: 0, derivatives=False, errors={}, maker_fee=D(0), taker_fee=D(0)
        )
    table = {r: (-i, f"reason {r}") for i, r in enumerate(REASONS, 1) if r != "fok_unfillable"}
    with pytest.raises(ValueError, match=r"unknown reasons.*'nonsense'"):
        MarketCore(
            "spot",
            [spec],
            acc,
            lambda: 0,
            derivatives=False,
            errors={**table, "nonsense": (1, "x")},
            maker_fee=D(0),
            taker_fee=D(0),
        )
    core = MarketCore(
        "spot", [spec], acc, lambda: 0, derivatives=False, errors=table, maker_fee=D(0), taker_fee=D(0)
    )
    a, b = acc.new_account(), acc.new_account()

    def order(acct: object, side: int, price: int, qty: int, tif: str = "GTC", **kw: object) -> Order:
        return Order(
            core.new_id(),
            "spot",
            spec,
            acct,
            f"c{core.next_id}",
            side,
            "Limit",
            tif,
            price,
            qty,
            0,
            limit=price > 0,
            **kw,
        )  # type: ignore[arg-type]

    maker = core.submit(order(a, -1, 100, 5))
    with pytest.raises(SimError) as e:  # a venue's own code for a post-only that would take
        core.submit(order(b, 1, 100, 1, post_only=True))
    assert (e.value.code, e.value.msg) == table["post_only_would_take"]
    fok = core.submit(order(b, 1, 100, 9, tif="FOK"))  # no fok_unfillable in the table: it expires
    assert fok.status == "EXPIRED" and fok.executed == 0
    taker = core.submit(order(b, 1, 0, 2))  # market
    assert taker.status == "FILLED" and maker.leaves == 3 and b.spot["XYZ"][0] == 12
    stop = core.submit(order(b, -1, 0, 1, trigger_dir=-1, stop_price=95))  # sell stop below the last trade
    assert stop.status == "NEW" and not stop.is_working
    core.submit(order(a, 1, 95, 1))
    core.submit(order(b, -1, 95, 1))  # prints 95: the stop fires and sells into nothing left
    assert stop.status in ("EXPIRED", "FILLED")
    with pytest.raises(SimError) as e:
        core.cancel(fok)
    assert e.value.code == table["order_not_open"][0]


def test_ban_fault_is_answered_the_binance_way() -> None:
    from binance.client import Client
    from binance.exceptions import BinanceAPIException

    from oms.venues.sim.binance import SimThread, point_python_binance

    with SimThread(seed=2, flow=False) as st:
        restore = point_python_binance(st.url, st.ws_url)
        c = Client("k", "s")
        try:
            assert c.get_server_time()["serverTime"] > 0
            st.call(st.sim.faults.set, ban_seconds=30)
            with pytest.raises(BinanceAPIException) as e:
                c.get_server_time()
            assert e.value.status_code == 418 and e.value.code == -1003
            assert "banned until" in e.value.message
            assert st.call(st.sim.faults.as_dict)["ban_seconds"] == 0  # once
        finally:
            c.close_connection()
            restore()
