"""Baseline: the schema of the last release made with create_all

Revision ID: 0001_baseline
Revises: (none: the first revision)
Create Date: 2026-12-04 12:24:50.638664
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0001_baseline'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('alerts',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('alert_id', sa.String(length=64), nullable=False),
    sa.Column('kind', sa.String(length=64), nullable=False),
    sa.Column('severity', sa.String(length=8), nullable=False),
    sa.Column('declaration', sa.String(length=64), nullable=True),
    sa.Column('party', sa.String(length=64), nullable=True),
    sa.Column('raised_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('recipients', sa.String(length=512), nullable=False),
    sa.Column('reasons', sa.JSON(), nullable=False),
    sa.Column('metrics', sa.JSON(), nullable=True),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('alert_id')
    )
    op.create_index('ix_alerts_kind_subject', 'alerts', ['kind', 'declaration', 'party'], unique=False)
    op.create_table('decisions',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('declaration', sa.String(length=64), nullable=False),
    sa.Column('decided_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('lane', sa.String(length=8), nullable=False),
    sa.Column('record', sa.JSON(), nullable=False),
    sa.Column('notice', sa.String(length=36), nullable=True),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index(op.f('ix_decisions_declaration'), 'decisions', ['declaration'], unique=False)
    op.create_table('declaration_orders',
    sa.Column('declaration', sa.String(length=64), nullable=False),
    sa.Column('platform_id', sa.String(length=64), nullable=False),
    sa.Column('order_id', sa.String(length=64), nullable=False),
    sa.UniqueConstraint('declaration', 'platform_id', 'order_id', name='uq_declaration_orders')
    )
    op.create_index('ix_declaration_orders_order', 'declaration_orders', ['platform_id', 'order_id'], unique=False)
    op.create_table('message_history',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('kind', sa.String(length=8), nullable=False),
    sa.Column('message', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('from_status', sa.String(length=16), nullable=True),
    sa.Column('to_status', sa.String(length=16), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('actor', sa.String(length=128), nullable=False),
    sa.Column('reason', sa.Text(), nullable=True),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index('ix_message_history_message', 'message_history', ['kind', 'message', 'id'], unique=False)
    op.create_table('messages',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('sender', sa.String(length=64), nullable=False),
    sa.Column('message_id', sa.String(length=36), nullable=False),
    sa.Column('recipient', sa.String(length=64), nullable=False),
    sa.Column('document_type', sa.String(length=64), nullable=False),
    sa.Column('function', sa.String(length=2), nullable=False),
    sa.Column('reference', sa.String(length=64), nullable=True),
    sa.Column('pre_reference', sa.String(length=64), nullable=True),
    sa.Column('correlation_id', sa.String(length=128), nullable=False),
    sa.Column('door', sa.String(length=8), nullable=False),
    sa.Column('digest', sa.String(length=64), nullable=False),
    sa.Column('body', sa.LargeBinary(), nullable=False),
    sa.Column('receipt', sa.LargeBinary(), nullable=False),
    sa.Column('route', sa.String(length=64), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.Column('received_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('queued_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('processed_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('sender', 'message_id', name='uq_messages_sender_message_id')
    )
    op.create_index('ix_messages_status_received', 'messages', ['status', 'received_at'], unique=False)
    op.create_index('ix_messages_type', 'messages', ['document_type'], unique=False)
    op.create_table('parties',
    sa.Column('identity', sa.String(length=64), nullable=False),
    sa.Column('name', sa.String(length=255), nullable=False),
    sa.Column('country', sa.String(length=2), nullable=False),
    sa.Column('roles', sa.String(length=255), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('identity')
    )
    op.create_table('rejections',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('received_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('door', sa.String(length=8), nullable=False),
    sa.Column('sender', sa.String(length=64), nullable=True),
    sa.Column('message_id', sa.String(length=64), nullable=True),
    sa.Column('document_type', sa.String(length=64), nullable=True),
    sa.Column('correlation_id', sa.String(length=128), nullable=True),
    sa.Column('digest', sa.String(length=64), nullable=False),
    sa.Column('codes', sa.String(length=512), nullable=False),
    sa.Column('errors', sa.Text(), nullable=False),
    sa.Column('body', sa.LargeBinary(), nullable=True),
    sa.Column('receipt', sa.LargeBinary(), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index(op.f('ix_rejections_received_at'), 'rejections', ['received_at'], unique=False)
    op.create_index(op.f('ix_rejections_sender'), 'rejections', ['sender'], unique=False)
    op.create_table('declarations',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('number', sa.String(length=64), nullable=False),
    sa.Column('declarant', sa.String(length=64), nullable=False),
    sa.Column('direction', sa.String(length=8), nullable=False),
    sa.Column('status', sa.String(length=24), nullable=False),
    sa.Column('facts', sa.JSON(), nullable=False),
    sa.Column('message', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('correlation_id', sa.String(length=128), nullable=False),
    sa.Column('total_value_vnd', sa.Integer(), nullable=False),
    sa.Column('lane', sa.String(length=8), nullable=True),
    sa.Column('wait_until', sa.DateTime(timezone=True), nullable=True),
    sa.Column('received_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('decided_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['message'], ['messages.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('number')
    )
    op.create_index('ix_declarations_status_wait', 'declarations', ['status', 'wait_until'], unique=False)
    op.create_table('inspections',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('declaration', sa.String(length=64), nullable=False),
    sa.Column('line', sa.Integer(), nullable=False),
    sa.Column('hs_code', sa.String(length=16), nullable=False),
    sa.Column('ministry', sa.String(length=64), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('certificate', sa.String(length=64), nullable=True),
    sa.Column('reason', sa.Text(), nullable=True),
    sa.Column('issued_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('received_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('working_hours', sa.Float(), nullable=True),
    sa.Column('late', sa.Boolean(), nullable=True),
    sa.Column('message', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.ForeignKeyConstraint(['message'], ['messages.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('declaration', 'line', name='uq_inspections_declaration_line')
    )
    op.create_index('ix_inspections_ministry', 'inspections', ['ministry'], unique=False)
    op.create_table('orders',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('platform_id', sa.String(length=64), nullable=False),
    sa.Column('order_id', sa.String(length=64), nullable=False),
    sa.Column('sender', sa.String(length=64), nullable=False),
    sa.Column('sender_role', sa.String(length=32), nullable=False),
    sa.Column('priority', sa.Integer(), nullable=False),
    sa.Column('direction', sa.String(length=8), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('facts', sa.JSON(), nullable=False),
    sa.Column('message', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('received_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['message'], ['messages.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('platform_id', 'order_id', 'sender', name='uq_orders_platform_order_sender')
    )
    op.create_table('outbox',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('message_id', sa.String(length=36), nullable=False),
    sa.Column('recipient', sa.String(length=64), nullable=False),
    sa.Column('document_type', sa.String(length=64), nullable=False),
    sa.Column('function', sa.String(length=2), nullable=False),
    sa.Column('reference', sa.String(length=64), nullable=True),
    sa.Column('pre_reference', sa.String(length=64), nullable=True),
    sa.Column('correlation_id', sa.String(length=128), nullable=False),
    sa.Column('source', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('body', sa.LargeBinary(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('published_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.Column('delivered_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('delivery_receipt', sa.LargeBinary(), nullable=True),
    sa.ForeignKeyConstraint(['source'], ['messages.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('message_id')
    )
    op.create_index('ix_outbox_recipient_status', 'outbox', ['recipient', 'status', 'id'], unique=False)
    op.create_index('ix_outbox_unpublished', 'outbox', ['published_at', 'created_at'], unique=False)
    op.create_table('party_anchors',
    sa.Column('party', sa.String(length=64), nullable=False),
    sa.Column('fingerprint', sa.String(length=64), nullable=False),
    sa.Column('der', sa.LargeBinary(), nullable=False),
    sa.Column('subject', sa.String(length=512), nullable=False),
    sa.ForeignKeyConstraint(['party'], ['parties.identity'], ),
    sa.PrimaryKeyConstraint('party', 'fingerprint')
    )
    op.create_table('party_certificates',
    sa.Column('fingerprint', sa.String(length=64), nullable=False),
    sa.Column('party', sa.String(length=64), nullable=False),
    sa.Column('der', sa.LargeBinary(), nullable=False),
    sa.Column('subject', sa.String(length=512), nullable=False),
    sa.Column('not_before', sa.DateTime(timezone=True), nullable=False),
    sa.Column('not_after', sa.DateTime(timezone=True), nullable=False),
    sa.Column('added_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['party'], ['parties.identity'], ),
    sa.PrimaryKeyConstraint('fingerprint')
    )
    op.create_index(op.f('ix_party_certificates_party'), 'party_certificates', ['party'], unique=False)
    op.create_table('party_endpoints',
    sa.Column('party', sa.String(length=64), nullable=False),
    sa.Column('transport', sa.String(length=16), nullable=False),
    sa.Column('url', sa.String(length=2048), nullable=False),
    sa.ForeignKeyConstraint(['party'], ['parties.identity'], ),
    sa.PrimaryKeyConstraint('party')
    )
    op.create_table('platform_history',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('platform_id', sa.String(length=64), nullable=False),
    sa.Column('function', sa.String(length=2), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('facts', sa.JSON(), nullable=False),
    sa.Column('sender', sa.String(length=64), nullable=False),
    sa.Column('message', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('recorded_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['message'], ['messages.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index(op.f('ix_platform_history_platform_id'), 'platform_history', ['platform_id'], unique=False)
    op.create_table('platforms',
    sa.Column('platform_id', sa.String(length=64), nullable=False),
    sa.Column('name', sa.String(length=255), nullable=False),
    sa.Column('operator', sa.String(length=64), nullable=False),
    sa.Column('country', sa.String(length=2), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('facts', sa.JSON(), nullable=False),
    sa.Column('sender', sa.String(length=64), nullable=False),
    sa.Column('message', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['message'], ['messages.id'], ),
    sa.PrimaryKeyConstraint('platform_id')
    )
    op.create_table('policy_entries',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('notice', sa.String(length=64), nullable=False),
    sa.Column('ministry', sa.String(length=64), nullable=False),
    sa.Column('entry_id', sa.String(length=35), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('hs_code', sa.String(length=16), nullable=True),
    sa.Column('hs_prefix', sa.String(length=16), nullable=True),
    sa.Column('description', sa.Text(), nullable=True),
    sa.Column('reason', sa.Text(), nullable=True),
    sa.Column('max_quantity', sa.Float(), nullable=True),
    sa.Column('unit', sa.String(length=8), nullable=True),
    sa.Column('per', sa.String(length=16), nullable=True),
    sa.Column('effective_from', sa.DateTime(timezone=True), nullable=False),
    sa.Column('effective_to', sa.DateTime(timezone=True), nullable=True),
    sa.Column('recorded_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('withdrawn_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('message', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.ForeignKeyConstraint(['message'], ['messages.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index('ix_policy_entries_notice', 'policy_entries', ['ministry', 'notice'], unique=False)
    op.create_table('processing',
    sa.Column('message', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('handler', sa.String(length=128), nullable=False),
    sa.Column('processed_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('outcome', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['message'], ['messages.id'], ),
    sa.PrimaryKeyConstraint('message', 'handler')
    )


def downgrade() -> None:
    op.drop_table('processing')
    op.drop_index('ix_policy_entries_notice', table_name='policy_entries')
    op.drop_table('policy_entries')
    op.drop_table('platforms')
    op.drop_index(op.f('ix_platform_history_platform_id'), table_name='platform_history')
    op.drop_table('platform_history')
    op.drop_table('party_endpoints')
    op.drop_index(op.f('ix_party_certificates_party'), table_name='party_certificates')
    op.drop_table('party_certificates')
    op.drop_table('party_anchors')
    op.drop_index('ix_outbox_unpublished', table_name='outbox')
    op.drop_index('ix_outbox_recipient_status', table_name='outbox')
    op.drop_table('outbox')
    op.drop_table('orders')
    op.drop_index('ix_inspections_ministry', table_name='inspections')
    op.drop_table('inspections')
    op.drop_index('ix_declarations_status_wait', table_name='declarations')
    op.drop_table('declarations')
    op.drop_index(op.f('ix_rejections_sender'), table_name='rejections')
    op.drop_index(op.f('ix_rejections_received_at'), table_name='rejections')
    op.drop_table('rejections')
    op.drop_table('parties')
    op.drop_index('ix_messages_type', table_name='messages')
    op.drop_index('ix_messages_status_received', table_name='messages')
    op.drop_table('messages')
    op.drop_index('ix_message_history_message', table_name='message_history')
    op.drop_table('message_history')
    op.drop_index('ix_declaration_orders_order', table_name='declaration_orders')
    op.drop_table('declaration_orders')
    op.drop_index(op.f('ix_decisions_declaration'), table_name='decisions')
    op.drop_table('decisions')
    op.drop_index('ix_alerts_kind_subject', table_name='alerts')
    op.drop_table('alerts')
