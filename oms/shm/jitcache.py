"""Shm room: the guard that keeps Numba's on-disk cache from running stale machine code.

Touches only Numba cache files (`*.nbi`, `*.nbc`) of this checkout's own sources — in their
`__pycache__` folders and in the user-wide / `NUMBA_CACHE_DIR` mirrors Numba falls back to — and one
stamp file. It never imports numba.

Why: Numba keys a cached function on its *own* source file's timestamp. A loop compiled with a ring
function inlined (`oms/shm/ring.py` is `inline="always"`), a record layout (`oms/shm/records.py`), an
engine kernel or the marketdata kernel (`oms/marketdata/kernels.py`) keeps that code in its own cache
entry; when only the callee's file changes, Numba happily loads the old machine code. On first import of
`oms.shm` we hash every watched source (`WATCHED`: every module of the packages that hold compiled
kernels or what they inline); when the digest differs from the stamp, every Numba cache file under this
checkout's `oms/`, `bench/` and `tests/` is removed and the new digest is stamped. Kernels then compile
once (about a minute for the engine loop) and cache again.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable
from pathlib import Path

_PKG = Path(__file__).resolve().parent.parent  # .../oms
# packages whose modules are compiled with cache=True or inlined into such code (tests check that
# every `cache=True` module of oms lives in one of them)
WATCHED_PACKAGES = ("shm", "engine", "marketdata")
# compiled modules that import nothing of oms (so inline nothing of it): Numba's own key on their file
# is enough, and editing them does not recompile the engine
SELF_CONTAINED = ("store/copybin.py", "backtest/equity.py")
STAMP_NAME = "numba-sources.sha256"


def watched_sources(pkg: Path = _PKG, packages: Iterable[str] = WATCHED_PACKAGES) -> list[Path]:
    return sorted(p for name in packages for p in (pkg / name).glob("*.py"))


def source_digest(sources: Iterable[Path]) -> str:
    h = hashlib.sha256()
    for p in sources:
        h.update(p.name.encode() + b"\0")
        h.update(p.read_bytes())
    return h.hexdigest()


def cache_roots(pkg: Path = _PKG) -> list[Path]:
    """Folders whose compiled functions may have inlined watched code: the package, and the checkout's
    bench/ and tests/ when they sit next to it (editable install)."""
    roots = [pkg]
    for extra in ("bench", "tests"):
        d = pkg.parent / extra
        if d.is_dir():
            roots.append(d)
    return roots


def _mirrors(root: Path) -> list[Path]:
    """Where Numba puts the caches of `root`'s sources when their __pycache__ is not writable."""
    out = []
    for base in (os.environ.get("NUMBA_CACHE_DIR"), str(Path.home() / ".cache" / "numba")):
        if base:
            out.append(Path(base) / str(root.resolve()).lstrip(os.sep))
    return out


def clear(roots: Iterable[Path]) -> int:
    """Remove every Numba cache file under roots (and their cache-dir mirrors); returns how many."""
    n = 0
    for root in roots:
        for base in (root, *_mirrors(root)):
            if not base.is_dir():
                continue
            for f in base.rglob("*.nb[ic]"):
                try:
                    f.unlink()
                    n += 1
                except OSError:
                    pass
    return n


def sync(sources: list[Path], roots: list[Path], stamp: Path) -> bool:
    """Clear the caches under roots when the sources' digest differs from the stamp; True if cleared."""
    try:
        digest = source_digest(sources)
    except OSError:  # a source vanished mid-upgrade: leave everything as is, the next import retries
        return False
    try:
        if stamp.read_text() == digest:
            return False
    except OSError:
        pass
    clear(roots)
    try:
        stamp.parent.mkdir(parents=True, exist_ok=True)
        tmp = stamp.with_name(f"{stamp.name}.{os.getpid()}")
        tmp.write_text(digest)
        tmp.replace(stamp)
    except OSError:  # read-only install: Numba then compiles in memory (nothing stale can be loaded)
        pass
    return True


def guard() -> bool:
    """The check `oms.shm` runs on import."""
    return sync(watched_sources(), cache_roots(), _PKG / "__pycache__" / STAMP_NAME)
