"""a job's current executions in id order (ListJobExecutionsForJob's pages)

Without it a page of 100 summaries read every current execution of the job through
``ix_job_items_job_status`` and sorted them (1,000 rows for one page of a 1,000-thing job);
with it a page is one index range of 101 entries.

Revision ID: 0012_iot_execution_pages
Revises: 0011
Create Date: 2026-12-04
"""

from __future__ import annotations

from alembic import op

revision = "0012_iot_execution_pages"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_job_items_job_pages", "job_items", ["job_row", "current", "id"])


def downgrade() -> None:
    op.drop_index("ix_job_items_job_pages", table_name="job_items")
