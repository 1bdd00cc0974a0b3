"""Finding a service by name or ARN, and the rules every action shares."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Row, bindparam, case, select

from dockyard.context import RequestContext
from dockyard.ecs import arns
from dockyard.errors import ServiceNotActiveException, ServiceNotFoundException
from dockyard.store import direct
from dockyard.store.schema import services

_svc = services.c
# The newest service of that name: a live one before any deleted (INACTIVE) one.
_BY_NAME = (
    select(services)
    .where(
        _svc.account_id == bindparam("account"),
        _svc.region == bindparam("in_region"),
        _svc.cluster_name == bindparam("cluster"),
        _svc.name == bindparam("name"),
    )
    .order_by(case((_svc.status == "INACTIVE", 1), else_=0), _svc.id.desc())
    .limit(1)
)


def service_name_of(ctx: RequestContext, identifier: str) -> str | None:
    """The name a service reference gives (``name``, ``.../service/name`` or
    ``.../service/cluster/name``); None for another account's ARN."""
    if not arns.is_arn(identifier):
        return identifier
    resource = arns.own_resource_id(ctx, identifier, "service")
    return None if resource is None else resource.rsplit("/", 1)[-1]


def find(ctx: RequestContext, cluster: Row[Any], identifier: str, *, lock: bool = False) -> Row[Any] | None:
    name = service_name_of(ctx, identifier)
    if name is None:
        return None
    scope = {"account": ctx.account_id, "in_region": ctx.region, "cluster": cluster.name, "name": name}
    if lock:
        return ctx.conn.execute(_BY_NAME.with_for_update(), scope).first()
    return direct.execute(ctx.conn, _BY_NAME, scope).first()


def lookup_active(ctx: RequestContext, cluster: Row[Any], identifier: str) -> Row[Any]:
    """The live service an update names, locked: ServiceNotFound / ServiceNotActive otherwise."""
    row = find(ctx, cluster, identifier, lock=True)
    if row is None:
        raise ServiceNotFoundException("Service not found.")
    if row.status != "ACTIVE":
        raise ServiceNotActiveException("Service was not ACTIVE.")
    return row


def by_id(ctx: RequestContext, service_id: int, *, lock: bool = False) -> Row[Any] | None:
    statement = select(services).where(_svc.id == service_id)
    return ctx.conn.execute(statement.with_for_update() if lock else statement).first()
