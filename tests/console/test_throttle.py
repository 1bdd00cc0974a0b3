"""Sign-in throttling: the buckets as a table, and a real server's sign-in page under a guesser."""

from __future__ import annotations

from pathlib import Path

import pytest

from dockyard.console.throttle import BURST, Throttle
from tests.console.client import ConsoleClient
from tests.harness import Credentials, DockyardServer

A = ("address", "10.0.0.1")
B = ("address", "10.0.0.2")
K = ("key", "AKIAEXAMPLE")


@pytest.mark.parametrize(
    ("failures", "then", "asked", "wait"),
    [
        ([], 0.0, [A, K], 0),
        ([(0.0, [A, K])] * (BURST - 1), 0.0, [A, K], 0),  # one try left
        ([(0.0, [A, K])] * BURST, 0.0, [A, K], 12),  # dry: a token back in 12 s
        ([(0.0, [A, K])] * BURST, 6.0, [A, K], 6),
        ([(0.0, [A, K])] * BURST, 12.0, [A, K], 0),  # refilled one
        ([(0.0, [A, K])] * BURST, 0.0, [B, K], 12),  # the key is dry from any address
        ([(0.0, [A, K])] * BURST, 0.0, [A, ("key", "other")], 12),  # the address, for any key
        ([(0.0, [A, K])] * BURST, 0.0, [B, ("key", "other")], 0),
        ([(0.0, [A, K])] * BURST, 1000.0, [A, K], 0),  # long after: full again
    ],
)
def test_buckets(
    failures: list[tuple[float, list[tuple[str, str]]]], then: float, asked: list[tuple[str, str]], wait: int
) -> None:
    throttle = Throttle()
    for at, names in failures:
        throttle.failed(names, at)
    assert throttle.wait_seconds(asked, then) == wait


def test_memory_is_bounded() -> None:
    throttle = Throttle(max_buckets=100)
    for n in range(1000):
        throttle.failed([("address", f"10.0.{n // 256}.{n % 256}")], float(n))
    assert len(throttle) == 100
    assert throttle.wait_seconds([("address", "10.0.3.231")], 999.0) == 0  # the newest are kept
    assert ("address", "10.0.0.0") not in throttle._buckets  # the oldest went


def test_a_guesser_is_throttled_and_logged_once(tmp_path: Path) -> None:
    """Its own server: the shared one's sign-ins all come from 127.0.0.1, which this throttles."""
    server = DockyardServer(data_dir=tmp_path / "guessed").start()
    try:
        account = server.new_account()
        wrong = Credentials(account.access_key_id, "not-the-secret", account.account_id)
        client = ConsoleClient(server)
        for _ in range(BURST):
            assert client.sign_in(wrong).status == 403
        refused = client.sign_in(account)  # even the right secret waits now
        assert refused.status == 429
        assert "Too many failed sign-ins" in refused.text
        assert client.get("/console/clusters").status == 303  # not signed in
        assert client.sign_in(wrong).status == 429
        other = server.new_account()  # the same address, another key: the address is dry too
        assert client.sign_in(other).status == 429
    finally:
        server.stop()
    assert server.log().count("too many failed sign-ins") == 2  # the address and the key, once each
