"""Token file: hashed at rest, scoped, revocable, rotatable with grace; verification and its cache."""

from __future__ import annotations

import json
import os
import stat
import time

import pytest

from oms.api.tokens import TokenStore, parse_token
from oms.errors import Rejected


def test_token_stored_hashed_never_in_clear(tmp_path) -> None:
    store = TokenStore(tmp_path / "t.json")
    rec, tok = store.add("alice", ["trader"], [1, 2], ["127.0.0.1/32"])
    text = (tmp_path / "t.json").read_text()
    assert tok not in text and tok.split(".", 1)[1] not in text
    raw = json.loads(text)["tokens"][0]
    assert raw["hash"] != tok and len(bytes.fromhex(raw["salt"])) == 16 and raw["n"] == 2**14
    assert stat.S_IMODE(os.stat(tmp_path / "t.json").st_mode) == 0o600
    assert parse_token(tok) == rec.id


def test_verify_wrong_revoked_expired(tmp_path) -> None:
    store = TokenStore(tmp_path / "t.json")
    rec, tok = store.add("a", ["viewer"], [1])
    assert store.verify(tok) is not None and store.cached(tok) is not None
    assert store.verify(tok[:-1] + ("A" if tok[-1] != "A" else "B")) is None
    assert store.verify("garbage") is None and store.cached("garbage") is False
    other = TokenStore(tmp_path / "t.json")  # a second process (the CLI) revokes
    other.revoke(rec.id)
    store.reload()
    assert store.verify(tok) is None and store.cached(tok) is False
    _, tok2 = store.add("b", ["viewer"], [1], expires_ns=time.time_ns() - 1)
    assert store.verify(tok2) is None


def test_rotate_with_grace(tmp_path) -> None:
    store = TokenStore(tmp_path / "t.json")
    rec, old = store.add("a", ["viewer"], [1])
    _, new, until = store.rotate(rec.id, grace_s=60)
    assert until > time.time_ns()
    fresh = TokenStore(tmp_path / "t.json")
    assert fresh.verify(new) is not None and fresh.verify(old) is not None
    _, newer, until = fresh.rotate(rec.id, grace_s=0)
    assert until == 0
    fresh2 = TokenStore(tmp_path / "t.json")
    assert fresh2.verify(newer) is not None and fresh2.verify(new) is None


@pytest.mark.parametrize(
    ("kw", "words"),
    [
        (dict(roles=["god"]), "roles"),
        (dict(accounts=[0]), "accounts"),
        (dict(cidrs=["300.1.1.1/8"]), "CIDR"),
        (dict(rate=0), "rate"),
    ],
)
def test_add_rejects_bad_input(tmp_path, kw, words) -> None:  # type: ignore[no-untyped-def]
    args = dict(name="x", roles=["viewer"], accounts=[1], cidrs=["127.0.0.1/32"])
    rate = kw.pop("rate", 10.0)
    args.update(kw)
    with pytest.raises(Rejected, match=words):
        TokenStore(tmp_path / "t.json").add(
            args["name"], args["roles"], args["accounts"], args["cidrs"], rate=rate
        )


def test_admin_and_risk_always_get_totp(tmp_path) -> None:
    store = TokenStore(tmp_path / "t.json")
    assert store.add("a", ["admin"], [1])[0].totp_secret
    assert store.add("r", ["risk"], [1])[0].totp_secret
    assert store.add("t", ["trader"], [1])[0].totp_secret is None
