"""Indexes on the columns that point to messages: the purge's "still referenced" checks and the foreign keys' checks on delete

Revision ID: 0005_message_reference_indexes
Revises: 0004_tombstones_and_archives
Create Date: 2026-12-04 12:51:48.729685
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0005_message_reference_indexes'
down_revision = '0004_tombstones_and_archives'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('declarations', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_declarations_message'), ['message'], unique=False)

    with op.batch_alter_table('inspections', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_inspections_message'), ['message'], unique=False)

    with op.batch_alter_table('orders', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_orders_message'), ['message'], unique=False)

    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_outbox_source'), ['source'], unique=False)

    with op.batch_alter_table('platform_history', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_platform_history_message'), ['message'], unique=False)

    with op.batch_alter_table('platforms', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_platforms_message'), ['message'], unique=False)

    with op.batch_alter_table('policy_entries', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_policy_entries_message'), ['message'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('policy_entries', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_policy_entries_message'))

    with op.batch_alter_table('platforms', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_platforms_message'))

    with op.batch_alter_table('platform_history', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_platform_history_message'))

    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_outbox_source'))

    with op.batch_alter_table('orders', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_orders_message'))

    with op.batch_alter_table('inspections', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_inspections_message'))

    with op.batch_alter_table('declarations', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_declarations_message'))

