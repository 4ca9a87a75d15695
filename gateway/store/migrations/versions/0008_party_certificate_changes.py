"""operators' certificate changes (party_certificate_changes) outlive a reload of parties.toml

Revision ID: 0008_party_certificate_changes
Revises: 0007_rejections_authenticated
Create Date: 2026-12-04 13:34:31.700614
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0008_party_certificate_changes'
down_revision = '0007_rejections_authenticated'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('party_certificate_changes',
    sa.Column('fingerprint', sa.String(length=64), nullable=False),
    sa.Column('party', sa.String(length=64), nullable=False),
    sa.Column('change', sa.String(length=8), nullable=False),
    sa.Column('der', sa.LargeBinary(), nullable=False),
    sa.Column('actor', sa.String(length=128), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('reason', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['party'], ['parties.identity'], ),
    sa.PrimaryKeyConstraint('fingerprint')
    )
    with op.batch_alter_table('party_certificate_changes', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_party_certificate_changes_party'), ['party'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('party_certificate_changes', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_party_certificate_changes_party'))

    op.drop_table('party_certificate_changes')
