"""Glance v2: import tasks and images

Revision ID: 0009_glance
Revises: 0010_object_store
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from dockyard.store.schema import Document

revision = "0009_glance"
down_revision = "0010_object_store"  # the object store came first: the image store lives in it
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "glance_tasks",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("account_id", sa.String(length=12), nullable=False),
        sa.Column("type", sa.String(length=32), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("input", Document, nullable=False),
        sa.Column("result", Document, nullable=True),
        sa.Column("message", sa.Text(), server_default="", nullable=False),
        sa.Column("user_id", sa.String(length=64), nullable=False),
        sa.Column("request_id", sa.String(length=64), nullable=False),
        sa.Column("image_id", sa.String(length=36), nullable=True),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.Column("updated_at", sa.Float(), nullable=False),
        sa.Column("expires_at", sa.Float(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        "ix_glance_tasks_account_created", "glance_tasks", ["account_id", "created_at", "id"], unique=False
    )
    op.create_index("ix_glance_tasks_status", "glance_tasks", ["status"], unique=False)
    op.create_index(
        "ix_glance_tasks_account_status", "glance_tasks", ["account_id", "status", "id"], unique=False
    )
    op.create_table(
        "glance_images",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("account_id", sa.String(length=12), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("container_format", sa.String(length=32), nullable=True),
        sa.Column("disk_format", sa.String(length=32), nullable=True),
        sa.Column("size", sa.BigInteger(), nullable=True),
        sa.Column("checksum", sa.String(length=32), nullable=True),
        sa.Column("os_hash_value", sa.String(length=128), nullable=True),
        sa.Column("object_key", sa.String(length=255), nullable=True),
        sa.Column("docker", Document, nullable=True),
        sa.Column("tags", Document, nullable=False),
        sa.Column("properties", Document, nullable=False),
        sa.Column("protected", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("min_ram", sa.Integer(), server_default="0", nullable=False),
        sa.Column("min_disk", sa.Integer(), server_default="0", nullable=False),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.Column("updated_at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        "ix_glance_images_account_created", "glance_images", ["account_id", "created_at", "id"], unique=False
    )


def downgrade() -> None:
    op.drop_index("ix_glance_images_account_created", table_name="glance_images")
    op.drop_table("glance_images")
    op.drop_index("ix_glance_tasks_account_status", table_name="glance_tasks")
    op.drop_index("ix_glance_tasks_status", table_name="glance_tasks")
    op.drop_index("ix_glance_tasks_account_created", table_name="glance_tasks")
    op.drop_table("glance_tasks")
