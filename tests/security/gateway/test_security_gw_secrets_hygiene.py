"""Security (gateway/CLI/log rooms): secrets stay off argv and out of log lines.

- the log scrubber removes URL userinfo (`nats://user:pass@`, DSNs), `Bearer ...` credentials and our
  API tokens (`omt_<id>.<secret>`) from every line, text and JSON;
- the CLI takes the API token from OMS_TOKEN, a file only its owner can read, or a prompt; a token on
  argv still works but prints a warning; a group/world-readable token file is refused.
Run against the real gateway and engine (the `oms` CLI's in-process main, real TLS).
"""

from __future__ import annotations

import io
import json
import logging
import os

import pytest

from oms import log
from oms.cli import main as oms_main
from oms.client import read_secret
from oms.errors import Rejected
from tests.security.gateway.conftest import Real

SECRETS = {
    "connecting to nats://bridge:hunter2pass@127.0.0.1:4222": "hunter2pass",
    "dsn=postgresql://oms_app:pg-Secret-9@localhost:5432/oms": "pg-Secret-9",
    "redis://default:r3disPW@127.0.0.1:6379/0 unreachable": "r3disPW",
    "metadata authorization: Bearer omt_ab12cd34.Zx9-secretpart_0": "Zx9-secretpart_0",
    "retrying with omt_ab12cd34.Qq1secretQq1 after 1 s": "Qq1secretQq1",
}


@pytest.mark.parametrize("line", list(SECRETS))
def test_scrub_removes_url_userinfo_bearer_and_tokens(line: str) -> None:
    out = log.scrub(line)
    assert SECRETS[line] not in out and "***" in out
    if "://" in line:
        assert "@" in out and "://***@" in out  # the host stays readable


def test_log_lines_never_carry_them(monkeypatch: pytest.MonkeyPatch) -> None:
    for json_lines in (False, True):
        buf = io.StringIO()
        log.setup(json_lines=json_lines, stream=buf)
        lg = log.get("oms.security_test")
        for line in SECRETS:
            lg.warning("%s", line)
        lg.error("failed", extra={"fields": {"url": "nats://u:topsecretpw@h:4222"}})
        try:
            raise RuntimeError("Bearer omt_x.tracebacksecret")
        except RuntimeError:
            lg.exception("boom")
        text = buf.getvalue()
        for secret in [*SECRETS.values(), "topsecretpw", "tracebacksecret"]:
            assert secret not in text, (json_lines, secret)
        if json_lines:
            [json.loads(x) for x in text.splitlines()]
    logging.getLogger("oms").handlers.clear()


def _cli(real: Real, *extra: str) -> list[str]:
    st = real.st
    return ["order", "list", "--account", "1", "--target", st.target, "--ca", str(st.certs.ca_cert), *extra]


def test_cli_token_from_env_file_or_argv_with_a_warning(
    real: Real, tmp_path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:  # type: ignore[no-untyped-def]
    tok = real.st.tokens["trader"]
    monkeypatch.delenv("OMS_TOKEN", raising=False)
    monkeypatch.delenv("OMS_TOKEN_FILE", raising=False)
    monkeypatch.setenv("OMS_TOKEN", tok)
    assert oms_main(_cli(real)) == 0
    assert "warning" not in capsys.readouterr().err
    monkeypatch.delenv("OMS_TOKEN")

    f = tmp_path / "token"
    f.write_text(tok + "\n")
    f.chmod(0o644)
    rc = oms_main(_cli(real, "--token-file", str(f)))
    err = capsys.readouterr().err
    assert rc != 0 and "chmod 600" in err and tok not in err
    f.chmod(0o600)
    assert oms_main(_cli(real, "--token-file", str(f))) == 0

    assert oms_main(_cli(real, "--token", tok)) == 0
    err = capsys.readouterr().err
    assert "warning" in err and "visible to other users" in err and tok not in err


def test_cli_without_a_token_and_without_a_terminal_says_how_to_give_one(
    real: Real, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("OMS_TOKEN", raising=False)
    monkeypatch.delenv("OMS_TOKEN_FILE", raising=False)
    monkeypatch.setattr("sys.stdin", io.StringIO(""))  # not a terminal: no prompt
    rc = oms_main(_cli(real))
    err = capsys.readouterr().err
    assert rc != 0 and "OMS_TOKEN" in err and "--token-file" in err


def test_totp_secret_file_must_be_private(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.delenv("OMS_TOTP_SECRET", raising=False)
    f = tmp_path / "totp"
    f.write_text("JBSWY3DPEHPK3PXP\n")
    f.chmod(0o640)
    with pytest.raises(Rejected, match="chmod 600"):
        read_secret(None, "OMS_TOTP_SECRET", str(f), "TOTP secret", "--totp-secret")
    os.chmod(f, 0o600)
    assert read_secret(None, "OMS_TOTP_SECRET", str(f), "TOTP secret", "--totp-secret") == "JBSWY3DPEHPK3PXP"
    monkeypatch.setenv("OMS_TOTP_SECRET", "FROMENV")
    assert read_secret(None, "OMS_TOTP_SECRET", str(f), "TOTP secret", "--totp-secret") == "FROMENV"
