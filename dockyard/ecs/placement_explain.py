"""Why (not) placed: the placement pipeline's verdict on every instance of a cluster for one
more task of a definition, computed as placement would compute it now, placing nothing.

The console shows it for a service short of tasks and for a RunTask that could not place
them all: instance by instance, the filter (stage) that refused and its ECS reason, and, where
a task would fit, the instance placement would choose with the score each strategy gave it.
Same snapshot (``placement_cache.snapshot``), same request (``task_launch.placement_request``)
and same pipeline (``placement.engine``) as a real placement, so the answer cannot drift from
what RunTask or the service scheduler would do.

``placed`` is the other half, for a task already placed: the strategy and the scores that chose
its instance *then*, recorded with the task at placement (``task_launch.placed_how``).
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select

from dockyard.context import RequestContext
from dockyard.ecs import clusters, placement_cache, task_launch
from dockyard.placement.engine import build_pipeline, place
from dockyard.store.schema import tasks


@dataclass(frozen=True, slots=True)
class Verdict:
    """One instance's answer: None for reason when it can take the task."""

    instance_arn: str
    ec2_instance_id: str
    reason: str | None
    stage: str | None


@dataclass(frozen=True, slots=True)
class Explanation:
    verdicts: list[Verdict]
    chosen_arn: str | None  # where one more task would go now
    scores: list[tuple[str, float]]  # (strategy stage, score) that chose it; lower wins


def explain(
    ctx: RequestContext,
    *,
    cluster: str,
    task_definition: str,
    group: str,
    launch_type: str = "EC2",
    constraints: list[dict[str, Any]] | None = None,
    strategies: list[dict[str, Any]] | None = None,
) -> Explanation:
    """Where one task of ``task_definition`` would be placed in ``cluster`` now, and why not
    on each other instance (raises the ECS error a placement of it would raise)."""
    cluster_row = clusters.lookup(ctx, cluster)
    _row, definition = task_launch.resolve_definition(ctx, task_definition)
    request = task_launch.placement_request(
        definition,
        {},
        launch_type=launch_type,
        group=group,
        count=1,
        constraints=constraints,
        strategies=strategies,
    )
    pipeline = build_pipeline(request)
    instances = placement_cache.snapshot(ctx, cluster_row)
    verdicts = []
    for instance in instances:
        failure = pipeline.check(instance, request)
        verdicts.append(
            Verdict(
                instance.arn,
                instance.ec2_instance_id,
                failure.reason if failure else None,
                failure.detail if failure else None,
            )
        )
    result = place(instances, request, random.Random(0))
    chosen = result.chosen[0].arn if result.chosen else None
    scores = list(result.scores[0]) if result.scores else []
    return Explanation(verdicts, chosen, scores)


@dataclass(frozen=True, slots=True)
class Placed:
    """How a task's instance was chosen, as recorded when it was placed (``task_launch.placed_how``)."""

    strategy: list[dict[str, Any]]  # the placement strategy as the request gave it
    scores: list[tuple[str, float]]  # each scorer's score of the chosen instance; lower won
    others: int | None  # the other instances that could have taken the task then


def placed(ctx: RequestContext, cluster: str, task_id: str) -> Placed | None:
    """What was recorded when the task was placed; None for a task placed before it was recorded."""
    stored = ctx.conn.execute(
        select(tasks.c.attributes).where(
            tasks.c.account_id == ctx.account_id,
            tasks.c.region == ctx.region,
            tasks.c.cluster_name == cluster,
            tasks.c.task_id == task_id,
        )
    ).scalar()
    how = (stored or {}).get(task_launch.PLACED_HOW)
    if not how:
        return None
    return Placed(
        [dict(step) for step in how.get("strategy", [])],
        [(str(name), float(score)) for name, score in how.get("scores", [])],
        how.get("others"),
    )
