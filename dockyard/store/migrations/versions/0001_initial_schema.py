"""initial schema

Revision ID: 0001
Revises:
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from dockyard.store.schema import Document

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:

    op.create_table(
        "access_keys",
        sa.Column("access_key_id", sa.String(length=32), nullable=False),
        sa.Column("secret_access_key", sa.String(length=64), nullable=False),
        sa.Column("account_id", sa.String(length=12), nullable=False),
        sa.Column("user_name", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("access_key_id"),
    )
    op.create_table(
        "account_settings",
        sa.Column("account_id", sa.String(length=12), nullable=False),
        sa.Column("region", sa.String(length=32), nullable=False),
        sa.Column("principal_arn", sa.String(length=512), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("value", sa.String(length=64), nullable=False),
        sa.UniqueConstraint("account_id", "region", "principal_arn", "name", name="uq_account_settings"),
    )
    op.create_table(
        "attributes",
        sa.Column("account_id", sa.String(length=12), nullable=False),
        sa.Column("region", sa.String(length=32), nullable=False),
        sa.Column("cluster_name", sa.String(length=255), nullable=False),
        sa.Column("target_type", sa.String(length=32), nullable=False),
        sa.Column("target_id", sa.String(length=512), nullable=False),
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("value", sa.String(length=128), nullable=True),
        sa.UniqueConstraint(
            "account_id", "region", "cluster_name", "target_id", "name", name="uq_attributes"
        ),
    )
    with op.batch_alter_table("attributes", schema=None) as batch_op:
        batch_op.create_index(
            "ix_attributes_name", ["account_id", "region", "cluster_name", "name", "target_id"], unique=False
        )

    op.create_table(
        "clusters",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("account_id", sa.String(length=12), nullable=False),
        sa.Column("region", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("arn", sa.String(length=512), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("settings", Document, nullable=False),
        sa.Column("configuration", Document, nullable=True),
        sa.Column("capacity_providers", Document, nullable=False),
        sa.Column("default_capacity_provider_strategy", Document, nullable=False),
        sa.Column("service_connect_defaults", Document, nullable=True),
        sa.Column("tags", Document, nullable=False),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.Column("placement_version", sa.Integer(), server_default="0", nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("account_id", "region", "name", name="uq_clusters_name"),
        sa.UniqueConstraint("arn"),
    )
    op.create_table(
        "container_instances",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("account_id", sa.String(length=12), nullable=False),
        sa.Column("region", sa.String(length=32), nullable=False),
        sa.Column("cluster_name", sa.String(length=255), nullable=False),
        sa.Column("instance_id", sa.String(length=64), nullable=False),
        sa.Column("arn", sa.String(length=512), nullable=False),
        sa.Column("ec2_instance_id", sa.String(length=64), nullable=False),
        sa.Column("external", sa.Boolean(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("status_reason", sa.String(length=256), nullable=True),
        sa.Column("version_info", Document, nullable=False),
        sa.Column("registered_resources", Document, nullable=False),
        sa.Column("identity_document", Document, nullable=True),
        sa.Column("total_cpu", sa.Integer(), nullable=False),
        sa.Column("total_memory", sa.Integer(), nullable=False),
        sa.Column("total_gpus", Document, nullable=False),
        sa.Column("used_cpu", sa.Integer(), nullable=False),
        sa.Column("used_memory", sa.Integer(), nullable=False),
        sa.Column("used_ports", Document, nullable=False),
        sa.Column("used_gpus", Document, nullable=False),
        sa.Column("reserved_ports", Document, nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("desired_version", sa.Integer(), nullable=False),
        sa.Column("tags", Document, nullable=False),
        sa.Column("registered_at", sa.Float(), nullable=False),
        sa.Column("last_seen_at", sa.Float(), nullable=True),
        sa.Column("agent_update_status", sa.String(length=32), nullable=True),
        sa.Column("placement_version", sa.Integer(), server_default="0", nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("account_id", "region", "cluster_name", "instance_id", name="uq_instances_id"),
        sa.UniqueConstraint("arn"),
    )
    with op.batch_alter_table("container_instances", schema=None) as batch_op:
        batch_op.create_index(
            "ix_instances_cluster", ["account_id", "region", "cluster_name", "status", "id"], unique=False
        )
        batch_op.create_index(
            "ix_instances_ec2", ["account_id", "region", "cluster_name", "ec2_instance_id"], unique=False
        )
        batch_op.create_index(
            "ix_instances_placement",
            ["account_id", "region", "cluster_name", "placement_version"],
            unique=False,
        )

    op.create_table(
        "container_logs",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("account_id", sa.String(length=12), nullable=False),
        sa.Column("region", sa.String(length=32), nullable=False),
        sa.Column("task_id", sa.String(length=64), nullable=False),
        sa.Column("container_name", sa.String(length=255), nullable=False),
        sa.Column("at", sa.Float(), nullable=False),
        sa.Column("line", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("container_logs", schema=None) as batch_op:
        batch_op.create_index(
            "ix_container_logs_task",
            ["account_id", "region", "task_id", "container_name", "id"],
            unique=False,
        )

    op.create_table(
        "server_settings",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("name"),
    )
    op.create_table(
        "task_definition_families",
        sa.Column("account_id", sa.String(length=12), nullable=False),
        sa.Column("region", sa.String(length=32), nullable=False),
        sa.Column(
            "family",
            sa.String(length=255).with_variant(sa.String(length=255, collation="C"), "postgresql"),
            nullable=False,
        ),
        sa.Column("latest_revision", sa.Integer(), nullable=False),
        sa.Column("active_revisions", sa.Integer(), nullable=False),
        sa.Column("inactive_revisions", sa.Integer(), nullable=False),
        sa.UniqueConstraint("account_id", "region", "family", name="uq_task_definition_families"),
    )
    op.create_table(
        "task_definitions",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("account_id", sa.String(length=12), nullable=False),
        sa.Column("region", sa.String(length=32), nullable=False),
        sa.Column(
            "family",
            sa.String(length=255).with_variant(sa.String(length=255, collation="C"), "postgresql"),
            nullable=False,
        ),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("arn", sa.String(length=512), nullable=False),
        sa.Column("status", sa.String(length=32), nullable=False),
        sa.Column("body", Document, nullable=False),
        sa.Column("tags", Document, nullable=False),
        sa.Column("registered_at", sa.Float(), nullable=False),
        sa.Column("registered_by", sa.String(length=512), nullable=True),
        sa.Column("deregistered_at", sa.Float(), nullable=True),
        sa.Column("delete_requested_at", sa.Float(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("account_id", "region", "family", "revision", name="uq_task_definitions_rev"),
        sa.UniqueConstraint("arn"),
    )
    with op.batch_alter_table("task_definitions", schema=None) as batch_op:
        batch_op.create_index(
            "ix_task_definitions_status",
            ["account_id", "region", "status", "family", "revision"],
            unique=False,
        )

    op.create_table(
        "tasks",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("account_id", sa.String(length=12), nullable=False),
        sa.Column("region", sa.String(length=32), nullable=False),
        sa.Column("cluster_name", sa.String(length=255), nullable=False),
        sa.Column("task_id", sa.String(length=64), nullable=False),
        sa.Column("arn", sa.String(length=512), nullable=False),
        sa.Column("container_instance_id", sa.Integer(), nullable=True),
        sa.Column("task_definition_arn", sa.String(length=512), nullable=False),
        sa.Column("family", sa.String(length=255), nullable=False),
        sa.Column("launch_type", sa.String(length=16), nullable=False),
        sa.Column("last_status", sa.String(length=16), nullable=False),
        sa.Column("desired_status", sa.String(length=16), nullable=False),
        sa.Column("group_name", sa.String(length=255), nullable=True),
        sa.Column("started_by", sa.String(length=128), nullable=True),
        sa.Column("service_name", sa.String(length=255), nullable=True),
        sa.Column("cpu", sa.Integer(), nullable=False),
        sa.Column("memory", sa.Integer(), nullable=False),
        sa.Column("ports", Document, nullable=False),
        sa.Column("gpus", Document, nullable=False),
        sa.Column("overrides", Document, nullable=False),
        sa.Column("containers", Document, nullable=False),
        sa.Column("attributes", Document, nullable=False),
        sa.Column("tags", Document, nullable=False),
        sa.Column("health_status", sa.String(length=16), nullable=False),
        sa.Column("stop_code", sa.String(length=64), nullable=True),
        sa.Column("stopped_reason", sa.String(length=1024), nullable=True),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.Column("pull_started_at", sa.Float(), nullable=True),
        sa.Column("pull_stopped_at", sa.Float(), nullable=True),
        sa.Column("started_at", sa.Float(), nullable=True),
        sa.Column("stopping_at", sa.Float(), nullable=True),
        sa.Column("stopped_at", sa.Float(), nullable=True),
        sa.Column("execution_stopped_at", sa.Float(), nullable=True),
        sa.Column("connectivity_at", sa.Float(), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("client_token", sa.String(length=64), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("account_id", "region", "task_id", name="uq_tasks_id"),
        sa.UniqueConstraint("arn"),
    )
    with op.batch_alter_table("tasks", schema=None) as batch_op:
        batch_op.create_index("ix_tasks_client_token", ["account_id", "region", "client_token"], unique=False)
        batch_op.create_index(
            "ix_tasks_cluster", ["account_id", "region", "cluster_name", "desired_status", "id"], unique=False
        )
        batch_op.create_index(
            "ix_tasks_family", ["account_id", "region", "cluster_name", "family", "id"], unique=False
        )
        batch_op.create_index("ix_tasks_instance", ["container_instance_id", "last_status"], unique=False)
        batch_op.create_index(
            "ix_tasks_started_by", ["account_id", "region", "cluster_name", "started_by", "id"], unique=False
        )
        batch_op.create_index("ix_tasks_stopped", ["last_status", "stopped_at"], unique=False)


def downgrade() -> None:

    with op.batch_alter_table("tasks", schema=None) as batch_op:
        batch_op.drop_index("ix_tasks_stopped")
        batch_op.drop_index("ix_tasks_started_by")
        batch_op.drop_index("ix_tasks_instance")
        batch_op.drop_index("ix_tasks_family")
        batch_op.drop_index("ix_tasks_cluster")
        batch_op.drop_index("ix_tasks_client_token")

    op.drop_table("tasks")
    with op.batch_alter_table("task_definitions", schema=None) as batch_op:
        batch_op.drop_index("ix_task_definitions_status")

    op.drop_table("task_definitions")
    op.drop_table("task_definition_families")
    op.drop_table("server_settings")
    with op.batch_alter_table("container_logs", schema=None) as batch_op:
        batch_op.drop_index("ix_container_logs_task")

    op.drop_table("container_logs")
    with op.batch_alter_table("container_instances", schema=None) as batch_op:
        batch_op.drop_index("ix_instances_placement")
        batch_op.drop_index("ix_instances_ec2")
        batch_op.drop_index("ix_instances_cluster")

    op.drop_table("container_instances")
    op.drop_table("clusters")
    with op.batch_alter_table("attributes", schema=None) as batch_op:
        batch_op.drop_index("ix_attributes_name")

    op.drop_table("attributes")
    op.drop_table("account_settings")
    op.drop_table("access_keys")
