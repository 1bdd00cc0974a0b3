"""access keys bound to one thing (an agent's device key)

A key with a ``thing_name`` may only call the IoT Jobs data plane, and only for that thing:
the agent runs its instance's job executions with it, so one host cannot touch another's.

Revision ID: 0011
Revises: 0009_glance
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0009_glance"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("access_keys") as batch:
        batch.add_column(sa.Column("thing_name", sa.String(128), nullable=True))
    op.create_index("ix_access_keys_things", "access_keys", ["account_id", "thing_name"])


def downgrade() -> None:
    op.drop_index("ix_access_keys_things", "access_keys")
    with op.batch_alter_table("access_keys") as batch:
        batch.drop_column("thing_name")
