"""`oms certs init|client` and `oms tokens add|list|revoke|rotate` (in-process CLI, temp files)."""

from __future__ import annotations

import json
import ssl

import pytest
from cryptography import x509

from oms.api.tokens import TokenStore
from oms.cli import main as oms_main


def test_certs_init_makes_a_usable_chain(tmp_path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "certs"
    assert oms_main(["certs", "init", "--out", str(out)]) == 0
    server = x509.load_pem_x509_certificate((out / "server.crt").read_bytes())
    sans = server.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert "localhost" in sans.get_values_for_type(x509.DNSName)
    assert (out / "ca.key").stat().st_mode & 0o077 == 0 and (out / "server.key").stat().st_mode & 0o077 == 0
    ctx = ssl.create_default_context(cafile=str(out / "ca.crt"))  # the CA loads as a trust anchor
    ctx.load_cert_chain(str(out / "client.crt"), str(out / "client.key"))
    assert oms_main(["certs", "init", "--out", str(out)]) == 2  # refuses to overwrite without --force
    assert "--force" in capsys.readouterr().err
    assert oms_main(["certs", "client", "bot-1", "--out", str(out)]) == 0 and (out / "bot-1.crt").exists()


def test_tokens_add_list_revoke_rotate(tmp_path, capsys: pytest.CaptureFixture[str]) -> None:
    f = str(tmp_path / "tokens.json")
    assert oms_main(["tokens", "--file", f, "add", "ops", "--role", "admin", "--account", "1", "--json"]) == 0
    added = json.loads(capsys.readouterr().out)
    assert (
        added["token"].startswith("omt_")
        and added["totp_secret"]
        and added["totp_uri"].startswith("otpauth://")
    )
    assert oms_main(["tokens", "--file", f, "list", "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert listed[0]["id"] == added["id"] and "token" not in listed[0] and "totp_secret" not in listed[0]
    assert oms_main(["tokens", "--file", f, "rotate", added["id"], "--grace", "60"]) == 0
    new = capsys.readouterr().out.split()[1]
    store = TokenStore(f)
    assert store.verify(new) and store.verify(added["token"])  # old one still inside its grace period
    assert oms_main(["tokens", "--file", f, "revoke", added["id"]]) == 0
    assert TokenStore(f).verify(new) is None
    assert oms_main(["tokens", "--file", f, "revoke", "nope"]) == 2
    assert (
        oms_main(
            ["tokens", "--file", f, "add", "x", "--role", "trader", "--account", "1", "--cidr", "not-a-cidr"]
        )
        == 2
    )
    assert "CIDR 'not-a-cidr' invalid" in capsys.readouterr().err
