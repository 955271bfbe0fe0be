"""order forecasts: each open order's chance of missing its promise (issue 21 item 6)

Revision ID: f0c4a5e21b7d
Revises: 81c284164294
Create Date: 2026-12-07 11:20:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import core.db


revision = 'f0c4a5e21b7d'
down_revision = '81c284164294'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('order_forecasts',
    sa.Column('order_id', sa.Integer(), nullable=False),
    sa.Column('p_miss', sa.Float(), nullable=False),
    sa.Column('promise', sa.String(length=16), nullable=False),
    sa.Column('seeds', sa.Integer(), nullable=False),
    sa.Column('computed_at', core.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['order_id'], ['work_orders.id'], name=op.f('fk_order_forecasts_order_id_work_orders'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('order_id', name=op.f('pk_order_forecasts'))
    )


def downgrade() -> None:
    op.drop_table('order_forecasts')
