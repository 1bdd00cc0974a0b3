"""UpdateContainerAgent, carried out: the control plane offers its own agent code.

``UpdateContainerAgent`` marks an instance PENDING. Its agent then finds an ``agentUpdate``
in its state frames, reports STAGING, downloads ``GET /_dockyard/agent/package`` (a tarball
of the control plane's ``dockyard`` package, SigV4-signed like every request), reports
STAGED and UPDATING, and restarts itself from the new code. Re-registering with the offered
version completes the update (UPDATED); an agent that cannot update reports FAILED.
"""

from __future__ import annotations

import io
import tarfile
from functools import cache
from pathlib import Path
from typing import Any

from sqlalchemy import update

from dockyard.agent.version import AGENT_VERSION
from dockyard.context import RequestContext
from dockyard.store.schema import container_instances

PACKAGE_PATH = "/_dockyard/agent/package"
IN_FLIGHT = ("PENDING", "STAGING", "STAGED", "UPDATING")
_REPORTABLE = frozenset({"STAGING", "STAGED", "UPDATING", "FAILED"})


def offer(instance: Any) -> dict[str, str] | None:
    """The ``agentUpdate`` member of the instance's state frame, while an update is wanted."""
    if instance.agent_update_status not in IN_FLIGHT:
        return None
    return {"version": AGENT_VERSION, "packagePath": PACKAGE_PATH}


def record(ctx: RequestContext, instance_id: int, status: str) -> None:
    """An agent's progress report (``{"type": "agentUpdate", "status": ...}``), taken only
    while an update is in flight: an agent cannot invent one."""
    if status in _REPORTABLE:
        ctx.conn.execute(
            update(container_instances)
            .where(
                container_instances.c.id == instance_id,
                container_instances.c.agent_update_status.in_(IN_FLIGHT),
            )
            .values(agent_update_status=status)
        )


def completed(instance: Any, reported_version: str) -> str | None:
    """The agentUpdateStatus after a (re-)registration reporting ``reported_version``."""
    if instance.agent_update_status in IN_FLIGHT and reported_version == AGENT_VERSION:
        return "UPDATED"
    return str(instance.agent_update_status) if instance.agent_update_status else None


@cache
def package() -> bytes:
    """A gzip tarball of the running ``dockyard`` package (sources only), built once."""
    root = Path(__file__).resolve().parents[1]
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for path in sorted(root.rglob("*")):
            if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc":
                archive.add(path, arcname=str(Path("dockyard") / path.relative_to(root)), recursive=False)
    return buffer.getvalue()
