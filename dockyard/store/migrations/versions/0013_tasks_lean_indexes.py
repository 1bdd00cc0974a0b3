"""tasks: partial indexes on the columns most tasks leave empty, and no second unique index on arn

Every task placed is a B-tree insert into each of the tasks table's indexes, and SQLite's share of
RunTask was mostly those. ``client_token``, ``started_by``, ``service_name``, ``deployment_id``
and ``stopped_at`` are empty for most live tasks, so their indexes now hold only the rows that
have them (a query comparing the column implies it is set, so both stores still use them). The
ARN's own unique index went: the ARN holds the task id, already unique per account and region
(``uq_tasks_id``).

Revision ID: 0013_tasks_lean_indexes
Revises: 0012_glance_host_loads
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013_tasks_lean_indexes"
down_revision = "0012_glance_host_loads"
branch_labels = None
depends_on = None

# name: (the column that must be set, the indexed columns)
PARTIAL = {
    "ix_tasks_client_token": ("client_token", ["account_id", "region", "client_token"]),
    "ix_tasks_started_by": ("started_by", ["account_id", "region", "cluster_name", "started_by", "id"]),
    "ix_tasks_stopped": ("stopped_at", ["last_status", "stopped_at"]),
    "ix_tasks_service": ("service_name", ["account_id", "region", "cluster_name", "service_name", "id"]),
    "ix_tasks_deployment": ("deployment_id", ["deployment_id", "last_status"]),
}
# SQLite's reflection names the unnamed UNIQUE (arn) of 0001 by this; PostgreSQL named it itself.
NAMING = {"uq": "uq_%(table_name)s_%(column_0_name)s"}


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        with op.batch_alter_table("tasks", recreate="always", naming_convention=NAMING) as batch:
            batch.drop_constraint("uq_tasks_arn", type_="unique")
    else:
        op.drop_constraint("tasks_arn_key", "tasks", type_="unique")
    for name, (column, columns) in PARTIAL.items():
        op.drop_index(name, table_name="tasks")
        condition = sa.text(f"{column} IS NOT NULL")
        op.create_index(name, "tasks", columns, sqlite_where=condition, postgresql_where=condition)


def downgrade() -> None:
    for name, (_, columns) in PARTIAL.items():
        op.drop_index(name, table_name="tasks")
        op.create_index(name, "tasks", columns)
    if op.get_bind().dialect.name == "sqlite":
        with op.batch_alter_table("tasks", recreate="always") as batch:
            batch.create_unique_constraint("uq_tasks_arn", ["arn"])
    else:
        op.create_unique_constraint("tasks_arn_key", "tasks", ["arn"])
