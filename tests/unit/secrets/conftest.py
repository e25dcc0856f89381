"""Secrets room unit fixtures: a fresh local keystore in tmp_path with a known passphrase."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from oms.secrets.local import LocalKeyStore
from oms.secrets.locked import LockedBuffer

PASSPHRASE = "correct horse battery staple"


@pytest.fixture
def ks_path(tmp_path: Path) -> Path:
    return tmp_path / "secrets" / "keystore.json"


@pytest.fixture
def store(ks_path: Path) -> Iterator[LocalKeyStore]:
    s = LocalKeyStore(ks_path, LockedBuffer.from_str(PASSPHRASE), scrypt_n=2**14, watch_interval=0.02)
    yield s
    s.close()
