"""KPI risk-watch thresholds (versioned, like the weights)

Revision ID: da365c84b5b4
Revises: 68bf80726303
Create Date: 2026-11-25 02:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import core.db


revision = 'da365c84b5b4'
down_revision = '68bf80726303'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('kpi_risk_thresholds',
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('thresholds', sa.JSON(), nullable=False),
    sa.Column('created_at', core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], name=op.f('fk_kpi_risk_thresholds_created_by_id_users')),
    sa.PrimaryKeyConstraint('version', name=op.f('pk_kpi_risk_thresholds'))
    )


def downgrade() -> None:
    op.drop_table('kpi_risk_thresholds')
