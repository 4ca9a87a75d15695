"""The signing certificate's revocation status and its source, stored with each message

Revision ID: 0006_revocation
Revises: 0005_message_reference_indexes
Create Date: 2026-12-04 12:50:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0006_revocation'
down_revision = '0005_message_reference_indexes'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('messages', schema=None) as batch_op:
        batch_op.add_column(sa.Column('revocation_status', sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column('revocation_source', sa.String(length=8), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('messages', schema=None) as batch_op:
        batch_op.drop_column('revocation_source')
        batch_op.drop_column('revocation_status')
