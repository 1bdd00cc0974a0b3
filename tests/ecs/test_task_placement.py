"""RunTask under contention: conflicts are retried inside the request, never a 500."""

from __future__ import annotations

from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.builders import container
from tests.conftest import database_url_for
from tests.harness import DockyardServer, HollowAgents, drop_postgres_database

CLIENTS = 8
CALLS_PER_CLIENT = 40


@pytest.fixture
def replicas(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    """Two control planes on one PostgreSQL database, each giving up optimism after one conflict
    (at the default of 20, a request rarely needs the pessimistic attempt this test is about)."""
    monkeypatch.setenv("DOCKYARD_PLACEMENT_ATTEMPTS", "1")
    url = database_url_for("postgresql")
    first = DockyardServer(data_dir=tmp_path / "a", database_url=url).start()
    second = DockyardServer(
        data_dir=tmp_path / "b", database_url=url, master_key_file=first.master_key_path
    ).start()
    yield first, second
    first.stop()
    second.stop()
    assert url is not None
    drop_postgres_database(url)


def test_concurrent_run_tasks_on_one_instance_never_answer_500(
    replicas: tuple[DockyardServer, DockyardServer],
) -> None:
    account = replicas[0].new_account()
    admin = replicas[0].client(account)
    admin.create_cluster()
    agents = HollowAgents(replicas[0], account)
    agents.start(1, cpu=1_000_000, memory=1_000_000)  # a connected agent: it takes tasks
    admin.register_task_definition(family="tiny", containerDefinitions=[container(memory=6)])

    def client_run(number: int) -> Counter[str]:
        ecs = replicas[number % 2].client(account)
        outcomes: Counter[str] = Counter()
        for _ in range(CALLS_PER_CLIENT):
            try:
                result = ecs.run_task(taskDefinition="tiny")
                # A failure or an error is counted under what it says, so a red run explains itself.
                outcomes["placed" if result["tasks"] else f"failure {result['failures']}"] += 1
            except ClientError as error:
                status, body = error.response["ResponseMetadata"]["HTTPStatusCode"], error.response["Error"]
                outcomes[f"{status} {body.get('Code')}: {body.get('Message')}"] += 1
        return outcomes

    with ThreadPoolExecutor(CLIENTS) as pool:
        total = sum(pool.map(client_run, range(CLIENTS)), Counter())
    agents.close()
    logs = "".join(line for replica in replicas for line in replica.log().splitlines(True) if "ERROR" in line)
    assert total == Counter(placed=CLIENTS * CALLS_PER_CLIENT), (total, logs[-4000:])
    for replica in replicas:
        log = replica.log()
        assert "Traceback" not in log, log[log.index("Traceback") - 2000 : log.index("Traceback") + 4000]
