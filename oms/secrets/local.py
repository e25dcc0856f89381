"""Secrets room: `LocalKeyStore`, the embedded default — one AES-256-GCM encrypted JSON file.

Touches only its own keystore file (and `<file>.lock`), written atomically (temp file 0600 + fsync +
rename + directory fsync). Layout:

    {"format": "oms-keystore", "v": 1,
     "kdf":   {"alg": "scrypt", "salt": b64, "n": 32768, "r": 8, "p": 1},
     "check": hex HMAC(mac_key, "oms-keystore passphrase check"),
     "keys":  {"binance_spot": [{"version": 1, "nonce": b64, "ct": b64(ciphertext||tag), "meta": {...}}]},
     "mac":   hex HMAC-SHA256(mac_key, canonical JSON of everything above)}

scrypt(passphrase) gives 64 bytes held in a `LockedBuffer`: the AES-256 key and the file MAC key. Each
record has a fresh 96-bit random nonce and is sealed with associated data "oms-keystore:v1:<name>:<version>",
so a ciphertext moved to another name or version fails to open. The plaintext (api key + secret) is
decrypted straight into locked memory (`update_into`), never into a Python `bytes`. Errors say what failed
and how to fix it, and never contain secret material.
"""

from __future__ import annotations

import base64
import fcntl
import hmac
import json
import os
import struct
import tempfile
import threading
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import msgspec
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives import hmac as c_hmac
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

from oms import log
from oms.secrets.locked import LockedBuffer
from oms.secrets.model import (
    Credential,
    KeyMetadata,
    KeyNotFound,
    KeystoreCorrupt,
    KeystoreLocked,
    VersionConflict,
    VersionInfo,
    Watch,
    WatchCallback,
    fingerprint,
    parse_name,
)
from oms.secrets.watch import VersionPoller

_log = log.get(__name__)
FORMAT = "oms-keystore"
FORMAT_VERSION = 1
_CHECK = b"oms-keystore passphrase check"
_TAG = 16


def aad_for(name: str, version: int) -> bytes:
    return f"oms-keystore:v{FORMAT_VERSION}:{name}:{version}".encode()


def seal(key: LockedBuffer, name: str, version: int, plaintext: LockedBuffer) -> tuple[bytes, bytes]:
    """Encrypt `plaintext` (locked) under the first 32 bytes of `key`; returns (nonce, ciphertext||tag)."""
    nonce = os.urandom(12)
    with key.view() as kv, plaintext.view() as pv:
        enc = Cipher(algorithms.AES(kv[:32]), modes.GCM(nonce)).encryptor()
        enc.authenticate_additional_data(aad_for(name, version))
        ct = enc.update(pv) + enc.finalize()
    return nonce, ct + enc.tag


def unseal(key: LockedBuffer, name: str, version: int, nonce: bytes, blob: bytes, where: str) -> LockedBuffer:
    """Decrypt into a new LockedBuffer; `KeystoreCorrupt` if the tag, nonce, name or version do not match."""
    if len(nonce) != 12 or len(blob) < _TAG:
        raise KeystoreCorrupt(
            f"record {name} v{version} in {where} is malformed (nonce/ciphertext too short)"
        )
    ct, tag = blob[:-_TAG], blob[-_TAG:]
    out = LockedBuffer(len(ct) + 15)
    try:
        with key.view() as kv, out.view() as ov:
            dec = Cipher(algorithms.AES(kv[:32]), modes.GCM(nonce, tag)).decryptor()
            dec.authenticate_additional_data(aad_for(name, version))
            n = dec.update_into(ct, ov)
            dec.finalize()
    except InvalidTag:
        out.close()
        raise KeystoreCorrupt(
            f"record {name} v{version} in {where} failed authentication: its ciphertext was changed or it "
            "was sealed for another key name/version; restore the file from a backup or re-add the key"
        ) from None
    try:
        with out.view() as ov:
            return LockedBuffer.from_bytes(ov[:n])
    finally:
        out.close()


def _pack(api_key: str, secret: LockedBuffer) -> LockedBuffer:
    ak = api_key.encode()
    buf = LockedBuffer(2 + len(ak) + len(secret))
    with buf.view() as bv, secret.view() as sv:
        bv[:2] = struct.pack(">H", len(ak))
        bv[2 : 2 + len(ak)] = ak
        bv[2 + len(ak) :] = sv
    return buf


def _unpack(plain: LockedBuffer) -> tuple[str, LockedBuffer]:
    with plain.view() as pv:
        (n,) = struct.unpack(">H", pv[:2])
        api_key = bytes(pv[2 : 2 + n]).decode()
        secret = LockedBuffer.from_bytes(pv[2 + n :])
    plain.close()
    return api_key, secret


def _b64d(s: Any, what: str, where: str) -> bytes:
    try:
        return base64.b64decode(s, validate=True)
    except (ValueError, TypeError):
        raise KeystoreCorrupt(f"{where}: field {what} is not valid base64 (file damaged)") from None


def _canonical(doc: dict[str, Any]) -> bytes:
    body = {k: v for k, v in doc.items() if k != "mac"}
    return json.dumps(body, sort_keys=True, separators=(",", ":")).encode()


class LocalKeyStore:
    """The encrypted-file `KeyStore`. `passphrase` is a LockedBuffer (see `settings.read_passphrase`)."""

    def __init__(
        self,
        path: str | os.PathLike[str],
        passphrase: LockedBuffer,
        *,
        scrypt_n: int = 2**15,
        scrypt_r: int = 8,
        scrypt_p: int = 1,
        watch_interval: float = 1.0,
    ) -> None:
        self.path = Path(path)
        self._passphrase = passphrase
        self._params = (scrypt_n, scrypt_r, scrypt_p)
        self._key: LockedBuffer | None = None
        self._key_salt: bytes = b""
        self._cache: tuple[tuple[int, int, int], dict[str, Any]] | None = None
        self._lock = threading.RLock()
        self._poller = VersionPoller(self.current_version, self.get, watch_interval)
        if self.path.exists():
            self._load()  # fail early on a wrong passphrase or a damaged file

    # -- key derivation and file integrity -------------------------------------------------------------
    def _derive(self, salt: bytes, n: int, r: int, p: int) -> LockedBuffer:
        if self._key is not None and self._key_salt == salt:
            return self._key
        key = LockedBuffer(64)
        with key.view() as kv, self._passphrase.view() as pv:
            Scrypt(salt=salt, length=64, n=n, r=r, p=p).derive_into(pv, kv)
        if self._key is not None:
            self._key.close()
        self._key, self._key_salt = key, salt
        return key

    def _mac(self, key: LockedBuffer, data: bytes) -> str:
        with key.view() as kv:
            h = c_hmac.HMAC(kv[32:], hashes.SHA256())
            h.update(data)
            return h.finalize().hex()

    def _load(self) -> dict[str, Any]:
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            return {}
        stamp = (st.st_ino, st.st_size, st.st_mtime_ns)
        if self._cache is not None and self._cache[0] == stamp:
            return self._cache[1]
        raw = self.path.read_bytes()
        doc = self._parse(raw)
        kdf = doc["kdf"]
        key = self._derive(_b64d(kdf["salt"], "kdf.salt", str(self.path)), kdf["n"], kdf["r"], kdf["p"])
        if not hmac.compare_digest(self._mac(key, _CHECK), str(doc["check"])):
            raise KeystoreLocked(
                f"wrong passphrase for keystore {self.path}: the passphrase check failed. Set "
                "OMS_KEYSTORE_PASSPHRASE (or secrets.passphrase_file) to the passphrase the file was "
                "created with"
            )
        if not hmac.compare_digest(self._mac(key, _canonical(doc)), str(doc["mac"])):
            raise KeystoreCorrupt(
                f"keystore {self.path} failed its integrity check (file MAC mismatch): it was changed "
                "outside oms (tampered or corrupted). Restore it from a backup or re-add the keys"
            )
        self._cache = (stamp, doc)
        return doc

    def _parse(self, raw: bytes) -> dict[str, Any]:
        where = str(self.path)
        try:
            doc = json.loads(raw)
        except (ValueError, UnicodeDecodeError) as e:
            pos = getattr(e, "pos", None)
            at = f" at byte {pos} of {len(raw)}" if pos is not None else ""
            raise KeystoreCorrupt(
                f"keystore {where} is not a complete keystore file ({type(e).__name__}{at}): it is truncated "
                "or damaged. Restore it from a backup or re-add the keys"
            ) from None
        if not isinstance(doc, dict) or doc.get("format") != FORMAT:
            raise KeystoreCorrupt(f'{where} is not an oms keystore (missing "format": "{FORMAT}")')
        if doc.get("v") != FORMAT_VERSION:
            raise KeystoreCorrupt(f"{where}: keystore format v{doc.get('v')} unsupported (this oms reads v1)")
        for field in ("kdf", "check", "keys", "mac"):
            if field not in doc:
                raise KeystoreCorrupt(f"{where}: field {field!r} missing (file truncated or damaged)")
        kdf = doc["kdf"]
        if not isinstance(kdf, dict) or not all(isinstance(kdf.get(k), int) for k in ("n", "r", "p")):
            raise KeystoreCorrupt(f"{where}: field 'kdf' is damaged (needs integer n, r, p and a salt)")
        return doc

    def _new_doc(self) -> dict[str, Any]:
        n, r, p = self._params
        salt = os.urandom(16)
        key = self._derive(salt, n, r, p)
        return {
            "format": FORMAT,
            "v": FORMAT_VERSION,
            "kdf": {"alg": "scrypt", "salt": base64.b64encode(salt).decode(), "n": n, "r": r, "p": p},
            "check": self._mac(key, _CHECK),
            "keys": {},
        }

    def _write_doc(self, doc: dict[str, Any]) -> None:
        assert self._key is not None
        doc["mac"] = self._mac(self._key, _canonical(doc))
        data = json.dumps(doc, indent=1, sort_keys=True).encode()
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd, tmp = tempfile.mkstemp(prefix=".keystore-", dir=self.path.parent)
        try:
            os.fchmod(fd, 0o600)
            with os.fdopen(fd, "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, self.path)
        except BaseException:
            if os.path.exists(tmp):
                os.unlink(tmp)
            raise
        dfd = os.open(self.path.parent, os.O_RDONLY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)
        self._cache = None

    @contextmanager
    def _locked_doc(self):  # type: ignore[no-untyped-def]
        """Read-modify-write under an exclusive flock so two writers never lose each other's update."""
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        with self._lock, open(f"{self.path}.lock", "a+") as lf:
            os.chmod(lf.name, 0o600)
            fcntl.flock(lf, fcntl.LOCK_EX)
            try:
                self._cache = None
                doc = self._load() or self._new_doc()
                yield doc
                self._write_doc(doc)
            finally:
                fcntl.flock(lf, fcntl.LOCK_UN)

    # -- KeyStore ---------------------------------------------------------------------------------------
    def _records(self, doc: dict[str, Any], name: str) -> list[dict[str, Any]]:
        recs = doc.get("keys", {}).get(name)
        if not recs:
            known = ", ".join(sorted(doc.get("keys", {}))) or "none"
            raise KeyNotFound(
                f"no key {name!r} in keystore {self.path} (keys present: {known}); "
                f"add it with `oms keys add {name}`"
            )
        return recs

    def get(self, name: str, version: int | None = None) -> Credential:
        parse_name(name)
        with self._lock:
            doc = self._load()
            recs = self._records(doc, name)
            rec = recs[-1] if version is None else next((r for r in recs if r["version"] == version), None)
            if rec is None:
                have = ", ".join(str(r["version"]) for r in recs)
                raise KeyNotFound(f"key {name!r} has no version {version} (versions: {have})")
            where = str(self.path)
            plain = unseal(
                self._key,  # type: ignore[arg-type]
                name,
                int(rec["version"]),
                _b64d(rec["nonce"], "nonce", where),
                _b64d(rec["ct"], "ct", where),
                where,
            )
        api_key, secret = _unpack(plain)
        log.redact(api_key)
        return Credential(
            name, api_key, secret, int(rec["version"]), msgspec.convert(rec["meta"], KeyMetadata)
        )

    def put(
        self, name: str, api_key: str, secret: LockedBuffer, metadata: KeyMetadata, *, cas: int | None = None
    ) -> int:
        parse_name(name)
        if not api_key or len(secret) == 0:
            raise KeystoreCorrupt(f"refusing to store key {name!r}: the API key or the secret is empty")
        with self._locked_doc() as doc:
            recs = doc["keys"].setdefault(name, [])
            current = recs[-1]["version"] if recs else 0
            if cas is not None and cas != current:
                raise VersionConflict(
                    f"key {name!r}: expected current version {cas} but the store has {current}; "
                    "someone rotated it meanwhile — re-read and retry"
                )
            version = current + 1
            plain = _pack(api_key, secret)
            try:
                nonce, blob = seal(self._key, name, version, plain)  # type: ignore[arg-type]
            finally:
                plain.close()
            recs.append(
                {
                    "version": version,
                    "nonce": base64.b64encode(nonce).decode(),
                    "ct": base64.b64encode(blob).decode(),
                    "meta": msgspec.to_builtins(metadata),
                }
            )
        _log.info("key %s: version %d written (key %s)", name, version, fingerprint(api_key))
        return version

    def current_version(self, name: str) -> int:
        with self._lock:
            recs = self._load().get("keys", {}).get(name) or []
            return int(recs[-1]["version"]) if recs else 0

    def versions(self, name: str) -> list[VersionInfo]:
        out = []
        with self._lock:
            recs = self._records(self._load(), name)
        for r in recs:
            cred = self.get(name, int(r["version"]))
            out.append(
                VersionInfo(
                    name=name, version=cred.version, key_fingerprint=cred.fingerprint, metadata=cred.metadata
                )
            )
            cred.close()
        return out

    def names(self) -> list[str]:
        with self._lock:
            return sorted(self._load().get("keys", {}))

    def update_state(
        self, name: str, version: int, *, revoke_after: float | None = None, revoked_at: float | None = None
    ) -> None:
        with self._locked_doc() as doc:
            rec = next((r for r in self._records(doc, name) if r["version"] == version), None)
            if rec is None:
                raise KeyNotFound(f"key {name!r} has no version {version}")
            if revoke_after is not None:
                rec["meta"]["revoke_after"] = revoke_after
            if revoked_at is not None:
                rec["meta"]["revoked_at"] = revoked_at

    def watch(self, name: str, callback: WatchCallback, *, interval: float | None = None) -> Watch:
        return self._poller.add(name, callback, interval)

    def close(self) -> None:
        self._poller.stop()
        if self._key is not None:
            self._key.close()
            self._key = None

    def __repr__(self) -> str:
        return f"<LocalKeyStore {self.path}>"
