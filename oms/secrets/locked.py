"""Secrets room: secret bytes in locked, never-dumped, zeroised memory (`LockedBuffer`).

Touches only this process's memory (libc mlock/munlock/madvise/mlockall through ctypes). The buffer is an
anonymous mmap: page aligned, `mlock`ed so it never reaches swap, `MADV_DONTDUMP` so it is left out of core
dumps, and overwritten with zeros on `close()`, on `with` exit and in `__del__`. `repr`/`str` never show
the value, pickling is refused, and equality is constant time.

Python limits, stated plainly: a `str`/`bytes` copy handed to a library (python-binance keeps the secret
as `str`; hvac returns it inside a JSON-decoded dict) lives in ordinary heap memory that Python cannot
zeroise. This module keeps those copies to the moments they are needed; `hmac_sha256_hex()` signs
straight from the locked pages so a signer needs no copy at all.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import hmac as _hmac
import mmap
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives import hmac as c_hmac

from oms import log
from oms.errors import OmsError

_log = log.get(__name__)

MCL_CURRENT = 1
MCL_FUTURE = 2
MCL_ONFAULT = 4

_libc_lock = threading.Lock()
_libc: ctypes.CDLL | None = None
_warned = False


class MemoryLockError(OmsError):
    """Locking memory was required (secrets.mlock = "require") but the kernel refused it."""


def _get_libc() -> ctypes.CDLL:
    global _libc
    with _libc_lock:
        if _libc is None:
            lib = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
            for fn in ("mlock", "munlock"):
                f = getattr(lib, fn)
                f.argtypes = [ctypes.c_void_p, ctypes.c_size_t]
                f.restype = ctypes.c_int
            lib.mlockall.argtypes = [ctypes.c_int]
            lib.mlockall.restype = ctypes.c_int
            lib.munlockall.argtypes = []
            lib.munlockall.restype = ctypes.c_int
            _libc = lib
        return _libc


def lock_all_memory(*, future: bool = True, on_fault: bool = True) -> bool:
    """`mlockall` the whole process where the kernel permits it; False (and a warning) where not.

    Optional (settings `secrets.mlockall`): a connector process may call it once at start so that every
    copy of a secret Python makes (not only `LockedBuffer`s) stays out of swap. Needs CAP_IPC_LOCK or a
    large enough RLIMIT_MEMLOCK.
    """
    flags = MCL_CURRENT | (MCL_FUTURE if future else 0) | (MCL_ONFAULT if on_fault else 0)
    libc = _get_libc()
    if libc.mlockall(flags) == 0:
        return True
    err = ctypes.get_errno()
    if on_fault and err == 22:  # EINVAL: kernel older than 4.4 has no MCL_ONFAULT
        return lock_all_memory(future=future, on_fault=False)
    _log.warning(
        "mlockall refused (%s); secrets stay in their own locked buffers only. Raise `ulimit -l` or grant "
        "CAP_IPC_LOCK to lock the whole process",
        os.strerror(err),
    )
    return False


class LockedBuffer:
    """A fixed-size secret held in mlock'ed, zeroised memory.

    `mode`: "try" (lock if the kernel allows, warn once otherwise), "require" (raise `MemoryLockError`),
    "off" (do not lock; still zeroised). `locked` tells which happened.
    """

    __slots__ = ("__weakref__", "_addr", "_cbuf", "_closed", "_len", "_map", "locked")

    def __init__(self, size: int, *, mode: str = "try") -> None:
        if size < 0:
            raise ValueError("LockedBuffer size must be >= 0")
        self._len = size
        self._closed = False
        self.locked = False
        self._map = mmap.mmap(-1, max(size, 1), flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS)
        self._cbuf = (ctypes.c_char * max(size, 1)).from_buffer(self._map)
        self._addr = ctypes.addressof(self._cbuf)
        if hasattr(mmap, "MADV_DONTDUMP"):
            with suppress(OSError):
                self._map.madvise(mmap.MADV_DONTDUMP)
        if mode != "off":
            self._lock(mode)

    def _lock(self, mode: str) -> None:
        global _warned
        libc = _get_libc()
        if libc.mlock(self._addr, max(self._len, 1)) == 0:
            self.locked = True
            return
        err = os.strerror(ctypes.get_errno())
        if mode == "require":
            self.close()
            raise MemoryLockError(
                f"mlock of a {self._len}-byte secret buffer failed ({err}); raise `ulimit -l` or grant "
                'CAP_IPC_LOCK, or set secrets.mlock = "try" to continue without locked pages'
            )
        if not _warned:
            _warned = True
            _log.warning("mlock failed (%s); secrets are zeroised but may be swapped", err)

    # -- construction ------------------------------------------------------------------------------
    @classmethod
    def from_bytes(cls, data: bytes | bytearray | memoryview, *, mode: str = "try") -> LockedBuffer:
        """Copy `data` into locked memory. If `data` is a bytearray it is zeroised after the copy."""
        view = memoryview(data).cast("B")
        buf = cls(len(view), mode=mode)
        if len(view):
            with buf.view() as dst:
                dst[:] = view
        if isinstance(data, bytearray):
            data[:] = b"\x00" * len(data)
        return buf

    @classmethod
    def from_str(cls, text: str, *, mode: str = "try") -> LockedBuffer:
        tmp = bytearray(text.encode("utf-8"))
        return cls.from_bytes(tmp, mode=mode)

    # -- access --------------------------------------------------------------------------------------
    def __len__(self) -> int:
        return self._len

    @property
    def closed(self) -> bool:
        return self._closed

    def _check(self) -> None:
        if self._closed:
            raise ValueError("LockedBuffer is closed (the secret was zeroised)")

    @contextmanager
    def view(self) -> Iterator[memoryview]:
        """A writable memoryview of the secret for the duration of the `with` block (released after)."""
        self._check()
        base = memoryview(self._cbuf)
        flat = base.cast("B")
        mv = flat[: self._len]
        try:
            yield mv
        finally:
            mv.release()
            flat.release()
            base.release()

    def reveal(self) -> str:
        """A `str` copy for a library that insists on one (python-binance). Heap memory; registered with
        `oms.log.redact` so no log line can carry it."""
        with self.view() as mv:
            text = bytes(mv).decode("utf-8")
        log.redact(text)  # the copy exists now; make sure no log line can ever carry it
        return text

    def hmac_sha256_hex(self, payload: bytes) -> str:
        """HMAC-SHA256 keyed with the secret, computed from the locked pages (no copy of the key)."""
        with self.view() as mv:
            h = c_hmac.HMAC(mv, hashes.SHA256())
            h.update(payload)
            return h.finalize().hex()

    def equals(self, other: LockedBuffer | bytes) -> bool:
        """Constant-time comparison."""
        if isinstance(other, LockedBuffer):
            with self.view() as a, other.view() as b:
                return _hmac.compare_digest(a, b)
        with self.view() as a:
            return _hmac.compare_digest(a, other)

    def copy(self, *, mode: str = "try") -> LockedBuffer:
        with self.view() as mv:
            return LockedBuffer.from_bytes(mv, mode=mode)

    # -- teardown ------------------------------------------------------------------------------------
    def zeroise(self) -> None:
        if not self._closed:
            ctypes.memset(self._addr, 0, max(self._len, 1))

    def close(self) -> None:
        """Overwrite with zeros, unlock and unmap. Idempotent."""
        if self._closed:
            return
        self.zeroise()
        if self.locked:
            _get_libc().munlock(self._addr, max(self._len, 1))
            self.locked = False
        self._closed = True
        self._cbuf = None
        # a view() still open somewhere keeps the mapping alive; its pages are zero already
        with suppress(BufferError):
            self._map.close()

    def __enter__(self) -> LockedBuffer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __del__(self) -> None:
        with suppress(Exception):
            self.close()

    # -- never show the value --------------------------------------------------------------------------
    def __repr__(self) -> str:
        state = "closed" if self._closed else ("locked" if self.locked else "unlocked")
        return f"<LockedBuffer {self._len} bytes, {state}, value hidden>"

    __str__ = __repr__

    def __format__(self, spec: str) -> str:
        return repr(self)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, LockedBuffer | bytes | bytearray):
            return self.equals(other if isinstance(other, LockedBuffer) else bytes(other))
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def __reduce__(self) -> object:
        raise TypeError("LockedBuffer refuses to be pickled (it holds a secret)")

    def __bytes__(self) -> bytes:
        raise TypeError("LockedBuffer refuses bytes(); use view() or reveal() deliberately")

    def _debug_address(self) -> tuple[int, int]:
        """(address, length) for tests that check the pages were zeroised; not for production use."""
        return self._addr, self._len
