"""Every request must carry a valid SigV4 signature from an active key."""

from __future__ import annotations

import datetime
import time
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.harness import Credentials, raw_call


def test_an_unsigned_request_is_refused(server: Any) -> None:
    reply = raw_call(server.endpoint, "ListClusters", b"{}")
    assert (reply.status, reply.error_code) == (403, "MissingAuthenticationTokenException")


def test_a_wrong_secret_is_refused(server: Any, account: Credentials) -> None:
    forged = Credentials(account.access_key_id, "not-the-secret", account.account_id)
    reply = raw_call(server.endpoint, "ListClusters", b"{}", forged)
    assert (reply.status, reply.error_code) == (403, "InvalidSignatureException")


def test_an_unknown_key_is_refused(server: Any) -> None:
    stranger = Credentials("AKIANOBODYKNOWSTHIS", "secret", "000000000000")
    reply = raw_call(server.endpoint, "ListClusters", b"{}", stranger)
    assert (reply.status, reply.error_code) == (403, "UnrecognizedClientException")


def test_a_body_changed_after_signing_is_refused(server: Any, account: Credentials) -> None:
    reply = raw_call(
        server.endpoint,
        "CreateCluster",
        b'{"clusterName": "a"}',
        account,
        tamper=lambda body: body.replace(b'"a"', b'"b"'),
    )
    assert reply.error_code == "InvalidSignatureException"


@pytest.mark.parametrize("minutes", [-20, 20], ids=["signed 20 minutes ago", "signed 20 minutes ahead"])
def test_a_signature_outside_15_minutes_is_refused(server: Any, account: Credentials, minutes: int) -> None:
    at = datetime.datetime.now(datetime.UTC).replace(tzinfo=None) + datetime.timedelta(minutes=minutes)
    reply = raw_call(server.endpoint, "ListClusters", b"{}", account, signed_at=at)
    assert reply.error_code == "InvalidSignatureException"
    assert "Signature expired" in reply.body["message"] or "not yet current" in reply.body["message"]


def test_a_signature_within_the_skew_is_accepted(server: Any, account: Credentials) -> None:
    at = datetime.datetime.now(datetime.UTC).replace(tzinfo=None) - datetime.timedelta(minutes=10)
    assert raw_call(server.endpoint, "ListClusters", b"{}", account, signed_at=at).status == 200


def test_a_revoked_key_is_refused(server: Any, account: Credentials) -> None:
    client = server.client(account)
    client.list_clusters()
    from dockyard.identity import keys
    from dockyard.store.db import make_engine, transaction

    engine = make_engine(server.store_url)
    with transaction(engine) as connection:
        assert keys.revoke_key(connection, account.access_key_id)
    engine.dispose()
    deadline = time.monotonic() + 60
    while True:  # a revocation reaches every replica within the key cache's second
        try:
            client.list_clusters()
        except ClientError as error:
            assert error.response["Error"]["Code"] == "UnrecognizedClientException"
            break
        assert time.monotonic() < deadline, "revoked key still accepted"
        time.sleep(0.2)


def test_the_region_comes_from_the_credential_scope(server: Any, account: Credentials) -> None:
    reply = raw_call(server.endpoint, "CreateCluster", b'{"clusterName": "r"}', account, region="eu-west-1")
    assert reply.body["cluster"]["clusterArn"] == f"arn:aws:ecs:eu-west-1:{account.account_id}:cluster/r"
