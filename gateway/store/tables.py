"""The store's tables, in one metadata object; migrations build them (README, "Schema migrations").

The `status` columns of `messages` and `outbox` belong to gateway/lifecycle.py,
which lists their states and is the only writer of them (with `message_history`).
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    false,
)

metadata = MetaData()

# SQLite only auto-increments INTEGER PRIMARY KEY columns.
Id = BigInteger().with_variant(Integer(), "sqlite")


parties = Table(
    "parties",
    metadata,
    Column("identity", String(64), primary_key=True),
    Column("name", String(255), nullable=False),
    Column("country", String(2), nullable=False),
    Column("roles", String(255), nullable=False),  # space-separated
    Column("status", String(16), nullable=False, default="active"),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

party_suspensions = Table(
    "party_suspensions",
    metadata,
    Column("party", String(64), ForeignKey("parties.identity"), primary_key=True),
    Column("actor", String(128), nullable=False),  # operator:<login> who suspended it
    Column("at", DateTime(timezone=True), nullable=False),
    Column("reason", Text),
)  # an operator's suspension outlives a reload of parties.toml: sync_parties keeps such a party suspended

party_certificates = Table(
    "party_certificates",
    metadata,
    Column("fingerprint", String(64), primary_key=True),  # SHA-256 of the DER, hex
    Column("party", String(64), ForeignKey("parties.identity"), nullable=False, index=True),
    Column("der", LargeBinary, nullable=False),
    Column("subject", String(512), nullable=False),
    Column("not_before", DateTime(timezone=True), nullable=False),
    Column("not_after", DateTime(timezone=True), nullable=False),
    Column("added_at", DateTime(timezone=True), nullable=False),
)

party_certificate_changes = Table(
    "party_certificate_changes",
    metadata,
    Column("fingerprint", String(64), primary_key=True),  # SHA-256 of the DER, hex
    Column("party", String(64), ForeignKey("parties.identity"), nullable=False, index=True),
    Column("change", String(8), nullable=False),  # "added" or "retired"
    Column("der", LargeBinary, nullable=False),
    Column("actor", String(128), nullable=False),  # operator:<login> who made the change
    Column("at", DateTime(timezone=True), nullable=False),
    Column("reason", Text),
)  # an operator's certificate change outlives a reload of parties.toml: sync_parties applies it over the files

party_anchors = Table(
    "party_anchors",
    metadata,
    Column("party", String(64), ForeignKey("parties.identity"), primary_key=True),
    Column("fingerprint", String(64), primary_key=True),  # SHA-256 of the DER, hex
    Column("der", LargeBinary, nullable=False),  # a CA that vouches for this party's certificates only
    Column("subject", String(512), nullable=False),
)

party_endpoints = Table(
    "party_endpoints",
    metadata,
    Column("party", String(64), ForeignKey("parties.identity"), primary_key=True),
    Column("transport", String(16), nullable=False),  # http, soap or soap12
    Column("url", String(2048), nullable=False),
)

messages = Table(
    "messages",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("sender", String(64), nullable=False),
    Column("message_id", String(36), nullable=False),
    Column("recipient", String(64), nullable=False),
    Column("document_type", String(64), nullable=False),
    Column("function", String(2), nullable=False),
    Column("reference", String(64)),
    Column("pre_reference", String(64)),
    Column("correlation_id", String(128), nullable=False),
    Column("door", String(8), nullable=False),
    Column("digest", String(64), nullable=False),  # SHA-256 of `body`, hex
    Column("body", LargeBinary, nullable=False),  # the exact signed bytes received
    Column("receipt", LargeBinary, nullable=False),  # the signed receipt that was returned
    Column("route", String(64), nullable=False),
    Column("status", String(16), nullable=False),  # gateway.lifecycle.MessageStatus
    Column("attempts", Integer, nullable=False, default=0),
    Column("last_error", Text),
    Column("received_at", DateTime(timezone=True), nullable=False),
    Column("queued_at", DateTime(timezone=True)),
    Column("processed_at", DateTime(timezone=True)),
    Column("revocation_status", String(16)),  # the signing certificate's at intake: good, revoked, unknown, unchecked
    Column("revocation_source", String(8)),  # where the status came from: crl, ocsp or none
    UniqueConstraint("sender", "message_id", name="uq_messages_sender_message_id"),
    Index("ix_messages_status_received", "status", "received_at"),
    Index("ix_messages_type", "document_type"),
    # The console's searches (console/search.py), newest first: by reference, time, sender, messageId, status.
    Index("ix_messages_reference", "reference"),
    Index("ix_messages_received_id", "received_at", "id"),  # the console's pages by time: keyset on (received_at, id)
    Index("ix_messages_received_door_type", "received_at", "door", "document_type"),  # covers the hourly charts
    Index("ix_messages_sender_id", "sender", "id"),
    Index("ix_messages_message_id", "message_id"),
    Index("ix_messages_status_id", "status", "id"),
)

rejections = Table(
    "rejections",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("received_at", DateTime(timezone=True), nullable=False, index=True),
    Column("door", String(8), nullable=False),
    # the HTTP/SOAP client's address (REMOTE_ADDR); for AMQP the message's user_id (checked by the broker) or app_id
    Column("peer", String(64)),
    Column("sender", String(64), index=True),  # as claimed; unverified when the signature failed
    # whether the signature verified as `sender`: only such rejections count in a party's rates
    Column("authenticated", Boolean, nullable=False, server_default=false()),
    Column("message_id", String(64)),
    Column("document_type", String(64)),
    Column("correlation_id", String(128)),
    Column("digest", String(64), nullable=False),
    Column("codes", String(512), nullable=False),  # space-separated error codes
    Column("errors", Text, nullable=False),  # JSON list of {code, message, location}
    Column("body", LargeBinary),  # absent when the body was over the size limit
    Column("receipt", LargeBinary, nullable=False),
    Index("ix_rejections_sender_received", "sender", "received_at"),
)

outbox = Table(
    "outbox",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("message_id", String(36), nullable=False, unique=True),  # stable: every retry reuses it
    Column("recipient", String(64), nullable=False),
    Column("document_type", String(64), nullable=False),
    Column("function", String(2), nullable=False),
    Column("reference", String(64)),
    Column("pre_reference", String(64)),  # the messageId this one answers, if any
    Column("correlation_id", String(128), nullable=False),
    Column("source", Id, ForeignKey("messages.id"), index=True),  # the inbound message that caused it, if any
    Column("body", LargeBinary, nullable=False),  # the exact signed bytes sent
    Column("status", String(16), nullable=False),  # gateway.lifecycle.OutboundStatus
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("published_at", DateTime(timezone=True)),  # the broker confirmed it on the outbound exchange
    Column("attempts", Integer, nullable=False, default=0),
    Column("last_error", Text),
    Column("delivered_at", DateTime(timezone=True)),
    Column("delivery_receipt", LargeBinary),  # the recipient's signed receipt or acknowledgement
    Index("ix_outbox_recipient_status", "recipient", "status", "id"),
    Index("ix_outbox_unpublished", "published_at", "created_at"),
    Index("ix_outbox_reference", "reference"),
)

processing = Table(
    "processing",
    metadata,
    Column("message", Id, ForeignKey("messages.id"), primary_key=True),
    Column("handler", String(128), primary_key=True),
    Column("processed_at", DateTime(timezone=True), nullable=False),
    Column("outcome", Text),
)

message_history = Table(
    "message_history",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),  # within one message, the order of its moves
    Column("kind", String(8), nullable=False),  # "inbound" (`message` is a messages.id) or "outbound" (an outbox.id)
    Column("message", Id, nullable=False),
    Column("from_status", String(16)),  # None: the message entered its lifecycle
    Column("to_status", String(16), nullable=False),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("actor", String(128), nullable=False),  # a component ("http", "worker", "delivery", ...) or "operator:<login>"
    Column("reason", Text),
    Index("ix_message_history_message", "kind", "message", "id"),
)

# What is left of an inbound message once it is purged (gateway/retention/purge.py): enough to recognise a
# resend as a duplicate and to find the archive that holds its bytes and its receipt.
purged_messages = Table(
    "purged_messages",
    metadata,
    Column("sender", String(64), primary_key=True),
    Column("message_id", String(36), primary_key=True),
    Column("document_type", String(64), nullable=False),
    Column("digest", String(64), nullable=False),  # SHA-256 of the message's bytes, hex
    Column("receipt_digest", String(64), nullable=False),  # SHA-256 of the signed receipt that was returned, hex
    Column("received_at", DateTime(timezone=True), nullable=False),
    Column("processed_at", DateTime(timezone=True)),
    Column("purged_at", DateTime(timezone=True), nullable=False),
    Column("archive", String(255), nullable=False),  # the archive's file name
)

# The signed archives the purge wrote; a row is written with the purge that removed what the archive holds.
archives = Table(
    "archives",
    metadata,
    Column("name", String(255), primary_key=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("sha256", String(64), nullable=False),  # of the whole file
    Column("messages", Integer, nullable=False),
    Column("outbound", Integer, nullable=False),
    Column("rejections", Integer, nullable=False),
)
