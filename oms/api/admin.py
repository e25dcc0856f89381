"""Gateway room (oms/api): the `oms.v1.Admin` servicer — kill switch, risk limits, token rotation, futures
leverage and margin mode.

Touches the engine command ring (SetTradingState / SetRiskLimit / SetLeverage / SetMarginMode) and the
token file
(RotateKeys). Every method here passed the interceptor's role and TOTP checks first; the account scope of
the caller is checked again here for account-scoped changes.
"""

from __future__ import annotations

import asyncio
from typing import Any

import grpc

from oms.api import convert, futures, rbac, validation
from oms.api.audit_sink import AuditRecord
from oms.api.auth import Authenticator, current
from oms.api.engine_link import FUTURE_SINK, EngineLink
from oms.api.gen.oms.v1 import gateway_pb2 as gw
from oms.api.gen.oms.v1 import gateway_pb2_grpc as gw_grpc
from oms.api.gen.oms.v1 import types_pb2 as pb
from oms.api.servicer import guarded
from oms.api.status import ApiError, invalid
from oms.api.tokens import TokenStore
from oms.api.validation import Resolver
from oms.engine import constants as ec
from oms.errors import Rejected

MAX_LIMITS = 64


class AdminServicer(gw_grpc.AdminServicer):
    def __init__(self, link: EngineLink, rs: Resolver, auth: Authenticator, store: TokenStore) -> None:
        self.link = link
        self.rs = rs
        self.auth = auth
        self.store = store

    async def _send(self, rows: list[list[Any]]) -> gw.AdminAck:
        loop = asyncio.get_running_loop()
        futs = [loop.create_future() for _ in rows]
        seqs = self.link.publish(rows, FUTURE_SINK, futs)
        out = gw.AdminAck()
        for seq, fut in zip(seqs, futs, strict=True):
            try:
                out.acks.append(convert.ack(0, 0, seq, await fut))
            except ApiError as e:
                out.acks.append(pb.OrderAck(command_seq=seq, error=e.message, error_code=e.code.value[0]))
        return out

    def _global(self, p: Any, field: str, what: str) -> None:
        """Changes that reach every account need the admin role; risk tokens act on their accounts."""
        if "admin" not in p.token.roles:
            raise self.auth._deny(
                grpc.StatusCode.PERMISSION_DENIED,
                f"{field}: {what} needs the admin role; risk tokens set it per account they are scoped to",
                p.method,
                f"{p.peer.ip}:{p.peer.port}",
                p.token.id,
            )

    async def SetTradingState(self, request: gw.SetTradingState, context: Any) -> gw.AdminAck:
        async def run() -> gw.AdminAck:
            row = validation.trading_state(request)
            p = current.get()
            if request.account:
                self.auth.check_account(p, request.account)
            else:
                self._global(p, "account", "the global trading state (account 0)")
            self.auth.audit.record(
                AuditRecord(
                    "/oms.v1.Admin/SetTradingState",
                    "allow",
                    "OK",
                    p.token.id,
                    f"{p.peer.ip}:{p.peer.port}",
                    request.reason,
                    request.account,
                    {"state": pb.TradingState.Name(request.state)},
                )
            )
            return await self._send([row])

        return await guarded(context, run())

    async def SetRiskLimits(self, request: gw.SetRiskLimits, context: Any) -> gw.AdminAck:
        async def run() -> gw.AdminAck:
            n = len(request.limits)
            if not 1 <= n <= MAX_LIMITS:
                raise invalid("limits", f"has {n} entries; send 1..{MAX_LIMITS}")
            p = current.get()
            rows = []
            for i, lim in enumerate(request.limits):
                rows.append(validation.risk_limit(lim, self.rs, f"limits[{i}]."))
                scope = ec.LIMIT_SCOPE[validation.LIMIT_IDS[lim.name]]
                if scope == ec.SCOPE_INSTRUMENT:  # applies to every account trading the instrument
                    self._global(p, f"limits[{i}].name", f"limit {lim.name} (per instrument, all accounts)")
                elif scope == ec.SCOPE_VENUE:
                    self._global(p, f"limits[{i}].name", f"limit {lim.name} (per venue, all accounts)")
                elif lim.account:
                    self.auth.check_account(p, lim.account, f"limits[{i}].account")
                else:
                    self._global(p, f"limits[{i}].account", f"limit {lim.name} for every account")
            return await self._send(rows)

        return await guarded(context, run())

    async def _futures(self, request: Any, row: list[Any], res: Any, method: str, what: str) -> Any:
        """Send one futures control, wait for the venue's answer (relayed by the engine), audit both."""
        p = current.get()
        self.auth.check_account(p, request.account)
        fut = asyncio.get_running_loop().create_future()
        (seq,) = self.link.publish([row], FUTURE_SINK, [fut])
        detail: dict[str, Any] = {"venue": res.venue, "market": res.market, "symbol": res.inst.symbol}
        detail["asked"] = what
        code = "OK"
        try:
            ack = futures.answer(await fut, res, seq, what)
            detail.update(leverage=ack.leverage, margin_mode=pb.MarginMode.Name(ack.margin_mode))
            return ack
        except ApiError as e:
            code, detail["error"] = e.code.name, e.message
            raise
        finally:
            self.auth.audit.record(
                AuditRecord(
                    method,
                    "allow",
                    code,
                    p.token.id,
                    f"{p.peer.ip}:{p.peer.port}",
                    request.reason,
                    request.account,
                    detail,
                )
            )

    async def SetLeverage(self, request: gw.SetLeverage, context: Any) -> gw.FuturesSettingAck:
        async def run() -> gw.FuturesSettingAck:
            row, res = futures.leverage_row(request, self.rs)
            return await self._futures(
                request, row, res, "/oms.v1.Admin/SetLeverage", f"SetLeverage {request.leverage}x"
            )

        return await guarded(context, run())

    async def SetMarginMode(self, request: gw.SetMarginMode, context: Any) -> gw.FuturesSettingAck:
        async def run() -> gw.FuturesSettingAck:
            row, res = futures.margin_mode_row(request, self.rs)
            what = f"SetMarginMode {pb.MarginMode.Name(request.margin_mode).removeprefix('MARGIN_MODE_')}"
            return await self._futures(request, row, res, "/oms.v1.Admin/SetMarginMode", what)

        return await guarded(context, run())

    @staticmethod
    def _within(p: Any, target: Any) -> bool:
        """May the caller rotate `target`? Only if its accounts and roles are all within the caller's."""
        return set(target.accounts) <= set(p.token.accounts) and rbac.roles_within(
            target.roles, p.token.roles
        )

    async def RotateKeys(self, request: gw.RotateKeys, context: Any) -> gw.RotateKeysResponse:
        async def run() -> gw.RotateKeysResponse:
            tid = validation.text(request.token_id, "token_id", required=True)
            if request.grace_seconds > 86400:
                raise invalid("grace_seconds", f"{request.grace_seconds} is too long; 0..86400")
            p = current.get()
            target = self.store.get(tid)
            if target is None or not self._within(p, target):
                if target is not None:  # audited as a denial; answered exactly like an unknown id
                    self.auth.audit.record(
                        AuditRecord(
                            p.method,
                            "deny",
                            "NOT_FOUND",
                            p.token.id,
                            f"{p.peer.ip}:{p.peer.port}",
                            f"RotateKeys on token {tid} outside the caller's accounts or roles",
                        )
                    )
                raise ApiError(
                    grpc.StatusCode.NOT_FOUND, f"token_id: no token {tid!r} within your accounts and roles"
                )
            try:
                _, token, until = await asyncio.to_thread(self.store.rotate, tid, request.grace_seconds)
            except Rejected as e:
                raise ApiError(grpc.StatusCode.FAILED_PRECONDITION, f"token_id: {e.message}") from None
            return gw.RotateKeysResponse(token_id=tid, token=token, old_valid_until_ns=until)

        return await guarded(context, run())
