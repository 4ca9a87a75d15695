"""Purge: tombstones of purged messages, the archives written

Revision ID: 0004_tombstones_and_archives
Revises: 0003_console_suspensions
Create Date: 2026-12-04 12:32:01.583899
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0004_tombstones_and_archives'
down_revision = '0003_console_suspensions'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('archives',
    sa.Column('name', sa.String(length=255), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('messages', sa.Integer(), nullable=False),
    sa.Column('outbound', sa.Integer(), nullable=False),
    sa.Column('rejections', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('name')
    )
    op.create_table('purged_messages',
    sa.Column('sender', sa.String(length=64), nullable=False),
    sa.Column('message_id', sa.String(length=36), nullable=False),
    sa.Column('document_type', sa.String(length=64), nullable=False),
    sa.Column('digest', sa.String(length=64), nullable=False),
    sa.Column('receipt_digest', sa.String(length=64), nullable=False),
    sa.Column('received_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('processed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('purged_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('archive', sa.String(length=255), nullable=False),
    sa.PrimaryKeyConstraint('sender', 'message_id')
    )


def downgrade() -> None:
    op.drop_table('purged_messages')
    op.drop_table('archives')
