"""Keystone v3 on ``/identity``: discovery, tokens by password and application credential,
and keystonemiddleware's 401 for no, bad, expired or revoked tokens."""

from __future__ import annotations

import json
import time

import pytest
from sqlalchemy import select

from dockyard.identity import keys, tokens
from dockyard.store.db import make_engine, transaction
from dockyard.store.schema import server_settings
from tests.glance.harness import client, request, token_for
from tests.harness import Credentials, DockyardServer


def test_version_discovery_answers_keystoneauth(glance_server: DockyardServer) -> None:
    status, _, raw = request(glance_server, "GET", "/identity/v3")
    assert status == 200
    version = json.loads(raw)["version"]
    assert version["id"].startswith("v3") and version["links"][0]["href"].endswith("/identity/v3/")
    status, _, raw = request(glance_server, "GET", "/identity/")
    assert status == 300 and json.loads(raw)["versions"]["values"][0]["status"] == "stable"
    status, _, raw = request(glance_server, "GET", "/image/versions")
    assert status == 200 and all(v["id"].startswith("v2") for v in json.loads(raw)["versions"])
    status, _, _ = request(glance_server, "GET", "/image/")
    assert status == 300


@pytest.mark.parametrize("method", ["password", "application_credential"])
def test_a_token_names_the_account_and_the_image_endpoint(
    glance_server: DockyardServer, tenant: Credentials, method: str
) -> None:
    token = token_for(glance_server, tenant, method)
    status, headers, raw = request(
        glance_server, "POST", "/identity/v3/auth/tokens", body=_auth(tenant, method)
    )
    assert status == 201 and headers["x-subject-token"]
    answer = json.loads(raw)["token"]
    assert answer["project"]["id"] == tenant.account_id and answer["methods"] == [method]
    assert answer["expires_at"].endswith("Z")
    image = [s for s in answer["catalog"] if s["type"] == "image"][0]
    assert {e["interface"] for e in image["endpoints"]} >= {"public"}
    assert image["endpoints"][0]["url"] == glance_server.endpoint + "/image"
    assert list(client(glance_server, token).tasks.list()) == []


def _auth(
    credentials: Credentials, method: str, secret: str | None = None, project: str | None = None
) -> dict:  # type: ignore[type-arg]
    secret = credentials.secret_access_key if secret is None else secret
    if method == "password":
        identity = {
            "methods": ["password"],
            "password": {"user": {"name": credentials.access_key_id, "password": secret}},
        }
    else:
        identity = {
            "methods": ["application_credential"],
            "application_credential": {"id": credentials.access_key_id, "secret": secret},
        }
    return {"auth": {"identity": identity, "scope": {"project": {"id": project or credentials.account_id}}}}


@pytest.mark.parametrize(
    ("secret", "project"),
    [("wrong", None), (None, "999999999999")],
    ids=["wrong secret", "another account's project"],
)
def test_a_bad_credential_gets_keystones_401(
    glance_server: DockyardServer, tenant: Credentials, secret: str | None, project: str | None
) -> None:
    status, headers, raw = request(
        glance_server, "POST", "/identity/v3/auth/tokens", body=_auth(tenant, "password", secret, project)
    )
    assert status == 401 and "x-subject-token" not in headers
    assert json.loads(raw)["error"]["code"] == 401


def _assert_401(glance_server: DockyardServer, token: str | None) -> None:
    status, headers, raw = request(glance_server, "GET", "/image/v2/tasks", token=token)
    assert status == 401
    assert json.loads(raw) == {
        "error": {
            "code": 401,
            "title": "Unauthorized",
            "message": "The request you have made requires authentication.",
        }
    }
    assert headers["www-authenticate"].startswith('Keystone uri="')


def test_no_forged_or_expired_token_gets_in(glance_server: DockyardServer, tenant: Credentials) -> None:
    _assert_401(glance_server, None)
    _assert_401(glance_server, "not-a-token")
    good = token_for(glance_server, tenant)
    body, mac = good.split(".")
    _assert_401(glance_server, body[:-2] + "AA." + mac)
    engine = make_engine(glance_server.store_url)
    try:
        with transaction(engine) as connection:
            secret = connection.execute(
                select(server_settings.c.value).where(server_settings.c.name == tokens.SECRET_NAME)
            ).scalar_one()
    finally:
        engine.dispose()
    issued_long_ago = time.time() - 2 * tokens.LIFETIME_SECONDS
    expired, _ = tokens.issue(
        bytes.fromhex(secret), tenant.access_key_id, tenant.account_id, "tester", "password", issued_long_ago
    )
    _assert_401(glance_server, expired)
    fresh, _ = tokens.issue(
        bytes.fromhex(secret), tenant.access_key_id, tenant.account_id, "tester", "password", time.time()
    )
    assert request(glance_server, "GET", "/image/v2/tasks", token=fresh)[0] == 200


def test_a_token_dies_with_its_key(glance_server: DockyardServer, tenant: Credentials) -> None:
    from tests.harness import wait_for

    token = token_for(glance_server, tenant)
    assert request(glance_server, "GET", "/image/v2/tasks", token=token)[0] == 200
    engine = make_engine(glance_server.store_url)
    try:
        with transaction(engine) as connection:
            assert keys.revoke_key(connection, tenant.access_key_id)
    finally:
        engine.dispose()
    # The key cache lets a revoked key live up to a second.
    wait_for(lambda: request(glance_server, "GET", "/image/v2/tasks", token=token)[0] == 401, timeout=120)
    _assert_401(glance_server, token)
