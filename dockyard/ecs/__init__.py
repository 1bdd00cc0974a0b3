"""The ECS service: one module per resource, one function per action."""

from __future__ import annotations

from types import ModuleType


def provider() -> list[ModuleType]:
    """The modules implementing ECS actions (``CreateCluster`` -> ``create_cluster``)."""
    from dockyard.ecs import (
        account_settings,
        attributes,
        cached_reads,
        clusters,
        container_instances,
        tags,
        task_definitions,
        task_reports,
        tasks,
    )
    from dockyard.ecs.services import actions as service_actions
    from dockyard.ecs.services import queries as service_queries

    return [
        clusters,
        account_settings,
        attributes,
        tags,
        task_definitions,
        container_instances,
        tasks,
        task_reports,
        service_actions,
        service_queries,
        cached_reads,  # no actions: the reads protocol.read_cache may answer
    ]
