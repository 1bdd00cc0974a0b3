"""At most ten job deletions at once per account: the domain on a real store, with no job
engine running, so deletions stay DELETION_IN_PROGRESS while the test looks."""

from __future__ import annotations

from pathlib import Path

import pytest

from dockyard.app import build_server_state
from dockyard.cli import open_store
from dockyard.context import Identity, RequestContext
from dockyard.identity.sealing import load_sealer
from dockyard.iot import things
from dockyard.iot.errors import LimitExceededException
from dockyard.iot.jobs import actions


def test_an_eleventh_concurrent_deletion_is_refused_with_410(tmp_path: Path) -> None:
    server = build_server_state(
        open_store(str(tmp_path), None), public_url="http://127.0.0.1:1", sealer=load_sealer(str(tmp_path))
    )
    caller = Identity("AKIATEST", "123456789012", "tester")

    def run(work: object) -> object:
        return server.in_transaction(caller, "us-east-1", work)  # type: ignore[arg-type]

    def prepare(ctx: RequestContext) -> None:
        arn = things.create_thing(ctx, thing_name="t")["thingArn"]
        for index in range(11):
            actions.create_job(ctx, job_id=f"j{index}", targets=[arn], document="{}")
            actions.cancel_job(ctx, job_id=f"j{index}")

    run(prepare)
    for index in range(10):
        run(lambda ctx, index=index: actions.delete_job(ctx, job_id=f"j{index}"))
    with pytest.raises(LimitExceededException) as refused:
        run(lambda ctx: actions.delete_job(ctx, job_id="j10"))
    assert refused.value.status == 410
    other = Identity("AKIAOTHER", "210987654321", "tester")
    assert server.in_transaction(other, "us-east-1", lambda ctx: actions.list_jobs(ctx)) == {"jobs": []}
