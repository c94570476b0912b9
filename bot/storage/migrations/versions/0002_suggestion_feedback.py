"""Copilot suggestion feedback: suggestion_feedback.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-30

Values are frozen here on purpose (not imported from bot.storage.feedback), as in 0001.
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "suggestion_feedback",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("agent", sa.String(16), nullable=False),
        sa.Column("topic", sa.String(100), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("verdict", sa.String(8), nullable=False),
        sa.Column("conversation_id", sa.String(255), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_suggestion_feedback")),
        sa.CheckConstraint("verdict IN ('used', 'wrong')", name=op.f("ck_suggestion_feedback_verdict")),
    )
    op.create_index(op.f("ix_suggestion_feedback_topic_created_at"), "suggestion_feedback",
                    ["topic", "created_at"])


def downgrade() -> None:
    op.drop_index(op.f("ix_suggestion_feedback_topic_created_at"), table_name="suggestion_feedback")
    op.drop_table("suggestion_feedback")
