"""Task placement: a pure function from a snapshot of the instances and a request to placements.

- ``model``: the immutable inputs and outputs (instance snapshots, the demand of one task,
  the request, the result);
- ``demand``: a task's demand from its definition and overrides, computed once per request;
- ``query_language`` (grammar) and ``query_terms`` (meaning): the ECS cluster query language;
- ``filters`` (resources) and ``constraints`` (distinctInstance, memberOf): "can this instance
  take this task?", each with an ECS failure reason;
- ``strategies``: binpack, spread and random as scorers, chained in the user's order;
- ``ranking``: the candidates arranged so each task finds the best without a full scan;
- ``engine``: ``place(instances, request, rng)``, the pipeline in one function.
"""

from dockyard.placement.engine import place
from dockyard.placement.model import (
    Demand,
    Failure,
    InstanceSnapshot,
    PlacementRequest,
    PlacementResult,
)
from dockyard.placement.ranking import FixedOrder

__all__ = [
    "Demand",
    "Failure",
    "FixedOrder",
    "InstanceSnapshot",
    "PlacementRequest",
    "PlacementResult",
    "place",
]
