"""The tables. Every resource row carries its account and region: nothing is shared across them.

Members that are only stored and returned (a container definition has dozens) live in a
JSON document column; members that are filtered, sorted or joined on are real columns.
Timestamps are epoch seconds (floats), as the AWS JSON protocol wants them.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Float,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.sql.expression import false

metadata = MetaData()

# JSONB on PostgreSQL (binary, indexable), JSON text elsewhere.
Document = JSON().with_variant(JSONB(), "postgresql")


def _scope() -> list[Column[str]]:
    return [Column("account_id", String(12), nullable=False), Column("region", String(32), nullable=False)]


# Task definition families sort by code point, as ECS lists them, and a family prefix is then
# one index range: COLLATE "C" on PostgreSQL (whose default may be a locale's collation);
# SQLite's default (BINARY) already is.
FamilyName = String(255).with_variant(String(255, collation="C"), "postgresql")


server_settings = Table(
    "server_settings",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("value", Text, nullable=False),
)

access_keys = Table(
    "access_keys",
    metadata,
    Column("access_key_id", String(32), primary_key=True),
    Column("secret_access_key", String(256), nullable=False),  # sealed: identity.sealing
    Column("account_id", String(12), nullable=False),
    Column("user_name", String(64), nullable=False),
    Column("status", String(16), nullable=False),  # Active | Inactive (revoked)
    Column("created_at", Float, nullable=False),
    # A device key: it may only call the IoT Jobs data plane, as this thing (an agent's).
    Column("thing_name", String(128), nullable=True),
    Index("ix_access_keys_things", "account_id", "thing_name"),
)

clusters = Table(
    "clusters",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    *_scope(),
    Column("name", String(255), nullable=False),
    Column("arn", String(512), nullable=False, unique=True),
    Column("status", String(16), nullable=False),
    Column("settings", Document, nullable=False),
    Column("configuration", Document),
    Column("capacity_providers", Document, nullable=False),
    Column("default_capacity_provider_strategy", Document, nullable=False),
    Column("service_connect_defaults", Document),
    Column("tags", Document, nullable=False),
    Column("created_at", Float, nullable=False),
    Column("deleted_at", Float),  # INACTIVE since; the janitor purges it after a retention
    # Moves forward with every committed change placement sees (ecs/placement_cache.py).
    Column("placement_version", Integer, nullable=False, default=0, server_default="0"),
    UniqueConstraint("account_id", "region", "name", name="uq_clusters_name"),
)

task_definitions = Table(
    "task_definitions",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    *_scope(),
    Column("family", FamilyName, nullable=False),
    Column("revision", Integer, nullable=False),
    Column("arn", String(512), nullable=False, unique=True),
    Column("status", String(32), nullable=False),  # ACTIVE | INACTIVE | DELETE_IN_PROGRESS
    Column("body", Document, nullable=False),
    Column("tags", Document, nullable=False),
    Column("registered_at", Float, nullable=False),
    Column("registered_by", String(512)),
    Column("deregistered_at", Float),
    Column("delete_requested_at", Float),
    UniqueConstraint("account_id", "region", "family", "revision", name="uq_task_definitions_rev"),
    Index("ix_task_definitions_status", "account_id", "region", "status", "family", "revision"),
)

# One row per family: hands out revisions and answers ListTaskDefinitionFamilies without
# scanning every revision. inactive_revisions counts the deregistered ones, deleting or not.
task_definition_families = Table(
    "task_definition_families",
    metadata,
    *_scope(),
    Column("family", FamilyName, nullable=False),
    Column("latest_revision", Integer, nullable=False),
    Column("active_revisions", Integer, nullable=False),
    Column("inactive_revisions", Integer, nullable=False),
    UniqueConstraint("account_id", "region", "family", name="uq_task_definition_families"),
)

attributes = Table(
    "attributes",
    metadata,
    *_scope(),
    Column("cluster_name", String(255), nullable=False),
    Column("target_type", String(32), nullable=False),
    Column("target_id", String(512), nullable=False),
    Column("name", String(128), nullable=False),
    Column("value", String(128)),
    UniqueConstraint("account_id", "region", "cluster_name", "target_id", "name", name="uq_attributes"),
    Index("ix_attributes_name", "account_id", "region", "cluster_name", "name", "target_id"),
)

# principal_arn is "" for the account's default (PutAccountSettingDefault).
account_settings = Table(
    "account_settings",
    metadata,
    *_scope(),
    Column("principal_arn", String(512), nullable=False),
    Column("name", String(64), nullable=False),
    Column("value", String(64), nullable=False),
    UniqueConstraint("account_id", "region", "principal_arn", "name", name="uq_account_settings"),
)

container_instances = Table(
    "container_instances",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    *_scope(),
    Column("cluster_name", String(255), nullable=False),
    Column("instance_id", String(64), nullable=False),  # the ECS id (hex), last part of the ARN
    Column("arn", String(512), nullable=False, unique=True),
    Column("ec2_instance_id", String(64), nullable=False),
    Column("external", Boolean, nullable=False),  # ECS Anywhere ("mi-...") instance
    Column("status", String(16), nullable=False),  # ACTIVE | DRAINING | INACTIVE
    Column("status_reason", String(256)),
    Column("version_info", Document, nullable=False),
    Column("registered_resources", Document, nullable=False),
    Column("identity_document", Document),
    Column("total_cpu", Integer, nullable=False),
    Column("total_memory", Integer, nullable=False),
    Column("total_gpus", Document, nullable=False),  # GPU ids the instance registered
    # What running and pending tasks hold; changed only with a version check (optimistic
    # concurrency), so two placements can never overcommit an instance.
    Column("used_cpu", Integer, nullable=False),
    Column("used_memory", Integer, nullable=False),
    Column("used_ports", Document, nullable=False),  # ["tcp:80", "udp:53", ...]
    Column("used_gpus", Document, nullable=False),
    Column("reserved_ports", Document, nullable=False),  # registered PORTS / PORTS_UDP
    Column("version", Integer, nullable=False),
    Column("desired_version", Integer, nullable=False),  # bumps when its desired state changes
    Column("tags", Document, nullable=False),
    Column("registered_at", Float, nullable=False),
    Column("last_seen_at", Float),  # the agent's last sign of life; None once it disconnected
    Column("disconnected_at", Float),  # when its last connection closed (for "lost")
    Column("agent_update_status", String(32)),
    # The cluster's placement_version of this instance's last change placement sees.
    Column("placement_version", Integer, nullable=False, default=0, server_default="0"),
    # Moves when the instance's thing has new job work (or work taken away): the agent looks.
    Column("jobs_version", Integer, nullable=False, default=0, server_default="0"),
    UniqueConstraint("account_id", "region", "cluster_name", "instance_id", name="uq_instances_id"),
    Index("ix_instances_cluster", "account_id", "region", "cluster_name", "status", "id"),
    Index("ix_instances_ec2", "account_id", "region", "cluster_name", "ec2_instance_id"),
    Index("ix_instances_placement", "account_id", "region", "cluster_name", "placement_version"),
)


def _where_set(name: str, column: str, *columns: str) -> Index:
    """A partial index over the rows whose ``column`` is set; a query comparing that column
    (``=``, ``IN``, ``<``) implies it is set, so both SQLite and PostgreSQL can use it."""
    condition = text(f"{column} IS NOT NULL")
    return Index(name, *columns, sqlite_where=condition, postgresql_where=condition)


tasks = Table(
    "tasks",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    *_scope(),
    Column("cluster_name", String(255), nullable=False),
    Column("task_id", String(64), nullable=False),  # hex id, the last part of the ARN
    Column("arn", String(512), nullable=False),  # unique through uq_tasks_id: it holds the task id
    Column("container_instance_id", Integer),  # container_instances.id; None while unplaced
    Column("task_definition_arn", String(512), nullable=False),
    Column("family", String(255), nullable=False),
    Column("launch_type", String(16), nullable=False),
    Column("last_status", String(16), nullable=False),
    Column("desired_status", String(16), nullable=False),
    Column("group_name", String(255)),
    Column("started_by", String(128)),
    Column("service_name", String(255)),
    Column("cpu", Integer, nullable=False),  # what the task holds on its instance
    Column("memory", Integer, nullable=False),
    Column("ports", Document, nullable=False),
    Column("gpus", Document, nullable=False),
    Column("overrides", Document, nullable=False),
    Column("containers", Document, nullable=False),
    Column("attributes", Document, nullable=False),  # other Task members, stored as given
    Column("tags", Document, nullable=False),
    Column("health_status", String(16), nullable=False),
    Column("stop_code", String(64)),
    Column("stopped_reason", String(1024)),
    Column("created_at", Float, nullable=False),
    Column("pull_started_at", Float),
    Column("pull_stopped_at", Float),
    Column("started_at", Float),
    Column("stopping_at", Float),
    Column("stopped_at", Float),
    Column("execution_stopped_at", Float),
    Column("connectivity_at", Float),
    Column("version", Integer, nullable=False),
    Column("client_token", String(64)),  # RunTask's idempotency token
    Column("deployment_id", Integer),  # service_deployments.id of a service's task
    # Its instance's desired_version when the task's entry in the agent's frames last changed
    # (placed, told to stop, stopped): a delta frame reads only the tasks stamped past its base.
    Column("frame_version", Integer),
    UniqueConstraint("account_id", "region", "task_id", name="uq_tasks_id"),
    # Indexes on columns most tasks leave empty hold only the tasks that have them: each index
    # is a B-tree insert per task placed (migration 0013).
    _where_set("ix_tasks_client_token", "client_token", "account_id", "region", "client_token"),
    Index("ix_tasks_cluster", "account_id", "region", "cluster_name", "desired_status", "id"),
    Index("ix_tasks_cluster_status", "account_id", "region", "cluster_name", "last_status"),  # counts
    Index("ix_tasks_family", "account_id", "region", "cluster_name", "family", "id"),
    _where_set(
        "ix_tasks_started_by", "started_by", "account_id", "region", "cluster_name", "started_by", "id"
    ),
    _where_set("ix_tasks_stopped", "stopped_at", "last_status", "stopped_at"),
    _where_set(
        "ix_tasks_service", "service_name", "account_id", "region", "cluster_name", "service_name", "id"
    ),
    _where_set("ix_tasks_deployment", "deployment_id", "deployment_id", "last_status"),
    # An instance's tasks, one index for all its queries (migration 0014): a delta frame's
    # range of stamps, and its live tasks counted or listed without reading the rows. A report's
    # status change moves the entry within its leaf (the stamp comes first), not across a
    # second index keyed by instance, which put a random page in every commit.
    Index("ix_tasks_instance", "container_instance_id", "frame_version", "last_status"),
)

services = Table(
    "services",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    *_scope(),
    Column("cluster_name", String(255), nullable=False),
    Column("name", String(255), nullable=False),
    # Not unique: a service re-created after a delete has the ARN of the INACTIVE one.
    Column("arn", String(512), nullable=False),
    Column("status", String(16), nullable=False),  # ACTIVE | DRAINING | INACTIVE
    Column("scheduling_strategy", String(16), nullable=False),  # REPLICA | DAEMON
    Column("launch_type", String(16)),
    Column("desired_count", Integer, nullable=False),
    Column("task_definition_arn", String(512), nullable=False),
    Column("body", Document, nullable=False),  # members only stored and echoed
    Column("tags", Document, nullable=False),
    Column("events", Document, nullable=False),  # newest first, bounded
    Column("client_token", String(64)),
    Column("request_digest", String(64)),  # what the clientToken was first used for
    Column("created_at", Float, nullable=False),
    Column("created_by", String(512)),
    Column("deleted_at", Float),
    # When the scheduler must look again (a timer, or now after the service itself changed):
    # written only by whoever holds the row's lock. Wake-ups from elsewhere are rows of
    # service_wakeups.
    Column("due_at", Float),
    Column("starved", Boolean, nullable=False, default=False, server_default=false()),  # a task unplaced
    Column("failure_streak", Integer, nullable=False, default=0, server_default="0"),
    Column("launch_after", Float),  # throttled: no launch before this time
    Column("steady", Boolean, nullable=False, default=False, server_default=false()),
    Column("version", Integer, nullable=False),
    Index("ix_services_name", "account_id", "region", "cluster_name", "name", "status"),
    Index("ix_services_cluster", "account_id", "region", "cluster_name", "status", "id"),
    Index("ix_services_due", "due_at"),
    Index("ix_services_token", "account_id", "region", "client_token"),
)

# Wake-ups for the service scheduler from other transactions (a task of the service stopped,
# an instance of its cluster changed): inserted, never updated, so the writer takes no lock on
# the service's row, which the scheduler holds while it reconciles (ecs/services/wake.py).
service_wakeups = Table(
    "service_wakeups",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("service_id", Integer, nullable=False),
    Column("deployment_id", Integer),  # with failed: whose failed task
    Column("failed", Boolean, nullable=False, default=False, server_default=false()),
    Index("ix_service_wakeups_service", "service_id", "id"),
)

# A service's deployments: PRIMARY (the target), ACTIVE (being replaced), INACTIVE (done).
service_deployments = Table(
    "service_deployments",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    *_scope(),
    Column("service_id", Integer, nullable=False),
    Column("deployment_id", String(64), nullable=False),  # ecs-svc/<19 digits>
    Column("arn", String(512), nullable=False, unique=True),  # the service deployment ARN
    Column("revision_arn", String(512), nullable=False, unique=True),  # its service revision
    Column("status", String(16), nullable=False),
    Column("rollout_state", String(16), nullable=False),
    Column("rollout_state_reason", String(1024)),
    Column("lifecycle_status", String(32), nullable=False),  # ServiceDeploymentStatus
    Column("status_reason", String(1024)),
    Column("task_definition_arn", String(512), nullable=False),
    Column("desired_count", Integer, nullable=False),
    Column("failed_tasks", Integer, nullable=False),
    Column("body", Document, nullable=False),  # launch type, network, configuration, rollback
    Column("created_at", Float, nullable=False),
    Column("updated_at", Float, nullable=False),
    Column("finished_at", Float),
    Index("ix_service_deployments_service", "service_id", "status", "id"),
)

# Which process leads each controller (controllers/leases.py).
controller_leases = Table(
    "controller_leases",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("holder", String(64), nullable=False),
    Column("expires_at", Float, nullable=False),
)

container_logs = Table(
    "container_logs",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    *_scope(),
    Column("task_id", String(64), nullable=False),
    Column("container_name", String(255), nullable=False),
    Column("at", Float, nullable=False),
    Column("line", Text, nullable=False),
    Index("ix_container_logs_task", "account_id", "region", "task_id", "container_name", "id"),
)

# AWS IoT things and thing groups (dockyard/iot/). A container instance's thing carries the
# instance's id; a cluster's managed group is marked ``managed``.
iot_things = Table(
    "iot_things",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    *_scope(),
    Column("name", String(128), nullable=False),
    Column("thing_id", String(64), nullable=False),
    Column("thing_type_name", String(128)),
    Column("attributes", Document, nullable=False),
    Column("version", Integer, nullable=False),
    Column("instance_arn", String(512)),  # the container instance this thing is, if one
    Column("created_at", Float, nullable=False),
    UniqueConstraint("account_id", "region", "name", name="uq_iot_things_name"),
)

iot_thing_groups = Table(
    "iot_thing_groups",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    *_scope(),
    Column("name", String(128), nullable=False),
    Column("group_id", String(64), nullable=False),
    Column("parent_name", String(128)),
    Column("properties", Document, nullable=False),  # description, attributes
    Column("version", Integer, nullable=False),
    Column("managed", Boolean, nullable=False, default=False, server_default=false()),
    Column("query_string", Text),  # a dynamic group's fleet-indexing query (iot/fleet_query.py)
    Column("created_at", Float, nullable=False),
    UniqueConstraint("account_id", "region", "name", name="uq_iot_thing_groups_name"),
)

iot_group_members = Table(
    "iot_group_members",
    metadata,
    Column("group_row", Integer, primary_key=True),
    Column("thing_row", Integer, primary_key=True),
    Index("ix_iot_group_members_thing", "thing_row"),
)

# The job engine (dockyard/jobs/): a job and one row per item (an IoT job execution: the
# thing and its execution number). ``kind`` names the API the job belongs to.
jobs = Table(
    "jobs",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    *_scope(),
    Column("kind", String(16), nullable=False),
    Column("job_id", String(64), nullable=False),
    Column("status", String(32), nullable=False),
    Column("spec", Document, nullable=False),  # what the API was given (document, configs, tags)
    # Its targets (ARNs), one a line: a job may name thousands, and a JSON document would be
    # parsed whole on every read of the job.
    Column("targets", Text, nullable=False),
    Column("progress", Document, nullable=False),  # rollout state, reason, force flags
    Column("created_at", Float, nullable=False),
    Column("updated_at", Float, nullable=False),
    Column("completed_at", Float),
    Column("due_at", Float),  # when the engine looks at it next (None: when something changes)
    UniqueConstraint("account_id", "region", "kind", "job_id", name="uq_jobs_id"),
    Index("ix_jobs_due", "due_at"),
)

job_items = Table(
    "job_items",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("job_row", Integer, nullable=False),
    *_scope(),
    Column("item", String(128), nullable=False),  # the thing name
    Column("number", Integer, nullable=False),  # the execution number: a retry is a new one
    Column("attempt", Integer, nullable=False),  # retries before this one
    Column("current", Boolean, nullable=False),  # the item's latest number (what counts)
    Column("status", String(16), nullable=False),
    Column("released", Boolean, nullable=False),  # rolled out: the device may see it
    Column("version", Integer, nullable=False),
    Column("details", Document, nullable=False),  # statusDetails, forceCanceled, step timeout
    Column("queued_at", Float, nullable=False),
    Column("started_at", Float),
    Column("updated_at", Float, nullable=False),
    Column("timeout_at", Float),
    UniqueConstraint("job_row", "item", "number", name="uq_job_items_number"),
    Index("ix_job_items_item", "account_id", "region", "item", "status"),
    Index("ix_job_items_job_status", "job_row", "current", "status", "released"),
)

job_templates = Table(
    "job_templates",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    *_scope(),
    Column("template_id", String(64), nullable=False),
    Column("spec", Document, nullable=False),
    Column("created_at", Float, nullable=False),
    UniqueConstraint("account_id", "region", "template_id", name="uq_job_templates_id"),
)

# The object store's buckets: an account's bucket name and the backing store's bucket that holds
# it (dockyard.objectstore.names). Names are per account: two accounts may both have "data".
object_buckets = Table(
    "object_buckets",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("account_id", String(12), nullable=False),
    Column("region", String(32), nullable=False),
    Column("name", String(63), nullable=False),
    Column("backing_bucket", String(63), nullable=False),
    Column("created_at", Float, nullable=False),
    UniqueConstraint("account_id", "name", name="uq_object_buckets_name"),
)

# Glance v2 (dockyard.glance): an account's import tasks and its images. Not regional: a
# Keystone project is an account, and Glance has one catalogue per deployment.
glance_tasks = Table(
    "glance_tasks",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("account_id", String(12), nullable=False),
    Column("type", String(32), nullable=False),
    Column("status", String(16), nullable=False),
    Column("input", Document, nullable=False),
    Column("result", Document, nullable=True),
    Column("message", Text, nullable=False, server_default=""),
    Column("user_id", String(64), nullable=False),
    Column("request_id", String(64), nullable=False),
    Column("image_id", String(36), nullable=True),
    Column("created_at", Float, nullable=False),
    Column("updated_at", Float, nullable=False),
    Column("expires_at", Float, nullable=True),
    Index("ix_glance_tasks_account_created", "account_id", "created_at", "id"),
    Index("ix_glance_tasks_status", "status"),
    Index("ix_glance_tasks_account_status", "account_id", "status", "id"),  # glance task-list's order
)

glance_images = Table(
    "glance_images",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("account_id", String(12), nullable=False),
    Column("name", String(255), nullable=True),
    Column("status", String(16), nullable=False),
    Column("container_format", String(32), nullable=True),
    Column("disk_format", String(32), nullable=True),
    Column("size", BigInteger, nullable=True),
    Column("checksum", String(32), nullable=True),
    Column("os_hash_value", String(128), nullable=True),
    Column("object_key", String(255), nullable=True),  # in the image store's bucket
    Column("docker", Document, nullable=True),  # what the archive holds: digest, repo tags, format
    Column("tags", Document, nullable=False),
    Column("properties", Document, nullable=False),  # the user's own (string) properties
    Column("protected", Boolean, nullable=False, server_default=false()),
    Column("min_ram", Integer, nullable=False, server_default="0"),
    Column("min_disk", Integer, nullable=False, server_default="0"),
    Column("created_at", Float, nullable=False),
    Column("updated_at", Float, nullable=False),
    Index("ix_glance_images_account_created", "account_id", "created_at", "id"),
)

# An active image going to the Docker hosts of its account that were connected when it turned
# active: one row per host, pending until the host's agent answers (or the wait runs out).
glance_host_loads = Table(
    "glance_host_loads",
    metadata,
    Column("image_id", String(36), primary_key=True),
    Column("instance_id", Integer, primary_key=True),  # container_instances.id
    Column("instance_arn", String(512), nullable=False),
    Column("status", String(16), nullable=False),  # pending | loaded | failed
    Column("reason", Text, nullable=False, server_default=""),
    Column("created_at", Float, nullable=False),
    Column("updated_at", Float, nullable=False),
    Index("ix_glance_host_loads_status", "status", "instance_id"),
)
