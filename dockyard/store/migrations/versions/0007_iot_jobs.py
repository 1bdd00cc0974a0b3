"""AWS IoT things and thing groups; the job engine's jobs, items and templates

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from dockyard.store.schema import Document

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "container_instances", sa.Column("jobs_version", sa.Integer(), nullable=False, server_default="0")
    )
    op.create_table(
        "iot_group_members",
        sa.Column("group_row", sa.Integer(), nullable=False),
        sa.Column("thing_row", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("group_row", "thing_row"),
    )
    op.create_index("ix_iot_group_members_thing", "iot_group_members", ["thing_row"], unique=False)
    op.create_table(
        "iot_thing_groups",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("account_id", sa.String(length=12), nullable=False),
        sa.Column("region", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("group_id", sa.String(length=64), nullable=False),
        sa.Column("parent_name", sa.String(length=128), nullable=True),
        sa.Column("properties", Document, nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("managed", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("query_string", sa.Text(), nullable=True),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("account_id", "region", "name", name="uq_iot_thing_groups_name"),
    )
    op.create_table(
        "iot_things",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("account_id", sa.String(length=12), nullable=False),
        sa.Column("region", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("thing_id", sa.String(length=64), nullable=False),
        sa.Column("thing_type_name", sa.String(length=128), nullable=True),
        sa.Column("attributes", Document, nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("instance_arn", sa.String(length=512), nullable=True),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("account_id", "region", "name", name="uq_iot_things_name"),
    )
    op.create_table(
        "job_items",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("job_row", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.String(length=12), nullable=False),
        sa.Column("region", sa.String(length=32), nullable=False),
        sa.Column("item", sa.String(length=128), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("current", sa.Boolean(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("released", sa.Boolean(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("details", Document, nullable=False),
        sa.Column("queued_at", sa.Float(), nullable=False),
        sa.Column("started_at", sa.Float(), nullable=True),
        sa.Column("updated_at", sa.Float(), nullable=False),
        sa.Column("timeout_at", sa.Float(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("job_row", "item", "number", name="uq_job_items_number"),
    )
    op.create_index(
        "ix_job_items_item", "job_items", ["account_id", "region", "item", "status"], unique=False
    )
    op.create_index(
        "ix_job_items_job_status", "job_items", ["job_row", "current", "status", "released"], unique=False
    )
    op.create_table(
        "job_templates",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("account_id", sa.String(length=12), nullable=False),
        sa.Column("region", sa.String(length=32), nullable=False),
        sa.Column("template_id", sa.String(length=64), nullable=False),
        sa.Column("spec", Document, nullable=False),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("account_id", "region", "template_id", name="uq_job_templates_id"),
    )
    op.create_table(
        "jobs",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("account_id", sa.String(length=12), nullable=False),
        sa.Column("region", sa.String(length=32), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("job_id", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=32), nullable=False),
        sa.Column("spec", Document, nullable=False),
        sa.Column("targets", sa.Text(), nullable=False),
        sa.Column("progress", Document, nullable=False),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.Column("updated_at", sa.Float(), nullable=False),
        sa.Column("completed_at", sa.Float(), nullable=True),
        sa.Column("due_at", sa.Float(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("account_id", "region", "kind", "job_id", name="uq_jobs_id"),
    )
    op.create_index("ix_jobs_due", "jobs", ["due_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("container_instances") as batch:
        batch.drop_column("jobs_version")
    for table in (
        "jobs",
        "job_templates",
        "job_items",
        "iot_things",
        "iot_thing_groups",
        "iot_group_members",
    ):
        op.drop_table(table)
