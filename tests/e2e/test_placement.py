"""Placement end to end: real agents in several zones, real tasks, RunTask's strategies and
constraints as ECS applies them; and a storm of concurrent RunTask calls, against one
control plane and against two sharing one store, that must never overcommit an instance.

The agents use the ``process`` driver (no image needed): each runs its tasks' ``sleep 600``
as host processes, and every test stops its tasks so the agents clean up.
"""

from __future__ import annotations

import random
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.builders import container, register_task_definition
from tests.harness import Credentials, DockyardAgent, DockyardServer, HollowAgents, wait_for

pytestmark = pytest.mark.agents  # starts agent processes: not in the quick tier

ZONES = ("us-east-1a", "us-east-1a", "us-east-1b", "us-east-1c")  # four agents, three zones
SPREAD_ZONES = {"type": "spread", "field": "attribute:ecs.availability-zone"}
BINPACK_MEMORY = {"type": "binpack", "field": "memory"}
MEMBER_OF = "MemberOf placement constraint unsatisfied."
DISTINCT_INSTANCE = "DistinctInstance placement constraint unsatisfied."


def _start_agent(server: DockyardServer, account: Credentials, state_dir: Path, zone: str) -> DockyardAgent:
    """``dockyard agent --driver process --availability-zone ZONE``."""
    options = ("--availability-zone", zone)
    return DockyardAgent(server, account, state_dir, driver="process", options=options).start()


class Fleet:
    """One account, one cluster, four agents (two in us-east-1a): shared by this module."""

    def __init__(self, server: DockyardServer, account: Credentials, agents: list[DockyardAgent]) -> None:
        self.server, self.account, self.agents = server, account, agents
        self.ecs = server.client(account)
        arns = self.ecs.list_container_instances()["containerInstanceArns"]
        described = self.ecs.describe_container_instances(containerInstances=arns)["containerInstances"]
        self.zone_of = {i["containerInstanceArn"]: _attribute(i, "ecs.availability-zone") for i in described}

    def logs(self) -> str:
        return "\n".join(agent.log()[-1500:] for agent in self.agents)

    def run(self, family: str, count: int, **extra: Any) -> dict[str, Any]:
        return dict(self.ecs.run_task(taskDefinition=family, count=count, **extra))

    def wait_running(self, tasks: list[dict[str, Any]]) -> None:
        arns = [task["taskArn"] for task in tasks]
        wait_for(
            lambda: all(
                task["lastStatus"] == "RUNNING" for task in self.ecs.describe_tasks(tasks=arns)["tasks"]
            ),
            60,
            message=self.logs(),
        )

    def stop_all(self, tasks: list[dict[str, Any]]) -> None:
        """Stop these tasks and wait until their agents report them stopped."""
        arns = [task["taskArn"] for task in tasks]
        for arn in arns:
            self.ecs.stop_task(task=arn, reason="test over")
        if arns:
            wait_for(
                lambda: all(
                    task["lastStatus"] == "STOPPED" for task in self.ecs.describe_tasks(tasks=arns)["tasks"]
                ),
                60,
                message=self.logs(),
            )


def _attribute(instance: dict[str, Any], name: str) -> str | None:
    return next((a.get("value") for a in instance["attributes"] if a["name"] == name), None)


@pytest.fixture(scope="module")
def fleet(server: DockyardServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Fleet]:
    account = server.new_account()
    ecs = server.client(account)
    ecs.create_cluster()
    root = Path(tmp_path_factory.mktemp("placement-agents"))
    agents = [_start_agent(server, account, root / f"agent-{n}", zone) for n, zone in enumerate(ZONES)]
    try:

        def all_connected() -> bool:
            arns = ecs.list_container_instances()["containerInstanceArns"]
            if len(arns) != len(ZONES):
                return False
            described = ecs.describe_container_instances(containerInstances=arns)["containerInstances"]
            return all(instance["agentConnected"] for instance in described)

        wait_for(all_connected, 60, message="\n".join(agent.log()[-1500:] for agent in agents))
        yield Fleet(server, account, agents)
    finally:
        for agent in agents:
            if agent.process is not None:
                agent.stop()


def _sleeper(fleet: Fleet, family: str, **extra: Any) -> None:
    register_task_definition(
        fleet.ecs, family, [container("sleep", memory=64, command=["sleep", "600"], stopTimeout=2)], **extra
    )


def test_spread_over_zones_places_evenly_across_them(fleet: Fleet) -> None:
    _sleeper(fleet, "spread")
    result = fleet.run("spread", 6, placementStrategy=[SPREAD_ZONES])
    tasks = result["tasks"]
    try:
        assert result["failures"] == []
        per_zone = Counter(fleet.zone_of[task["containerInstanceArn"]] for task in tasks)
        assert per_zone == {"us-east-1a": 2, "us-east-1b": 2, "us-east-1c": 2}
        assert {task["availabilityZone"] for task in tasks} == set(per_zone)
        fleet.wait_running(tasks)
    finally:
        fleet.stop_all(tasks)


def test_binpack_on_memory_fills_one_instance_first(fleet: Fleet) -> None:
    _sleeper(fleet, "packed")
    result = fleet.run("packed", 4, placementStrategy=[BINPACK_MEMORY])
    tasks = result["tasks"]
    try:
        assert result["failures"] == [] and len(tasks) == 4
        assert len({task["containerInstanceArn"] for task in tasks}) == 1
        reply = fleet.ecs.describe_container_instances(containerInstances=[tasks[0]["containerInstanceArn"]])
        [described] = reply["containerInstances"]
        assert described["runningTasksCount"] + described["pendingTasksCount"] == 4
        fleet.wait_running(tasks)
    finally:
        fleet.stop_all(tasks)


def test_member_of_places_only_on_matching_instances(fleet: Fleet) -> None:
    arns = sorted(fleet.zone_of)
    prod = arns[:2]
    fleet.ecs.put_attributes(attributes=[{"name": "stack", "value": "prod", "targetId": arn} for arn in prod])
    _sleeper(fleet, "prod-only")
    tasks: list[dict[str, Any]] = []
    try:
        result = fleet.run(
            "prod-only",
            5,
            placementConstraints=[{"type": "memberOf", "expression": "attribute:stack == prod"}],
        )
        tasks = result["tasks"]
        assert result["failures"] == [] and len(tasks) == 5
        assert {task["containerInstanceArn"] for task in tasks} <= set(prod)
        fleet.wait_running(tasks)
        # No instance matches: every instance refuses with ECS's reason, nothing is placed.
        none = fleet.run(
            "prod-only",
            1,
            placementConstraints=[{"type": "memberOf", "expression": "attribute:stack == staging"}],
        )
        assert none["tasks"] == []
        assert sorted((f["arn"], f["reason"]) for f in none["failures"]) == [(arn, MEMBER_OF) for arn in arns]
    finally:
        fleet.stop_all(tasks)
        fleet.ecs.delete_attributes(attributes=[{"name": "stack", "targetId": arn} for arn in prod])


def test_member_of_a_zone_places_only_in_that_zone(fleet: Fleet) -> None:
    _sleeper(fleet, "zone-b")
    result = fleet.run(
        "zone-b",
        3,
        placementConstraints=[
            {"type": "memberOf", "expression": "attribute:ecs.availability-zone == us-east-1b"}
        ],
    )
    tasks = result["tasks"]
    try:
        assert result["failures"] == [] and len(tasks) == 3
        assert {fleet.zone_of[task["containerInstanceArn"]] for task in tasks} == {"us-east-1b"}
    finally:
        fleet.stop_all(tasks)


def test_distinct_instance_never_puts_two_tasks_of_a_request_on_one_instance(fleet: Fleet) -> None:
    _sleeper(fleet, "distinct")
    result = fleet.run("distinct", 6, placementConstraints=[{"type": "distinctInstance"}])
    tasks = result["tasks"]
    try:
        instances = [task["containerInstanceArn"] for task in tasks]
        assert len(instances) == len(ZONES) == len(set(instances))
        # The tasks that found no instance fail, each instance saying why.
        assert result["failures"]
        assert {f["reason"] for f in result["failures"]} == {DISTINCT_INSTANCE}
        assert {f["arn"] for f in result["failures"]} == set(fleet.zone_of)
        fleet.wait_running(tasks)
    finally:
        fleet.stop_all(tasks)


def test_the_task_definitions_constraints_apply_too(fleet: Fleet) -> None:
    _sleeper(
        fleet,
        "defined-zone",
        placementConstraints=[
            {"type": "memberOf", "expression": "attribute:ecs.availability-zone == us-east-1c"}
        ],
    )
    result = fleet.run("defined-zone", 2, placementStrategy=[SPREAD_ZONES])
    tasks = result["tasks"]
    try:
        assert result["failures"] == [] and len(tasks) == 2
        assert {fleet.zone_of[task["containerInstanceArn"]] for task in tasks} == {"us-east-1c"}
        # ... together with the request's: no instance is in both zones.
        none = fleet.run(
            "defined-zone",
            1,
            placementConstraints=[
                {"type": "memberOf", "expression": "attribute:ecs.availability-zone == us-east-1a"}
            ],
        )
        assert none["tasks"] == [] and {f["reason"] for f in none["failures"]} == {MEMBER_OF}
    finally:
        fleet.stop_all(tasks)


def test_a_drained_instance_takes_no_new_tasks_and_a_reactivated_one_does(fleet: Fleet) -> None:
    zone_c = next(arn for arn, zone in fleet.zone_of.items() if zone == "us-east-1c")
    _sleeper(fleet, "drained")
    constraint = [{"type": "memberOf", "expression": "attribute:ecs.availability-zone == us-east-1c"}]
    tasks: list[dict[str, Any]] = []
    fleet.ecs.update_container_instances_state(containerInstances=[zone_c], status="DRAINING")
    try:
        refused = fleet.run("drained", 1, placementConstraints=constraint)
        assert refused["tasks"] == []
        reasons = {(f["arn"], f["reason"]) for f in refused["failures"] if f["arn"] == zone_c}
        assert reasons == {(zone_c, "INACTIVE")}
    finally:
        fleet.ecs.update_container_instances_state(containerInstances=[zone_c], status="ACTIVE")
    try:
        placed = fleet.run("drained", 1, placementConstraints=constraint)
        tasks = placed["tasks"]
        assert [task["containerInstanceArn"] for task in tasks] == [zone_c]
    finally:
        fleet.stop_all(tasks)


# -- concurrent RunTask storms --------------------------------------------------------------


STORM_INSTANCES = 6
STORM_THREADS = 16
STORM_CALLS = 12  # per thread


def _storm(clients: list[Any], cluster: str) -> list[dict[str, Any]]:
    """Many threads calling RunTask at once (through every client given); the tasks placed."""
    placed: list[dict[str, Any]] = []
    lock = threading.Lock()
    start = threading.Barrier(STORM_THREADS, timeout=60)

    def worker(index: int) -> None:
        ecs = clients[index % len(clients)]
        chooser = random.Random(index)
        start.wait()
        for call in range(STORM_CALLS):
            family = chooser.choice(["storm-web", "storm-worker", "storm-worker"])
            strategy = chooser.choice([[BINPACK_MEMORY], [SPREAD_ZONES, BINPACK_MEMORY], []])
            if call % 4 == 3:
                # Refused after its tasks were placed (the tags are checked later): it must
                # leave no reservation behind, even when it shares a commit with others.
                with pytest.raises(ClientError, match="reserved prefix"):
                    ecs.run_task(
                        cluster=cluster,
                        taskDefinition=family,
                        count=chooser.randint(1, 10),
                        placementStrategy=strategy,
                        tags=[{"key": "aws:refused", "value": "x"}],
                    )
                continue
            result = ecs.run_task(
                cluster=cluster,
                taskDefinition=family,
                count=chooser.randint(1, 10),
                placementStrategy=strategy,
            )
            assert {f["reason"] for f in result["failures"]} <= {
                "RESOURCE:CPU",
                "RESOURCE:MEMORY",
                "RESOURCE:PORTS",
            }, result["failures"]
            with lock:
                placed.extend(result["tasks"])

    with ThreadPoolExecutor(STORM_THREADS) as pool:
        list(pool.map(worker, range(STORM_THREADS)))
    return placed


def _storm_cluster(ecs: Any, hollow: HollowAgents, cluster: str) -> None:
    ecs.create_cluster(clusterName=cluster)
    zones = ("us-east-1a", "us-east-1b", "us-east-1c")
    hollow.start(STORM_INSTANCES, cluster=cluster, cpu=1024, memory=2048, zones=zones, reports=False)
    # One static host port: at most one of these per instance.
    register_task_definition(
        ecs,
        "storm-web",
        [container("web", memory=256, cpu=128, portMappings=[{"containerPort": 80, "hostPort": 8080}])],
    )
    register_task_definition(ecs, "storm-worker", [container("worker", memory=96, cpu=64)])


def _check_books(ecs: Any, cluster: str, placed: list[dict[str, Any]]) -> None:
    """Nothing overcommitted, no host port held twice, remainingResources exact."""
    live: list[dict[str, Any]] = []
    arns = _all_task_arns(ecs, cluster)
    for start in range(0, len(arns), 100):
        live += ecs.describe_tasks(cluster=cluster, tasks=arns[start : start + 100])["tasks"]
    assert {task["taskArn"] for task in live} == {task["taskArn"] for task in placed}
    by_instance: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for task in live:
        by_instance[task["containerInstanceArn"]].append(task)
    instance_arns = ecs.list_container_instances(cluster=cluster)["containerInstanceArns"]
    described = ecs.describe_container_instances(cluster=cluster, containerInstances=instance_arns)
    for instance in described["containerInstances"]:
        registered = {r["name"]: r for r in instance["registeredResources"]}
        remaining = {r["name"]: r for r in instance["remainingResources"]}
        tasks = by_instance[instance["containerInstanceArn"]]
        cpu = sum(int(task["cpu"]) for task in tasks)
        memory = sum(int(task["memory"]) for task in tasks)
        assert cpu <= registered["CPU"]["integerValue"] and memory <= registered["MEMORY"]["integerValue"]
        assert remaining["CPU"]["integerValue"] == registered["CPU"]["integerValue"] - cpu
        assert remaining["MEMORY"]["integerValue"] == registered["MEMORY"]["integerValue"] - memory
        web = [task for task in tasks if task["group"] == "family:storm-web"]
        assert len(web) <= 1  # host port 8080 held once at most
        assert ("8080" in remaining["PORTS"]["stringSetValue"]) == bool(web)
        assert instance["runningTasksCount"] + instance["pendingTasksCount"] == len(tasks)


def _all_task_arns(ecs: Any, cluster: str) -> list[str]:
    arns: list[str] = []
    token: dict[str, str] = {}
    while True:
        page = ecs.list_tasks(cluster=cluster, desiredStatus="RUNNING", **token)
        arns += page["taskArns"]
        if "nextToken" not in page:
            return arns
        token = {"nextToken": page["nextToken"]}


def _stop(ecs: Any, cluster: str, tasks: list[dict[str, Any]]) -> None:
    for task in tasks:
        ecs.stop_task(cluster=cluster, task=task["taskArn"])


def test_a_run_task_storm_never_overcommits_an_instance(ecs: Any, hollow: HollowAgents) -> None:
    _storm_cluster(ecs, hollow, "storm")
    placed = _storm([ecs], "storm")
    try:
        assert placed  # the storm filled the cluster up to the point where tasks fail
        _check_books(ecs, "storm", placed)
    finally:
        _stop(ecs, "storm", placed)


@pytest.fixture
def second_server(server: DockyardServer, tmp_path: Path) -> Iterator[DockyardServer]:
    """Another control-plane process on the same store (a replica)."""
    replica = DockyardServer(
        data_dir=tmp_path / "replica", database_url=server.store_url, master_key_file=server.master_key_path
    ).start()
    yield replica
    replica.stop()


def test_two_control_planes_on_one_store_never_overcommit(
    server: DockyardServer, second_server: DockyardServer, account: Credentials, hollow: HollowAgents
) -> None:
    first, second = server.client(account), second_server.client(account)
    _storm_cluster(first, hollow, "replicas")
    placed = _storm([first, second], "replicas")
    try:
        assert placed
        _check_books(first, "replicas", placed)
        _check_books(second, "replicas", placed)
    finally:
        _stop(second, "replicas", placed)


def test_what_one_control_plane_changes_the_other_places_by(
    server: DockyardServer, second_server: DockyardServer, account: Credentials, hollow: HollowAgents
) -> None:
    first, second = server.client(account), second_server.client(account)
    first.create_cluster(clusterName="shared")
    arns = [
        hollow.instance(first, cluster="shared", cpu=1024, memory=1024, zone=zone)["containerInstanceArn"]
        for zone in ("us-east-1a", "us-east-1b")
    ]
    register_task_definition(first, "half", [container("half", memory=512)])

    def run(ecs: Any, count: int = 1, **extra: Any) -> dict[str, Any]:
        return dict(ecs.run_task(cluster="shared", taskDefinition="half", count=count, **extra))

    def stopped(task: dict[str, Any]) -> None:
        second.stop_task(cluster="shared", task=task["taskArn"])
        second.submit_task_state_change(cluster="shared", task=task["taskArn"], status="STOPPED")

    placed = run(first, 4)["tasks"]  # both instances full; the first control plane has them cached
    assert len(placed) == 4 and run(first)["failures"][0]["reason"] == "RESOURCE:MEMORY"
    # Asked to stop through the second control plane, the task holds its memory until its
    # agent reports it stopped; then the first sees the room at once.
    second.stop_task(cluster="shared", task=placed[0]["taskArn"])
    assert run(first)["failures"][0]["reason"] == "RESOURCE:MEMORY"
    second.submit_task_state_change(cluster="shared", task=placed[0]["taskArn"], status="STOPPED")
    again = run(first)["tasks"]
    assert [task["containerInstanceArn"] for task in again] == [placed[0]["containerInstanceArn"]]
    for task in placed[1:] + again:
        stopped(task)
    assert len(run(first)["tasks"]) == 1  # the first control plane's cache is current again
    # Attributes put through the second decide memberOf on the first.
    second.put_attributes(
        cluster="shared", attributes=[{"name": "tier", "value": "gold", "targetId": arns[1]}]
    )
    gold = run(first, 1, placementConstraints=[{"type": "memberOf", "expression": "attribute:tier == gold"}])
    assert [task["containerInstanceArn"] for task in gold["tasks"]] == [arns[1]]
    # Drained through the second: the first places elsewhere.
    second.update_container_instances_state(cluster="shared", containerInstances=[arns[1]], status="DRAINING")
    elsewhere = run(first, 1)
    assert [task["containerInstanceArn"] for task in elsewhere["tasks"]] == [arns[0]]
    # Deregistered through the second (its tasks stopped with it), and a new instance
    # registered there: the first places on the new one.
    second.deregister_container_instance(cluster="shared", containerInstance=arns[1], force=True)
    third = hollow.instance(second, cluster="shared", cpu=1024, memory=1024, zone="us-east-1c")
    last = run(
        first,
        2,
        placementConstraints=[
            {"type": "memberOf", "expression": "attribute:ecs.availability-zone == us-east-1c"}
        ],
    )
    assert [task["containerInstanceArn"] for task in last["tasks"]] == [third["containerInstanceArn"]] * 2


def test_a_task_asked_to_stop_no_longer_counts_for_distinct_instance(ecs: Any, hollow: HollowAgents) -> None:
    ecs.create_cluster(clusterName="distinct")
    for zone in ("us-east-1a", "us-east-1b"):
        hollow.instance(ecs, cluster="distinct", zone=zone)
    register_task_definition(ecs, "single")

    def run(count: int = 1) -> list[dict[str, Any]]:
        return list(
            ecs.run_task(
                cluster="distinct",
                taskDefinition="single",
                count=count,
                placementConstraints=[{"type": "distinctInstance"}],
            )["tasks"]
        )

    first = run(2)
    assert len(first) == 2 and run() == []
    # Desired STOPPED (its agent has not stopped it yet): ECS no longer counts it in its group.
    ecs.stop_task(cluster="distinct", task=first[0]["taskArn"])
    assert [task["containerInstanceArn"] for task in run()] == [first[0]["containerInstanceArn"]]


def test_an_agent_silent_for_30_seconds_gets_no_tasks(
    server: DockyardServer, ecs: Any, hollow: HollowAgents
) -> None:
    ecs.create_cluster(clusterName="silent")
    # Connected, but it sends nothing unless spoken to (a heartbeat an hour).
    fleet = hollow.start(1, cluster="silent", heartbeat_interval=3600.0, id_prefix="5173", reports=False)
    [arn], [agent] = fleet.arns, fleet.instances
    register_task_definition(ecs, "quiet")
    first = ecs.run_task(cluster="silent", taskDefinition="quiet")["tasks"]
    assert len(first) == 1
    # Its ack of the frame with the task is its last sign of life until it is spoken to again.
    wait_for(lambda: agent.last_frame and agent.last_frame["tasks"], 120, message="for the frame")
    wait_for(lambda: (_last_seen(server, arn) or 0) >= agent.last_frame_at, 120, message="for the ack")
    # The agent's last sign of life moves 31 s into the past, as the agent channel records it.
    _set_last_seen(server, arn, seconds_ago=31)
    # Probed with a task that never fits (a placement would wake the agent, whose ack is a
    # sign of life): the reason turns from RESOURCE:MEMORY to AGENT once placement sees it.
    register_task_definition(ecs, "huge", [container("huge", memory=100000)])
    wait_for(
        lambda: (
            ecs.run_task(cluster="silent", taskDefinition="huge")["failures"]
            == [{"arn": arn, "reason": "AGENT"}]
        ),
        5,
        message="for placement to see the silence",
    )
    refused = ecs.run_task(cluster="silent", taskDefinition="quiet")
    assert refused["tasks"] == [] and refused["failures"] == [{"arn": arn, "reason": "AGENT"}]
    # Its agent restarts: the same instance, connected again, takes tasks again.
    hollow.stop_all()
    again = hollow.instance(ecs, cluster="silent", id_prefix="5173")
    assert again["containerInstanceArn"] == arn and again["agentConnected"]
    assert len(ecs.run_task(cluster="silent", taskDefinition="quiet")["tasks"]) == 1


def _last_seen(server: DockyardServer, arn: str) -> float | None:
    """The instance's last sign of life as the store has it."""
    from sqlalchemy import select

    from dockyard.store.db import make_engine, transaction
    from dockyard.store.schema import container_instances

    engine = make_engine(server.store_url)
    try:
        with transaction(engine, write=False) as connection:
            return connection.execute(
                select(container_instances.c.last_seen_at).where(container_instances.c.arn == arn)
            ).scalar_one()
    finally:
        engine.dispose()


def _set_last_seen(server: DockyardServer, arn: str, *, seconds_ago: float) -> None:
    from sqlalchemy import update

    from dockyard.store.db import make_engine, transaction
    from dockyard.store.schema import container_instances

    engine = make_engine(server.store_url)
    try:
        with transaction(engine) as connection:
            connection.execute(
                update(container_instances)
                .where(container_instances.c.arn == arn)
                .values(last_seen_at=time.time() - seconds_ago)
            )
    finally:
        engine.dispose()


def test_a_change_the_cache_was_not_told_of_costs_a_retry_never_an_overcommit(
    server: DockyardServer, ecs: Any, hollow: HollowAgents
) -> None:
    ecs.create_cluster(clusterName="behind")
    arn = hollow.instance(ecs, cluster="behind", cpu=1024, memory=1024)["containerInstanceArn"]
    register_task_definition(ecs, "quarter", [container("q", memory=256)])
    assert len(ecs.run_task(cluster="behind", taskDefinition="quarter")["tasks"]) == 1  # cached now
    # Behind every control plane's back, something takes the rest of the memory (and moves the
    # instance's version, as every writer of its resources must).
    _take_memory(server, arn, 768)
    refused = ecs.run_task(cluster="behind", taskDefinition="quarter")
    assert refused["tasks"] == [] and refused["failures"] == [{"arn": arn, "reason": "RESOURCE:MEMORY"}]


def _take_memory(server: DockyardServer, arn: str, mib: int) -> None:
    from sqlalchemy import update

    from dockyard.store.db import make_engine, transaction
    from dockyard.store.schema import container_instances

    engine = make_engine(server.store_url)
    try:
        with transaction(engine) as connection:
            connection.execute(
                update(container_instances)
                .where(container_instances.c.arn == arn)
                .values(
                    used_memory=container_instances.c.used_memory + mib,
                    version=container_instances.c.version + 1,
                )
            )
    finally:
        engine.dispose()
