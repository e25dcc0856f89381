"""Bus room: the bridge's bounded on-disk spool, where frames wait while NATS is unreachable.

Touches only files under its own directory (`[bus].spool_dir`). Append-only segment files
`seg-<n>.spool`, each a run of entries:

    u32 subject_len | u32 msg_id_len | u32 payload_len | u32 crc32(subject+msg_id+payload) | bytes...

and a `cursor` file (segment number, offset) naming the first entry not yet delivered. `append` refuses
(returns False) once the spool holds `max_bytes`, so the caller stops reading its ring instead of growing
without bound; `sync()` fsyncs before the caller releases the records it spooled. `peek(n)` reads from the
cursor, `commit(pos)` advances it and deletes fully drained segments. A torn entry at the very end (crash
in the middle of a write) fails its length/CRC check and is discarded at open; a bad entry anywhere else
raises `Transient` naming the file and offset.
"""

from __future__ import annotations

import os
import struct
import zlib
from dataclasses import dataclass
from pathlib import Path

from oms import log
from oms.errors import Transient

_log = log.get(__name__)
_HDR = struct.Struct("<IIII")
_CUR = struct.Struct("<QQ")


@dataclass(frozen=True, slots=True)
class SpoolEntry:
    subject: str
    msg_id: str
    payload: bytes
    pos: tuple[int, int]  # (segment, offset) just past this entry


class Spool:
    def __init__(self, directory: str | os.PathLike[str], max_bytes: int, segment_bytes: int) -> None:
        self.dir = Path(directory)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.max_bytes = max_bytes
        self.segment_bytes = segment_bytes
        self._cursor_path = self.dir / "cursor"
        self._cur = self._load_cursor()
        segs = self._segments()
        self._write_seg = segs[-1] if segs else max(self._cur[0], 1)
        if segs:
            self._repair_tail(segs[-1])
        self._fh = open(self._seg_path(self._write_seg), "ab")  # noqa: SIM115 - kept open for appends
        self._dirty = False

    # ---- paths and bookkeeping -------------------------------------------------------------------
    def _seg_path(self, n: int) -> Path:
        return self.dir / f"seg-{n:012d}.spool"

    def _segments(self) -> list[int]:
        return sorted(int(p.name[4:16]) for p in self.dir.glob("seg-*.spool"))

    def _load_cursor(self) -> tuple[int, int]:
        try:
            data = self._cursor_path.read_bytes()
            seg, off = _CUR.unpack(data)
            return int(seg), int(off)
        except (FileNotFoundError, struct.error):
            segs = self._segments()
            return (segs[0] if segs else 1, 0)

    def _save_cursor(self) -> None:
        tmp = self._cursor_path.with_suffix(".tmp")
        tmp.write_bytes(_CUR.pack(*self._cur))
        os.replace(tmp, self._cursor_path)

    def _repair_tail(self, seg: int) -> None:
        path = self._seg_path(seg)
        good = 0
        with open(path, "rb") as fh:
            data = fh.read()
        while good + _HDR.size <= len(data):
            ls, lm, lp, crc = _HDR.unpack_from(data, good)
            end = good + _HDR.size + ls + lm + lp
            if end > len(data) or zlib.crc32(data[good + _HDR.size : end]) != crc:
                break
            good = end
        if good != len(data):
            _log.warning("spool %s: discarding a torn entry at offset %d (crash during write)", path, good)
            with open(path, "r+b") as fh:
                fh.truncate(good)

    # ---- state -----------------------------------------------------------------------------------
    def bytes_used(self) -> int:
        self._fh.flush()  # stat() must see what append() buffered
        total = 0
        for n in self._segments():
            size = self._seg_path(n).stat().st_size
            total += size - (self._cur[1] if n == self._cur[0] else 0)
        return total

    def empty(self) -> bool:
        segs = self._segments()
        if not segs:
            return True
        self._fh.flush()
        last = segs[-1]
        return self._cur[0] >= last and self._cur[1] >= self._seg_path(last).stat().st_size

    # ---- writing ---------------------------------------------------------------------------------
    def append(self, subject: str, msg_id: str, payload: bytes) -> bool:
        s, m = subject.encode(), msg_id.encode()
        size = _HDR.size + len(s) + len(m) + len(payload)
        if self.bytes_used() + size > self.max_bytes:
            return False
        if self._fh.tell() > 0 and self._fh.tell() + size > self.segment_bytes:
            self._fh.flush()
            os.fsync(self._fh.fileno())
            self._fh.close()
            self._write_seg += 1
            self._fh = open(self._seg_path(self._write_seg), "ab")  # noqa: SIM115
        body = s + m + payload
        self._fh.write(_HDR.pack(len(s), len(m), len(payload), zlib.crc32(body)))
        self._fh.write(body)
        self._dirty = True
        return True

    def sync(self) -> None:
        """Make every appended entry durable (call before releasing the records it holds)."""
        if self._dirty:
            self._fh.flush()
            os.fsync(self._fh.fileno())
            self._dirty = False

    # ---- reading ---------------------------------------------------------------------------------
    def peek(self, n: int) -> list[SpoolEntry]:
        self._fh.flush()
        out: list[SpoolEntry] = []
        seg, off = self._cur
        while len(out) < n:
            path = self._seg_path(seg)
            if not path.exists():
                break
            with open(path, "rb") as fh:
                fh.seek(off)
                data = fh.read()
            pos = 0
            while pos + _HDR.size <= len(data) and len(out) < n:
                ls, lm, lp, crc = _HDR.unpack_from(data, pos)
                start = pos + _HDR.size
                end = start + ls + lm + lp
                if end > len(data):
                    break
                body = data[start:end]
                if zlib.crc32(body) != crc:
                    raise Transient(f"spool {path}: entry at offset {off + pos} fails its CRC check")
                out.append(
                    SpoolEntry(
                        body[:ls].decode(),
                        body[ls : ls + lm].decode(),
                        bytes(body[ls + lm :]),
                        (seg, off + end),
                    )
                )
                pos = end
            if len(out) >= n or seg >= self._write_seg:
                break
            seg, off = seg + 1, 0
        return out

    def commit(self, pos: tuple[int, int]) -> None:
        """Everything before `pos` was delivered: advance the cursor, delete drained segments."""
        self._cur = pos
        self._save_cursor()
        for n in self._segments():
            if n < pos[0]:
                self._seg_path(n).unlink(missing_ok=True)

    def close(self) -> None:
        self.sync()
        self._fh.close()
