"""The cost of one ListTaskDefinitions page (maxResults 100) at 1k, 10k and 100k revisions.

Keyset pagination promises that a page costs the same however long the list and however deep
the page. This measures it: one account per size, each with one family of N ACTIVE revisions,
written straight into the store in the shape ``dockyard/ecs/task_definitions.py`` writes
(registering 100k revisions through the API would take most of an hour). Then a Dockyard
server (SQLite, signature verification on) serves the first page and a page half-way down,
each with and without ``familyPrefix``, under ``bench.loadgen``; its CPU time per request is
read from /proc. The SQLite query plan of the deep page is printed too.

    .venv/bin/python -m bench.list_page_cost --sizes 1000,10000,100000 --duration 5
"""

from __future__ import annotations

import argparse
import json
import secrets
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, event, insert

from bench import loadgen
from bench.servers import ServerProcess, ecs_client, machine, start_dockyard
from dockyard.identity.sealing import Sealer

FAMILY = "bench-web"
REGION = "us-east-1"
CONTAINER = {
    "name": "web",
    "image": "nginx:1.27",
    "cpu": 128,
    "memory": 256,
    "essential": True,
    "portMappings": [{"containerPort": 80, "protocol": "tcp"}],
    "environment": [{"name": "MODE", "value": "bench"}],
}
_CHUNK = 10_000

# Secrets of the bench's throwaway store, sealed under a throwaway master key.
_SEALER = Sealer(secrets.token_bytes(32))


@dataclass(frozen=True)
class Account:
    size: int
    account_id: str
    key_id: str
    secret: str


def populate(engine: Engine, size: int) -> Account:
    """An account whose family ``FAMILY`` has ``size`` ACTIVE revisions, and a key for it."""
    from dockyard.ecs.task_definition_rules import normalize
    from dockyard.identity import keys
    from dockyard.store.db import transaction
    from dockyard.store.schema import task_definition_families, task_definitions

    account_id = str(700_000_000_000 + size)
    document = normalize({"family": FAMILY, "containerDefinitions": [CONTAINER]})
    principal = f"arn:aws:iam::{account_id}:user/bench"
    with transaction(engine) as connection:
        key = keys.create_key(connection, _SEALER, account_id=account_id, user_name="bench")
        connection.execute(
            insert(task_definition_families).values(
                account_id=account_id,
                region=REGION,
                family=FAMILY,
                latest_revision=size,
                active_revisions=size,
                inactive_revisions=0,
            )
        )
    now = time.time()
    for start in range(1, size + 1, _CHUNK):
        rows: list[dict[str, Any]] = [
            {
                "account_id": account_id,
                "region": REGION,
                "family": FAMILY,
                "revision": revision,
                "arn": f"arn:aws:ecs:{REGION}:{account_id}:task-definition/{FAMILY}:{revision}",
                "status": "ACTIVE",
                "body": document,
                "tags": [],
                "registered_at": now,
                "registered_by": principal,
                "deregistered_at": None,
                "delete_requested_at": None,
            }
            for revision in range(start, min(size, start + _CHUNK - 1) + 1)
        ]
        with transaction(engine) as connection:
            connection.execute(insert(task_definitions), rows)
    return Account(size, account_id, key.access_key_id, key.secret_access_key)


def deep_token(server: ServerProcess, account: Account, prefix: bool) -> str:
    """The nextToken of the page that starts half-way down the list, by walking to it."""
    ecs = ecs_client(server, account.key_id, account.secret)
    kwargs: dict[str, Any] = {"maxResults": 100, **({"familyPrefix": FAMILY} if prefix else {})}
    token, seen = "", 0
    while seen < account.size // 2:
        page = ecs.list_task_definitions(**kwargs, **({"nextToken": token} if token else {}))
        seen += len(page["taskDefinitionArns"])
        token = page["nextToken"]
    return token


def page_body(prefix: bool, token: str | None) -> dict[str, Any]:
    body: dict[str, Any] = {"maxResults": 100}
    if prefix:
        body["familyPrefix"] = FAMILY
    if token:
        body["nextToken"] = token
    return body


def check_page(server: ServerProcess, account: Account, body: dict[str, Any], deep: bool) -> None:
    """The page holds 100 revisions in order, starting where it should."""
    ecs = ecs_client(server, account.key_id, account.secret)
    arns = ecs.list_task_definitions(**body)["taskDefinitionArns"]
    first = account.size // 2 + 1 if deep else 1
    expected = [
        f"arn:aws:ecs:{REGION}:{account.account_id}:task-definition/{FAMILY}:{revision}"
        for revision in range(first, first + 100)
    ]
    if arns != expected:
        raise SystemExit(f"unexpected page for {account.size} revisions: {arns[:2]}...")


def query_plan(engine: Engine, account: Account, token: str, prefix: bool) -> list[str]:
    """SQLite's plan for the deep page, as the server runs it."""
    from dockyard.app import build_server_state
    from dockyard.context import Identity, RequestContext
    from dockyard.ecs import task_definitions
    from dockyard.store.db import transaction

    statements: list[tuple[str, Any]] = []

    def capture(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        if "task_definitions" in statement:
            statements.append((statement, parameters))

    state = build_server_state(engine, public_url="http://127.0.0.1", sealer=_SEALER)
    ctx = RequestContext(request_id="plan", service="ecs", server=state, now=time.time())
    ctx.identity = Identity(account.key_id, account.account_id, "bench")
    ctx.region = REGION
    event.listen(engine, "before_cursor_execute", capture)
    try:
        with transaction(engine, write=False) as connection:
            ctx.connection = connection
            task_definitions.list_task_definitions(
                ctx, family_prefix=FAMILY if prefix else None, max_results=100, next_token=token
            )
    finally:
        event.remove(engine, "before_cursor_execute", capture)
    statement, parameters = statements[-1]
    with engine.connect() as connection:
        plan = connection.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}", parameters).all()
    return [" ".join(str(part) for part in row[1:]) for row in plan]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="1000,10000,100000")
    parser.add_argument("--duration", type=float, default=5.0, help="seconds per measurement")
    parser.add_argument("--warmup", type=float, default=1.0)
    parser.add_argument("--workers", type=int, default=2, help="load generator processes")
    parser.add_argument("--connections", type=int, default=4, help="connections per worker")
    args = parser.parse_args(argv)
    sizes = [int(size) for size in args.sizes.split(",")]
    plan = loadgen.LoadPlan(
        workers=args.workers, connections=args.connections, duration=args.duration, warmup=args.warmup
    )
    info = machine()
    print(
        f"# {info['date']}, {info['cpus']} CPUs ({info['cpu']}), Python {info['python']}, "
        f"load average {info['load']}"
    )

    from dockyard.cli import open_store

    rows: list[str] = []
    with tempfile.TemporaryDirectory(prefix="dockyard-pages-") as tmp:
        data_dir = Path(tmp) / "data"
        engine = open_store(str(data_dir), None)
        started = time.monotonic()
        accounts = [populate(engine, size) for size in sizes]
        with engine.connect() as connection:
            connection.exec_driver_sql("ANALYZE")
            connection.commit()
        print(f"# populated {sum(sizes):,} revisions in {time.monotonic() - started:.1f} s")
        server = start_dockyard(data_dir)
        try:
            for account in accounts:
                for prefix in (True, False):
                    token = deep_token(server, account, prefix)
                    for line in query_plan(engine, account, token, prefix):
                        print(
                            f"# plan ({account.size:,}, deep page, familyPrefix "
                            f"{'yes' if prefix else 'no'}): {line}"
                        )
                    for deep in (False, True):
                        body = page_body(prefix, token if deep else None)
                        check_page(server, account, body, deep)
                        spec = loadgen.RequestSpec(
                            port=server.port,
                            target=f"{loadgen.ECS_TARGET_PREFIX}.ListTaskDefinitions",
                            body=json.dumps(body).encode(),
                            access_key_id=account.key_id,
                            secret_access_key=account.secret,
                        )
                        before = server.cpu_seconds()
                        result = loadgen.run(spec, plan)
                        cpu = 1000 * (server.cpu_seconds() - before) / max(1, result.completed)
                        where = f"revision {account.size // 2 + 1:,}" if deep else "first"
                        line = (
                            f"| {account.size:,} | {where} | {'yes' if prefix else 'no'} | "
                            f"{result.rps:,.0f} | {result.p50_ms:.2f} | {result.p99_ms:.2f} | "
                            f"{cpu:.3f} | {result.errors} |"
                        )
                        print(f"# {line}", flush=True)
                        rows.append(line)
        finally:
            server.stop()
            engine.dispose()
    print(f"# load average at the end: {machine()['load']}")
    print()
    print(
        "| revisions | page starts at | familyPrefix | req/s | p50 ms | p99 ms | server CPU ms/req | errors |"
    )
    print("|---:|---|---|---:|---:|---:|---:|---:|")
    print("\n".join(rows))


if __name__ == "__main__":
    main()
