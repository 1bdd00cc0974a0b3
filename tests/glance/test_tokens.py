"""Keystone tokens: signed, expiring, not to be forged or reused for another purpose."""

from __future__ import annotations

from dockyard.identity import signing, tokens

SECRET = b"s" * 32


def test_a_token_reads_back_until_it_expires() -> None:
    value, token = tokens.issue(SECRET, "AKIAX", "123456789012", "tester", "password", 1000.0)
    assert tokens.read(SECRET, value, 1000.0 + tokens.LIFETIME_SECONDS - 1) == token
    assert token.expires_at == 1000.0 + 3600 and token.methods == ("password",)
    assert tokens.read(SECRET, value, 1000.0 + tokens.LIFETIME_SECONDS) is None


def test_a_forged_or_foreign_token_is_nothing() -> None:
    value, _ = tokens.issue(SECRET, "AKIAX", "123456789012", "tester", "password", 1000.0)
    assert tokens.read(b"t" * 32, value, 1000.0) is None
    body, mac = value.split(".")
    assert tokens.read(SECRET, body + "x." + mac, 1000.0) is None
    assert tokens.read(SECRET, None, 1000.0) is None
    assert tokens.read(SECRET, "a.b.c", 1000.0) is None
    # A console cookie signed with the same secret is no token.
    cookie = signing.sign(SECRET, "session", {"access_key_id": "AKIAX"})
    assert tokens.read(SECRET, cookie, 1000.0) is None
    # A signed value of the right purpose but the wrong fields is none either.
    assert tokens.read(SECRET, signing.sign(SECRET, tokens.PURPOSE, {"who": "me"}), 1000.0) is None
