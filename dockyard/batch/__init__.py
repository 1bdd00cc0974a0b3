"""S3 Batch Operations (the ``s3control`` jobs API over rest-xml): a job runs one ECS task per
manifest item across the fleet (``LambdaInvoke``) or one store call per item (tagging, copy,
checksum), with priorities, retries, confirmation, cancel and a CSV completion report.

- ``front_end``: routing under ``/v20180820/``, the ``x-amz-account-id`` check, rest-xml;
- ``actions``: the API (``views`` renders, ``job_states`` and ``operations`` decide,
  ``manifest_spec`` checks manifests);
- ``engine``: the job engine's kind ``s3batch`` (Preparing, running items, the report).
"""

from __future__ import annotations

from types import ModuleType
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from dockyard.protocol.rest.pipeline import RestFrontEnd


def provider() -> list[ModuleType]:
    """The modules implementing ``s3control`` actions (``CreateJob`` -> ``create_job``)."""
    from dockyard.batch import actions, engine, stopped_tasks
    from dockyard.ecs import task_lifecycle
    from dockyard.jobs import controller

    controller.KINDS[actions.KIND] = engine.reconcile
    if stopped_tasks.task_stopped not in task_lifecycle.STOPPED_HOOKS:
        task_lifecycle.STOPPED_HOOKS.append(stopped_tasks.task_stopped)
    return [actions]


def front_ends() -> list[RestFrontEnd]:
    from dockyard.batch.front_end import front_end

    return [front_end()]
