"""The tables. Every resource row carries its account and region: nothing is shared across them.

Members that are only stored and returned (a container definition has dozens) live in a
JSON document column; members that are filtered, sorted or joined on are real columns.
Timestamps are epoch seconds (floats), as the AWS JSON protocol wants them.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    Column,
    Float,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.dialects.postgresql import JSONB

metadata = MetaData()

# JSONB on PostgreSQL (binary, indexable), JSON text elsewhere.
Document = JSON().with_variant(JSONB(), "postgresql")


def _scope() -> list[Column[str]]:
    return [Column("account_id", String(12), nullable=False), Column("region", String(32), nullable=False)]


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
    Column("secret_access_key", String(64), nullable=False),
    Column("account_id", String(12), nullable=False),
    Column("user_name", String(64), nullable=False),
    Column("status", String(16), nullable=False),  # Active | Inactive (revoked)
    Column("created_at", Float, nullable=False),
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
    UniqueConstraint("account_id", "region", "name", name="uq_clusters_name"),
)

task_definitions = Table(
    "task_definitions",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    *_scope(),
    Column("family", String(255), nullable=False),
    Column("revision", Integer, nullable=False),
    Column("arn", String(512), nullable=False, unique=True),
    Column("status", String(16), nullable=False),  # ACTIVE | INACTIVE | DELETE_IN_PROGRESS
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
# scanning every revision.
task_definition_families = Table(
    "task_definition_families",
    metadata,
    *_scope(),
    Column("family", String(255), nullable=False),
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
    UniqueConstraint(
        "account_id", "region", "cluster_name", "target_id", "name", name="uq_attributes"
    ),
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
