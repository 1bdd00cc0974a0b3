"""tasks.frame_version: where a task's entry in its instance's state frames last changed

Delta state frames (docs/agent-protocol.md) read the tasks of an instance stamped past the
version the connection last sent, through ``ix_tasks_frames``, instead of every live task of
the instance. Tasks placed before have no stamp: they reach agents in the full frame every
connection starts with, and get one at their next change.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("tasks") as batch:
        batch.add_column(sa.Column("frame_version", sa.Integer(), nullable=True))
    op.create_index("ix_tasks_frames", "tasks", ["container_instance_id", "frame_version"])


def downgrade() -> None:
    op.drop_index("ix_tasks_frames", table_name="tasks")
    with op.batch_alter_table("tasks") as batch:
        batch.drop_column("frame_version")
