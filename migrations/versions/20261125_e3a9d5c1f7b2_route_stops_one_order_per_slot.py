"""route stops: one order per slot of a technician's day

Revision ID: e3a9d5c1f7b2
Revises: da365c84b5b4
Create Date: 2026-11-25 02:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op


revision = 'e3a9d5c1f7b2'
down_revision = 'da365c84b5b4'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Stops left over from older plans may share a slot; the next plan rewrites them anyway.
    op.execute(sa.text(
        "DELETE FROM route_stops WHERE EXISTS (SELECT 1 FROM route_stops AS other "
        "WHERE other.technician_id = route_stops.technician_id AND other.seq = route_stops.seq "
        "AND other.order_id < route_stops.order_id)"
    ))
    with op.batch_alter_table('route_stops', schema=None) as batch_op:
        batch_op.create_unique_constraint(batch_op.f('uq_route_stops_technician_id'), ['technician_id', 'seq'])


def downgrade() -> None:
    with op.batch_alter_table('route_stops', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('uq_route_stops_technician_id'), type_='unique')
