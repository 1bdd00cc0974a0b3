"""The statuses of a task, in the order its lifecycle goes through them, and the groups other
modules count by (a leaf module: tasks, instances, clusters and placement all read it)."""

from __future__ import annotations

ORDER = (
    "PROVISIONING",
    "PENDING",
    "ACTIVATING",
    "RUNNING",
    "DEACTIVATING",
    "STOPPING",
    "DEPROVISIONING",
    "STOPPED",
)
LIVE = ORDER[:-1]  # every status before STOPPED: the task still holds its instance's resources
PENDING = ORDER[: ORDER.index("RUNNING")]  # what ECS counts as pending
