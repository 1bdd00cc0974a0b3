"""services, their deployments, controller leases; tasks know their deployment

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from dockyard.store.schema import Document

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("tasks", sa.Column("deployment_id", sa.Integer(), nullable=True))
    op.add_column("container_instances", sa.Column("disconnected_at", sa.Float(), nullable=True))
    op.create_index(
        "ix_tasks_service", "tasks", ["account_id", "region", "cluster_name", "service_name", "id"]
    )
    op.create_index("ix_tasks_deployment", "tasks", ["deployment_id", "last_status"])
    op.create_table(
        "services",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("account_id", sa.String(length=12), nullable=False),
        sa.Column("region", sa.String(length=32), nullable=False),
        sa.Column("cluster_name", sa.String(length=255), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("arn", sa.String(length=512), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("scheduling_strategy", sa.String(length=16), nullable=False),
        sa.Column("launch_type", sa.String(length=16), nullable=True),
        sa.Column("desired_count", sa.Integer(), nullable=False),
        sa.Column("task_definition_arn", sa.String(length=512), nullable=False),
        sa.Column("body", Document, nullable=False),
        sa.Column("tags", Document, nullable=False),
        sa.Column("events", Document, nullable=False),
        sa.Column("client_token", sa.String(length=64), nullable=True),
        sa.Column("request_digest", sa.String(length=64), nullable=True),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.Column("created_by", sa.String(length=512), nullable=True),
        sa.Column("deleted_at", sa.Float(), nullable=True),
        sa.Column("due_at", sa.Float(), nullable=True),
        sa.Column("starved", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("failure_streak", sa.Integer(), server_default="0", nullable=False),
        sa.Column("launch_after", sa.Float(), nullable=True),
        sa.Column("steady", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        "ix_services_name", "services", ["account_id", "region", "cluster_name", "name", "status"]
    )
    op.create_index(
        "ix_services_cluster", "services", ["account_id", "region", "cluster_name", "status", "id"]
    )
    op.create_index("ix_services_due", "services", ["due_at"])
    op.create_index("ix_services_token", "services", ["account_id", "region", "client_token"])
    op.create_table(
        "service_deployments",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("account_id", sa.String(length=12), nullable=False),
        sa.Column("region", sa.String(length=32), nullable=False),
        sa.Column("service_id", sa.Integer(), nullable=False),
        sa.Column("deployment_id", sa.String(length=64), nullable=False),
        sa.Column("arn", sa.String(length=512), nullable=False),
        sa.Column("revision_arn", sa.String(length=512), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("rollout_state", sa.String(length=16), nullable=False),
        sa.Column("rollout_state_reason", sa.String(length=1024), nullable=True),
        sa.Column("lifecycle_status", sa.String(length=32), nullable=False),
        sa.Column("status_reason", sa.String(length=1024), nullable=True),
        sa.Column("task_definition_arn", sa.String(length=512), nullable=False),
        sa.Column("desired_count", sa.Integer(), nullable=False),
        sa.Column("failed_tasks", sa.Integer(), nullable=False),
        sa.Column("body", Document, nullable=False),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.Column("updated_at", sa.Float(), nullable=False),
        sa.Column("finished_at", sa.Float(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("arn"),
        sa.UniqueConstraint("revision_arn"),
    )
    op.create_index("ix_service_deployments_service", "service_deployments", ["service_id", "status", "id"])
    op.create_table(
        "service_wakeups",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("service_id", sa.Integer(), nullable=False),
        sa.Column("deployment_id", sa.Integer(), nullable=True),
        sa.Column("failed", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_service_wakeups_service", "service_wakeups", ["service_id", "id"])
    op.create_table(
        "controller_leases",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("holder", sa.String(length=64), nullable=False),
        sa.Column("expires_at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("name"),
    )


def downgrade() -> None:
    op.drop_table("controller_leases")
    op.drop_table("service_wakeups")
    op.drop_table("service_deployments")
    op.drop_table("services")
    op.drop_index("ix_tasks_deployment", table_name="tasks")
    op.drop_index("ix_tasks_service", table_name="tasks")
    op.drop_column("tasks", "deployment_id")
    op.drop_column("container_instances", "disconnected_at")
