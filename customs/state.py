"""The business state the handlers keep, in the gateway's store (same metadata, same transactions).

Facts that a decision depends on are kept as JSON next to their keys: a decision
record holds everything needed to explain and replay it (the rules' versions,
the lists' entries, the random draw), so it never depends on what changed later.
"""

from __future__ import annotations

import enum

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
)

from gateway.store.tables import Id, metadata


class DeclarationStatus(enum.StrEnum):
    WAITING_ORDERS = "waiting_orders"  # some of its orders have not arrived; decided when they do, or at wait_until
    AWAITING_INSPECTION = "awaiting_inspection"  # lane given; some items wait for their inspection result
    DECIDED = "decided"  # lane given; nothing awaited
    COMPLETED = "completed"  # every inspected item passed: RESULT_NOTICE COMPLETED sent
    REJECTED = "rejected"  # an inspected item failed: RESULT_NOTICE REJECTED sent
    CANCELLED = "cancelled"  # cancelled by the declarant (function 03): RESULT_NOTICE, function 24, sent


class InspectionStatus(enum.StrEnum):
    REQUIRED = "required"
    PASS = "pass"
    FAIL = "fail"


orders = Table(
    "orders",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("platform_id", String(64), nullable=False),
    Column("order_id", String(64), nullable=False),
    Column("sender", String(64), nullable=False),  # the party that sent this version
    Column("sender_role", String(32), nullable=False),
    Column("priority", Integer, nullable=False),  # lower wins: the party responsible for the customs procedure
    Column("direction", String(8), nullable=False),
    Column("status", String(16), nullable=False),  # active | cancelled
    Column("facts", JSON, nullable=False),  # items, totals, transport
    Column("message", Id, ForeignKey("messages.id"), nullable=False, index=True),  # the latest message for it
    Column("received_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    UniqueConstraint("platform_id", "order_id", "sender", name="uq_orders_platform_order_sender"),
)

declarations = Table(
    "declarations",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("number", String(64), nullable=False, unique=True),
    Column("declarant", String(64), nullable=False),  # the party that sent it
    Column("direction", String(8), nullable=False),
    Column("status", String(24), nullable=False),  # see DeclarationStatus
    Column("facts", JSON, nullable=False),  # header and items as declared
    Column("message", Id, ForeignKey("messages.id"), nullable=False, index=True),  # the latest message for it
    Column("correlation_id", String(128), nullable=False),
    Column("total_value_vnd", Integer, nullable=False),
    Column("lane", String(8)),
    Column("wait_until", DateTime(timezone=True)),  # set while its orders are awaited
    Column("received_at", DateTime(timezone=True), nullable=False),
    Column("decided_at", DateTime(timezone=True)),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Index("ix_declarations_status_wait", "status", "wait_until"),
)

declaration_orders = Table(
    "declaration_orders",
    metadata,
    Column("declaration", String(64), nullable=False),
    Column("platform_id", String(64), nullable=False),
    Column("order_id", String(64), nullable=False),
    UniqueConstraint("declaration", "platform_id", "order_id", name="uq_declaration_orders"),
    Index("ix_declaration_orders_order", "platform_id", "order_id"),
)

decisions = Table(
    "decisions",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("declaration", String(64), nullable=False, index=True),
    Column("decided_at", DateTime(timezone=True), nullable=False),
    Column("lane", String(8), nullable=False),
    Column("record", JSON, nullable=False),  # findings, exemptions, profiles fired, draws, rule versions
    Column("notice", String(36)),  # the messageId of the LANE_NOTICE sent
    Index("ix_decisions_decided_lane", "decided_at", "lane"),  # the console's lanes per day, from the index alone
)

inspections = Table(
    "inspections",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("declaration", String(64), nullable=False),
    Column("line", Integer, nullable=False),
    Column("hs_code", String(16), nullable=False),
    Column("ministry", String(64), nullable=False),  # the ministry in charge of these goods
    Column("status", String(16), nullable=False),  # required | pass | fail
    Column("certificate", String(64)),
    Column("reason", Text),
    Column("issued_at", DateTime(timezone=True)),
    Column("received_at", DateTime(timezone=True)),
    Column("working_hours", Float),  # between issue and receipt
    Column("late", Boolean),
    Column("message", Id, ForeignKey("messages.id"), index=True),
    UniqueConstraint("declaration", "line", name="uq_inspections_declaration_line"),
    Index("ix_inspections_ministry", "ministry"),
)

platforms = Table(
    "platforms",
    metadata,
    Column("platform_id", String(64), primary_key=True),
    Column("name", String(255), nullable=False),
    Column("operator", String(64), nullable=False),  # tax code / party id of the operator
    Column("country", String(2), nullable=False),
    Column("status", String(16), nullable=False),  # ACTIVE | SUSPENDED | CLOSED (as sent), or cancelled
    Column("facts", JSON, nullable=False),  # websites, type, contacts, effective dates
    Column("sender", String(64), nullable=False),
    Column("message", Id, ForeignKey("messages.id"), nullable=False, index=True),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

platform_history = Table(
    "platform_history",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("platform_id", String(64), nullable=False, index=True),
    Column("function", String(2), nullable=False),
    Column("status", String(16), nullable=False),
    Column("facts", JSON, nullable=False),
    Column("sender", String(64), nullable=False),
    Column("message", Id, ForeignKey("messages.id"), nullable=False, index=True),
    Column("recorded_at", DateTime(timezone=True), nullable=False),
)

policy_entries = Table(
    "policy_entries",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("notice", String(64), nullable=False),  # the ministry's notice number
    Column("ministry", String(64), nullable=False),
    Column("entry_id", String(35), nullable=False),
    Column("kind", String(16), nullable=False),  # exception | quantity
    Column("hs_code", String(16)),
    Column("hs_prefix", String(16)),
    Column("description", Text),
    Column("reason", Text),
    Column("max_quantity", Float),
    Column("unit", String(8)),
    Column("per", String(16)),
    Column("effective_from", DateTime(timezone=True), nullable=False),
    Column("effective_to", DateTime(timezone=True)),
    Column("recorded_at", DateTime(timezone=True), nullable=False),
    Column("withdrawn_at", DateTime(timezone=True)),  # an amendment or cancellation replaced it
    Column("message", Id, ForeignKey("messages.id"), nullable=False, index=True),
    Index("ix_policy_entries_notice", "ministry", "notice"),
)

alerts = Table(
    "alerts",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("alert_id", String(64), nullable=False, unique=True),
    Column("kind", String(64), nullable=False),
    Column("severity", String(8), nullable=False),
    Column("declaration", String(64)),
    Column("party", String(64)),
    Column("raised_at", DateTime(timezone=True), nullable=False),
    Column("recipients", String(512), nullable=False),  # space-separated party ids
    Column("reasons", JSON, nullable=False),  # [{"code", "text"}]
    Column("metrics", JSON),  # {name: value}: the figures that raised it
    Index("ix_alerts_kind_subject", "kind", "declaration", "party"),
)
