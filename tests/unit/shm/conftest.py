"""shm test fixtures: a unique segment-name prefix per test, and removal of whatever it left behind."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator

import pytest

from oms.shm import segment


@pytest.fixture
def shm_prefix() -> Iterator[str]:
    prefix = f"t{os.getpid()}.{uuid.uuid4().hex[:8]}."
    yield prefix
    for name in os.listdir(segment.SHM_DIR):
        if name.startswith(prefix):
            os.unlink(os.path.join(segment.SHM_DIR, name))


def _run_py(code: str, timeout: float = 60.0) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=timeout, check=False
    )


@pytest.fixture
def run_py() -> Callable[..., subprocess.CompletedProcess[str]]:
    """Run a short Python snippet in a fresh interpreter (a real second process) and wait for it."""
    return _run_py
