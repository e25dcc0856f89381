"""Gateway room (oms/api): API tokens — issued once, stored hashed (scrypt, per-token salt), scoped.

Touches only the token file it is given (JSON, mode 0600, replaced atomically under an flock). A token
reads `omt_<id>.<secret>`; the file keeps the id, the scrypt hash of the whole token and its salt, never
the token. Each record carries its roles, the accounts it may act on, the CIDRs it may come from, its
rate limit (requests or orders per second, burst) and, for admin methods, a TOTP secret (base32; the
file is the second factor's enrolment record, so it stays 0600). Rotation keeps the old hash valid for
a grace period.

Verifying scrypt costs ~50 ms by design, so the gateway caches a positive result keyed by a keyed
BLAKE2b of the presented token (key random per process); the cache is dropped whenever the file changes.
"""

from __future__ import annotations

import base64
import fcntl
import hashlib
import hmac
import ipaddress
import json
import os
import secrets
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path

import pyotp

from oms.errors import Rejected

ROLES = ("viewer", "trader", "risk", "admin")
PREFIX = "omt_"
SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**14, 8, 1


def _scrypt(token: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    return hashlib.scrypt(token.encode(), salt=salt, n=n, r=r, p=p, maxmem=64 * 1024 * 1024, dklen=32)


@dataclass(slots=True)
class OldSecret:
    salt: str
    hash: str
    valid_until_ns: int


@dataclass(slots=True)
class TokenRecord:
    id: str
    name: str
    roles: list[str]
    accounts: list[int]
    cidrs: list[str]
    rate: float  # sustained requests (or orders) per second
    burst: int
    salt: str
    hash: str
    n: int = SCRYPT_N
    r: int = SCRYPT_R
    p: int = SCRYPT_P
    totp_secret: str | None = None
    created_ns: int = 0
    expires_ns: int = 0  # 0 = never
    revoked: bool = False
    old: list[OldSecret] = field(default_factory=list)

    def networks(self) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
        return [ipaddress.ip_network(c, strict=False) for c in self.cidrs]

    def public(self) -> dict[str, object]:
        """Everything except hashes, salts and the TOTP secret (for listing)."""
        return {
            "id": self.id,
            "name": self.name,
            "roles": self.roles,
            "accounts": self.accounts,
            "cidrs": self.cidrs,
            "rate": self.rate,
            "burst": self.burst,
            "totp": self.totp_secret is not None,
            "created_ns": self.created_ns,
            "expires_ns": self.expires_ns,
            "revoked": self.revoked,
        }


def parse_token(token: str) -> str | None:
    """The token id inside a presented token, or None when it is not shaped like one."""
    if not token.startswith(PREFIX) or "." not in token or len(token) > 200:
        return None
    tid = token[len(PREFIX) :].split(".", 1)[0]
    return tid if tid and all(c in "0123456789abcdef" for c in tid) else None


def check_roles(roles: Iterable[str]) -> list[str]:
    out = sorted(set(roles))
    bad = [r for r in out if r not in ROLES]
    if bad or not out:
        raise Rejected(f"roles {bad or out!r} invalid: give one or more of {', '.join(ROLES)}")
    return out


def check_cidrs(cidrs: Iterable[str]) -> list[str]:
    out = []
    for c in cidrs:
        try:
            out.append(str(ipaddress.ip_network(c.strip(), strict=False)))
        except ValueError:
            raise Rejected(f"CIDR {c!r} invalid: write e.g. 127.0.0.1/32, 10.0.0.0/8 or ::1/128") from None
    if not out:
        raise Rejected("at least one CIDR is required (e.g. 127.0.0.1/32)")
    return out


class TokenStore:
    """The token file: load, add, revoke, rotate, verify."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self._records: dict[str, TokenRecord] = {}
        self._mtime: float = -1.0
        self._checked = 0.0
        self._cache: dict[bytes, tuple[str, int]] = {}  # keyed digest -> (token id, valid_until_ns or 0)
        self._neg: set[bytes] = set()  # keyed digests that failed verification (bounded)
        self._key = secrets.token_bytes(32)
        self.reload()

    # ---- file ----------------------------------------------------------------------------------
    def reload(self) -> None:
        try:
            st = self.path.stat()
        except FileNotFoundError:
            self._records, self._mtime = {}, -1.0
            self._cache.clear()
            self._neg.clear()
            return
        if st.st_mtime_ns == self._mtime:
            return
        try:
            raw = json.loads(self.path.read_text() or "{}")
            recs = {}
            for d in raw.get("tokens", []):
                d = dict(d)
                d["old"] = [OldSecret(**o) for o in d.get("old", [])]
                recs[d["id"]] = TokenRecord(**d)
        except (ValueError, TypeError, KeyError) as e:
            raise Rejected(f"token file {self.path} is corrupt ({e}); restore it or re-create tokens") from e
        self._records, self._mtime = recs, st.st_mtime_ns
        self._cache.clear()
        self._neg.clear()

    def maybe_reload(self, every_s: float = 1.0) -> None:
        now = time.monotonic()
        if now - self._checked >= every_s:
            self._checked = now
            self.reload()

    @contextmanager
    def _locked(self) -> Iterator[None]:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        lock = os.open(str(self.path) + ".lock", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(lock, fcntl.LOCK_EX)
            self._mtime = -1.0
            self.reload()
            yield
            tmp = self.path.with_suffix(".tmp")
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w") as f:
                json.dump({"version": 1, "tokens": [asdict(r) for r in self._records.values()]}, f, indent=1)
            os.replace(tmp, self.path)
            self._mtime = -1.0
            self.reload()
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
            os.close(lock)

    # ---- admin ---------------------------------------------------------------------------------
    def add(
        self,
        name: str,
        roles: Iterable[str],
        accounts: Iterable[int],
        cidrs: Iterable[str] = ("127.0.0.1/32", "::1/128"),
        *,
        rate: float = 100.0,
        burst: int = 200,
        totp: bool = False,
        expires_ns: int = 0,
    ) -> tuple[TokenRecord, str]:
        """Create a token; returns (record, the token string — shown once, never stored)."""
        roles_l = check_roles(roles)
        cidrs_l = check_cidrs(cidrs)
        accts = sorted({int(a) for a in accounts})
        if not accts or any(a <= 0 or a > 0xFFFFFFFF for a in accts):
            raise Rejected(f"accounts {accts!r} invalid: give one or more account ids in 1..4294967295")
        if not (rate > 0 and burst >= 1):
            raise Rejected(f"rate {rate} / burst {burst} invalid: rate must be > 0 and burst >= 1")
        if "admin" in roles_l or "risk" in roles_l:
            totp = True  # admin methods always need the second factor
        with self._locked():
            tid = secrets.token_hex(6)
            while tid in self._records:
                tid = secrets.token_hex(6)
            token, salt, digest = self._new_secret(tid)
            rec = TokenRecord(
                id=tid,
                name=name,
                roles=roles_l,
                accounts=accts,
                cidrs=cidrs_l,
                rate=float(rate),
                burst=int(burst),
                salt=salt,
                hash=digest,
                totp_secret=pyotp.random_base32() if totp else None,
                created_ns=time.time_ns(),
                expires_ns=expires_ns,
            )
            self._records[tid] = rec
        return rec, token

    def _new_secret(self, tid: str) -> tuple[str, str, str]:
        token = f"{PREFIX}{tid}.{base64.urlsafe_b64encode(secrets.token_bytes(32)).decode().rstrip('=')}"
        salt = secrets.token_bytes(16)
        return token, salt.hex(), _scrypt(token, salt, SCRYPT_N, SCRYPT_R, SCRYPT_P).hex()

    def revoke(self, tid: str) -> TokenRecord:
        with self._locked():
            rec = self._get(tid)
            rec.revoked = True
        return rec

    def rotate(self, tid: str, grace_s: int = 0) -> tuple[TokenRecord, str, int]:
        """New secret for `tid`; the old one stays valid `grace_s` seconds. Returns (rec, token, until)."""
        if not 0 <= grace_s <= 86400:
            raise Rejected(f"grace_seconds {grace_s} invalid: must be within 0..86400")
        with self._locked():
            rec = self._get(tid)
            if rec.revoked:
                raise Rejected(f"token {tid} is revoked; add a new token instead of rotating it")
            until = time.time_ns() + grace_s * 1_000_000_000 if grace_s else 0
            now = time.time_ns()
            rec.old = [o for o in rec.old if o.valid_until_ns > now]
            if grace_s:
                rec.old.append(OldSecret(rec.salt, rec.hash, until))
            token, rec.salt, rec.hash = self._new_secret(tid)
        return rec, token, until

    def _get(self, tid: str) -> TokenRecord:
        try:
            return self._records[tid]
        except KeyError:
            raise Rejected(f"no token with id {tid!r}; list them with `oms tokens list`") from None

    def get(self, tid: str) -> TokenRecord | None:
        return self._records.get(tid)

    def list(self) -> list[TokenRecord]:
        return sorted(self._records.values(), key=lambda r: r.created_ns)

    # ---- verification --------------------------------------------------------------------------
    def cached(self, token: str) -> TokenRecord | bool | None:
        """Fast path: the record if this token verified before, False if it failed before, else None."""
        tid = parse_token(token)
        if tid is None:
            return False
        rec = self._records.get(tid)
        if rec is None:  # maybe added since the last reload: one stat() to find out
            self.reload()
            rec = self._records.get(tid)
        if rec is None or rec.revoked:
            return False
        now = time.time_ns()
        if rec.expires_ns and now >= rec.expires_ns:
            return False
        key = hashlib.blake2b(token.encode(), key=self._key, digest_size=32).digest()
        if key in self._neg:
            return False
        hit = self._cache.get(key)
        if hit is not None and hit[0] == tid and (hit[1] == 0 or now < hit[1]):
            return rec
        return None

    def verify(self, token: str) -> TokenRecord | None:
        """The record of a valid, unrevoked, unexpired token, else None (constant-time compare)."""
        tid = parse_token(token)
        if tid is None:
            return None
        rec = self._records.get(tid)
        if rec is None or rec.revoked:
            return None
        now = time.time_ns()
        if rec.expires_ns and now >= rec.expires_ns:
            return None
        key = hashlib.blake2b(token.encode(), key=self._key, digest_size=32).digest()
        hit = self._cache.get(key)
        if hit is not None and hit[0] == tid and (hit[1] == 0 or now < hit[1]):
            return rec
        if hmac.compare_digest(_scrypt(token, bytes.fromhex(rec.salt), rec.n, rec.r, rec.p).hex(), rec.hash):
            self._cache[key] = (tid, 0)
            return rec
        for old in rec.old:
            if now < old.valid_until_ns and hmac.compare_digest(
                _scrypt(token, bytes.fromhex(old.salt), rec.n, rec.r, rec.p).hex(), old.hash
            ):
                self._cache[key] = (tid, old.valid_until_ns)
                return rec
        if len(self._neg) > 10_000:
            self._neg.clear()
        self._neg.add(key)
        return None
