"""Microseconds per request-path component, the way it was first written and as it is now.

Each pair runs the same work both ways in this process (best of several timeit runs of CPU
time), so the figures are what each change to the request path bought, free of HTTP and of
the domain code. "First written" is the straightforward form the skeleton used:

- SigV4: a fresh ``AWSRequest`` and ``SigV4Auth`` per request, full key derivation;
  now ``dockyard.identity.sigv4.verify_signature`` (derived key cached, body not re-prepared).
- clock: ``time.strptime`` per request; now parsed once per timestamp.
- transaction: pool checkout, ``BEGIN`` from a "begin" event through ``exec_driver_sql``;
  now ``dockyard.store.db.transaction`` (BEGIN from the dialect, parked connection).
- statement: one execute of a prepared SELECT on an engine with / without that "begin" event
  listener (any connection event makes SQLAlchemy dispatch events around every statement).
- JSON documents: the six document columns of a cluster row, ``json.loads`` vs orjson.
- result walk: dropping None members from a 100-ARN ListTaskDefinitions result.

    .venv/bin/python -m bench.components
"""

from __future__ import annotations

import functools
import json
import tempfile
import time
import timeit
from calendar import timegm
from collections.abc import Callable
from typing import Any

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from sqlalchemy import Connection, create_engine, event, select

from bench.loadgen import ECS_TARGET_PREFIX, RequestSpec, sign_pool
from dockyard.identity import sigv4
from dockyard.protocol import json_protocol
from dockyard.store import db
from dockyard.store.migrate import upgrade
from dockyard.store.schema import clusters


def best_us(work: Callable[[], Any], number: int = 5000, repeat: int = 7) -> float:
    work()
    return 1e6 * min(timeit.repeat(work, number=number, repeat=repeat, timer=time.process_time)) / number


def _first_written_signature(
    signed: sigv4.SignedRequest, secret: str, headers: dict[str, str], body: bytes
) -> str:
    request = AWSRequest(
        method="POST",
        url=f"http://{headers['host']}/",
        headers={name: headers[name] for name in signed.signed_headers},
        data=body,
    )
    request.context["timestamp"] = signed.amz_date
    signer = SigV4Auth(Credentials(signed.access_key_id, secret), signed.service, signed.region)
    return str(signer.signature(signer.string_to_sign(request, signer.canonical_request(request)), request))


def _first_written_begin(connection: Connection) -> None:
    write = connection.get_execution_options().get("write", False)
    connection.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")


def main() -> None:
    rows: list[tuple[str, float, float]] = []

    raw = sign_pool(
        RequestSpec(
            5566, f"{ECS_TARGET_PREFIX}.DescribeClusters", b'{"clusters": ["bench-0"]}', "AKIABENCH", "secret"
        ),
        1,
    )[0]
    head, _, body = raw.partition(b"\r\n\r\n")
    headers = {
        name.strip().lower(): value.strip()
        for name, _, value in (line.partition(":") for line in head.decode().split("\r\n")[1:])
    }
    signed = sigv4.parse_authorization(headers)
    rows.append(
        (
            "SigV4 signature check",
            best_us(lambda: _first_written_signature(signed, "secret", headers, body)),
            best_us(
                lambda: sigv4.verify_signature(
                    signed, "secret", method="POST", path="/", query="", headers=headers, body=body
                )
            ),
        )
    )
    rows.append(
        (
            "clock check",
            best_us(lambda: timegm(time.strptime(signed.amz_date, "%Y%m%dT%H%M%SZ"))),
            best_us(lambda: sigv4.check_clock(signed, time.time())),
        )
    )

    with tempfile.TemporaryDirectory(prefix="dockyard-components-") as tmp:
        engine = db.make_engine(db.sqlite_url(tmp))
        upgrade(engine)
        before = create_engine(
            db.sqlite_url(tmp), pool_size=8, connect_args={"check_same_thread": False, "timeout": 30}
        )
        event.listen(before, "connect", db._sqlite_on_connect)
        event.listen(before, "begin", _first_written_begin)

        def old_transaction(write: bool) -> None:
            with before.connect().execution_options(write=write) as connection, connection.begin():
                pass

        def new_transaction(write: bool) -> None:
            with db.transaction(engine, write=write):
                pass

        for write in (False, True):
            rows.append(
                (
                    f"{'write' if write else 'read'} transaction (empty)",
                    best_us(functools.partial(old_transaction, write)),
                    best_us(functools.partial(new_transaction, write)),
                )
            )
        query = select(clusters).where(clusters.c.name == "bench-0")
        with before.connect() as old, engine.connect() as new:
            rows.append(
                (
                    "execute a prepared SELECT",
                    best_us(lambda: old.execute(query).first()),
                    best_us(lambda: new.execute(query).first()),
                )
            )
        before.dispose()
        engine.dispose()

    documents = [
        '[{"name": "containerInsights", "value": "disabled"}]',
        "null",
        "[]",
        "[]",
        "null",
        '[{"key": "team", "value": "web"}]',
    ]
    rows.append(
        (
            "JSON documents of a cluster row",
            best_us(lambda: [json.loads(text) for text in documents]),
            best_us(lambda: [db._json_loads(text) for text in documents]),
        )
    )

    page = {
        "taskDefinitionArns": [
            f"arn:aws:ecs:us-east-1:123456789012:task-definition/web:{n}" for n in range(100)
        ],
        "nextToken": "x",
    }

    def first_written_walk(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: first_written_walk(v) for k, v in value.items() if v is not None}
        if isinstance(value, list):
            return [first_written_walk(v) for v in value]
        return value

    rows.append(
        (
            "result walk, 100 ARNs",
            best_us(lambda: first_written_walk(page)),
            best_us(lambda: json_protocol._without_none(page)),
        )
    )

    print("| Component | first written (us) | now (us) | saved (us) |")
    print("|---|---:|---:|---:|")
    for name, old_us, new_us in rows:
        print(f"| {name} | {old_us:.1f} | {new_us:.1f} | {old_us - new_us:.1f} |")


if __name__ == "__main__":
    main()
