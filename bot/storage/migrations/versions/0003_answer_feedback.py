"""Users' verdicts on FAQ answers: answer_feedback.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-30

Values are frozen here on purpose (not imported from bot.storage.feedback), as in 0001.
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "answer_feedback",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("conversation_id", sa.String(255), nullable=False),
        sa.Column("channel", sa.String(32), server_default="", nullable=False),
        sa.Column("topic", sa.String(100), nullable=False),
        sa.Column("question", sa.Text(), nullable=False),
        sa.Column("helpful", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_answer_feedback")),
    )
    op.create_index(op.f("ix_answer_feedback_topic_created_at"), "answer_feedback", ["topic", "created_at"])


def downgrade() -> None:
    op.drop_index(op.f("ix_answer_feedback_topic_created_at"), table_name="answer_feedback")
    op.drop_table("answer_feedback")
