"""A control-plane restart mid-job: the new process goes on from the store, re-runs no
succeeded item and keeps the counts exact."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from dockyard.agent.hollow_tasks import TaskScript
from tests.batch.conftest import register_function, s3control_client
from tests.batch.test_engine_hollow import job_of, lambda_job, put_manifest, wait_status
from tests.conftest import BACKENDS, database_url_for
from tests.harness import DockyardServer, HollowAgents, drop_postgres_database, wait_for
from tests.objectstore.conftest import new_bucket_name, s3_client

pytestmark = [pytest.mark.agents]


@pytest.fixture(params=BACKENDS)
def own_server(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[DockyardServer]:
    server = DockyardServer(
        data_dir=tmp_path / "server", database_url=database_url_for(request.param)
    ).start()
    yield server
    if server.process is not None:
        server.stop()
    if server.database_url:
        drop_postgres_database(server.database_url)


def test_a_restart_mid_job_reruns_no_succeeded_item(own_server: DockyardServer) -> None:
    account = own_server.new_account()
    ecs: Any = own_server.client(account)
    s3 = s3_client(own_server, account)
    bucket = new_bucket_name()
    s3.create_bucket(Bucket=bucket)
    etag = put_manifest(s3, bucket, [f"k{n}" for n in range(40)])
    ecs.create_cluster(clusterName="batch")
    register_function(ecs)
    hollow = HollowAgents(own_server, account)
    try:
        hollow.start(2, cluster="batch", script=TaskScript(task_seconds=0.3))
        s3control = s3control_client(own_server, account)
        request = lambda_job(account, bucket, etag)
        request["Operation"]["LambdaInvoke"]["UserArguments"]["dockyard:maxConcurrency"] = "4"
        job_id = s3control.create_job(**request)["JobId"]
        wait_for(
            lambda: job_of(s3control, account, job_id)["ProgressSummary"]["NumberOfTasksSucceeded"] >= 8,
            message="the job never got going",
        )
        own_server.stop()
        own_server.start()
        job = wait_status(s3control, account, job_id, "Complete", timeout=120)
        summary = job["ProgressSummary"]
        assert (
            summary["TotalNumberOfTasks"],
            summary["NumberOfTasksSucceeded"],
            summary["NumberOfTasksFailed"],
        ) == (40, 40, 0)
        ran: list[str] = []
        for page in ecs.get_paginator("list_tasks").paginate(
            cluster="batch", startedBy=f"s3batch:{job_id}", desiredStatus="STOPPED"
        ):
            ran += page["taskArns"]
        assert len(ran) == 40  # one task per item: none ran twice
    finally:
        hollow.close()
