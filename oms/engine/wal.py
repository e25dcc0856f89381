"""Engine room: the engine's write-ahead event log — a file mapped into memory that the njit loop appends to.

Touches one file (the `[risk].event_log` path) and nothing else. Layout: a 4096-byte header of u64
words (magic, version, committed record count, records backed by the file) then EVENT records.

The loop (oms/engine/loop.py flush) copies a batch of staged events into the mapping and then stores
the new count: that store is the commit point (group commit: one store per batch). Only after it are
the events published to the bridge and the gateway, commands pushed to the connectors and input slots
released. Pages of a shared file mapping belong to the kernel's page cache, so a committed event
survives `kill -9` of the engine at once; `sync()` (called by the main thread every tick) bounds what a
machine crash can lose to that period.

The mapping reserves a large address range up front; the file behind it is allocated ahead of the
writer by the main thread (`ensure_room`, posix_fallocate: a full disk is an error there, never a
SIGBUS in the loop). The loop never writes past header[H_VALID]; when it catches up it waits.
Files in the old layout (a bare array of EVENT records, no header) are converted on open.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import mmap
import os
from pathlib import Path

import numpy as np

from oms import log
from oms.errors import OmsError
from oms.shm import records as R

_log = log.get(__name__)

MAGIC = 0x4C41572D534D4F  # "OMS-WAL"
VERSION = 1
HEADER_BYTES = 4096
H_MAGIC = 0
H_VERSION = 1
H_COUNT = 2  # committed records (written by the loop after the records themselves)
H_VALID = 3  # records the file has room for (written by the main thread)
RESERVE_BYTES = 1 << 38  # 256 GiB of address space (2 G events); the file grows inside it
GROW_RECORDS = 1 << 17  # allocate 16 MiB at a time, kept at least this far ahead of the writer

_libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
_libc.mmap.restype = ctypes.c_void_p
_libc.mmap.argtypes = [
    ctypes.c_void_p,
    ctypes.c_size_t,
    ctypes.c_int,
    ctypes.c_int,
    ctypes.c_int,
    ctypes.c_long,
]
_libc.munmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t]
_MAP_FAILED = ctypes.c_void_p(-1).value
_MAP_NORESERVE = 0x4000


class _Mem:
    """An ndarray view of raw memory (numpy's array interface)."""

    def __init__(self, addr: int, n: int) -> None:
        self.__array_interface__ = {"shape": (n,), "typestr": "|u1", "data": (addr, False), "version": 3}


def _legacy_records(path: Path) -> np.ndarray | None:
    """Records of a header-less log (the old layout), or None when the file has a header or is empty."""
    size = path.stat().st_size
    if size == 0:
        return None
    with open(path, "rb") as f:
        head = np.frombuffer(f.read(8), np.uint64)
    if len(head) == 1 and int(head[0]) == MAGIC:
        return None
    whole = size - size % R.EVENT.itemsize
    return np.fromfile(path, dtype=R.EVENT, count=whole // R.EVENT.itemsize)


def read_committed(path: str | os.PathLike[str], start: int = 0, limit: int = -1) -> np.ndarray:
    """The committed events of a log, read-only (another process may be appending: only what the
    header's count covered when it was read is returned). Old header-less logs are read as they are."""
    p = Path(path)
    if not p.exists():
        return np.zeros(0, R.EVENT)
    legacy = _legacy_records(p)
    if legacy is not None:
        return legacy[start : None if limit < 0 else start + limit]
    with open(p, "rb") as f:
        head = np.frombuffer(f.read(HEADER_BYTES), np.uint64)
        if len(head) <= H_COUNT:
            return np.zeros(0, R.EVENT)
        n = int(head[H_COUNT]) - start
        if limit >= 0:
            n = min(n, limit)
        if n <= 0:
            return np.zeros(0, R.EVENT)
        f.seek(HEADER_BYTES + start * R.EVENT.itemsize)
        return np.fromfile(f, dtype=R.EVENT, count=n)


class WriteAheadLog:
    """The mapped event log. `header` and `records` are what the loop gets (state journal_c/journal_b)."""

    def __init__(self, path: str | os.PathLike[str], grow: int = GROW_RECORDS) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.grow = grow
        legacy = _legacy_records(self.path) if self.path.exists() else None
        if legacy is not None:
            _log.warning("event log %s is in the old layout: converting (%d events)", self.path, len(legacy))
            tmp = self.path.with_name(self.path.name + ".convert")
            tmp.unlink(missing_ok=True)
            conv = WriteAheadLog(tmp, grow=max(grow, len(legacy) + 1))
            conv.records[: len(legacy)] = legacy
            conv.header[H_COUNT] = len(legacy)
            conv.sync()
            conv.close()
            os.replace(tmp, self.path)
        self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        size = os.fstat(self._fd).st_size
        if size < HEADER_BYTES:
            os.posix_fallocate(self._fd, 0, HEADER_BYTES)
        addr = _libc.mmap(
            None,
            RESERVE_BYTES,
            mmap.PROT_READ | mmap.PROT_WRITE,
            mmap.MAP_SHARED | _MAP_NORESERVE,
            self._fd,
            0,
        )
        if addr is None or addr == _MAP_FAILED:
            err = ctypes.get_errno()
            os.close(self._fd)
            raise OmsError(f"cannot map the engine event log {self.path}: {os.strerror(err)}")
        self._addr = addr
        raw = np.asarray(_Mem(addr, RESERVE_BYTES))
        self.header = raw[:HEADER_BYTES].view(np.uint64)
        self.records = raw[HEADER_BYTES:].view(R.EVENT)
        if size < HEADER_BYTES:
            self.header[H_MAGIC] = MAGIC
            self.header[H_VERSION] = VERSION
            self.header[H_COUNT] = 0
        elif int(self.header[H_MAGIC]) != MAGIC or int(self.header[H_VERSION]) != VERSION:
            self.close()
            raise OmsError(
                f"{self.path} is not an engine event log of version {VERSION}: move it away to start afresh"
            )
        backed = (max(size, HEADER_BYTES) - HEADER_BYTES) // R.EVENT.itemsize
        count = int(self.header[H_COUNT])
        if count > backed:
            self.close()
            raise OmsError(
                f"event log {self.path} claims {count} events but holds {backed}: the file is damaged"
            )
        self.header[H_VALID] = backed
        self.ensure_room()

    @property
    def count(self) -> int:
        return int(self.header[H_COUNT])

    def read(self) -> np.ndarray:
        """A copy of the committed events."""
        return self.records[: self.count].copy()

    def ensure_room(self) -> None:
        """Keep the file allocated at least `grow` records beyond the committed count (main thread)."""
        valid = int(self.header[H_VALID])
        if valid - self.count >= self.grow:
            return
        new = valid + 2 * self.grow
        if HEADER_BYTES + new * R.EVENT.itemsize > RESERVE_BYTES:
            raise OmsError(f"event log {self.path} is full ({valid} events): snapshot and rotate it")
        try:
            os.posix_fallocate(self._fd, 0, HEADER_BYTES + new * R.EVENT.itemsize)
        except OSError as e:
            raise OmsError(f"cannot grow the engine event log {self.path}: {e}; free disk space") from e
        self.header[H_VALID] = new

    def append(self, events: np.ndarray) -> None:
        """Append from Python (replay tools and tests; the loop appends in njit code)."""
        while int(self.header[H_VALID]) - self.count < len(events) + 1:
            self.ensure_room()
        n = self.count
        self.records[n : n + len(events)] = events
        self.header[H_COUNT] = n + len(events)

    def sync(self) -> None:
        os.fsync(self._fd)

    def close(self) -> None:
        if self._addr is None:
            return
        self.header = np.zeros(H_VALID + 1, np.uint64)
        self.records = np.zeros(0, R.EVENT)
        try:
            os.fsync(self._fd)
        finally:
            _libc.munmap(self._addr, RESERVE_BYTES)
            os.close(self._fd)
            self._addr = None
