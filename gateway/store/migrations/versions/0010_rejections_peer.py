"""rejections say which peer sent them (client address; AMQP user_id or app_id): unauthenticated ones are counted per door and peer

Revision ID: 0010_rejections_peer
Revises: 0009_messages_received_id
Create Date: 2026-12-04 15:10:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0010_rejections_peer'
down_revision = '0009_messages_received_id'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('rejections', schema=None) as batch_op:
        batch_op.add_column(sa.Column('peer', sa.String(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('rejections', schema=None) as batch_op:
        batch_op.drop_column('peer')
