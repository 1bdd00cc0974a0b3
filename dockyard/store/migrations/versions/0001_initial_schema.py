"""initial schema

Revision ID: 0001
Revises:
Create Date: 2026-11-26 15:35:29.952476
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
        sa.UniqueConstraint(
            "account_id", "region", "principal_arn", "name", name="uq_account_settings"
        ),
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
            "ix_attributes_name",
            ["account_id", "region", "cluster_name", "name", "target_id"],
            unique=False,
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
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("account_id", "region", "name", name="uq_clusters_name"),
        sa.UniqueConstraint("arn"),
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
        sa.Column("family", sa.String(length=255), nullable=False),
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
        sa.Column("family", sa.String(length=255), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("arn", sa.String(length=512), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("body", Document, nullable=False),
        sa.Column("tags", Document, nullable=False),
        sa.Column("registered_at", sa.Float(), nullable=False),
        sa.Column("registered_by", sa.String(length=512), nullable=True),
        sa.Column("deregistered_at", sa.Float(), nullable=True),
        sa.Column("delete_requested_at", sa.Float(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint(
            "account_id", "region", "family", "revision", name="uq_task_definitions_rev"
        ),
        sa.UniqueConstraint("arn"),
    )
    with op.batch_alter_table("task_definitions", schema=None) as batch_op:
        batch_op.create_index(
            "ix_task_definitions_status",
            ["account_id", "region", "status", "family", "revision"],
            unique=False,
        )


def downgrade() -> None:

    with op.batch_alter_table("task_definitions", schema=None) as batch_op:
        batch_op.drop_index("ix_task_definitions_status")

    op.drop_table("task_definitions")
    op.drop_table("task_definition_families")
    op.drop_table("server_settings")
    op.drop_table("clusters")
    with op.batch_alter_table("attributes", schema=None) as batch_op:
        batch_op.drop_index("ix_attributes_name")

    op.drop_table("attributes")
    op.drop_table("account_settings")
    op.drop_table("access_keys")
