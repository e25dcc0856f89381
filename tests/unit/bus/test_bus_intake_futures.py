"""Bus room: NATS intake of the futures controls (`cmd.leverage...`, `cmd.margin_mode...`) into a real
command ring — fields mapped, bad input refused by name before it reaches the engine."""

from __future__ import annotations

import json
import uuid

import numpy as np

from oms.bus.frames import split_events
from oms.bus.intake import CommandIntake
from oms.bus.settings import IntakeSender
from oms.shm import records as R
from oms.shm.ring import Ring

# futures controls change the venue for every account on the key: only admin senders may send them
SENDERS = {"risk": IntakeSender(accounts=[1], admin=True), "desk": IntakeSender(accounts=[1])}


def _ring() -> Ring:
    return Ring.create(f"tbi{uuid.uuid4().hex[:8]}", R.COMMAND, 64)


def test_leverage_and_margin_mode_reach_the_ring() -> None:
    ring = _ring()
    try:
        cons = Ring.attach(ring.name, R.COMMAND, consumer=True)
        intake = CommandIntake(ring, resolve_id=lambda x, m, s: 3, senders=SENDERS)
        rep = json.loads(
            intake.handle("cmd.risk.leverage.binance.usdm.BTCUSDT", b'{"account": 1, "leverage": 7}')
        )
        assert rep["ok"], rep
        rep = json.loads(
            intake.handle(
                "cmd.risk.margin_mode.binance.usdm.BTCUSDT", b'{"account": 1, "margin_mode": "isolated"}'
            )
        )
        assert rep["ok"], rep
        out = np.zeros(4, R.COMMAND)
        n = cons.consume(out)
        assert n == 2
        assert (int(out[0]["kind"]), int(out[0]["instrument"]), int(out[0]["param_value"])) == (
            R.SET_LEVERAGE,
            3,
            700,
        )
        assert (int(out[1]["kind"]), int(out[1]["param_id"])) == (R.SET_MARGIN_MODE, R.MARGIN_ISOLATED)
        cons.close()
    finally:
        ring.close()
        ring.unlink()


def test_bad_futures_commands_are_refused_by_name() -> None:
    ring = _ring()
    try:
        intake = CommandIntake(ring, resolve_id=lambda x, m, s: 3, senders=SENDERS)
        cases = {
            ("leverage", b'{"account": 1, "leverage": 0}'): "leverage must be a whole number",
            ("leverage", b'{"leverage": 5}'): "needs an exchange, market, symbol and an account",
            ("margin_mode", b'{"account": 1, "margin_mode": "portfolio"}'): "margin_mode",
            ("margin_mode", b'{"account": 1}'): "margin_mode must be cross or isolated",
        }
        for (verb, body), words in cases.items():
            rep = json.loads(intake.handle(f"cmd.risk.{verb}.binance.usdm.BTCUSDT", body))
            assert not rep["ok"] and rep["code"] == "rejected" and words in rep["error"], (verb, body, rep)
        for verb in ("leverage", "margin_mode"):  # a trading (non-admin) sender cannot change the venue
            body = b'{"account": 1, "leverage": 5, "margin_mode": "cross"}'
            rep = json.loads(intake.handle(f"cmd.desk.{verb}.binance.usdm.BTCUSDT", body))
            assert not rep["ok"] and f"may not send {verb}" in rep["error"], rep
        assert ring.depth() == 0
    finally:
        ring.close()
        ring.unlink()


def test_the_venues_answers_go_to_the_risk_subjects() -> None:
    ev = np.zeros(3, R.EVENT)
    ev["kind"] = [R.LEVERAGE_CHANGED, R.POSITION_REPORT, R.ORDER_FILLED]
    ev["venue"], ev["market"], ev["instrument"] = 1, 2, 3
    subjects = dict(split_events(ev))
    assert len(subjects["risk.binance.usdm.I3"]) == 2 and len(subjects["fills.binance.usdm.I3"]) == 1
