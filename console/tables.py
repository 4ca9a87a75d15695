"""The console's tables, in the gateway's store (same metadata: created with the others).

Imported by the composition root before the store opens, after customs.state (an acknowledgement
refers to a customs alert).
"""

from __future__ import annotations

from sqlalchemy import Column, DateTime, ForeignKey, Index, LargeBinary, String, Table, Text

import customs.state  # noqa: F401  (alerts, which acknowledgements refer to)
from gateway.store.tables import Id, metadata

operators = Table(
    "operators",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("login", String(64), nullable=False, unique=True),
    Column("role", String(16), nullable=False),  # console.roles.Role
    Column("party", String(64)),  # a party user's party identity; None for staff
    Column("password_hash", String(255), nullable=False),  # argon2id, PHC string
    Column("status", String(16), nullable=False),  # active or disabled
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

console_sessions = Table(
    "console_sessions",
    metadata,
    Column("token_hash", String(64), primary_key=True),  # SHA-256 of the cookie's value, hex: the value is not stored
    Column("operator", Id, ForeignKey("operators.id"), nullable=False, index=True),
    Column("csrf", String(64), nullable=False),  # the token every state-changing request of this session carries
    Column("address", String(64)),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("expires_at", DateTime(timezone=True), nullable=False),
)

api_tokens = Table(
    "api_tokens",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("operator", Id, ForeignKey("operators.id"), nullable=False, index=True),
    Column("name", String(64), nullable=False),
    Column("token_hash", String(64), nullable=False, unique=True),  # SHA-256 of the token, hex
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("revoked_at", DateTime(timezone=True)),
)

login_failures = Table(
    "login_failures",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("login", String(64), nullable=False),
    Column("address", String(64), nullable=False),
    Column("at", DateTime(timezone=True), nullable=False),
    Index("ix_login_failures_login_at", "login", "at"),
    Index("ix_login_failures_address_at", "address", "at"),
)

audit_trail = Table(
    "audit_trail",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=False),  # 1, 2, 3 ...: the chain's order, no gaps
    Column("at", DateTime(timezone=True), nullable=False),
    Column("actor", String(128), nullable=False),  # operator:<login>, or a component
    Column("address", String(64)),  # where the request came from
    Column("action", String(64), nullable=False),  # login, login.failed, outbox.resend, ...
    Column("target", String(255)),  # what it acted on
    Column("before", Text),  # JSON
    Column("after", Text),  # JSON
    Column("reason", Text),
    Column("prev_hash", String(64), nullable=False),
    Column("hash", String(64), nullable=False),  # SHA-256 over prev_hash and this record's canonical JSON
    Index("ix_audit_trail_at", "at"),
)

audit_seals = Table(
    "audit_seals",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("head", Id, nullable=False),  # the audit_trail id sealed
    Column("head_hash", String(64), nullable=False),
    Column("signature", LargeBinary, nullable=False),  # the gateway key's signature over the sealed statement
    Column("certificate", LargeBinary, nullable=False),  # the signer's certificate, DER
)

alert_acknowledgements = Table(
    "alert_acknowledgements",
    metadata,
    Column("alert", Id, ForeignKey("alerts.id"), primary_key=True),  # customs.state.alerts
    Column("actor", String(128), nullable=False),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("note", Text),
)
