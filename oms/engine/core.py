"""Engine room: the Python face of the engine kernels — build records, run them, read state back.

Touches only its own EngineState. `Engine` is what tests, the backtester and the engine process use
when they are not inside the njit loop: it owns the state arrays, registers instruments / accounts /
venue capabilities, applies risk settings, runs one record or a batch through the kernels and returns
the staged output (events for the event rings, commands for the connector rings), replays an event
log, and answers questions (order, position, account, unified per-asset positions) in plain Python.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

import numpy as np

from oms.engine import constants as C
from oms.engine import kernels as KN
from oms.engine import replay as RP
from oms.engine import state as S
from oms.engine.instruments import InstrumentSpec
from oms.errors import ConfigError, Rejected
from oms.shm import records as R

_NO_EVENTS = np.zeros(0, R.EVENT)
_NO_EVENTS.flags.writeable = False
_NO_COMMANDS = np.zeros(0, R.COMMAND)
_NO_COMMANDS.flags.writeable = False


@dataclass(slots=True)
class Output:
    events: np.ndarray  # EVENT records staged, in order
    commands: np.ndarray  # COMMAND records for the connectors, in order

    def kinds(self) -> list[str]:
        return [R.KIND_NAMES.get(int(k), str(int(k))) for k in self.events["kind"]]


def wire_id(account: int, coid: int) -> int:
    """The id connectors and venues see for (account, coid) (oms.engine.book.wire_id in Python)."""
    return ((account - 1) << C.COID_BITS) | coid


class Engine:
    def __init__(
        self,
        *,
        capacity: int = 1 << 16,
        n_accounts: int = 8,
        n_instruments: int = 64,
        trade_capacity: int = 1 << 16,
        staging: int = 1 << 12,
        clock: bool = True,
        journal: int = 0,
    ) -> None:
        self.s = S.allocate(
            capacity=capacity,
            n_accounts=n_accounts,
            n_instruments=n_instruments,
            trade_capacity=trade_capacity,
            staging=staging,
            journal=journal,
        )
        self.clock = clock  # False: the caller sets now_ns (deterministic tests, backtests)
        self.specs: dict[int, InstrumentSpec] = {}
        self._one_cmd = np.zeros(1, R.COMMAND)
        self._one_ev = np.zeros(1, R.EVENT)
        self._one_md = np.zeros(1, R.MARKET)
        self._seq = 0

    # ---- setup -------------------------------------------------------------------------------
    def add_instrument(self, spec: InstrumentSpec) -> None:
        s = self.s
        if not 1 <= spec.id < len(s.inst):
            raise ConfigError(
                f"instrument id {spec.id} ({spec.symbol or spec.base + '/' + spec.quote}) is outside "
                f"1..{len(s.inst) - 1}: raise engine n_instruments"
            )
        row = s.inst[spec.id]
        row["mult"], row["div"] = spec.mult, spec.div
        row["venue"], row["market"] = spec.venue, spec.market
        row["active"] = 1
        self.specs[spec.id] = spec

    def add_account(self, account: int) -> None:
        if not 1 <= account < len(self.s.acct):
            raise ConfigError(
                f"account id {account} is outside 1..{len(self.s.acct) - 1}: raise engine n_accounts"
            )
        self.s.acct[account]["active"] = 1

    def set_capabilities(self, venue: int, caps: int) -> None:
        self.s.ven[venue]["caps"] = caps

    def apply_settings(self, st: object, venue_caps: dict[int, int] | None = None) -> None:
        """Load the `[risk]` section (oms.engine.settings.Settings) into the limit table."""
        from oms.engine.settings import money_e8

        def cap(v: int) -> int:
            return C.NO_LIMIT if v <= 0 else v

        A = C.SCOPE_ALL
        self.set_limit(C.L_MAX_ORDER_QTY, A, cap(st.max_order_qty))
        self.set_limit(C.L_MAX_ORDER_NOTIONAL, A, cap(money_e8(st.max_order_notional)))
        self.set_limit(C.L_MAX_POSITION_QTY, A, cap(st.max_position_qty))
        self.set_limit(C.L_MAX_POSITION_NOTIONAL, A, cap(money_e8(st.max_position_notional)))
        self.set_limit(C.L_MAX_LEVERAGE_X100, A, round(st.max_leverage * 100))
        self.set_limit(C.L_EQUITY, A, cap(money_e8(st.equity)))
        self.set_limit(C.L_PRICE_DEVIATION_BPS, A, st.price_deviation_bps)
        self.set_limit(C.L_RATE_ACCOUNT, A, st.order_rate_per_account)
        self.set_limit(C.L_RATE_VENUE, A, st.order_rate_per_venue)
        self.set_limit(C.L_MAX_VENUE_EXPOSURE, A, cap(money_e8(st.max_venue_exposure)))
        self.set_limit(C.L_DAILY_LOSS_REDUCE, A, cap(money_e8(st.daily_loss_reduce)))
        self.set_limit(C.L_DAILY_LOSS_HALT, A, cap(money_e8(st.daily_loss_halt)))
        for key, il in st.instruments.items():
            i = int(key)
            if il.max_order_qty:
                self.set_limit(C.L_MAX_ORDER_QTY, i, il.max_order_qty)
            if il.max_position_qty:
                self.set_limit(C.L_MAX_POSITION_QTY, i, il.max_position_qty)
            if il.price_deviation_bps >= 0:
                self.set_limit(C.L_PRICE_DEVIATION_BPS, i, il.price_deviation_bps)
            if il.leverage > 0:
                self.set_limit(C.L_LEVERAGE_X100, i, round(il.leverage * 100))
        money_keys = {
            "max_order_notional": C.L_MAX_ORDER_NOTIONAL,
            "max_position_notional": C.L_MAX_POSITION_NOTIONAL,
            "equity": C.L_EQUITY,
            "daily_loss_reduce": C.L_DAILY_LOSS_REDUCE,
            "daily_loss_halt": C.L_DAILY_LOSS_HALT,
        }
        for key, al in st.account.items():
            a = int(key)
            for name, lid in money_keys.items():
                if getattr(al, name):
                    self.set_limit(lid, a, cap(money_e8(getattr(al, name))))
            if al.max_leverage >= 0:
                self.set_limit(C.L_MAX_LEVERAGE_X100, a, round(al.max_leverage * 100))
            if al.order_rate >= 0:
                self.set_limit(C.L_RATE_ACCOUNT, a, al.order_rate)
        from oms import ids

        bits = {v: k for k, v in C.CAPABILITY_NAMES.items()}
        for name, vl in st.venue.items():
            v = ids.VENUES[name]
            if vl.order_rate >= 0:
                self.set_limit(C.L_RATE_VENUE, v, vl.order_rate)
            if vl.max_exposure:
                self.set_limit(C.L_MAX_VENUE_EXPOSURE, v, cap(money_e8(vl.max_exposure)))
            if vl.capabilities:
                self.set_capabilities(v, sum(bits[c] for c in set(vl.capabilities)))
        for a in st.accounts:
            self.add_account(a)
        for v, caps in (venue_caps or {}).items():
            if (
                not st.venue.get(ids.VENUE_NAMES.get(v, ""), None)
                or not st.venue[ids.VENUE_NAMES[v]].capabilities
            ):
                self.set_capabilities(v, caps)

    def set_limit(self, limit_id: int, scope: int, value: int) -> None:
        """Set a limit directly (start-up configuration; at run time send SetRiskLimit so it is audited)."""
        if limit_id not in C.LIMIT_NAMES:
            raise ConfigError(f"unknown risk limit id {limit_id}; known: {C.LIMIT_NAMES}")
        if scope == C.SCOPE_ALL:
            self.s.limits[limit_id, :] = value
        else:
            self.s.limits[limit_id, scope] = value

    @property
    def now_ns(self) -> int:
        return int(self.s.meta[S.M_NOW])

    @now_ns.setter
    def now_ns(self, v: int) -> None:
        self.s.meta[S.M_NOW] = v

    def _tick(self) -> None:
        if self.clock:
            KN.tick_clock(self.s)

    # ---- running -----------------------------------------------------------------------------
    def drain(self) -> Output:
        m = self.s.meta
        ne, nc = int(m[S.M_NEV]), int(m[S.M_NCMD])
        if ne == 0 and nc == 0:  # the common answer to market data: nothing staged, nothing to copy
            return Output(_NO_EVENTS, _NO_COMMANDS)
        out = Output(self.s.evq[:ne].copy(), self.s.cmdq[:nc].copy())
        m[S.M_NEV] = 0
        m[S.M_NCMD] = 0
        return out

    def _collect(self, parts: list[Output]) -> Output:
        parts.append(self.drain())
        if len(parts) == 1:  # the usual case: no cancel-all / trigger scan split the call
            return parts[0]
        return Output(np.concatenate([p.events for p in parts]), np.concatenate([p.commands for p in parts]))

    def run_commands(self, arr: np.ndarray) -> Output:
        self._tick()
        parts: list[Output] = []
        j, n = 0, len(arr)
        while j < n:
            j = KN.commands(self.s, arr, j, n)
            while self.s.meta[S.M_CA_ACTIVE]:
                parts.append(self.drain())
                KN.resume(self.s)
        return self._collect(parts)

    def run_exec(self, arr: np.ndarray) -> Output:
        self._tick()
        parts: list[Output] = []
        j, n = 0, len(arr)
        while j < n:
            j = KN.exec_events(self.s, arr, j, n)
            while self.s.meta[S.M_CA_ACTIVE]:
                parts.append(self.drain())
                KN.resume(self.s)
        return self._collect(parts)

    def run_market(self, arr: np.ndarray) -> Output:
        self._tick()
        parts: list[Output] = []
        j, n = 0, len(arr)
        while j < n:
            j2 = KN.market(self.s, arr, j, n)
            if j2 < n:
                parts.append(self.drain())
            j = j2 if j2 < n else n
        return self._collect(parts)

    # ---- one-record helpers (tests, tools) ---------------------------------------------------
    def command(self, **fields: int) -> Output:
        c = self._one_cmd
        c[0] = 0
        if "seq" not in fields:
            self._seq += 1
            fields["seq"] = self._seq
        for k, v in fields.items():
            c[0][k] = v
        return self.run_commands(c)

    def submit(
        self,
        coid: int,
        *,
        account: int,
        instrument: int,
        side: int,
        qty: int,
        price: int = 0,
        order_type: int = R.ORD_LIMIT,
        **more: int,
    ) -> Output:
        return self.command(
            kind=R.SUBMIT_ORDER,
            client_order_id=coid,
            account=account,
            instrument=instrument,
            side=side,
            qty=qty,
            price=price,
            order_type=order_type,
            **more,
        )

    def _account_of(self, coid: int, more: dict[str, int]) -> None:
        """Tests and tools may leave out the account: the command then names the order's own account
        (the kernels always match the command's account; the gateway always sends one)."""
        if "account" not in more:
            o = self.order(coid)
            more["account"] = 0 if o is None else int(o["account"])

    def cancel(self, coid: int, **more: int) -> Output:
        self._account_of(coid, more)
        return self.command(kind=R.CANCEL_ORDER, ref_id=coid, **more)

    def modify(self, coid: int, *, price: int = 0, qty: int = 0, **more: int) -> Output:
        self._account_of(coid, more)
        return self.command(kind=R.MODIFY_ORDER, ref_id=coid, price=price, qty=qty, **more)

    def cancel_all(self, *, account: int = 0, venue: int = 0, instrument: int = 0) -> Output:
        return self.command(kind=R.CANCEL_ALL, account=account, venue=venue, instrument=instrument)

    def set_risk_limit(self, limit_id: int, scope: int, value: int) -> Output:
        return self.command(kind=R.SET_RISK_LIMIT, param_id=limit_id, param_scope=scope, param_value=value)

    def set_trading_state(self, state: int, scope: int = C.SCOPE_ALL) -> Output:
        return self.command(kind=R.SET_TRADING_STATE, param_id=state, param_scope=scope)

    def venue(self, kind: int, coid: int, **fields: int) -> Output:
        """One venue event for `coid`; with `account`, addressed by the wire id a connector echoes."""
        e = self._one_ev
        e[0] = 0
        e[0]["kind"] = kind
        a = fields.get("account", 0)
        e[0]["client_order_id"] = wire_id(a, coid) if a else coid
        for k, v in fields.items():
            e[0][k] = v
        return self.run_exec(e)

    def md(self, kind: int, instrument: int, price: int, ask_price: int = 0, **fields: int) -> Output:
        m = self._one_md
        m[0] = 0
        m[0]["kind"] = kind
        m[0]["instrument"] = instrument
        m[0]["price"] = price
        m[0]["ask_price"] = ask_price
        for k, v in fields.items():
            m[0][k] = v
        return self.run_market(m)

    # ---- replay ------------------------------------------------------------------------------
    def replay(self, events: np.ndarray) -> int:
        if events.dtype != R.EVENT:
            raise Rejected(f"replay needs EVENT records, got dtype {events.dtype}")
        return int(RP.replay(self.s, events, len(events)))

    # ---- reading state -----------------------------------------------------------------------
    def slot_of(self, coid: int, account: int | None = None) -> int:
        """Slot of (account, coid); without an account, of the first order with that id (tools, tests)."""
        from oms.engine.book import idx_lookup, idx_lookup_any

        if account is None:
            return int(idx_lookup_any(self.s, np.uint64(coid)))
        return int(idx_lookup(self.s, np.uint32(account), np.uint64(coid)))

    def order(self, coid: int, account: int | None = None) -> np.void | None:
        slot = self.slot_of(coid, account)
        return None if slot < 0 else self.s.orders[slot].copy()

    def status(self, coid: int, account: int | None = None) -> str:
        o = self.order(coid, account)
        return "Unknown" if o is None else C.STATUS_NAMES[int(o["status"])]

    def position(self, account: int, instrument: int) -> np.void:
        return self.s.pos[account, instrument].copy()

    def account(self, account: int) -> np.void:
        return self.s.acct[account].copy()

    def account_summary(self, account: int) -> dict[str, object]:
        """Today's PnL, exposure, equity, leverage and margin of one account (money in quote units)."""
        from oms.engine import positions as P

        a = self.s.acct[account]
        scale = Decimal(R.FEE_SCALE)
        eq = int(P.equity(self.s, account))
        gross = int(a["pos_notional"])
        margin = sum(int(P.margin_used(self.s, account, i)) for i in self.specs)
        return {
            "state": C.TRADING_STATE_NAMES[int(a["state"])],
            "realised": Decimal(int(a["realised"])) / scale,
            "fees": Decimal(int(a["fees"])) / scale,
            "unrealised": Decimal(int(a["unrealised"])) / scale,
            "gross_notional": Decimal(gross) / scale,
            "open_order_notional": Decimal(int(a["open_notional"])) / scale,
            "equity": None if eq >= C.NO_LIMIT else Decimal(eq) / scale,
            "leverage": None if eq >= C.NO_LIMIT or eq <= 0 else Decimal(gross) / Decimal(eq),
            "margin_used": Decimal(margin) / scale,
        }

    def trading_state(self, account: int) -> str:
        return C.TRADING_STATE_NAMES[int(self.s.acct[account]["state"])]

    def transitions(self) -> dict[str, int]:
        return {name: int(self.s.trans[t]) for t, name in C.TRANSITION_NAMES.items() if self.s.trans[t]}

    def unified_positions(self) -> dict[tuple[int, str], Decimal]:
        """Net quantity per (account, base asset) across venues and markets, in base units."""
        out: dict[tuple[int, str], Decimal] = {}
        for i, spec in self.specs.items():
            col = self.s.pos[:, i]["qty"]
            for a in np.nonzero(col)[0]:
                key = (int(a), spec.base)
                out[key] = (
                    out.get(key, Decimal(0)) + Decimal(int(col[a])) * spec.lot_size * spec.contract_size
                )
        return out

    def counters(self) -> dict[str, int]:
        m = self.s.meta
        return {
            "open_orders": int(m[S.M_OPEN]),
            "commands": int(m[S.M_CMD_COUNT]),
            "exec_events": int(m[S.M_EXEC_COUNT]),
            "market_records": int(m[S.M_MD_COUNT]),
            "rejects": int(m[S.M_REJECTS]),
            "duplicate_fills": int(m[S.M_DUP_FILLS]),
            "overfills": int(m[S.M_OVERFILL]),
            "unknown_order_events": int(m[S.M_UNKNOWN]),
            "adopted_orders": int(m[S.M_ADOPTED]),
            "late_events": int(m[S.M_LATE]),
            "triggers": int(m[S.M_TRIGGERS]),
            "event_seq": int(m[S.M_EVSEQ]),
        }
