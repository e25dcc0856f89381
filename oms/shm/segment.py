"""Segment room: named shared-memory segments in /dev/shm with a self-describing, checked header.

Touches only POSIX shared memory objects (posix_ipc.SharedMemory + mmap) whose names it is given, and
reads /proc (psutil) to tell whether a recorded process is still the same live process.

Segment layout (all offsets in bytes, every region 64-byte aligned):

| offset        | size           | region                                                          |
|---------------|----------------|-----------------------------------------------------------------|
| 0             | 384            | header (below), written once by the creator, party slots later  |
| 384           | ctrl_words * 8 | control block (uint64 words 48..; its layout belongs to ring/table) |
| data_offset   | capacity * rec | records (numpy structured array)                                |

Header words (uint64 unless noted; word index = byte offset / 8):

| word | field              | writer                    | meaning                                           |
|------|--------------------|---------------------------|---------------------------------------------------|
| 0    | magic              | creator, release, last    | b"OMSSHM01"; 0 while the creator initialises      |
| 1    | version            | creator                   | SEGMENT_VERSION (layout of this header + ctrl)    |
| 2    | kind               | creator                   | KIND_RING / KIND_TABLE                            |
| 3    | dtype_hash         | creator                   | records.dtype_hash(dtype)                         |
| 4    | capacity           | creator                   | records (ring slots / table rows)                 |
| 5    | record_size        | creator                   | dtype.itemsize                                    |
| 6    | creator_pid        | creator                   |                                                   |
| 7    | creator_start_us   | creator                   | psutil create_time in µs: detects pid reuse       |
| 8    | created_ns         | creator                   | wall clock                                        |
| 9-12 | ctrl_offset, ctrl_words, data_offset, total_size | creator | geometry                             |
| 16-18| writer pid, start_us, heartbeat_ns | the writer (ring producer / table writer)         |
| 20-22| reader pid, start_us, heartbeat_ns | the reader (ring consumer); tables: unused         |
| 24-31| name (64 bytes, NUL padded)   | creator                                                |
| 32-39| dtype label (64 bytes)        | creator, for error messages ("MARKET", "BBO", ...)     |

Ownership: segments are created 0600; attach refuses a segment owned by another user or readable/writable
by group or others (`_check_owner`): a segment planted under our name by someone else must not be fed
orders or read for them.

Publication: the creator writes every header field and zeroes the ctrl block, then release-stores the
magic. An attacher acquire-loads the magic first; a zero magic means "still initialising" and attach
retries until its timeout. Heartbeats are relaxed stores (a monotonic timestamp, read only for age).
"""

from __future__ import annotations

import contextlib
import mmap
import os
import re
import stat
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import posix_ipc
import psutil
from numba import njit

from oms.errors import Rejected, Transient
from oms.shm import records
from oms.shm.atomics import load_acquire, load_relaxed, store_relaxed, store_release

MAGIC = int.from_bytes(b"OMSSHM01", "little")
SEGMENT_VERSION = 1
HEADER_SIZE = 384
KIND_RING = 1
KIND_TABLE = 2
KIND_NAMES = {KIND_RING: "ring", KIND_TABLE: "table"}

H_MAGIC, H_VERSION, H_KIND, H_DTYPE_HASH, H_CAPACITY, H_RECORD_SIZE = 0, 1, 2, 3, 4, 5
H_CREATOR_PID, H_CREATOR_START_US, H_CREATED_NS = 6, 7, 8
H_CTRL_OFFSET, H_CTRL_WORDS, H_DATA_OFFSET, H_TOTAL_SIZE = 9, 10, 11, 12
H_WRITER = 16  # pid, start_us, heartbeat_ns
H_READER = 20
_NAME_BYTES = slice(24 * 8, 32 * 8)
_LABEL_BYTES = slice(32 * 8, 40 * 8)

_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,199}$")
_START_TOLERANCE_US = 50_000  # psutil create_time has jiffy (10 ms) resolution
SHM_DIR = "/dev/shm"
INCOMPLETE_GRACE_S = 10.0  # an all-zero header older than this is a creator that died mid-create


class SegmentError(Rejected):
    """A segment cannot be created or attached as asked; the message says what differs and the fix."""


class SegmentNotFound(Transient):
    """No segment of that name (yet): the creator has not started, or it was removed."""


@njit(cache=True)
def _publish_magic(hdr: np.ndarray, magic: int) -> None:
    store_release(hdr, H_MAGIC, magic)


@njit(cache=True)
def _read_magic(hdr: np.ndarray) -> int:
    return load_acquire(hdr, H_MAGIC)


@njit(cache=True)
def _beat(hdr: np.ndarray, slot: int, now_ns: int) -> None:
    store_relaxed(hdr, slot + 2, now_ns)


@njit(cache=True)
def _load_word(words: np.ndarray, i: int) -> int:
    return load_relaxed(words, i)


def dtype_label(dt: np.dtype) -> str:
    """A short human name for a record dtype ("COMMAND", "MARKET", "BBO", ...) or its repr."""
    known = {"COMMAND": records.COMMAND, "EVENT": records.EVENT, "MARKET": records.MARKET}
    bbo = getattr(records, "BBO", None)
    if bbo is not None:
        known["BBO"] = bbo
    for label, kdt in known.items():
        if dt == kdt:
            return label
    return str(dt)[:63]


def check_name(name: object) -> str:
    if not isinstance(name, str) or not _NAME_RE.match(name):
        raise SegmentError(
            f"segment name {name!r} is invalid: use 1-200 characters from A-Z a-z 0-9 . _ - "
            "starting with a letter or digit (e.g. 'oms.gw.cmd')"
        )
    return name


def process_start_us(pid: int) -> int:
    """The start time of `pid` in µs since the epoch (0 if it does not exist)."""
    try:
        return int(psutil.Process(pid).create_time() * 1e6)
    except (psutil.NoSuchProcess, psutil.AccessDenied, ValueError):
        return 0


def process_alive(pid: int, start_us: int) -> bool:
    """True if `pid` runs and is the same process that recorded `start_us` (not a reused pid, no zombie)."""
    if pid <= 0:
        return False
    try:
        p = psutil.Process(pid)
        if p.status() == psutil.STATUS_ZOMBIE:
            return False
        return abs(int(p.create_time() * 1e6) - start_us) <= _START_TOLERANCE_US
    except (psutil.NoSuchProcess, psutil.AccessDenied, ValueError):
        return False


_self_start: dict[int, int] = {}


def _self_start_us() -> int:
    """This process's start time (cached per pid, so a forked child computes its own)."""
    pid = os.getpid()
    if pid not in _self_start:
        _self_start[pid] = process_start_us(pid)
    return _self_start[pid]


def _round64(n: int) -> int:
    return (n + 63) & ~63


def _check_owner(name: str, fd: int) -> None:
    """Refuse a segment not owned by us or open to group/others (before mapping a byte of it)."""
    st = os.fstat(fd)
    mode = stat.S_IMODE(st.st_mode)
    if st.st_uid != os.geteuid():
        raise SegmentError(
            f"segment {name!r} ({SHM_DIR}/{name}) belongs to uid {st.st_uid}, not to us ({os.geteuid()}): "
            "refusing to attach a segment another user made; remove it (as its owner) or use another prefix"
        )
    if mode & 0o077:
        raise SegmentError(
            f"segment {name!r} ({SHM_DIR}/{name}) has mode {mode:o}, open to group/others; oms segments "
            f"are 0600: remove it (`oms shm gc` or rm {SHM_DIR}/{name}) and let its owner recreate it"
        )


class Segment:
    """One mapped segment: `.hdr` (header words), `.words` (header + ctrl words), `.data(dtype)` records."""

    def __init__(self, name: str, shm: posix_ipc.SharedMemory, mm: mmap.mmap, created: bool) -> None:
        self.name = name
        self._shm_name = "/" + name
        self._mm = mm
        self.created = created
        self.hdr = np.frombuffer(mm, dtype=np.uint64, count=HEADER_SIZE // 8)
        h = self.hdr
        self.kind = int(h[H_KIND])
        self.capacity = int(h[H_CAPACITY])
        self.record_size = int(h[H_RECORD_SIZE])
        self.data_offset = int(h[H_DATA_OFFSET])
        # `words`: header + control block as one uint64 array, so njit code reaches both (heartbeats
        # live in the header); ring/table word indices are absolute within it.
        self.words = np.frombuffer(mm, dtype=np.uint64, count=self.data_offset // 8)
        self.closed = False

    # ---- creation / attach ---------------------------------------------------------------------
    @classmethod
    def create(
        cls,
        name: str,
        kind: int,
        dtype: np.dtype,
        capacity: int,
        ctrl_words: int,
        *,
        replace_stale: bool = False,
        init: Callable[[np.ndarray], None] | None = None,
    ) -> Segment:
        """Create and initialise; `init(words)` fills the control block before the magic is published."""
        check_name(name)
        ctrl_off = HEADER_SIZE
        data_off = _round64(ctrl_off + ctrl_words * 8)
        total = _round64(data_off + capacity * dtype.itemsize)
        try:
            shm = posix_ipc.SharedMemory("/" + name, posix_ipc.O_CREX, mode=0o600, size=total)
        except posix_ipc.ExistentialError:
            info = inspect(name)
            if info is not None and info.ours and not info.creator_alive and replace_stale:
                unlink(name)
                return cls.create(name, kind, dtype, capacity, ctrl_words, init=init)
            raise SegmentError(_collision_message(name, info)) from None
        try:
            mm = mmap.mmap(shm.fd, total)
        finally:
            shm.close_fd()
        hdr = np.frombuffer(mm, dtype=np.uint64, count=HEADER_SIZE // 8)
        hdr[1:] = 0
        hdr[H_VERSION] = SEGMENT_VERSION
        hdr[H_KIND] = kind
        hdr[H_DTYPE_HASH] = records.dtype_hash(dtype)
        hdr[H_CAPACITY] = capacity
        hdr[H_RECORD_SIZE] = dtype.itemsize
        hdr[H_CREATOR_PID] = os.getpid()
        hdr[H_CREATOR_START_US] = _self_start_us()
        hdr[H_CREATED_NS] = time.time_ns()
        hdr[H_CTRL_OFFSET] = ctrl_off
        hdr[H_CTRL_WORDS] = ctrl_words
        hdr[H_DATA_OFFSET] = data_off
        hdr[H_TOTAL_SIZE] = total
        raw = np.frombuffer(mm, dtype=np.uint8, count=HEADER_SIZE)
        raw[_NAME_BYTES] = np.frombuffer(name.encode()[:64].ljust(64, b"\0"), np.uint8)
        raw[_LABEL_BYTES] = np.frombuffer(dtype_label(dtype).encode()[:64].ljust(64, b"\0"), np.uint8)
        del raw
        if init is not None:
            words = np.frombuffer(mm, dtype=np.uint64, count=data_off // 8)
            init(words)
            del words
        _publish_magic(hdr, MAGIC)
        del hdr
        return cls(name, shm, mm, created=True)

    @classmethod
    def attach(
        cls,
        name: str,
        kind: int,
        dtype: np.dtype,
        *,
        capacity: int | None = None,
        allow_stale: bool = False,
        timeout: float = 1.0,
    ) -> Segment:
        check_name(name)
        deadline = time.monotonic() + timeout
        while True:
            try:
                shm = posix_ipc.SharedMemory("/" + name)
            except posix_ipc.ExistentialError:
                if time.monotonic() >= deadline:
                    raise SegmentNotFound(
                        f"shared-memory segment {name!r} does not exist ({SHM_DIR}/{name}): start the "
                        "process that creates it first, or check the name/prefix"
                    ) from None
                time.sleep(0.005)
                continue
            try:
                _check_owner(name, shm.fd)
                size = shm.size
                if size >= HEADER_SIZE:
                    mm = mmap.mmap(shm.fd, size)
                    hdr = np.frombuffer(mm, dtype=np.uint64, count=HEADER_SIZE // 8)
                    magic = _read_magic(hdr)
                    del hdr
                    if magic != 0 or time.monotonic() >= deadline:
                        break
                    mm.close()
                elif time.monotonic() >= deadline:
                    raise SegmentError(
                        f"{SHM_DIR}/{name} is {size} bytes, smaller than an oms segment header "
                        f"({HEADER_SIZE}): it is not an oms segment; remove it or choose another name"
                    )
            finally:
                shm.close_fd()
            time.sleep(0.002)
        try:
            _check_geometry(name, mm, size)
        except BaseException:
            with contextlib.suppress(BufferError):
                mm.close()
            raise
        seg = cls(name, shm, mm, created=False)
        try:
            seg._check(kind, dtype, capacity, allow_stale, size)
        except BaseException:
            seg.close()
            raise
        return seg

    def _check(self, kind: int, dtype: np.dtype, capacity: int | None, allow_stale: bool, size: int) -> None:
        h, where = self.hdr, f"segment {self.name!r} ({SHM_DIR}/{self.name})"
        if int(h[H_KIND]) != kind:
            raise SegmentError(
                f"{where} is a {KIND_NAMES.get(int(h[H_KIND]), int(h[H_KIND]))}, "
                f"not a {KIND_NAMES.get(kind, kind)}"
            )
        want_hash, got_hash = records.dtype_hash(dtype), int(h[H_DTYPE_HASH])
        if want_hash != got_hash or int(h[H_RECORD_SIZE]) != dtype.itemsize:
            raise SegmentError(
                f"{where} holds records of dtype {self.label!r} ({int(h[H_RECORD_SIZE])} B, hash "
                f"{got_hash:#018x}), but the caller asked for {dtype_label(dtype)!r} ({dtype.itemsize} B, "
                f"hash {want_hash:#018x}): attach with the ring's dtype (see oms/shm/names.py)"
            )
        if capacity is not None and capacity != self.capacity:
            raise SegmentError(f"{where} has capacity {self.capacity}, the caller expected {capacity}")
        if not allow_stale and not self.creator_alive():
            raise SegmentError(
                f"{where} is stale: its creator pid {self.creator_pid} (started "
                f"{_fmt_us(int(h[H_CREATOR_START_US]))}) is gone; run `oms shm gc` and restart the "
                "creator, or attach with allow_stale=True to read what it left"
            )

    # ---- accessors -----------------------------------------------------------------------------
    @property
    def creator_pid(self) -> int:
        return int(self.hdr[H_CREATOR_PID])

    @property
    def label(self) -> str:
        raw = self.hdr.view(np.uint8)[_LABEL_BYTES].tobytes()
        return raw.rstrip(b"\0").decode(errors="replace")

    def creator_alive(self) -> bool:
        return process_alive(self.creator_pid, int(self.hdr[H_CREATOR_START_US]))

    def all_words(self) -> np.ndarray:
        """The whole segment as uint64 words (tables: seqlock words sit inside the rows)."""
        return np.frombuffer(self._mm, dtype=np.uint64, count=int(self.hdr[H_TOTAL_SIZE]) // 8)

    def data(self, dtype: np.dtype) -> np.ndarray:
        return np.frombuffer(self._mm, dtype=dtype, count=self.capacity, offset=self.data_offset)

    def register(self, slot: int) -> None:
        """Record this process as the writer (H_WRITER) or reader (H_READER) and beat once."""
        self.hdr[slot] = os.getpid()
        self.hdr[slot + 1] = _self_start_us()
        self.beat(slot)

    def beat(self, slot: int) -> None:
        _beat(self.hdr, slot, time.monotonic_ns())

    def party(self, slot: int) -> tuple[int, int, int]:
        """(pid, start_us, heartbeat monotonic ns) of a party slot; pid 0 = never registered."""
        return (
            int(_load_word(self.hdr, slot)),
            int(_load_word(self.hdr, slot + 1)),
            int(_load_word(self.hdr, slot + 2)),
        )

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        self.hdr = self.words = None  # type: ignore[assignment]
        with contextlib.suppress(BufferError):  # a caller still holds a view; the GC unmaps later
            self._mm.close()

    def unlink(self) -> None:
        unlink(self.name)


def _check_geometry(name: str, mm: mmap.mmap, size: int) -> None:
    """Magic, version and sizes, checked before any view beyond the header is made."""
    h = np.frombuffer(mm, dtype=np.uint64, count=HEADER_SIZE // 8)
    magic = int(_read_magic(h)) & 0xFFFF_FFFF_FFFF_FFFF
    h = h.copy()  # no view of the mapping may outlive this call (a raised error keeps the frame alive)
    where = f"segment {name!r} ({SHM_DIR}/{name})"
    if magic == 0 and not h.any():
        raise SegmentNotFound(
            f"{where} exists but its creator has not finished initialising it (header all zero): retry "
            f"with a longer timeout; if its creator died while creating it, `oms shm gc` removes it after "
            f"{INCOMPLETE_GRACE_S:.0f} s"
        )
    if magic != MAGIC:
        raise SegmentError(
            f"{where} is not an oms segment (magic {magic:#018x}, expected {MAGIC:#018x}): another "
            "program owns that name; choose another name/prefix"
        )
    if int(h[H_VERSION]) != SEGMENT_VERSION:
        raise SegmentError(
            f"{where} has segment layout version {int(h[H_VERSION])}, this code speaks "
            f"{SEGMENT_VERSION}: restart the creator with the same oms version"
        )
    total, data_off = int(h[H_TOTAL_SIZE]), int(h[H_DATA_OFFSET])
    need = data_off + int(h[H_CAPACITY]) * int(h[H_RECORD_SIZE])
    if total > size or need > total or data_off < HEADER_SIZE:
        raise SegmentError(
            f"{where} is truncated or corrupt ({size} bytes; header says total {total}, data at "
            f"{data_off} needing {need}): remove it (`oms shm gc`) and restart its creator"
        )


def unlink(name: str) -> bool:
    """Remove the name from /dev/shm (mappings stay valid until closed). False if it was not there."""
    try:
        posix_ipc.unlink_shared_memory("/" + check_name(name))
        return True
    except posix_ipc.ExistentialError:
        return False


def _fmt_us(us: int) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(us / 1e6)) if us else "?"


# ---- inspection (oms shm ls / gc) ----------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class SegmentInfo:
    name: str
    ours: bool
    kind: str
    label: str
    capacity: int
    record_size: int
    size: int
    creator_pid: int
    creator_alive: bool
    writer_pid: int
    writer_alive: bool
    reader_pid: int
    reader_alive: bool
    heartbeat_age_s: float | None  # writer heartbeat age, None if it never beat
    ctrl: tuple[int, ...]  # header + control words (absolute word indices, as `Segment.words`)

    @property
    def alive(self) -> bool:
        return self.creator_alive or self.writer_alive or self.reader_alive


def inspect(name: str) -> SegmentInfo | None:
    """Read a segment's header without attaching; None if the name does not exist."""
    path = os.path.join(SHM_DIR, name)
    try:
        with open(path, "rb") as f:
            head = f.read(HEADER_SIZE)
            size = os.fstat(f.fileno()).st_size
            w = np.frombuffer(head.ljust(HEADER_SIZE, b"\0"), np.uint64)
            ours = int(w[H_MAGIC]) == MAGIC and int(w[H_VERSION]) == SEGMENT_VERSION
            ctrl: tuple[int, ...] = ()
            if ours:
                f.seek(0)
                raw = f.read(int(w[H_DATA_OFFSET]))
                ctrl = tuple(int(x) for x in np.frombuffer(raw, np.uint64))
    except (FileNotFoundError, IsADirectoryError):
        return None
    except PermissionError:
        return SegmentInfo(name, False, "?", "", 0, 0, 0, 0, False, 0, False, 0, False, None, ())
    if not ours and size >= HEADER_SIZE and not any(head):
        # a creator died between creating the name and publishing the header: ours, removable once old
        young = time.time() - os.stat(path).st_mtime < INCOMPLETE_GRACE_S
        return SegmentInfo(name, True, "incomplete", "", 0, 0, size, 0, young, 0, False, 0, False, None, ())
    if not ours:
        return SegmentInfo(name, False, "foreign", "", 0, 0, size, 0, False, 0, False, 0, False, None, ())
    label = head[_LABEL_BYTES].rstrip(b"\0").decode(errors="replace")
    wpid, wstart, wbeat = (int(x) for x in w[H_WRITER : H_WRITER + 3])
    rpid, rstart = int(w[H_READER]), int(w[H_READER + 1])
    age = (time.monotonic_ns() - wbeat) / 1e9 if wbeat else None
    return SegmentInfo(
        name=name,
        ours=True,
        kind=KIND_NAMES.get(int(w[H_KIND]), str(int(w[H_KIND]))),
        label=label,
        capacity=int(w[H_CAPACITY]),
        record_size=int(w[H_RECORD_SIZE]),
        size=size,
        creator_pid=int(w[H_CREATOR_PID]),
        creator_alive=process_alive(int(w[H_CREATOR_PID]), int(w[H_CREATOR_START_US])),
        writer_pid=wpid,
        writer_alive=process_alive(wpid, wstart),
        reader_pid=rpid,
        reader_alive=process_alive(rpid, rstart),
        heartbeat_age_s=age,
        ctrl=ctrl,
    )


def scan(prefix: str = "", include_foreign: bool = False) -> list[SegmentInfo]:
    out: list[SegmentInfo] = []
    try:
        names = sorted(os.listdir(SHM_DIR))
    except FileNotFoundError:  # pragma: no cover - non-Linux
        return out
    for n in names:
        if not n.startswith(prefix) or not _NAME_RE.match(n):
            continue
        info = inspect(n)
        if info is not None and (info.ours or include_foreign):
            out.append(info)
    return out


def _collision_message(name: str, info: SegmentInfo | None) -> str:
    where = f"shared-memory segment {name!r} ({SHM_DIR}/{name}) already exists"
    if info is None or not info.ours:
        return f"{where} and is not an oms segment: another program owns that name; choose another prefix"
    if info.creator_alive:
        return (
            f"{where}: created by live pid {info.creator_pid} ({info.kind} of {info.label}); another "
            "stack uses this name: stop it or choose another prefix"
        )
    return (
        f"{where} but is stale (creator pid {info.creator_pid} is gone): run `oms shm gc` or create "
        "with replace_stale=True"
    )
