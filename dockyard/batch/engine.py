"""The job engine's ``s3batch`` kind: one job brought forward each time it is due, by the
leader of the jobs controller (``jobs/controller.py``), everything it knows kept in the store.

- **Preparing** streams the manifest from the object store in chunks; each chunk's items and
  the cursor after them are written in one transaction, so a restart resumes at the cursor and
  memory stays flat whatever the manifest's size.
- **Running** (Active, Pausing, Paused), in one transaction per look: the items whose ECS task
  stopped get their outcome (a TemporaryFailure is retried with back-off through the generic
  engine's ``move``; a PermanentFailure is REJECTED, never retried), the job's counters move in
  the same transaction (so DescribeJob reads them, exact, without counting), then free slots
  (``dockyard:maxConcurrency``) take the next items, unless a job of higher priority on the
  same cluster is waiting for capacity (then this one is Pausing, Paused).
- **Completing / Failing** write the report through the store, **Cancelling** stops the tasks.

A succeeded item is never run again: its task is launched in the transaction that marks it
IN_PROGRESS, and its outcome is read from the stopped task, once.
"""

from __future__ import annotations

import functools
import logging
import os
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from itertools import islice
from typing import TYPE_CHECKING, Any

import anyio.to_thread
import orjson
from sqlalchemy import Row, bindparam, func, insert, or_, select, update

from dockyard.batch import invocation, job_states, manifests, operations, report, store_operations
from dockyard.batch.actions import KIND
from dockyard.context import RequestContext
from dockyard.controllers.runtime import system_identity
from dockyard.ecs import clusters, task_launch
from dockyard.ecs.task_lifecycle import request_stop
from dockyard.identity import keys
from dockyard.jobs import engine as jobs_engine
from dockyard.jobs import states as item_states
from dockyard.jobs.plan import Plan
from dockyard.store import direct
from dockyard.store.schema import job_items, jobs, tasks

if TYPE_CHECKING:
    from dockyard.server_state import ServerState

log = logging.getLogger(__name__)

CHUNK = 5000  # manifest items written per transaction while Preparing
RETRIES = 3  # a TemporaryFailure is tried again this many times
# Back-off before retry n: BASE * 4**n seconds (tests shorten BASE).
BACKOFF_BASE_SECONDS = float(os.environ.get("DOCKYARD_BATCH_BACKOFF_SECONDS", 1.0))
LAUNCHES_PER_LOOK = 500  # tasks launched in one transaction, at most
CAPACITY_RETRY_SECONDS = 1.0
SAFETY_LOOK_SECONDS = 5.0
STARTED_BY_PREFIX = "s3batch:"
ITEM_TAG = "dockyard:batch-item"  # on each task: its item's manifest line
# An item whose task stopped, its outcome in details, not yet counted by the engine.
ENDED = "ENDED"
ENGINE_BATCH = 200  # items of an in-engine operation read, run and recorded together
ENGINE_ROUNDS = 10  # batches per look
ENGINE_THREADS = 8  # store calls under way at once
PLAN = Plan(retries={item_states.FAILED: RETRIES})

_i = job_items.c
_j = jobs.c
_t = tasks.c


async def reconcile(server: ServerState, job_row: int, account_id: str, region: str) -> None:
    identity = system_identity(account_id, "batch-engine")
    status = await server.transact(identity, region, lambda ctx: _status(ctx, job_row), write=False)
    if status is None:
        return
    if status == job_states.NEW:
        await server.transact(
            identity, region, lambda ctx: _move_job(ctx, job_row, job_states.NEW, job_states.PREPARING)
        )
        status = job_states.PREPARING
    if status == job_states.PREPARING:
        await _prepare(server, identity, region, job_row)
    elif status in job_states.CLOSING:
        await _finish(server, identity, region, job_row, status)
    else:
        await server.transact(identity, region, lambda ctx: look(ctx, job_row))
        if await _run_in_engine(server, identity, region, job_row):
            await server.transact(identity, region, lambda ctx: look(ctx, job_row))  # counts, status


def _status(ctx: RequestContext, job_row: int) -> str | None:
    return ctx.conn.execute(select(_j.status).where(_j.id == job_row)).scalar()


def _job(ctx: RequestContext, job_row: int) -> Row[Any] | None:
    return ctx.conn.execute(select(jobs).where(_j.id == job_row).with_for_update()).first()


def _move_job(ctx: RequestContext, job_row: int, expected: str, status: str) -> None:
    """``expected`` → ``status``, unless a request moved the job meanwhile (a cancel wins)."""
    job = _job(ctx, job_row)
    if job is None or job.status != expected:
        return
    _set(ctx, job, status, {}, due_at=ctx.now)


def _set(
    ctx: RequestContext, job: Row[Any], status: str, changes: dict[str, Any], *, due_at: float | None
) -> None:
    """The job's new status and progress; the Active timer and the job's keys follow it."""
    progress = dict(job.progress, **changes)
    running_before, running_now = job.status in job_states.RUNNING, status in job_states.RUNNING
    if running_now and not running_before:
        progress["activeSince"] = ctx.now
    if running_before and not running_now and progress.get("activeSince") is not None:
        progress["activeSeconds"] = (
            float(progress.get("activeSeconds", 0.0)) + ctx.now - progress["activeSince"]
        )
        progress["activeSince"] = None
    values: dict[str, Any] = {"status": status, "progress": progress, "updated_at": ctx.now, "due_at": due_at}
    if status in job_states.TERMINAL:
        values["completed_at"] = ctx.now
        values["due_at"] = None
        if progress.get("keyId"):
            keys.revoke_key(ctx.conn, progress["keyId"])  # the job's credentials die with it
    ctx.conn.execute(update(jobs).where(_j.id == job.id).values(**values))


# --- Preparing ------------------------------------------------------------------------------


async def _prepare(server: ServerState, identity: Any, region: str, job_row: int) -> None:
    job = await server.transact(identity, region, lambda ctx: _job(ctx, job_row), write=False)
    if job is None or job.status != job_states.PREPARING:
        return
    cursor = int(job.progress.get("cursor", 0))
    account = job.account_id
    store = server.object_store

    def opened() -> Iterator[invocation.Item]:
        store.ready_sync()
        items = manifests.open_items(
            store.client(), lambda bucket: store.backing_bucket(account, bucket), job.spec["request"]
        )
        return islice(items, cursor, None)

    try:
        items = await anyio.to_thread.run_sync(opened)
        while True:
            chunk = await anyio.to_thread.run_sync(lambda: list(islice(items, CHUNK)))
            done = len(chunk) < CHUNK
            add = functools.partial(_add_items, job_row=job_row, cursor=cursor, chunk=chunk, done=done)
            written = await server.transact(identity, region, add)
            if not written:
                return  # cancelled meanwhile
            cursor += len(chunk)
            if done:
                return
    except manifests.ManifestError as error:
        reason = error
    except Exception as error:  # the store unreachable, a manifest that is not CSV, ...
        log.warning("batch job %s: manifest unreadable: %s", job.job_id, error)
        reason = manifests.ManifestError("ManifestUnreadable", str(error)[:256])
    await server.transact(identity, region, lambda ctx: _fail(ctx, job_row, reason.code, reason.reason))


def _add_items(
    ctx: RequestContext, *, job_row: int, cursor: int, chunk: list[invocation.Item], done: bool
) -> bool:
    job = _job(ctx, job_row)
    if job is None or job.status != job_states.PREPARING or int(job.progress.get("cursor", 0)) != cursor:
        return False
    if chunk:
        ctx.conn.execute(
            insert(job_items),
            [
                {
                    "job_row": job.id,
                    "account_id": job.account_id,
                    "region": job.region,
                    "item": str(cursor + offset),
                    "number": 1,
                    "attempt": 0,
                    "current": True,
                    "status": item_states.QUEUED,
                    "released": True,
                    "version": 1,
                    "details": {"b": item.bucket, "k": item.key, "v": item.version_id},
                    "queued_at": ctx.now,
                    "started_at": None,
                    "updated_at": ctx.now,
                    "timeout_at": None,
                }
                for offset, item in enumerate(chunk)
            ],
        )
    total = cursor + len(chunk)
    if not done:
        ctx.conn.execute(
            update(jobs).where(_j.id == job.id).values(progress=dict(job.progress, cursor=total))
        )
        return True
    if job.spec["request"]["ConfirmationRequired"]:
        _set(
            ctx,
            job,
            job_states.SUSPENDED,
            {
                "cursor": total,
                "total": total,
                "suspendedDate": ctx.now,
                "suspendedCause": "AwaitingConfirmation",
            },
            due_at=None,
        )
    else:
        _set(ctx, job, job_states.READY, {"cursor": total, "total": total}, due_at=ctx.now)
    return True


def _fail(ctx: RequestContext, job_row: int, code: str, reason: str) -> None:
    job = _job(ctx, job_row)
    if job is None or job.status in job_states.TERMINAL or job.status in job_states.CLOSING:
        return  # a cancel (or another ending) came first
    failures = [
        *job.progress.get("failureReasons", []),
        {"FailureCode": code[:64], "FailureReason": reason[:256]},
    ]
    _set(ctx, job, job_states.FAILING, {"failureReasons": failures}, due_at=ctx.now)


# --- Running --------------------------------------------------------------------------------


def look(ctx: RequestContext, job_row: int) -> None:
    """One look at a job that is neither preparing nor writing its report."""
    job = _job(ctx, job_row)
    if job is None or job.status in job_states.TERMINAL:
        return
    if job.status == job_states.READY:
        _start(ctx, job)
        job = _job(ctx, job_row)
        assert job is not None
    if job.status not in job_states.RUNNING:
        _set(ctx, job, job.status, {}, due_at=None)  # Suspended: UpdateJobStatus wakes it
        return
    progress = dict(job.progress)
    in_flight = _collect(ctx, job, progress)
    invoke = _invoke(job)
    concurrency = operations.concurrency_of(invoke) if invoke is not None else operations.DEFAULT_CONCURRENCY
    starved = _outranked(ctx, job)
    next_look: float | None = None
    if not starved:
        launched, short = _dispatch(ctx, job, progress, min(concurrency - in_flight, LAUNCHES_PER_LOOK))
        in_flight += launched  # short of capacity alone is no reason to pause: only a higher priority is
        if short or launched == LAUNCHES_PER_LOOK:
            next_look = ctx.now + (CAPACITY_RETRY_SECONDS if short else 0.0)
    # Whether any item is left, not how many: a count walks every queued item at each look.
    pending = len(ctx.conn.execute(_ANY_PENDING, {"job_row": job.id}).all())
    executed = int(progress.get("succeeded", 0)) + int(progress.get("failed", 0))
    status = job_states.while_running(
        executed=executed,
        failed=int(progress.get("failed", 0)),
        pending=pending,
        starved=starved,
        current=job.status,
    )
    if status == job_states.FAILING:
        progress["failureReasons"] = [
            *progress.get("failureReasons", []),
            {
                "FailureCode": "TaskFailureThresholdExceeded",
                "FailureReason": "More than half of the tasks failed.",
            },
        ]
    # The next retry's back-off matters only with a free slot (else a stopping task wakes the
    # job first); it reads every queued item, so not at each look of a job that fills its slots.
    backoff = (
        ctx.conn.execute(_NEXT_RETRY, {"job_row": job.id, "now": ctx.now}).scalar()
        if in_flight < concurrency
        else None
    )
    if invoke is None and _ready_items(ctx, job.id, 1):
        next_look = ctx.now  # the engine runs these itself: at once, not when a task stops
    wakes = [when for when in (next_look, backoff) if when is not None]
    if status in (job_states.COMPLETING, job_states.FAILING):
        wakes = [ctx.now]
    elif starved or (in_flight == 0 and not wakes):
        wakes.append(ctx.now + CAPACITY_RETRY_SECONDS)
    else:  # stopped tasks make the job due (stopped_tasks.py); this only bounds a missed one
        wakes.append(ctx.now + SAFETY_LOOK_SECONDS)
    _set(
        ctx,
        job,
        status,
        {k: v for k, v in progress.items() if k not in ("activeSince", "activeSeconds")},
        due_at=min(wakes) if wakes else None,
    )


def _start(ctx: RequestContext, job: Row[Any]) -> None:
    """Ready → Active: the job's own credentials (its tasks' AWS keys) are made now."""
    changes: dict[str, Any] = {}
    if _invoke(job) is not None and not job.progress.get("keyId"):
        key = keys.create_key(
            ctx.conn, ctx.server.sealer, account_id=job.account_id, user_name=f"s3batch-{job.job_id[:8]}"
        )
        changes.update(keyId=key.access_key_id)
    _set(ctx, job, job_states.ACTIVE, changes, due_at=ctx.now)


def _invoke(job: Row[Any]) -> dict[str, Any] | None:
    operation = job.spec["request"]["Operation"]
    found = operation.get(operations.CONTAINER)
    return found if isinstance(found, dict) else None


def started_by(job: Row[Any]) -> str:
    return f"{STARTED_BY_PREFIX}{job.job_id}"


_IN_FLIGHT = select(job_items).where(
    _i.job_row == bindparam("job_row"), _i.current.is_(True), _i.status == item_states.IN_PROGRESS
)


_ANY_PENDING = (
    select(_i.id)
    .where(
        _i.job_row == bindparam("job_row"), _i.current.is_(True), _i.status.in_((*item_states.PENDING, ENDED))
    )
    .limit(1)
)
_NEXT_RETRY = select(func.min(_i.timeout_at)).where(
    _i.job_row == bindparam("job_row"),
    _i.current.is_(True),
    _i.status == item_states.QUEUED,
    _i.timeout_at > bindparam("now"),
)
_ENDED = select(job_items).where(_i.job_row == bindparam("job_row"), _i.current.is_(True), _i.status == ENDED)
_RUNNING = select(func.count()).where(
    _i.job_row == bindparam("job_row"), _i.current.is_(True), _i.status == item_states.IN_PROGRESS
)


def _collect(ctx: RequestContext, job: Row[Any], progress: dict[str, Any]) -> int:
    """Count the outcomes ``stopped_tasks`` left on ended items; how many items still run. Only
    what ended since the last look is read, not everything in flight."""
    done = []
    for item in direct.execute(ctx.conn, _ENDED, {"job_row": job.id}).all():
        found = item.details.get("outcome") or {}
        outcome = invocation.Outcome(
            str(found.get("code", invocation.TEMPORARY)),
            str(found.get("message", "")),
            str(found.get("errorCode", "")),
            int(found.get("http", 500)),
        )
        done.append((item, outcome))
    record(ctx, done, progress)
    return int(direct.execute(ctx.conn, _RUNNING, {"job_row": job.id}).scalar_one())


def record(
    ctx: RequestContext, done: list[tuple[Row[Any], invocation.Outcome]], progress: dict[str, Any]
) -> None:
    """Items' outcomes: their statuses and report lines (one statement for all that end), the
    job's counters; a retry where one is due."""
    ended: list[tuple[Row[Any], str, dict[str, Any]]] = []
    for item, outcome in done:
        details = {k: v for k, v in item.details.items() if k != "outcome"}
        details.update(code=outcome.error_code, http=outcome.http_status, message=outcome.message[:1024])
        if outcome.code == invocation.SUCCEEDED:
            ended.append((item, item_states.SUCCEEDED, details))
            progress["succeeded"] = int(progress.get("succeeded", 0)) + 1
        elif outcome.code == invocation.PERMANENT or int(item.attempt) >= RETRIES:
            status = item_states.REJECTED if outcome.code == invocation.PERMANENT else item_states.FAILED
            ended.append((item, status, details))
            progress["failed"] = int(progress.get("failed", 0)) + 1
        else:
            _retry(ctx, item, details)
    jobs_engine.end_many(ctx, KIND, ended)


def _retry(ctx: RequestContext, item: Row[Any], details: dict[str, Any]) -> None:
    """A temporary failure: FAILED, and a new execution queued after its back-off."""
    jobs_engine.move(ctx, item, item_states.FAILED, details=details, plan=PLAN, urgent=False)
    delay = BACKOFF_BASE_SECONDS * 4 ** int(item.attempt)
    ctx.conn.execute(
        update(job_items)
        .where(_i.job_row == item.job_row, _i.item == item.item, _i.current.is_(True))
        .values(timeout_at=ctx.now + delay, details={k: item.details[k] for k in ("b", "k", "v")})
    )


def _outranked(ctx: RequestContext, job: Row[Any]) -> bool:
    """A running job of higher priority on the same cluster still has items waiting."""
    mine = int(job.spec["request"]["Priority"])
    cluster = _cluster_of(job)
    others = ctx.conn.execute(
        select(jobs).where(
            _j.account_id == job.account_id,
            _j.region == job.region,
            _j.kind == KIND,
            _j.id != job.id,
            _j.status.in_(job_states.RUNNING),
        )
    ).all()
    for other in others:
        if int(other.spec["request"]["Priority"]) <= mine or _cluster_of(other) != cluster:
            continue
        if other.progress.get("short") and _ready_items(ctx, other.id, 1):
            return True
    return False


def _cluster_of(job: Row[Any]) -> str | None:
    invoke = _invoke(job)
    return operations.cluster_of(invoke) if invoke is not None else None


def _ready_items(ctx: RequestContext, job_row: int, limit: int) -> list[Row[Any]]:
    return list(
        ctx.conn.execute(
            select(job_items)
            .where(
                _i.job_row == job_row,
                _i.current.is_(True),
                _i.status == item_states.QUEUED,
                _i.released.is_(True),  # always, for batch items: the index then walks in id order
                or_(_i.timeout_at.is_(None), _i.timeout_at <= ctx.now),
            )
            .order_by(_i.id)
            .limit(limit)
        ).all()
    )


def _dispatch(ctx: RequestContext, job: Row[Any], progress: dict[str, Any], slots: int) -> tuple[int, bool]:
    """Launch up to ``slots`` items; (how many, whether the cluster was short of capacity)."""
    progress["short"] = False
    if slots <= 0:
        return 0, False
    items = _ready_items(ctx, job.id, slots)
    if not items:
        return 0, False
    invoke = _invoke(job)
    if invoke is None:
        return 0, False  # the engine runs them itself (_run_in_engine), outside this transaction
    function = operations.check_lambda(invoke, job.account_id)
    cluster = clusters.lookup(ctx, operations.cluster_of(invoke))
    _row, definition = task_launch.resolve_definition(ctx, function.reference)
    launch_type = task_launch.launch_type_of(cluster, None, None)
    # One placement for the whole batch (a placement per task would read the cluster again
    # each time once the transaction has placed); then each task gets its item's event.
    request = task_launch.placement_request(
        definition,
        {},
        launch_type=launch_type,
        group=f"family:{definition['family']}",
        count=len(items),
        constraints=None,
        strategies=None,
    )
    environment = _environment(ctx, job)
    version = invoke.get("InvocationSchemaVersion", "1.0")
    arguments = dict(invoke.get("UserArguments") or {})
    each = []
    for item in items:  # each task gets its item's event (and names its item) as it is inserted
        event = invocation.event(
            job_id=job.job_id,
            task_id=f"{job.job_id}-{item.item}-{item.number}",
            invocation_id=str(uuid.uuid4()),
            item=invocation.Item(item.details["b"], item.details["k"], item.details.get("v")),
            version=version,
            user_arguments=arguments,
        )
        env = [*environment, {"name": "DOCKYARD_BATCH_EVENT", "value": orjson.dumps(event).decode()}]
        each.append(
            {"overrides": _overrides(definition, env), "tags": [{"key": ITEM_TAG, "value": item.item}]}
        )
    order = task_launch.Launch(
        cluster=cluster,
        definition=definition,
        request=request,
        launch_type=launch_type,
        overrides=_overrides(definition, environment),
        group=f"family:{definition['family']}",
        started_by=started_by(job),
        tags=[],
        each=tuple(each),
    )
    rows = task_launch.launch(ctx, order).rows
    started = [
        {
            "item_id": item.id,
            "new_details": dict(item.details, task=row.arn),
            "new_version": item.version + 1,
            "now": ctx.now,
        }
        for item, row in zip(items, rows, strict=False)
    ]
    if started:
        direct.write(ctx.conn, _STARTED, started)
    short = len(rows) < len(items)
    progress["short"] = short
    return len(rows), short


# The items whose task was launched: IN_PROGRESS (one statement for the look's batch).
_STARTED = (
    update(job_items)
    .where(_i.id == bindparam("item_id"))
    .values(
        status=item_states.IN_PROGRESS,
        details=bindparam("new_details"),
        version=bindparam("new_version"),
        started_at=func.coalesce(_i.started_at, bindparam("now")),
        updated_at=bindparam("now"),
    )
)


def _overrides(definition: dict[str, Any], env: list[dict[str, str]]) -> dict[str, Any]:
    return {
        "containerOverrides": [
            {"name": container["name"], "environment": env}
            for container in definition["containerDefinitions"]
        ]
    }


def _environment(ctx: RequestContext, job: Row[Any]) -> list[dict[str, str]]:
    """What every task of the job gets: the store's endpoint and the job's own credentials."""
    env = [
        {"name": "AWS_ENDPOINT_URL_S3", "value": ctx.server.public_url},
        {"name": "AWS_REGION", "value": job.region},
        {"name": "AWS_DEFAULT_REGION", "value": job.region},
    ]
    key_id = job.progress.get("keyId")
    key = keys.find_key(ctx.conn, key_id, ctx.server.sealer) if key_id else None
    if key is not None:
        env += [
            {"name": "AWS_ACCESS_KEY_ID", "value": key.access_key_id},
            {"name": "AWS_SECRET_ACCESS_KEY", "value": key.secret_access_key},
        ]
    return env


async def _run_in_engine(server: ServerState, identity: Any, region: str, job_row: int) -> bool:
    """A job whose operation the engine runs itself: its ready items, a batch at a time, the
    store calls on worker threads (outside any transaction), their outcomes recorded after."""
    job = await server.transact(identity, region, lambda ctx: _job(ctx, job_row), write=False)
    if job is None or job.status != job_states.ACTIVE or _invoke(job) is not None:
        return False
    request_operation = job.spec["request"]["Operation"]
    name = operations.name_of(request_operation)
    operation = request_operation[name]
    store = server.object_store
    account = job.account_id

    def backing(bucket: str) -> str:
        return store.backing_bucket(account, bucket)

    def work(items: list[Row[Any]]) -> list[invocation.Outcome]:
        client = store.client()

        def one(item: Row[Any]) -> invocation.Outcome:
            target = invocation.Item(item.details["b"], item.details["k"], item.details.get("v"))
            # The embedded rclone keeps no object tags: tagging fails each item, said plainly.
            return store_operations.run(
                client, backing, name, operation, target, keeps_tags=store.rclone is None
            )

        with ThreadPoolExecutor(ENGINE_THREADS) as pool:
            return list(pool.map(one, items))

    ran = False
    for _ in range(ENGINE_ROUNDS):
        items = await server.transact(
            identity,
            region,
            functools.partial(_ready_items, job_row=job_row, limit=ENGINE_BATCH),
            write=False,
        )
        if not items:
            break
        outcomes = await anyio.to_thread.run_sync(functools.partial(work, items))
        done = list(zip(items, outcomes, strict=True))
        ran = True
        if not await server.transact(
            identity, region, functools.partial(_record_all, job_row=job_row, done=done)
        ):
            break
    return ran


def _record_all(
    ctx: RequestContext, *, job_row: int, done: list[tuple[Row[Any], invocation.Outcome]]
) -> bool:
    """The outcomes of items the engine ran, for those still as they were read; False when
    the job is no longer running (cancelled meanwhile)."""
    job = _job(ctx, job_row)
    if job is None or job.status not in job_states.RUNNING:
        return False
    progress = dict(job.progress)
    current = []
    for read, outcome in done:
        item = ctx.conn.execute(
            select(job_items).where(
                _i.id == read.id,
                _i.current.is_(True),
                _i.status == item_states.QUEUED,
                _i.version == read.version,
            )
        ).first()
        if item is not None:
            current.append((item, outcome))
    record(ctx, current, progress)
    ctx.conn.execute(update(jobs).where(_j.id == job.id).values(progress=progress, updated_at=ctx.now))
    return True


# --- Cancelling, Completing, Failing ---------------------------------------------------------


def _stop_all(ctx: RequestContext, job: Row[Any], reason: str) -> None:
    """Every pending item CANCELED, every running task told to stop."""
    running = ctx.conn.execute(_IN_FLIGHT, {"job_row": job.id}).all()
    arns = {item.details["task"] for item in running if item.details.get("task")}
    ids = sorted(arn.rsplit("/", 1)[-1] for arn in arns)  # looked up on the unique (scope, task id)
    for start in range(0, len(ids), 500):
        found = ctx.conn.execute(
            select(tasks)
            .where(
                _t.account_id == job.account_id,
                _t.region == job.region,
                _t.task_id.in_(ids[start : start + 500]),
            )
            .order_by(_t.id)
            .with_for_update()
        ).all()
        for task in found:
            if task.arn in arns:
                request_stop(ctx, task, reason=reason, stop_code="UserInitiated")
    ctx.conn.execute(
        update(job_items)
        .where(_i.job_row == job.id, _i.current.is_(True), _i.status.in_(item_states.PENDING))
        .values(status=item_states.CANCELED, updated_at=ctx.now, version=_i.version + 1)
    )


def _cancel(ctx: RequestContext, job_row: int) -> Row[Any] | None:
    """Cancelling: the outcomes of tasks that ended before it counted, then everything stopped;
    the job as it is now (None if it is no longer cancelling)."""
    job = _job(ctx, job_row)
    if job is None or job.status != job_states.CANCELLING:
        return None
    progress = dict(job.progress)
    _collect(ctx, job, progress)
    _stop_all(ctx, job, "Batch job cancelled")
    ctx.conn.execute(update(jobs).where(_j.id == job.id).values(progress=progress, updated_at=ctx.now))
    return _job(ctx, job_row)


_FINAL = {
    job_states.COMPLETING: job_states.COMPLETE,
    job_states.FAILING: job_states.FAILED,
    job_states.CANCELLING: job_states.CANCELLED,
}


async def _finish(server: ServerState, identity: Any, region: str, job_row: int, status: str) -> None:
    """Completing → Complete, Failing → Failed and Cancelling → Cancelled, once the report (if
    any) is written. As S3 does, a cancelled job is reported too, with the tasks done so far,
    once at least one task ran."""
    job = await server.transact(identity, region, lambda ctx: _job(ctx, job_row), write=False)
    if job is None or job.status != status:
        return
    if status == job_states.FAILING:
        failing = job
        await server.transact(identity, region, lambda ctx: _stop_all(ctx, failing, "Batch job failed"))
    elif status == job_states.CANCELLING:
        job = await server.transact(identity, region, lambda ctx: _cancel(ctx, job_row))
        if job is None:
            return
    final = _FINAL[status]
    wanted = job.spec["request"]["Report"]
    ran = int(job.progress.get("succeeded", 0)) + int(job.progress.get("failed", 0))
    if wanted.get("Enabled") and (ran > 0 or status != job_states.CANCELLING):
        try:
            await _write_report(server, identity, region, job)
        except Exception as error:
            log.warning("batch job %s: report not written: %s", job.job_id, error)
            why = ("ReportNotWritten", str(error))
            ended = job_states.CANCELLED if status == job_states.CANCELLING else job_states.FAILED
            await server.transact(identity, region, lambda ctx: _final(ctx, job_row, ended, why))
            return
    await server.transact(identity, region, lambda ctx: _final(ctx, job_row, final, None))


def _final(ctx: RequestContext, job_row: int, status: str, failure: tuple[str, str] | None) -> None:
    job = _job(ctx, job_row)
    if job is None or job.status in job_states.TERMINAL:
        return
    changes: dict[str, Any] = {}
    if failure is not None:
        changes["failureReasons"] = [
            *job.progress.get("failureReasons", []),
            {"FailureCode": failure[0][:64], "FailureReason": failure[1][:256]},
        ]
    _set(ctx, job, status, changes, due_at=None)


_RESULTS = (
    select(_i.id, _i.status, _i.details)
    .where(
        _i.job_row == bindparam("job_row"),
        _i.current.is_(True),
        _i.id > bindparam("after"),
        _i.status.in_(bindparam("statuses", expanding=True)),
    )
    .order_by(_i.id)
    .limit(bindparam("limit"))
)


async def _write_report(server: ServerState, identity: Any, region: str, job: Row[Any]) -> None:
    """The report's CSV files, a page of items at a time, then its manifest.json."""
    wanted = job.spec["request"]["Report"]
    from dockyard.batch.manifest_spec import bucket_of

    bucket = bucket_of(wanted["Bucket"], "Report.Bucket")
    store = server.object_store
    backing = store.backing_bucket(job.account_id, bucket)
    base = report.prefix(wanted, job.job_id)
    kinds = [("failed", [item_states.FAILED, item_states.REJECTED])]
    if wanted.get("ReportScope", "AllTasks") == "AllTasks":
        kinds.insert(0, ("succeeded", [item_states.SUCCEEDED]))
    written: list[tuple[str, str, bytes]] = []
    for name, statuses in kinds:
        after, part = 0, 0
        while True:
            page = functools.partial(_results, job_row=job.id, after=after, statuses=statuses)
            rows = await server.transact(identity, region, page, write=False)
            if not rows:
                break
            body = report.csv_file(
                [
                    {
                        "bucket": row.details["b"],
                        "key": row.details["k"],
                        "version": row.details.get("v"),
                        "taskStatus": name,
                        "errorCode": row.details.get("code"),
                        "http": row.details.get("http"),
                        "message": row.details.get("message"),
                    }
                    for row in rows
                ]
            )
            key = f"{base}/results/{name}-{part}.csv"
            await anyio.to_thread.run_sync(functools.partial(_put, store, backing, key, body))
            written.append((name, key, body))
            after, part = rows[-1].id, part + 1
    document = report.manifest(
        job_id=job.job_id,
        report_bucket=bucket,
        created=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        results=written,
    )
    await anyio.to_thread.run_sync(functools.partial(_put, store, backing, f"{base}/manifest.json", document))


def _results(ctx: RequestContext, *, job_row: int, after: int, statuses: list[str]) -> list[Any]:
    values = {"job_row": job_row, "after": after, "statuses": statuses, "limit": report.ROWS_PER_FILE}
    return list(ctx.conn.execute(_RESULTS, values).all())


def _put(store: Any, bucket: str, key: str, body: bytes) -> None:
    store.client().put_object(Bucket=bucket, Key=key, Body=body)
