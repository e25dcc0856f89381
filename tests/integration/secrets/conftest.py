"""Secrets room integration fixtures: a root hvac client on the session's OpenBao dev server."""

from __future__ import annotations

from typing import Any

import pytest

from oms.services.openbao import OpenBaoServer


@pytest.fixture
def bao_root(openbao_server: OpenBaoServer) -> Any:
    c = openbao_server.client()
    yield c
    c.adapter.close()
