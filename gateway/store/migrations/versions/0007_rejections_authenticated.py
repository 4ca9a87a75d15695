"""Rejections say whether their signature verified as the sender: a party's rejection rate counts only those

Revision ID: 0007_rejections_authenticated
Revises: 0006_revocation
Create Date: 2026-12-04 13:25:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0007_rejections_authenticated'
down_revision = '0006_revocation'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('rejections', schema=None) as batch_op:
        batch_op.add_column(sa.Column('authenticated', sa.Boolean(), server_default=sa.false(), nullable=False))


def downgrade() -> None:
    with op.batch_alter_table('rejections', schema=None) as batch_op:
        batch_op.drop_column('authenticated')
