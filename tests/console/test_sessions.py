"""Sessions, CSRF tokens and the same-origin check, as tables."""

from __future__ import annotations

import dataclasses

import pytest
from starlette.requests import Request
from starlette.responses import Response

from dockyard.console import sessions, signin, web

SECRET = b"s" * 32
SESSION = sessions.Session("AKIA1", "111122223333", "alice", "us-east-1", "nonce1", expires_at=1000.0)


def test_a_sealed_session_opens_as_itself_until_it_expires() -> None:
    value = sessions.seal(SECRET, SESSION)
    assert sessions.open_cookie(SECRET, value, now=999.0) == SESSION
    assert sessions.open_cookie(SECRET, value, now=1000.0) is None


@pytest.mark.parametrize(
    "value",
    [
        pytest.param(None, id="no cookie"),
        pytest.param("", id="empty"),
        pytest.param("abc", id="no MAC"),
        pytest.param("a.b.c", id="three parts"),
        pytest.param("!!!.???", id="not base64"),
        pytest.param(sessions.seal(b"t" * 32, SESSION), id="sealed under another secret"),
        pytest.param(
            sessions.seal(SECRET, SESSION).split(".")[0] + "." + sessions.seal(SECRET, SESSION).split(".")[0],
            id="the body as its own MAC",
        ),
        pytest.param(
            sessions.seal(b"t" * 32, dataclasses.replace(SESSION, account_id="999999999999")).split(".")[0]
            + "."
            + sessions.seal(SECRET, SESSION).split(".")[1],
            id="another account's body with this MAC",
        ),
        pytest.param(sessions.flash_seal(SECRET, "hello", "info"), id="a notice is not a session"),
    ],
)
def test_anything_but_a_genuine_cookie_is_no_session(value: str | None) -> None:
    assert sessions.open_cookie(SECRET, value, now=0.0) is None


def test_the_csrf_token_belongs_to_its_session() -> None:
    token = sessions.csrf_token(SECRET, SESSION)
    assert sessions.csrf_ok(SECRET, SESSION, token)
    assert not sessions.csrf_ok(SECRET, dataclasses.replace(SESSION, nonce="nonce2"), token)
    assert not sessions.csrf_ok(SECRET, SESSION, "")
    assert not sessions.csrf_ok(SECRET, SESSION, None)
    assert not sessions.csrf_ok(b"t" * 32, SESSION, token)


@pytest.mark.parametrize(
    "headers, scheme, expected",
    [
        ({"host": "dock:5566", "origin": "http://dock:5566"}, "http", True),
        ({"host": "dock:5566", "origin": "HTTP://Dock:5566"}, "http", True),
        ({"host": "dock:5566", "origin": "https://dock:5566"}, "http", False),
        ({"host": "dock:5566", "origin": "http://evil.example"}, "http", False),
        ({"host": "dock:5566", "origin": "null"}, "http", False),
        ({"host": "dock:5566", "origin": "http://dock:5566.evil.example"}, "http", False),
        ({"host": "dock:5566", "referer": "http://dock:5566/console/clusters"}, "http", True),
        ({"host": "dock:5566", "referer": "http://dock:5566.evil.example/console"}, "http", False),
        ({"host": "dock:5566", "referer": "http://evil.example/?http://dock:5566/"}, "http", False),
        ({"host": "dock:5566"}, "http", False),
        ({"origin": "http://dock:5566"}, "http", False),
        ({"host": "dock", "origin": "https://dock"}, "https", True),
    ],
    ids=lambda value: (
        str(value) if not isinstance(value, dict) else ",".join(f"{k}={v}" for k, v in value.items())
    ),
)
def test_same_origin(headers: dict[str, str], scheme: str, expected: bool) -> None:
    assert sessions.same_origin(headers, scheme) is expected


def test_a_notice_opens_only_under_its_secret() -> None:
    value = sessions.flash_seal(SECRET, "Task 1 started.", "info")
    assert sessions.flash_open(SECRET, value) == ("info", "Task 1 started.")
    assert sessions.flash_open(b"t" * 32, value) is None
    assert sessions.flash_open(SECRET, sessions.seal(SECRET, SESSION)) is None


@pytest.mark.parametrize(
    "given, goes_to",
    [
        (None, "/console/clusters"),
        ("/console/clusters/web?tab=tasks", "/console/clusters/web?tab=tasks"),
        ("//evil.example/console/", "/console/clusters"),
        ("https://evil.example/console/x", "/console/clusters"),
        ("/console//evil.example", "/console/clusters"),
        ("/elsewhere", "/console/clusters"),
        ("/console", "/console/clusters"),
    ],
)
def test_after_signing_in_only_a_console_path_is_followed(given: str | None, goes_to: str) -> None:
    assert signin.next_path(given) == goes_to


@pytest.mark.parametrize("scheme, secure", [("http", False), ("https", True)])
def test_the_cookie_is_secure_when_served_over_tls(scheme: str, secure: bool) -> None:
    console = web.Console.__new__(web.Console)  # only its secret is used here
    console.secret = SECRET
    scope = {"type": "http", "scheme": scheme, "method": "POST", "path": "/", "headers": [(b"host", b"dock")]}
    request = Request(scope)
    response = Response()
    console.set_session(response, request, SESSION)
    cookie = response.headers["set-cookie"].lower()
    assert ("; secure" in cookie) is secure
    assert "httponly" in cookie and "samesite=strict" in cookie
