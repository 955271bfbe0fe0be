"""parts requests, breaks, drop-outs

Revision ID: 81c284164294
Revises: e3a9d5c1f7b2
Create Date: 2026-12-07 04:05:02.245827
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import core.db


revision = '81c284164294'
down_revision = 'e3a9d5c1f7b2'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('parts_requests',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('order_id', sa.Integer(), nullable=False),
    sa.Column('visit', sa.Integer(), nullable=False),
    sa.Column('part', sa.String(length=200), nullable=False),
    sa.Column('quantity', sa.Integer(), nullable=False),
    sa.Column('expected_on', sa.Date(), nullable=False),
    sa.Column('requested_at', core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('requested_by_id', sa.Integer(), nullable=True),
    sa.Column('arrived_at', core.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('arrived_by_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['arrived_by_id'], ['users.id'], name=op.f('fk_parts_requests_arrived_by_id_users')),
    sa.ForeignKeyConstraint(['order_id'], ['work_orders.id'], name=op.f('fk_parts_requests_order_id_work_orders'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['requested_by_id'], ['users.id'], name=op.f('fk_parts_requests_requested_by_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_parts_requests'))
    )
    with op.batch_alter_table('parts_requests', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_parts_requests_order_id'), ['order_id'], unique=False)

    with op.batch_alter_table('outlets', schema=None) as batch_op:
        batch_op.add_column(sa.Column('break_start', sa.Time(), nullable=True))
        batch_op.add_column(sa.Column('break_end', sa.Time(), nullable=True))
        batch_op.add_column(sa.Column('break_minutes', sa.Integer(), nullable=True))

    with op.batch_alter_table('technicians', schema=None) as batch_op:
        batch_op.add_column(sa.Column('break_start', sa.Time(), nullable=True))
        batch_op.add_column(sa.Column('break_end', sa.Time(), nullable=True))
        batch_op.add_column(sa.Column('break_minutes', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('unavailable_from', core.db.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('unavailable_reason', sa.String(length=16), nullable=True))



def downgrade() -> None:
    with op.batch_alter_table('technicians', schema=None) as batch_op:
        batch_op.drop_column('unavailable_reason')
        batch_op.drop_column('unavailable_from')
        batch_op.drop_column('break_minutes')
        batch_op.drop_column('break_end')
        batch_op.drop_column('break_start')

    with op.batch_alter_table('outlets', schema=None) as batch_op:
        batch_op.drop_column('break_minutes')
        batch_op.drop_column('break_end')
        batch_op.drop_column('break_start')

    with op.batch_alter_table('parts_requests', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_parts_requests_order_id'))

    op.drop_table('parts_requests')
