"""Where a batch item's task stops: its outcome read and left on the item (ENDED), for the
engine's next look to count (``engine._collect``).

Hooked into every task stop (``task_lifecycle.STOPPED_HOOKS``), in the transaction that stops
the task. The tasks a transaction stops are gathered and their items found and ended together
right before it commits: an agent's report frame stops dozens of tasks of one job at once, and
one look-up per task (its job, its item, its output) was a third of the server's work.
"""

from __future__ import annotations

import functools
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Row, Select, bindparam, select, update

from dockyard.batch import invocation
from dockyard.batch.actions import KIND
from dockyard.batch.engine import ENDED, ITEM_TAG, STARTED_BY_PREFIX
from dockyard.context import RequestContext
from dockyard.jobs import engine as jobs_engine
from dockyard.jobs import states as item_states
from dockyard.store import direct
from dockyard.store.expressions import in_params, in_values, padded
from dockyard.store.schema import container_logs, job_items, jobs

_i = job_items.c
_j = jobs.c
_l = container_logs.c
_KEY = "dockyard.batch.stopped"  # the transaction's gathered stops, in ctx.prefetched
_IN = 512  # values in one IN (...) at most

_JOB = select(_j.id).where(
    _j.account_id == bindparam("account"),
    _j.region == bindparam("region"),
    _j.kind == KIND,
    _j.job_id == bindparam("job_id"),
)
_ENDED_ITEM = (
    update(job_items)
    .where(_i.id == bindparam("item_id"))
    .values(
        status=ENDED,
        details=bindparam("new_details"),
        version=bindparam("new_version"),
        updated_at=bindparam("now"),
    )
)


@dataclass
class _Stops:
    """The batch tasks one transaction stopped: (task row, its item's line, how it stopped)."""

    ctx: RequestContext
    entries: list[tuple[Row[Any], str, dict[str, Any]]] = field(default_factory=list)

    def end_items(self) -> None:
        _end_items(self.ctx, self.entries)


def task_stopped(ctx: RequestContext, stopped: list[tuple[Row[Any], dict[str, Any]]]) -> None:
    """Tasks stopped (in the transaction that stops them): for those that ran a batch item, the
    outcome is read before the commit (exit code, last output line: the agent ships output
    before it reports STOPPED), left on the item, and its job is due shortly (coalesced)."""
    entries = []
    for task, values in stopped:
        if not (task.started_by or "").startswith(STARTED_BY_PREFIX):
            continue
        line = next((tag.get("value") for tag in task.tags or [] if tag.get("key") == ITEM_TAG), None)
        if line is not None:
            entries.append((task, str(line), values))
    if not entries:
        return
    stops = ctx.prefetched.get(_KEY)
    if stops is None or stops.end_items not in ctx.before_commit:  # the first (or a retried transaction)
        stops = ctx.prefetched[_KEY] = _Stops(ctx)
        ctx.before_commit.append(stops.end_items)
    stops.entries += entries


def _end_items(ctx: RequestContext, entries: list[tuple[Row[Any], str, dict[str, Any]]]) -> None:
    by_job: dict[tuple[str, str, str], list[tuple[Row[Any], str, dict[str, Any]]]] = defaultdict(list)
    for task, line, stopped in entries:
        by_job[(task.account_id, task.region, task.started_by[len(STARTED_BY_PREFIX) :])].append(
            (task, line, stopped)
        )
    woken = False
    for (account_id, region, job_id), stops in by_job.items():
        job_row = direct.execute(
            ctx.conn, _JOB, {"account": account_id, "region": region, "job_id": job_id}
        ).scalar()
        if job_row is None:
            continue
        items = _items(ctx, job_row, [line for _, line, _ in stops])
        talkers = _tasks_with_output(ctx, account_id, region, [task.task_id for task, _, _ in stops])
        ended = []
        for task, line, stopped in stops:
            item = items.get(line)
            if item is None or item.details.get("task") != task.arn:
                continue  # cancelled, or an earlier execution's task
            outcome = invocation.outcome(
                last_line=_last_line(ctx, task) if task.task_id in talkers else None,
                exit_code=_exit_code(stopped["containers"]),
                stopped_reason=stopped.get("stopped_reason"),
            )
            found = {
                "code": outcome.code,
                "message": outcome.message,
                "errorCode": outcome.error_code,
                "http": outcome.http_status,
            }
            ended.append(
                {
                    "item_id": item.id,
                    "new_details": dict(item.details, outcome=found),
                    "new_version": item.version + 1,
                    "now": ctx.now,
                }
            )
            items.pop(line)  # a task stopped twice in one transaction counts once
        if ended:
            direct.write(ctx.conn, _ENDED_ITEM, ended)
            jobs_engine.due_by(ctx, job_row, ctx.now + jobs_engine.COALESCE_SECONDS / 5)
            woken = True
    if woken:
        ctx.after_commit.append(lambda: ctx.server.controllers.wake(jobs_engine.CONTROLLER))


@functools.lru_cache(maxsize=64)
def _items_named(count: int) -> Select[Any]:
    # Built once per number of lines. By (job, line): the item's unique index. With current
    # and status in it, SQLite walked every item in flight of the job for each frame.
    return select(job_items).where(_i.job_row == bindparam("job_row"), in_params(_i.item, "item", count))


@functools.lru_cache(maxsize=64)
def _talkers(count: int) -> Select[Any]:
    return (
        select(_l.task_id)
        .where(_l.account_id == bindparam("account"), _l.region == bindparam("region"))
        .where(in_params(_l.task_id, "task", count))
        .distinct()
    )


def _items(ctx: RequestContext, job_row: int, lines: list[str]) -> dict[str, Row[Any]]:
    """The job's items in flight for these manifest lines, by line."""
    found: dict[str, Row[Any]] = {}
    unique = sorted(set(lines))
    for start in range(0, len(unique), _IN):
        part = padded(unique[start : start + _IN])
        values = {"job_row": job_row, **in_values("item", part)}
        for item in direct.execute(ctx.conn, _items_named(len(part)), values):
            if item.current and item.status == item_states.IN_PROGRESS:
                found[item.item] = item
    return found


def _tasks_with_output(ctx: RequestContext, account_id: str, region: str, task_ids: list[str]) -> set[str]:
    """Which of these tasks wrote any output (most batch containers' tasks are asked once)."""
    found: set[str] = set()
    for start in range(0, len(task_ids), _IN):
        part = padded(task_ids[start : start + _IN])
        values = {"account": account_id, "region": region, **in_values("task", part)}
        found.update(row.task_id for row in direct.execute(ctx.conn, _talkers(len(part)), values))
    return found


def _last_line(ctx: RequestContext, task: Any) -> str | None:
    lines = ctx.conn.execute(
        select(_l.line)
        .where(_l.account_id == task.account_id, _l.region == task.region, _l.task_id == task.task_id)
        .order_by(_l.id.desc())
        .limit(5)
    ).scalars()
    for line in lines:
        if line.strip():
            return str(line).strip()
    return None


def _exit_code(containers: list[dict[str, Any]]) -> int | None:
    codes: list[Any] = [c.get("exitCode") for c in containers or [] if c.get("exitCode") is not None]
    if not codes:
        return None
    return next((int(code) for code in codes if int(code) != 0), 0)
