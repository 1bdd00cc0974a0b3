"""The ECS service: one module per resource, one function per action."""

from __future__ import annotations

from types import ModuleType


def provider() -> list[ModuleType]:
    """The modules whose functions implement ECS actions (``CreateCluster`` -> ``create_cluster``)."""
    from dockyard.ecs import account_settings, clusters

    return [clusters, account_settings]
