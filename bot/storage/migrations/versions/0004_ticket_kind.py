"""Tickets get a kind (question | complaint) and a priority (normal | high): complaints go first.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02

Values are frozen here on purpose (not imported from bot.storage.models), as in 0001.
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("tickets") as batch:
        batch.add_column(sa.Column("kind", sa.String(16), server_default="question", nullable=False))
        batch.add_column(sa.Column("priority", sa.String(8), server_default="normal", nullable=False))
        batch.create_check_constraint("kind", "kind IN ('question', 'complaint')")
        batch.create_check_constraint("priority", "priority IN ('normal', 'high')")


def downgrade() -> None:
    with op.batch_alter_table("tickets") as batch:
        batch.drop_constraint("priority", type_="check")
        batch.drop_constraint("kind", type_="check")
        batch.drop_column("priority")
        batch.drop_column("kind")
