"""Conformance, wire level, for every registered venue: the adapter passes the protocol check, signs the
documentation's known-answer vectors, turns recorded payloads into the runtime's values, classifies its
reject / transient / outcome-unknown codes through its own table, and keeps capabilities as data."""

from __future__ import annotations

from types import ModuleType

from oms.errors import OutcomeUnknown, Rejected, Transient
from oms.venues import interface as I
from oms.venues.errors import classify
from oms.venues.registry import check, default_registry


def test_adapter_conforms_to_the_protocol(kit: ModuleType) -> None:
    a = default_registry().get(kit.VENUE)
    assert check(a) == []
    for m in a.markets:
        c = a.capabilities[m]
        assert set(c.order_types) <= set(I.ORDER_TYPES) and set(c.time_in_force) <= set(I.TIME_IN_FORCE)
        assert c.venue == kit.VENUE and c.market == m
        assert isinstance(a.data.book_rule(m), I.BookRule)


def test_signing_known_answer_vectors(kit: ModuleType) -> None:
    assert kit.SIGN_VECTORS, "a venue documents at least one signing example"
    for compute, expected in kit.SIGN_VECTORS:
        assert compute() == expected


def test_recorded_user_payloads_become_exec_reports(kit: ModuleType) -> None:
    x = default_registry().get(kit.VENUE).execution
    for market, name, want in kit.USER_PAYLOADS:
        out = x.parse_user(market, kit.load(name))
        reps = [r for r in out if isinstance(r, I.ExecReport)]
        assert len(reps) == 1, name
        r = reps[0]
        assert r.cid and r.venue_oid > 0, name
        for k, v in want.items():
            assert getattr(r, k) == v, (name, k)
        if r.exec == "trade":
            assert r.trade_id > 0 and float(r.last_qty) > 0 and float(r.last_px) > 0, name


def test_recorded_market_payloads_become_values(kit: ModuleType) -> None:
    d = default_registry().get(kit.VENUE).data
    for market, name, kind in kit.MARKET_PAYLOADS:
        out = d.parse_market(market, kit.load(name))
        assert [type(m).__name__ for m in out] == [kind], name
        m = out[0]
        if isinstance(m, I.DepthDiff):
            assert m.last_id >= m.first_id and (m.bids or m.asks)
        assert d.parse_market(market, {"unrelated": 1}) == []


def test_error_table_classes(kit: ModuleType) -> None:
    t = default_registry().get(kit.VENUE).errors
    meanings = {row[0] for row in t.exact.values()}
    assert {"rejected", "transient", "unknown"} <= meanings | {"unknown_if_mutating"}, "all three classes"
    for code, (meaning, _) in t.exact.items():
        err = classify(t, 400, code, "x", mutating=True)
        want = {"rejected": Rejected, "transient": Transient, "clock": Transient}.get(meaning, OutcomeUnknown)
        assert type(err) is want, (code, meaning)
    assert type(classify(t, 503, None, "down", mutating=True)) is OutcomeUnknown
    assert type(classify(t, 503, None, "down", mutating=False)) is Transient
    assert type(classify(t, 429, None, "slow down")) is Transient
