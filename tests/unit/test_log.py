"""Logging room: a registered secret never reaches a log line, in text or JSON mode, by any route."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest

from oms import log

SECRET = "Zq9sEcReT-0123456789abcdefXYZ"  # looks like nothing the patterns know: only redact() catches it


@pytest.fixture(params=[False, True], ids=["text", "json"])
def captured(request: pytest.FixtureRequest) -> Iterator[tuple[logging.Logger, io.StringIO, bool]]:
    buf = io.StringIO()
    log.redact(SECRET)
    log.setup(json_lines=request.param, level="DEBUG", stream=buf)
    yield log.get("oms.testlog"), buf, request.param


def _emit_everything(lg: logging.Logger) -> None:
    lg.info("plain %s", SECRET)
    lg.warning("in a dict %s", {"key": "k", "secret": SECRET})
    lg.info("f-string " + SECRET)
    lg.info("fields", extra={"fields": {"secret": SECRET, "nested": [SECRET, {"x": SECRET}]}})
    try:
        raise ValueError(f"bad credential {SECRET}")
    except ValueError:
        lg.exception("failed with %s", "an exception")
    lg.debug("with stack", stack_info=True, extra={"fields": {"obj": object()}})
    lg.error("url signature=%s&apiKey=%s", "deadbeef" * 8, "AKIAOTHERKEY")


def test_registered_secret_never_logged(captured: tuple[logging.Logger, io.StringIO, bool]) -> None:
    lg, buf, as_json = captured
    _emit_everything(lg)
    text = buf.getvalue()
    lines = text.splitlines()
    assert len([ln for ln in lines if "***" in ln]) >= 5  # the lines were written, with the value masked
    assert SECRET not in text
    assert SECRET[:12] not in text
    assert "deadbeef" * 8 not in text and "AKIAOTHERKEY" not in text  # pattern-based masking
    assert "bad credential ***" in text  # the traceback is kept, only the secret is gone
    if as_json:
        records = [json.loads(ln) for ln in lines if ln.startswith("{")]
        assert {r["room"] for r in records} == {"oms.testlog"}
        assert any(r.get("secret") == "***" and r.get("nested") == ["***", {"x": "***"}] for r in records)
        assert any("exc" in r and "ValueError" in r["exc"] for r in records)


def test_short_values_are_not_registered() -> None:
    """Values under 6 chars would mask ordinary words everywhere; they are refused, not half-applied."""
    log.redact("abc")
    assert log.scrub("abc abc") == "abc abc"


def test_json_lines_are_valid_json() -> None:
    buf = io.StringIO()
    log.setup(json_lines=True, level="INFO", stream=buf)  # tests/conftest.py restores the logger after
    log.get("oms.x").info('quote " and newline \n inside', extra={"fields": {"n": 1}})
    rec = json.loads(buf.getvalue().strip())
    assert rec["msg"] == 'quote " and newline \n inside' and rec["n"] == 1 and rec["level"] == "info"
