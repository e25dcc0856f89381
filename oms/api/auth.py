"""Gateway room (oms/api): authentication and authorisation of every call, as a server interceptor.

Touches the token file (read), the audit sink (write) and nothing else. Order of checks, each refusal
audited and answered with a status that names what to fix:
  1. transport: behind the TLS front, a connection the front did not open is refused (plaintext);
  2. `authorization: Bearer <token>` present and valid (UNAUTHENTICATED);
  3. the peer's IP inside one of the token's CIDRs (PERMISSION_DENIED);
  4. one of the token's roles allowed for the method (PERMISSION_DENIED; unknown method: default deny);
  5. the token's rate limit (RESOURCE_EXHAUSTED with RetryInfo), charged before the TOTP check so every
     guessed code costs the token;
  6. TOTP (`x-oms-totp`) for admin methods: valid now (±1 step), single-use by default (UNAUTHENTICATED).
     `totp_max_failures` wrong codes in a row lock the token (every method) for `totp_lock_s`, doubled
     at each further lock (capped at a day), with an audit record (decision "lock") and an alert.
Before any of this costs the server work, a per-peer bucket (`peer_auth_rate`/s, burst
`peer_auth_burst`) pays for every call that is not a token already verified (a missing, malformed,
unknown or wrong token, or a first verification that needs scrypt): guessing token ids or secrets
from one address is throttled before a scrypt is spent on it.
The allowed principal is put in a contextvar for the servicer, which also checks account scope and
charges per-order costs (batches, streams) through `charge()`.
"""

from __future__ import annotations

import asyncio
import contextvars
import ipaddress
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import grpc
import pyotp

from oms import log
from oms.api import rbac
from oms.api.audit_sink import AuditRecord, AuditSink
from oms.api.lockout import LockoutBook
from oms.api.ratelimit import Limiter
from oms.api.status import ApiError, abort
from oms.api.tokens import TokenRecord, TokenStore

PeerResolver = Callable[[str], "PeerInfo | None"]
_log = log.get(__name__)


def _log_alert(text: str) -> None:
    """Default alert path: an ERROR line in the gateway's log (supervisord and the monitor read it)."""
    _log.error("ALERT %s", text)


@dataclass(slots=True)
class PeerInfo:
    ip: str
    port: int
    cert_subject: str = ""  # the client certificate's subject when mTLS is on


@dataclass(slots=True)
class Principal:
    token: TokenRecord
    peer: PeerInfo
    method: str
    accounts: frozenset[int] = field(default_factory=frozenset)


current: contextvars.ContextVar[Principal] = contextvars.ContextVar("oms_principal")


def parse_peer(peer: str) -> PeerInfo | None:
    """grpc's peer string ("ipv4:1.2.3.4:5", "ipv6:[::1]:5") as ip and port."""
    try:
        if peer.startswith("ipv4:"):
            host, port = peer[5:].rsplit(":", 1)
            return PeerInfo(host, int(port))
        if peer.startswith("ipv6:"):
            host, port = peer[5:].rsplit(":", 1)
            return PeerInfo(host.strip("[]"), int(port))
    except ValueError:
        return None
    return None


class Authenticator:
    def __init__(
        self,
        store: TokenStore,
        audit: AuditSink,
        *,
        resolve_peer: PeerResolver | None = None,
        totp_single_use: bool = True,
        totp_max_failures: int = 5,
        totp_lock_s: float = 60.0,
        peer_auth_rate: float = 5.0,
        peer_auth_burst: int = 20,
        alert: Callable[[str], None] | None = None,
    ) -> None:
        self.store = store
        self.audit = audit
        self.resolve_peer = resolve_peer  # set when the TLS front is in use
        self.drop_peer: Callable[[PeerInfo], bool] | None = None  # the front's "close this client"
        self.totp_single_use = totp_single_use
        self.totp_max_failures = totp_max_failures
        self.totp_lock_s = totp_lock_s
        self.peer_auth_rate = peer_auth_rate
        self.peer_auth_burst = peer_auth_burst
        self.alert = alert or _log_alert
        self.limiter = Limiter()
        self.peer_limiter = Limiter(max_keys=100_000)
        self.lockouts = LockoutBook(totp_max_failures, totp_lock_s)
        self._totp_last: dict[str, int] = {}
        self._ip_cache: dict[tuple[str, tuple[str, ...], str], bool] = {}

    def _deny(
        self,
        code: grpc.StatusCode,
        msg: str,
        method: str,
        peer: str,
        tid: str = "",
        retry_after: float | None = None,
        account: int | None = None,
    ) -> ApiError:
        self.audit.record(AuditRecord(method, "deny", code.name, tid, peer, msg, account))
        return ApiError(code, msg, retry_after=retry_after)

    async def authenticate(self, method: str, metadata: dict[str, str], raw_peer: str) -> Principal:
        if self.resolve_peer is not None:
            peer = self.resolve_peer(raw_peer)
            if peer is None:
                raise self._deny(
                    grpc.StatusCode.UNAUTHENTICATED,
                    "plaintext connection refused: connect with TLS 1.3 to the gateway port",
                    method,
                    raw_peer,
                )
        else:
            peer = parse_peer(raw_peer) or PeerInfo(raw_peer, 0)
        where = f"{peer.ip}:{peer.port}"
        auth = metadata.get("authorization", "")
        token = auth[7:].strip() if auth.startswith("Bearer ") else ""
        rec = None
        if token:
            self.store.maybe_reload()
            rec = self.store.cached(token)
        if not isinstance(rec, TokenRecord):  # not a token verified before: this peer pays for it
            self._charge_peer(peer, method, where)
        if not auth:
            raise self._deny(
                grpc.StatusCode.UNAUTHENTICATED,
                "missing token: send metadata 'authorization: Bearer <token>'",
                method,
                where,
            )
        if not auth.startswith("Bearer "):
            raise self._deny(
                grpc.StatusCode.UNAUTHENTICATED,
                "authorization metadata must read 'Bearer <token>'",
                method,
                where,
            )
        if rec is None:
            rec = await asyncio.to_thread(self.store.verify, token)
        if not rec:
            raise self._deny(
                grpc.StatusCode.UNAUTHENTICATED,
                "invalid, revoked or expired token: check it or ask an admin for a new one",
                method,
                where,
            )
        assert isinstance(rec, TokenRecord)
        if not self._ip_allowed(rec, peer.ip):
            raise self._deny(
                grpc.StatusCode.PERMISSION_DENIED,
                f"peer address {peer.ip} is not in token {rec.id}'s allowlist {rec.cidrs}",
                method,
                where,
                rec.id,
            )
        rule = rbac.POLICY.get(method)
        if rule is None:
            raise self._deny(
                grpc.StatusCode.PERMISSION_DENIED,
                f"method {method} is not allowed for anyone",
                method,
                where,
                rec.id,
            )
        if not rule.roles.intersection(rec.roles):
            raise self._deny(
                grpc.StatusCode.PERMISSION_DENIED,
                f"{method} needs role {' or '.join(sorted(rule.roles))}; token {rec.id} has "
                f"{', '.join(rec.roles)}",
                method,
                where,
                rec.id,
            )
        self._check_lock(rec, method, where)
        if rule.cost:
            wait = self.limiter.take(rec.id, rec.rate, rec.burst, rule.cost)
            if wait:
                raise self._deny(
                    grpc.StatusCode.RESOURCE_EXHAUSTED,
                    f"rate limit of token {rec.id} ({rec.rate:g}/s, burst {rec.burst}) exceeded; "
                    f"retry in {wait:.3f} s",
                    method,
                    where,
                    rec.id,
                    retry_after=wait,
                )
        if rule.totp:
            self._check_totp(rec, metadata.get("x-oms-totp", ""), method, where)
        self.audit.record(AuditRecord(method, "allow", "OK", rec.id, where))
        return Principal(rec, peer, method, frozenset(rec.accounts))

    def _ip_allowed(self, rec: TokenRecord, ip_text: str) -> bool:
        key = (rec.id, tuple(rec.cidrs), ip_text)
        hit = self._ip_cache.get(key)
        if hit is None:
            ip = ipaddress.ip_address(ip_text.split("%")[0])
            if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
                ip = ip.ipv4_mapped
            hit = any(ip in net for net in rec.networks())
            if len(self._ip_cache) > 10_000:
                self._ip_cache.clear()
            self._ip_cache[key] = hit
        return hit

    def _check_totp(self, rec: TokenRecord, code: str, method: str, where: str) -> None:
        if rec.totp_secret is None:
            raise self._deny(
                grpc.StatusCode.PERMISSION_DENIED,
                f"{method} needs a TOTP second factor but token {rec.id} has none enrolled; "
                "add a token with --totp",
                method,
                where,
                rec.id,
            )
        if not code:
            raise self._deny(
                grpc.StatusCode.UNAUTHENTICATED,
                f"{method} needs a TOTP code in metadata 'x-oms-totp'",
                method,
                where,
                rec.id,
            )
        totp = pyotp.TOTP(rec.totp_secret)
        now = time.time()
        step = None
        for off in (0, -1, 1):
            t = now + off * totp.interval
            if code.isdigit() and len(code) == totp.digits and pyotp.utils.strings_equal(code, totp.at(t)):
                step = int(t // totp.interval)
                break
        if step is None:
            self._totp_failed(rec, method, where)
            raise self._deny(
                grpc.StatusCode.UNAUTHENTICATED,
                "TOTP code invalid or expired: use the current code from the authenticator",
                method,
                where,
                rec.id,
            )
        if self.totp_single_use:
            if step <= self._totp_last.get(rec.id, -1):
                self._totp_failed(rec, method, where)
                raise self._deny(
                    grpc.StatusCode.UNAUTHENTICATED,
                    "TOTP code already used: wait for the next code",
                    method,
                    where,
                    rec.id,
                )
            self._totp_last[rec.id] = step
        self.lockouts.succeeded(rec.id)  # ends the run of failures (the lock count stays: it only grows)

    # ---- lockout and per-peer throttling -------------------------------------------------------
    def _check_lock(self, rec: TokenRecord, method: str, where: str) -> None:
        left = self.lockouts.locked_for(rec.id)
        if left > 0:
            raise self._deny(
                grpc.StatusCode.UNAUTHENTICATED,
                f"token {rec.id} is locked for {left:.0f} s more after {self.totp_max_failures} wrong "
                "TOTP codes; wait, or ask an admin to check the token (oms tokens list)",
                method,
                where,
                rec.id,
                retry_after=left,
            )

    def _totp_failed(self, rec: TokenRecord, method: str, where: str) -> None:
        secs, n = self.lockouts.failed(rec.id)
        if not secs:
            return
        msg = (
            f"token {rec.id} ({rec.name}) locked for {secs:.0f} s after {self.totp_max_failures} wrong "
            f"TOTP codes in a row from {where} (lock #{n})"
        )
        self.audit.record(
            AuditRecord(
                method,
                "lock",
                "UNAUTHENTICATED",
                rec.id,
                where,
                msg,
                None,
                {"lock_s": secs, "locks": n},
            )
        )
        try:
            self.alert(msg)
        except Exception:  # an alert path that fails must not open the lock
            _log.exception("gateway alert failed")

    def _charge_peer(self, peer: PeerInfo, method: str, where: str) -> None:
        wait = self.peer_limiter.take(peer.ip, self.peer_auth_rate, self.peer_auth_burst, 1)
        if wait:
            raise self._deny(
                grpc.StatusCode.RESOURCE_EXHAUSTED,
                f"too many unauthenticated or failed calls from {peer.ip} "
                f"({self.peer_auth_rate:g}/s, burst {self.peer_auth_burst}); retry in {wait:.3f} s",
                method,
                where,
                retry_after=wait,
            )

    def charge(self, p: Principal, n: int) -> None:
        """Charge `n` orders to the caller's bucket (batches, streams); RESOURCE_EXHAUSTED if empty."""
        wait = self.limiter.take(p.token.id, p.token.rate, p.token.burst, n)
        if wait:
            raise self._deny(
                grpc.StatusCode.RESOURCE_EXHAUSTED,
                f"rate limit of token {p.token.id} ({p.token.rate:g}/s, burst {p.token.burst}) "
                f"exceeded by {n} order(s); retry in {wait:.3f} s",
                p.method,
                f"{p.peer.ip}:{p.peer.port}",
                p.token.id,
                retry_after=wait,
            )

    def check_account(self, p: Principal, account: int, field_name: str = "account") -> None:
        if account not in p.accounts:
            raise self._deny(
                grpc.StatusCode.PERMISSION_DENIED,
                f"{field_name}: token {p.token.id} is not scoped to account {account} "
                f"(allowed: {sorted(p.accounts)})",
                p.method,
                f"{p.peer.ip}:{p.peer.port}",
                p.token.id,
                account=account,
            )


class AuthInterceptor(grpc.aio.ServerInterceptor):
    """Wraps every handler so no method runs before `Authenticator.authenticate` allowed it."""

    def __init__(self, auth: Authenticator) -> None:
        self.auth = auth
        self._wrapped: dict[str, grpc.RpcMethodHandler] = {}  # built once per method, not per call

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler]],
        details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler:
        method = details.method
        wrapped = self._wrapped.get(method)
        if wrapped is not None:
            return wrapped
        handler = await continuation(details)
        if handler is None or rbac.is_public(method):
            return handler
        wrapped = self._wrapped[method] = self._wrap(method, handler)
        return wrapped

    def _wrap(self, method: str, handler: grpc.RpcMethodHandler) -> grpc.RpcMethodHandler:
        auth = self.auth

        async def gate(context: grpc.aio.ServicerContext) -> Principal | None:
            md = {k: v for k, v in (context.invocation_metadata() or ()) if isinstance(v, str)}
            try:
                p = await auth.authenticate(method, md, context.peer())
            except ApiError as e:
                await abort(context, e)
                return None
            current.set(p)
            return p

        if not handler.request_streaming and not handler.response_streaming:
            inner_uu = handler.unary_unary

            async def uu(request: Any, context: grpc.aio.ServicerContext) -> Any:
                await gate(context)
                return await inner_uu(request, context)

            return grpc.unary_unary_rpc_method_handler(
                uu, handler.request_deserializer, handler.response_serializer
            )
        if not handler.request_streaming:
            inner_us = handler.unary_stream

            async def us(request: Any, context: grpc.aio.ServicerContext) -> Any:
                await gate(context)
                async for item in inner_us(request, context):
                    yield item

            return grpc.unary_stream_rpc_method_handler(
                us, handler.request_deserializer, handler.response_serializer
            )
        if handler.response_streaming:
            inner_ss = handler.stream_stream

            async def ss(requests: Any, context: grpc.aio.ServicerContext) -> Any:
                await gate(context)
                async for item in inner_ss(requests, context):
                    yield item

            return grpc.stream_stream_rpc_method_handler(
                ss, handler.request_deserializer, handler.response_serializer
            )
        inner_su = handler.stream_unary

        async def su(requests: Any, context: grpc.aio.ServicerContext) -> Any:
            await gate(context)
            return await inner_su(requests, context)

        return grpc.stream_unary_rpc_method_handler(
            su, handler.request_deserializer, handler.response_serializer
        )
