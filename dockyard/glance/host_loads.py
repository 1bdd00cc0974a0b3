"""An active image goes to every connected Docker host of its account (docs/agent-protocol.md §4b).

When an image turns active (an import or an upload, in the same transaction), ``begin``
writes one ``pending`` row per container instance of the account that is ACTIVE, connected
and runs the docker driver (hollow and process-driver agents are no Docker hosts). Each
control-plane process pushes a ``loadImage`` frame to the hosts connected to it
(``pusher.py``); the agent fetches the image, checks its sha512, ``docker load``s it and
answers with an ``imageLoad`` frame on its own socket (``record``: a host can only answer for
itself). ``settle`` counts a host that has not answered within the wait as failed, so an
import task always ends, and sums the rows up for the task's ``result``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, and_, delete, insert, select, update

from dockyard.store.schema import attributes, container_instances, glance_host_loads, glance_images

PENDING, LOADED, FAILED = "pending", "loaded", "failed"
ANSWERS = (LOADED, FAILED)
# How long an import waits for its hosts; one that has not answered by then counts as failed.
WAIT_SECONDS = float(os.environ.get("DOCKYARD_GLANCE_HOST_LOAD_TIMEOUT", 300))
REASON_LIMIT = 1024
SETTLED_BY = "glance-imports"  # the controller that ends import tasks: woken by each answer

_loads = glance_host_loads.c
_instances = container_instances.c
_DOCKER_HOSTS = (
    select(_instances.id, _instances.arn)
    .join(
        attributes,
        and_(
            attributes.c.account_id == _instances.account_id,
            attributes.c.region == _instances.region,
            attributes.c.cluster_name == _instances.cluster_name,
            attributes.c.target_id == _instances.arn,
            attributes.c.name == "dockyard.driver",
        ),
    )
    .where(
        attributes.c.value == "docker",
        _instances.status == "ACTIVE",
        _instances.last_seen_at.is_not(None),
    )
    .order_by(_instances.id)
)


@dataclass
class Outcome:
    """Where an image's loads stand: hosts (container instance ARNs) loaded, failed (with why),
    and how many have not answered yet."""

    loaded: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)
    pending: int = 0
    seconds: float | None = None  # from the image turning active to the last answer

    def result(self) -> dict[str, Any]:
        """The members of an import task's ``result`` about the hosts."""
        return {
            "hosts_loaded": self.loaded,
            "hosts_failed": sorted(self.failed),
            "hosts_errors": dict(sorted(self.failed.items())),
            "hosts_seconds": None if self.seconds is None else round(self.seconds, 3),
        }


def begin(connection: Connection, image_id: str, account_id: str, now: float) -> int:
    """The image is active: a pending load on every connected Docker host of the account
    (rows of an earlier activation are replaced); how many hosts."""
    hosts = connection.execute(_DOCKER_HOSTS.where(_instances.account_id == account_id)).all()
    connection.execute(delete(glance_host_loads).where(_loads.image_id == image_id))
    if hosts:
        connection.execute(
            insert(glance_host_loads),
            [
                {
                    "image_id": image_id,
                    "instance_id": host.id,
                    "instance_arn": host.arn,
                    "status": PENDING,
                    "reason": "",
                    "created_at": now,
                    "updated_at": now,
                }
                for host in hosts
            ],
        )
    return len(hosts)


class BadAnswer(ValueError):
    """An ``imageLoad`` frame of the wrong shape."""


def record(connection: Connection, instance_id: int, frame: dict[str, Any], now: float) -> bool:
    """A host's answer (``{"type": "imageLoad", "imageId", "status": "loaded"|"failed",
    "reason"}``) for its own pending load; False when there was none (late, or not asked)."""
    image_id, status, reason = frame.get("imageId"), frame.get("status"), frame.get("reason", "")
    if not isinstance(image_id, str) or status not in ANSWERS or not isinstance(reason, str):
        raise BadAnswer("imageId must be a string, status loaded or failed, reason a string")
    done = connection.execute(
        update(glance_host_loads)
        .where(_loads.image_id == image_id, _loads.instance_id == instance_id, _loads.status == PENDING)
        .values(status=status, reason=reason[:REASON_LIMIT], updated_at=now)
    )
    return bool(done.rowcount)


def settle(connection: Connection, image_id: str, now: float, wait: float = WAIT_SECONDS) -> Outcome:
    """The image's loads, hosts silent for longer than ``wait`` marked failed first."""
    connection.execute(
        update(glance_host_loads)
        .where(_loads.image_id == image_id, _loads.status == PENDING, _loads.created_at < now - wait)
        .values(status=FAILED, reason=f"no answer within {wait:g} s", updated_at=now)
    )
    outcome = Outcome()
    started, last = None, None
    query = select(glance_host_loads).where(_loads.image_id == image_id).order_by(_loads.instance_id)
    rows = connection.execute(query)
    for row in rows:
        started = row.created_at if started is None else min(started, row.created_at)
        if row.status == LOADED:
            outcome.loaded.append(row.instance_arn)
        elif row.status == FAILED:
            outcome.failed[row.instance_arn] = row.reason
        else:
            outcome.pending += 1
            continue
        last = row.updated_at if last is None else max(last, row.updated_at)
    if started is not None and last is not None and not outcome.pending:
        outcome.seconds = last - started
    return outcome


def expire(connection: Connection, now: float, wait: float = WAIT_SECONDS) -> int:
    """Every load silent for longer than ``wait`` failed (uploads have no task that settles them)."""
    done = connection.execute(
        update(glance_host_loads)
        .where(_loads.status == PENDING, _loads.created_at < now - wait)
        .values(status=FAILED, reason=f"no answer within {wait:g} s", updated_at=now)
    )
    return int(done.rowcount or 0)


def forget(connection: Connection, image_id: str) -> None:
    """The image is gone: so are its loads."""
    connection.execute(delete(glance_host_loads).where(_loads.image_id == image_id))


def pending(connection: Connection, limit: int = 1000) -> list[tuple[int, dict[str, Any]]]:
    """The pending loads (oldest first), each with the frame that asks its host for it; one
    look at the status index when there are none, whatever the size of the fleet."""
    query = (
        select(_loads.instance_id, glance_images)
        .join(glance_images, glance_images.c.id == _loads.image_id)
        .where(_loads.status == PENDING)
        .order_by(_loads.created_at, _loads.instance_id)
        .limit(limit)
    )
    return [(row.instance_id, frame(row._mapping)) for row in connection.execute(query)]


def frame(image: Any) -> dict[str, Any]:
    """The ``loadImage`` frame for one image row."""
    docker = image["docker"] or {}
    return {
        "type": "loadImage",
        "imageId": image["id"],
        "name": image["name"],
        "sha512": image["os_hash_value"],
        "format": docker.get("format"),
        "digest": docker.get("digest"),
        "repoTags": docker.get("repo_tags") or [],
    }
