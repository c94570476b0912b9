"""Initial schema: filing_orders, tickets, lookup_attempts.

Revision ID: 0001
Revises:
Create Date: 2026-11-30

Values are frozen here on purpose (not imported from models): a migration must keep creating
exactly this schema even after the models move on.
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

STATUSES = ("draft", "provider_review", "provider_rejected", "sms_verification",
            "bureau_review", "bureau_rejected", "approved", "cancelled")


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


def upgrade() -> None:
    op.create_table(
        "filing_orders",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("order_no", sa.String(20), nullable=False),
        sa.Column("subject_name", sa.String(200), nullable=False),
        sa.Column("subject_type", sa.String(16), nullable=False),
        sa.Column("phone", sa.String(20), nullable=False),
        sa.Column("province", sa.String(8), nullable=False),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("status_detail", sa.Text(), nullable=False),
        sa.Column("icp_number", sa.String(40), nullable=True),
        sa.Column("submitted_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_filing_orders")),
        sa.UniqueConstraint("order_no", name=op.f("uq_filing_orders_order_no")),
        sa.CheckConstraint(_in("status", STATUSES), name=op.f("ck_filing_orders_status")),
        sa.CheckConstraint(_in("subject_type", ("individual", "company")),
                           name=op.f("ck_filing_orders_subject_type")),
    )
    op.create_table(
        "tickets",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("ticket_no", sa.String(16), nullable=False),
        sa.Column("sender_id", sa.String(255), nullable=False),
        sa.Column("topic", sa.String(200), nullable=False),
        sa.Column("order_no", sa.String(20), nullable=True),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("contact", sa.String(254), nullable=False),
        sa.Column("transcript", sa.JSON(), nullable=False),
        sa.Column("idempotency_key", sa.String(128), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("forwarded_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("forward_attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column("forward_error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tickets")),
        sa.UniqueConstraint("ticket_no", name=op.f("uq_tickets_ticket_no")),
        sa.UniqueConstraint("idempotency_key", name=op.f("uq_tickets_idempotency_key")),
    )
    op.create_table(
        "lookup_attempts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("sender_id", sa.String(255), nullable=False),
        sa.Column("order_no", sa.String(20), nullable=True),
        sa.Column("succeeded", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_lookup_attempts")),
    )
    op.create_index(op.f("ix_lookup_attempts_sender_id_succeeded_created_at"), "lookup_attempts",
                    ["sender_id", "succeeded", "created_at"])


def downgrade() -> None:
    op.drop_index(op.f("ix_lookup_attempts_sender_id_succeeded_created_at"), table_name="lookup_attempts")
    op.drop_table("lookup_attempts")
    op.drop_table("tickets")
    op.drop_table("filing_orders")
