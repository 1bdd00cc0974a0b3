"""The level-triggered comparison of a full state frame with what is on the host (pure).

Every state frame names every task the control plane wants on this instance. Set against
the tasks that have an owner and the tasks whose labelled containers are on the host, it
splits into four groups, each with one remedy:

* ``adopt``: desired, no owner yet: a new owner takes over whatever containers the host
  already has for it (after an agent restart, kill -9 or lost frame) and starts the rest;
  it never creates a second container for one it found.
* ``update``: desired and owned: the owner gets the frame (its desired status may advance).
* ``retire``: owned, no longer desired: its owner stops what still runs and removes it all.
* ``orphans``: on the host, neither desired nor owned: stopped and removed.

Tasks this agent has already retired are never adopted again, so a stale frame cannot
bring a finished task back to life.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass


@dataclass(frozen=True)
class SyncPlan:
    adopt: tuple[str, ...] = ()
    update: tuple[str, ...] = ()
    retire: tuple[str, ...] = ()
    orphans: tuple[str, ...] = ()
    ignored: tuple[str, ...] = ()  # desired, but this agent already finished them


def plan_sync(
    desired: Iterable[str], owned: Collection[str], on_host: Iterable[str], finished: Collection[str] = ()
) -> SyncPlan:
    """Split task ARNs into what to adopt, update, retire and clean up as orphans."""
    wanted = list(dict.fromkeys(desired))
    ignored = [arn for arn in wanted if arn in finished and arn not in owned]
    live = [arn for arn in wanted if arn not in ignored]
    wanted_set = set(live)
    return SyncPlan(
        adopt=tuple(arn for arn in live if arn not in owned),
        update=tuple(arn for arn in live if arn in owned),
        retire=tuple(sorted(arn for arn in owned if arn not in wanted_set)),
        orphans=tuple(sorted({arn for arn in on_host if arn not in wanted_set and arn not in owned})),
        ignored=tuple(ignored),
    )
