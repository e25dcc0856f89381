"""Security (secrets/shm/services rooms): secrets hygiene, each attack made for real and denied.

- a child program started after the keystore was unlocked does not inherit the passphrase variable;
- a shared-memory segment planted under our name by another user (or left open to others) is refused;
- a predictable /tmp directory made first by another user is not reused for PostgreSQL's files.
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path

import numpy as np
import pytest

from oms.secrets.settings import Settings, read_passphrase
from oms.services import postgres as pgmod
from oms.shm import records as R
from oms.shm import segment
from oms.shm.ring import Ring

NOBODY = 65534


def test_passphrase_variable_is_not_inherited_by_children(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OMS_KEYSTORE_PASSPHRASE", "correct horse battery staple")
    buf = read_passphrase(Settings())
    assert buf.reveal() == "correct horse battery staple"
    child = subprocess.run(
        [sys.executable, "-c", "import os; print(os.environ.get('OMS_KEYSTORE_PASSPHRASE', '<unset>'))"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert child.stdout.strip() == "<unset>"
    # nor through /proc/<pid>/environ of a child spawned by the C library (not os.environ)
    with subprocess.Popen(["sleep", "5"]) as p:
        try:
            assert b"OMS_KEYSTORE_PASSPHRASE" not in Path(f"/proc/{p.pid}/environ").read_bytes()
        finally:
            p.kill()


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to give a segment to another user")
def test_segment_owned_by_another_user_is_refused() -> None:
    name = f"tsec{uuid.uuid4().hex[:8]}.ring"
    ring = Ring.create(name, R.EVENT, 64)
    try:
        assert Ring.attach(name, R.EVENT).capacity == 64  # ours, 0600: attaches
        os.chown(f"/dev/shm/{name}", NOBODY, NOBODY)  # as if `nobody` had created it first
        with pytest.raises(segment.SegmentError, match="belongs to uid 65534"):
            Ring.attach(name, R.EVENT)
    finally:
        os.chown(f"/dev/shm/{name}", 0, 0)
        ring.unlink()
        ring.close()


def test_segment_open_to_others_is_refused() -> None:
    name = f"tsec{uuid.uuid4().hex[:8]}.ring"
    ring = Ring.create(name, R.EVENT, 64)
    try:
        os.chmod(f"/dev/shm/{name}", 0o666)  # anyone could write orders into it
        with pytest.raises(segment.SegmentError, match="mode 666"):
            Ring.attach(name, R.EVENT)
        os.chmod(f"/dev/shm/{name}", 0o600)
        other = Ring.attach(name, R.EVENT)
        assert np.asarray(other.buf).shape[0] == 64
        other.close()
    finally:
        ring.unlink()
        ring.close()


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to plant a directory as another user")
def test_predictable_tmp_dir_of_another_user_is_not_reused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(pgmod.tempfile, "tempdir", str(tmp_path))
    planted = tmp_path / "oms-pg-cache-0"
    planted.mkdir(mode=0o777)
    os.chown(planted, NOBODY, NOBODY)
    got = pgmod._own_tmp_dir("oms-pg-cache-0")
    assert got != planted and got.stat().st_uid == os.geteuid()
    # a world-writable one of our own is refused too (anyone could swap files in it)
    mine = tmp_path / "oms-pg-cache-x"
    mine.mkdir()
    mine.chmod(0o777)
    assert pgmod._own_tmp_dir("oms-pg-cache-x") != mine
    mine.chmod(0o755)
    assert pgmod._own_tmp_dir("oms-pg-cache-x") == mine
