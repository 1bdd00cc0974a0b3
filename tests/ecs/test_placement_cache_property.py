"""The placement snapshot cache always equals a fresh read of the store, whatever sequence of
API calls and service-scheduler steps changed it (registrations, placements, stops, agent
reports, drains, attributes, deregistrations, services)."""

from __future__ import annotations

import json
import random
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, update

from dockyard.app import build_server_state
from dockyard.context import Identity, RequestContext
from dockyard.ecs import attributes, clusters, container_instances, placement_cache, task_definitions
from dockyard.ecs import tasks as task_actions
from dockyard.ecs.services import actions as service_actions
from dockyard.ecs.services import scheduler
from dockyard.ecs.task_reports import submit_task_state_change
from dockyard.errors import ApiError
from dockyard.identity.sealing import Sealer
from dockyard.server_state import ServerState
from dockyard.store.db import make_engine, sqlite_url
from dockyard.store.migrate import upgrade
from dockyard.store.schema import container_instances as instances_table
from dockyard.store.schema import services
from dockyard.store.schema import tasks as tasks_table

IDENTITY = Identity("AKIAPROPERTY", "123456789012", "tester")
ACTIONS = (
    "register",
    "run",
    "stop",
    "report",
    "drain",
    "activate",
    "attribute",
    "deregister",
    "service",
    "reconcile",
)


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    engine = make_engine(sqlite_url(Path(tmp_path_factory.mktemp("cache"))))
    upgrade(engine)
    yield engine
    engine.dispose()


class World:
    def __init__(self, server: ServerState, cluster: str) -> None:
        self.server, self.cluster = server, cluster

    def call(self, function: Callable[[RequestContext], Any]) -> Any:
        try:
            return self.server.in_transaction(IDENTITY, "us-east-1", function)
        except ApiError:
            return None  # a refused request changes nothing; the check below still runs

    def pick(self, rng: random.Random, table: Any, *where: Any) -> Any:
        def read(ctx: RequestContext) -> list[Any]:
            return list(ctx.conn.execute(table.select().where(table.c.cluster_name == self.cluster, *where)))

        rows = self.call(read) or []
        return rng.choice(rows) if rows else None

    def step(self, action: str, rng: random.Random) -> None:
        cluster = self.cluster
        if action == "register":
            document = json.dumps(
                {"instanceId": f"i-{rng.getrandbits(40):x}", "availabilityZone": rng.choice("ab")}
            )

            def register(ctx: RequestContext) -> None:
                arn = container_instances.register_container_instance(
                    ctx,
                    cluster=cluster,
                    instance_identity_document=document,
                    total_resources=[
                        {"name": "CPU", "type": "INTEGER", "integerValue": 1024},
                        {"name": "MEMORY", "type": "INTEGER", "integerValue": rng.choice([256, 512])},
                    ],
                )["containerInstance"]["containerInstanceArn"]
                # Its agent connects: what the hub writes for a live agent.
                ctx.conn.execute(
                    update(instances_table).where(instances_table.c.arn == arn).values(last_seen_at=ctx.now)
                )

            self.call(register)
        elif action == "run":
            count = rng.randint(1, 3)
            self.call(
                lambda ctx: task_actions.run_task(ctx, cluster=cluster, task_definition="p", count=count)
            )
        elif action in ("stop", "report"):
            task = self.pick(rng, tasks_table, tasks_table.c.last_status != "STOPPED")
            if task is None:
                return
            if action == "stop":
                self.call(lambda ctx: task_actions.stop_task(ctx, cluster=cluster, task=task.arn))
            else:
                self.call(
                    lambda ctx: submit_task_state_change(
                        ctx, cluster=cluster, task=task.arn, status="STOPPED"
                    )
                )
        elif action in ("drain", "activate", "deregister", "attribute"):
            instance = self.pick(rng, instances_table, instances_table.c.status != "INACTIVE")
            if instance is None:
                return
            if action == "deregister":
                self.call(
                    lambda ctx: container_instances.deregister_container_instance(
                        ctx, cluster=cluster, container_instance=instance.arn, force=True
                    )
                )
            elif action == "attribute":
                value = rng.choice(["x", "y"])
                self.call(
                    lambda ctx: attributes.put_attributes(
                        ctx,
                        cluster=cluster,
                        attributes=[{"name": "tier", "value": value, "targetId": instance.arn}],
                    )
                )
            else:
                status = "DRAINING" if action == "drain" else "ACTIVE"
                self.call(
                    lambda ctx: container_instances.update_container_instances_state(
                        ctx, cluster=cluster, container_instances=[instance.arn], status=status
                    )
                )
        elif action == "service":
            name, desired = f"s{rng.randint(0, 2)}", rng.randint(0, 4)
            created = self.call(
                lambda ctx: service_actions.create_service(
                    ctx, cluster=cluster, service_name=name, task_definition="p", desired_count=desired
                )
            )
            if created is None:
                self.call(
                    lambda ctx: service_actions.update_service(
                        ctx, cluster=cluster, service=name, desired_count=desired
                    )
                )
        elif action == "reconcile":
            service = self.pick(rng, services, services.c.status != "INACTIVE")
            if service is not None:
                self.call(lambda ctx: scheduler.reconcile(ctx, service.id))

    def check(self) -> None:
        def compare(ctx: RequestContext) -> None:
            row = clusters.lookup(ctx, self.cluster)
            cached = placement_cache.snapshot(ctx, row)
            fresh = placement_cache.read_instances(ctx, self.cluster).snapshots
            assert cached == fresh

        self.server.in_transaction(IDENTITY, "us-east-1", compare, write=False)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(steps=st.lists(st.tuples(st.sampled_from(ACTIONS), st.integers(0, 2**32)), min_size=5, max_size=40))
def test_the_cached_snapshot_equals_a_fresh_read(engine: Engine, steps: list[tuple[str, int]]) -> None:
    server = build_server_state(engine, public_url="http://127.0.0.1", sealer=Sealer(bytes(32)))
    cluster = f"c{random.getrandbits(32):x}"
    world = World(server, cluster)
    world.call(lambda ctx: clusters.create_cluster(ctx, cluster_name=cluster))
    world.call(
        lambda ctx: task_definitions.register_task_definition(
            ctx,
            family="p",
            container_definitions=[{"name": "a", "image": "busybox", "memory": 64, "cpu": 128}],
        )
    )
    for action, seed in steps:
        world.step(action, random.Random(seed))
        world.check()
