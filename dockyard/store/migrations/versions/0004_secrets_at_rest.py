"""secret access keys sealed at rest

A sealed secret (``identity.sealing``: a prefix and the base64 of nonce, ciphertext and tag)
is longer than the 64 characters the column held; secrets stored before are sealed at start-up
(``keys.seal_stored_secrets``), where the master key is known.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("access_keys") as batch:
        batch.alter_column(
            "secret_access_key",
            existing_type=sa.String(length=64),
            type_=sa.String(length=256),
            existing_nullable=False,
        )


def downgrade() -> None:
    with op.batch_alter_table("access_keys") as batch:
        batch.alter_column(
            "secret_access_key",
            existing_type=sa.String(length=256),
            type_=sa.String(length=64),
            existing_nullable=False,
        )
