"""Glance: an active image's loads on the Docker hosts of its account

Revision ID: 0012_glance_host_loads
Revises: 0011
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012_glance_host_loads"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "glance_host_loads",
        sa.Column("image_id", sa.String(length=36), nullable=False),
        sa.Column("instance_id", sa.Integer(), nullable=False),
        sa.Column("instance_arn", sa.String(length=512), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.Text(), server_default="", nullable=False),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.Column("updated_at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("image_id", "instance_id"),
    )
    op.create_index("ix_glance_host_loads_status", "glance_host_loads", ["status", "instance_id"])


def downgrade() -> None:
    op.drop_index("ix_glance_host_loads_status", "glance_host_loads")
    op.drop_table("glance_host_loads")
