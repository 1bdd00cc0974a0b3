"""The ECS read-only actions whose answers ``protocol.read_cache`` keeps while the store is
unchanged: each reads the store and its request only (and the clock where it says so with
``read_cache.holds_until``), so the same request on the same store has the same answer."""

from __future__ import annotations

CACHED_READS = frozenset(
    {
        "DescribeClusters",
        "ListClusters",
        "DescribeTaskDefinition",
        "ListTaskDefinitions",
        "ListTaskDefinitionFamilies",
        "DescribeTasks",
        "ListTasks",
        "DescribeContainerInstances",
        "ListContainerInstances",
        "DescribeServices",
        "ListServices",
        "ListAttributes",
        "ListTagsForResource",
        "ListAccountSettings",
    }
)
