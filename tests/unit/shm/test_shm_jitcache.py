"""Numba cache guard: a changed watched source clears every cached kernel; coverage of the watch list."""

from __future__ import annotations

import re
from pathlib import Path

from oms.shm import jitcache


def _tree(tmp: Path) -> tuple[list[Path], list[Path], Path]:
    pkg = tmp / "oms"
    (pkg / "shm" / "__pycache__").mkdir(parents=True)
    (pkg / "engine" / "__pycache__").mkdir(parents=True)
    (pkg / "shm" / "ring.py").write_text("HEAD = 48\n")
    (pkg / "engine" / "loop.py").write_text("# inlines ring.push\n")
    return jitcache.watched_sources(pkg, ("shm", "engine")), [pkg], pkg / "__pycache__" / "stamp"


def _cached(pkg: Path) -> list[Path]:
    files = [pkg / "engine" / "__pycache__" / "loop.run-120.py311.nbi",
             pkg / "engine" / "__pycache__" / "loop.run-120.py311.0.nbc"]  # fmt: skip
    for f in files:
        f.write_bytes(b"machine code")
    return files


def test_changed_source_clears_every_cached_kernel(tmp_path: Path) -> None:
    sources, roots, stamp = _tree(tmp_path)
    assert jitcache.sync(sources, roots, stamp)  # no stamp yet: cleared and stamped
    files = _cached(roots[0])
    assert not jitcache.sync(sources, roots, stamp)  # unchanged sources: the cache stays
    assert all(f.exists() for f in files)
    (roots[0] / "shm" / "ring.py").write_text("HEAD = 56\n")  # the callee changed, not the caller
    assert jitcache.sync(sources, roots, stamp)
    assert not any(f.exists() for f in files), "a stale engine kernel survived a ring layout change"
    assert not jitcache.sync(sources, roots, stamp)


def test_cache_dir_mirror_is_cleared_too(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    sources, roots, stamp = _tree(tmp_path)
    mirror_base = tmp_path / "numba-cache"
    monkeypatch.setenv("NUMBA_CACHE_DIR", str(mirror_base))
    mirror = mirror_base / str((roots[0] / "engine").resolve()).lstrip("/")
    mirror.mkdir(parents=True)
    (mirror / "loop.run-1.py311.nbi").write_bytes(b"x")
    jitcache.sync(sources, roots, stamp)
    assert not (mirror / "loop.run-1.py311.nbi").exists()


def test_every_compiled_or_inlined_module_is_watched() -> None:
    pkg = Path(jitcache.__file__).resolve().parent.parent
    watched = set(jitcache.watched_sources())
    for rel in jitcache.SELF_CONTAINED:
        assert not re.search(r"^\s*(from|import) oms", (pkg / rel).read_text(), re.M), f"{rel} imports oms"
    for p in pkg.rglob("*.py"):
        text = p.read_text()
        if str(p.relative_to(pkg)) in jitcache.SELF_CONTAINED:
            continue
        if re.search(r"cache\s*=\s*True|@intrinsic|inline\s*=\s*\"always\"", text):
            assert p in watched, (
                f"{p.relative_to(pkg)} holds compiled code but the cache guard does not hash it"
            )
    for must in (
        "shm/ring.py",
        "shm/atomics.py",
        "shm/records.py",
        "marketdata/kernels.py",
        "engine/loop.py",
    ):
        assert pkg / must in watched


def test_guard_stamp_matches_this_checkout() -> None:
    """Importing oms.shm ran the guard: the stamp holds the digest of the sources as they are now."""
    pkg = Path(jitcache.__file__).resolve().parent.parent
    stamp = pkg / "__pycache__" / jitcache.STAMP_NAME
    assert not jitcache.guard()
    assert stamp.read_text() == jitcache.source_digest(jitcache.watched_sources())
