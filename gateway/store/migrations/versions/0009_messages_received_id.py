"""messages paged by (received_at, id) and a covering index for the hourly charts

Revision ID: 0009_messages_received_id
Revises: 0008_party_certificate_changes
Create Date: 2026-12-04 13:50:59.619200
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0009_messages_received_id'
down_revision = '0008_party_certificate_changes'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('messages', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_messages_received'))
        batch_op.create_index('ix_messages_received_door_type', ['received_at', 'door', 'document_type'], unique=False)
        batch_op.create_index('ix_messages_received_id', ['received_at', 'id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('messages', schema=None) as batch_op:
        batch_op.drop_index('ix_messages_received_id')
        batch_op.drop_index('ix_messages_received_door_type')
        batch_op.create_index(batch_op.f('ix_messages_received'), ['received_at'], unique=False)

