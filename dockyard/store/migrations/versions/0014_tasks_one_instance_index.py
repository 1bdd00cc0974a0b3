"""tasks: one index by instance, (container_instance_id, frame_version, last_status)

Two indexes led with the instance, ``ix_tasks_instance`` (instance, last_status) and
``ix_tasks_frames`` (instance, frame_version). Both are keyed by the instance, so a placed task
dirtied a random leaf page in each, and a report's status change another in the first: on
SQLite each such page is a 4 KiB frame written to the write-ahead log at commit, and those pages
were most of a commit's cost. One index with the stamp before the status serves every query of
an instance's tasks (a delta frame's range of stamps; the live tasks, counted from the index
alone) and a status change rewrites the entry where it stands.

Revision ID: 0014_tasks_one_instance_index
Revises: 0013_tasks_lean_indexes
Create Date: 2026-12-04
"""

from __future__ import annotations

from alembic import op

revision = "0014_tasks_one_instance_index"
down_revision = "0013_tasks_lean_indexes"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_index("ix_tasks_frames", table_name="tasks")
    op.drop_index("ix_tasks_instance", table_name="tasks")
    op.create_index("ix_tasks_instance", "tasks", ["container_instance_id", "frame_version", "last_status"])


def downgrade() -> None:
    op.drop_index("ix_tasks_instance", table_name="tasks")
    op.create_index("ix_tasks_instance", "tasks", ["container_instance_id", "last_status"])
    op.create_index("ix_tasks_frames", "tasks", ["container_instance_id", "frame_version"])
