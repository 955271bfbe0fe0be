"""order_kpi_facts: each counted order's KPI facts as a row, backfilled

Revision ID: 5f0c2a7d9e14
Revises: f0c4a5e21b7d
Create Date: 2026-12-07 11:20:00

The backfill runs the application's own derivation (dispatch.kpis.stored.refresh_all, which
is dispatch.kpis.facts.order_facts): the rows must be exactly what the figures were computed
from before, and there is one definition of them, not a frozen copy here.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.orm import Session

import core.db

revision = "5f0c2a7d9e14"
down_revision = "f0c4a5e21b7d"  # after the forecasts (both branches were made from 81c284164294)
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "order_kpi_facts",
        sa.Column("order_id", sa.Integer(), nullable=False),
        sa.Column("technician_id", sa.Integer(), nullable=True),
        sa.Column("outlet_id", sa.Integer(), nullable=True),
        sa.Column("intake_at", core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("completed", sa.Integer(), nullable=False),
        sa.Column("within_24h", sa.Integer(), nullable=False),
        sa.Column("score", sa.Integer(), nullable=True),
        sa.Column("compliant", sa.Integer(), nullable=False),
        sa.Column("authentic", sa.Integer(), nullable=False),
        sa.Column("returned", sa.Integer(), nullable=False),
        sa.Column("repair", sa.Integer(), nullable=False),
        sa.Column("repeated", sa.Integer(), nullable=False),
        sa.Column("open", sa.Integer(), nullable=False),
        sa.Column("callback_due_at", core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("finished_at", core.db.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["order_id"], ["work_orders.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("order_id"),
    )
    op.create_index("ix_order_kpi_facts_intake", "order_kpi_facts", ["intake_at"], unique=False)
    from dispatch.kpis.stored import refresh_all

    refresh_all(Session(bind=op.get_bind()))


def downgrade() -> None:
    op.drop_index("ix_order_kpi_facts_intake", table_name="order_kpi_facts")
    op.drop_table("order_kpi_facts")
