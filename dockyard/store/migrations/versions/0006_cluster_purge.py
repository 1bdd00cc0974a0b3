"""when a cluster was deleted

A deleted (INACTIVE) cluster stays discoverable for a retention, then the janitor purges it
(``controllers/janitor.py``); it needs to know when the cluster was deleted. Clusters deleted
before this revision count from the upgrade.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-03
"""

from __future__ import annotations

import time

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("clusters") as batch:
        batch.add_column(sa.Column("deleted_at", sa.Float(), nullable=True))
    clusters = sa.table("clusters", sa.column("status", sa.String), sa.column("deleted_at", sa.Float))
    op.execute(clusters.update().where(clusters.c.status == "INACTIVE").values(deleted_at=time.time()))


def downgrade() -> None:
    with op.batch_alter_table("clusters") as batch:
        batch.drop_column("deleted_at")
