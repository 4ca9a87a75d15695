"""The message repository: recording accepted messages and rejections, and their life after."""

from __future__ import annotations

import datetime as dt
import hmac
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, fields

from sqlalchemy import Connection, Engine, bindparam, delete, func, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite

from gateway.envelope import Header
from gateway.errors import Problem
from gateway.lifecycle import INBOUND, MessageStatus, Step, entered, history, transition, transition_many
from gateway.store.engine import writing
from gateway.store.prepared import Transaction, raw_writing
from gateway.store.tables import messages, purged_messages, rejections


@dataclass(frozen=True, slots=True)
class NewMessage:
    """An accepted message, ready to be recorded together with its receipt."""

    sender: str
    message_id: str
    recipient: str
    document_type: str
    function: str
    reference: str | None
    pre_reference: str | None
    correlation_id: str
    door: str
    digest: str
    body: bytes
    receipt: bytes
    route: str
    revocation_status: str | None = None  # gateway.signing.revocation.policy.Status at intake
    revocation_source: str | None = None  # where it came from: crl, ocsp or none

    def row(self) -> dict[str, object]:
        """Its columns (a shallow copy: `dataclasses.asdict` deep-copies every value, on the group commit's hot path)."""
        return {name: getattr(self, name) for name in _NEW_MESSAGE_FIELDS}

    @classmethod
    def of(
        cls,
        header: Header,
        *,
        body: bytes,
        digest: str,
        receipt: bytes,
        route: str,
        correlation_id: str,
        door: str,
        revocation_status: str | None = None,
        revocation_source: str | None = None,
    ) -> NewMessage:
        """The row for an accepted envelope: its header fields and what intake adds to them."""
        return cls(
            sender=header.sender.identity,
            message_id=header.message_id,
            recipient=header.recipient.identity,
            document_type=header.document_type,
            function=header.function,
            reference=header.reference,
            pre_reference=header.pre_reference,
            correlation_id=correlation_id,
            door=door,
            digest=digest,
            body=body,
            receipt=receipt,
            route=route,
            revocation_status=revocation_status,
            revocation_source=revocation_source,
        )


@dataclass(frozen=True, slots=True)
class Tombstone:
    """What is left of a purged message (gateway/retention/purge.py)."""

    digest: str
    receipt_digest: str
    received_at: dt.datetime
    archive: str


@dataclass(frozen=True, slots=True)
class Recorded:
    """The outcome of recording: a new row, an identical resend, a conflicting one, or a resend of a purged one."""

    pk: int | None
    receipt: bytes | None  # the original receipt, for an identical resend
    conflict: bool = False
    purged: Tombstone | None = None  # the message was received before and purged since (conflict: other bytes)

    @property
    def new(self) -> bool:
        return self.pk is not None and self.receipt is None and not self.conflict


@dataclass(frozen=True, slots=True)
class StoredMessage:
    pk: int
    sender: str
    message_id: str
    document_type: str
    function: str
    correlation_id: str
    digest: str
    body: bytes
    route: str
    status: str
    revocation_status: str | None  # the signing certificate's at intake (None: stored before revocation checks)
    revocation_source: str | None


# Built once: SQLAlchemy then reuses the compiled statements on the hot path.
_FIND_EXISTING = select(messages.c.id, messages.c.digest, messages.c.receipt).where(
    messages.c.sender == bindparam("sender"), messages.c.message_id == bindparam("message_id")
)


class MessageStore:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        # INSERT ... ON CONFLICT DO NOTHING RETURNING: SQLite and PostgreSQL both have it, each in
        # its own dialect. Built once, so SQLAlchemy compiles it once and batches many rows into it.
        dialect_insert = postgresql.insert if engine.dialect.name == "postgresql" else sqlite.insert
        self._insert_new = (
            INBOUND.with_initial_status(dialect_insert(messages))
            .on_conflict_do_nothing(index_elements=["sender", "message_id"])
            .returning(messages.c.id, messages.c.sender, messages.c.message_id)
        )

    def record(self, new: NewMessage, received_at: dt.datetime) -> Recorded:
        """Store an accepted message; `(sender, message_id)` decides whether it is new."""
        return self.record_many([(new, received_at)])[0]

    def record_many(self, batch: Sequence[tuple[NewMessage, dt.datetime]]) -> list[Recorded]:
        """Store several accepted messages in one statement and one transaction (one disk flush).

        Messages whose (sender, message_id) is taken are skipped by the database
        (ON CONFLICT DO NOTHING) and answered from the stored row after the commit.
        Each new message's first history row (entered `accepted` by its door) is
        written in the same transaction, by one more statement for the whole batch.
        Few round trips matter: each one gives up the GIL inside the write lock.
        """
        if not batch:
            return []
        rows = [new.row() | {"attempts": 0, "received_at": received_at} for new, received_at in batch]
        with raw_writing(self.engine) as connection:
            result = connection.insert_returning(self._insert_new, rows)
            inserted = {(sender, message_id): pk for pk, sender, message_id in result}
            purged = _purged(connection, inserted)  # received long ago, archived and purged since: not new
            # pop: a repeat within the batch is a resend of the first
            new_pks = [inserted.pop((new.sender, new.message_id), None) for new, _ in batch]
            # each entered through its door, when it was received
            entered(
                connection, INBOUND, [pk for pk in new_pks if pk is not None],
                actor=messages.c.door, at=messages.c.received_at,
            )
        return [
            _resent_after_purge(new, purged[key])
            if (key := (new.sender, new.message_id)) in purged
            else Recorded(pk, None) if pk is not None else self._existing(new)
            for pk, (new, _) in zip(new_pks, batch, strict=True)
        ]

    def _existing(self, new: NewMessage) -> Recorded:
        """The outcome for a message whose (sender, message_id) is already stored."""
        with self.engine.connect() as connection:
            key = {"sender": new.sender, "message_id": new.message_id}
            existing = connection.execute(_FIND_EXISTING, key).one_or_none()
            if existing is None:  # purged between the insert that met it and this read
                return _resent_after_purge(new, _purged_since(connection, new.sender, new.message_id))
        if hmac.compare_digest(existing.digest, new.digest):
            return Recorded(existing.id, existing.receipt)
        return Recorded(existing.id, None, conflict=True)

    def record_rejection(
        self,
        *,
        received_at: dt.datetime,
        door: str,
        peer: str | None,
        sender: str | None,
        message_id: str | None,
        document_type: str | None,
        correlation_id: str | None,
        digest: str,
        problems: Sequence[Problem],
        body: bytes | None,
        receipt: bytes,
        authenticated: bool = False,
    ) -> None:
        """Keep a rejection; `authenticated` when the signature verified as `sender` (else the sender is only claimed)."""
        with writing(self.engine) as connection:
            connection.execute(
                insert(rejections).values(
                    received_at=received_at,
                    door=door,
                    peer=_clip(peer, 64),
                    sender=_clip(sender, 64),
                    authenticated=authenticated,
                    message_id=_clip(message_id, 64),
                    document_type=_clip(document_type, 64),
                    correlation_id=_clip(correlation_id, 128),
                    digest=digest,
                    codes=" ".join(sorted({p.code.name for p in problems}))[:512],
                    errors=json.dumps(
                        [{"code": p.code.name, "message": p.message, "location": p.location} for p in problems],
                        ensure_ascii=False,
                    ),
                    body=body,
                    receipt=receipt,
                )
            )

    def mark_queued(self, pks: Iterable[int], at: dt.datetime, actor: str) -> list[int]:
        """Note that the broker confirmed these messages; returns those that moved to queued.

        Only an accepted message moves: one that a worker processed (or failed) before
        the confirm was noted keeps its state, and no history row is written for it.
        """
        return self.mark_queued_groups([(pks, at, actor)])

    def mark_queued_groups(self, groups: Sequence[tuple[Iterable[int], dt.datetime, str]]) -> list[int]:
        """`mark_queued` for several (messages, when confirmed, by whom) in one transaction."""
        groups = [(list(pks), at, actor) for pks, at, actor in groups]
        if not any(pks for pks, _, _ in groups):
            return []
        moved: list[int] = []
        with raw_writing(self.engine) as connection:
            for pks, at, actor in groups:
                moved += transition_many(
                    connection, INBOUND, pks, MessageStatus.QUEUED, actor=actor, at=at,
                    reason="the broker confirmed it", values={"queued_at": at},
                )
        return moved

    def awaiting_publication(self, received_before: dt.datetime, limit: int) -> list[StoredMessage]:
        """Accepted messages the broker has not confirmed, oldest first (for the outbox relay)."""
        with self.engine.connect() as connection:
            rows = connection.execute(
                select(*_STORED_COLUMNS)
                .where(messages.c.status == MessageStatus.ACCEPTED.value, messages.c.received_at < received_before)
                .order_by(messages.c.id)
                .limit(limit)
            )
            return [StoredMessage(**row._mapping) for row in rows]

    def get(self, sender: str, message_id: str) -> StoredMessage | None:
        with self.engine.connect() as connection:
            row = connection.execute(
                select(*_STORED_COLUMNS).where(messages.c.sender == sender, messages.c.message_id == message_id)
            ).one_or_none()
        return StoredMessage(**row._mapping) if row else None

    def note_failure(self, pk: int, error: str) -> int:
        """Count one failed handler attempt; returns the attempts so far (redeliveries do not count)."""
        with writing(self.engine) as connection:
            connection.execute(
                update(messages)
                .where(messages.c.id == pk)
                .values(attempts=messages.c.attempts + 1, last_error=error[:4000])
            )
            return connection.execute(select(messages.c.attempts).where(messages.c.id == pk)).scalar_one()

    def mark_failed(self, pk: int, error: str, at: dt.datetime, actor: str) -> bool:
        """Note that the message's handlers gave up on it; False (and no change) when it was processed or failed."""
        with writing(self.engine) as connection:
            return transition(
                connection, INBOUND, pk, MessageStatus.FAILED, actor=actor, at=at, reason=error,
                values={"last_error": error[:4000], "processed_at": at},
            )

    def find(self, key: int | str, sender: str | None = None) -> list[dict]:
        """The messages a row number (int) or a messageId (str, of `sender` when given) names, without their bytes."""
        query = select(*_FACT_COLUMNS).order_by(messages.c.id)
        if isinstance(key, int):
            query = query.where(messages.c.id == key)
        else:
            query = query.where(messages.c.message_id == key)
        if sender is not None:
            query = query.where(messages.c.sender == sender)
        with self.engine.connect() as connection:
            return [dict(row._mapping) for row in connection.execute(query)]

    def tombstones(self, message_id: str, sender: str | None = None) -> list[dict]:
        """What is left of the purged messages with this messageId (of `sender` when given)."""
        query = select(purged_messages).where(purged_messages.c.message_id == message_id)
        if sender is not None:
            query = query.where(purged_messages.c.sender == sender)
        with self.engine.connect() as connection:
            return [dict(row._mapping) for row in connection.execute(query)]

    def timeline(self, pk: int) -> list[Step]:
        """The message's moves from state to state, oldest first."""
        with self.engine.connect() as connection:
            return history(connection, INBOUND, pk)

    def count_by(self, *columns: str, **filters: str | None) -> list[tuple]:
        """Counts of messages grouped by the named columns, with optional equality filters."""
        group = [messages.c[name] for name in columns]
        query = select(*group, func.count()).select_from(messages).group_by(*group).order_by(*group)
        for name, value in filters.items():
            if value is not None:
                query = query.where(messages.c[name] == value)
        with self.engine.connect() as connection:
            return [tuple(row) for row in connection.execute(query)]

    def list(self, limit: int = 50, **filters: str | None) -> list[dict]:
        query = select(
            messages.c.id,
            messages.c.received_at,
            messages.c.sender,
            messages.c.message_id,
            messages.c.document_type,
            messages.c.function,
            messages.c.status,
            messages.c.route,
            messages.c.last_error,
        ).order_by(messages.c.id.desc()).limit(limit)
        for name, value in filters.items():
            if value is not None:
                query = query.where(messages.c[name] == value)
        with self.engine.connect() as connection:
            return [dict(row._mapping) for row in connection.execute(query)]


def redrive_many(tx: Connection, pks: Iterable[int], at: dt.datetime, actor: str, reason: str | None) -> list[int]:
    """In the caller's transaction: the failed ones of `pks` are accepted again, with a fresh set of attempts
    (the relay publishes them to their route anew); returns those that moved."""
    return transition_many(
        tx, INBOUND, pks, MessageStatus.ACCEPTED, actor=actor, at=at, reason=reason,
        values={"attempts": 0, "last_error": None, "queued_at": None, "processed_at": None},
    )


_STORED_COLUMNS = (
    messages.c.id.label("pk"),
    messages.c.sender,
    messages.c.message_id,
    messages.c.document_type,
    messages.c.function,
    messages.c.correlation_id,
    messages.c.digest,
    messages.c.body,
    messages.c.route,
    messages.c.status,
    messages.c.revocation_status,
    messages.c.revocation_source,
)


# Built once (see MessageStore._insert_new); a sender x id superset of the batch's keys, narrowed in Python.
_TOMBSTONES = select(
    purged_messages.c.sender, purged_messages.c.message_id, purged_messages.c.digest,
    purged_messages.c.receipt_digest, purged_messages.c.received_at, purged_messages.c.archive,
).where(
    purged_messages.c.sender.in_(bindparam("senders", expanding=True)),
    purged_messages.c.message_id.in_(bindparam("ids", expanding=True)),
)

_DELETE_BY_ID = delete(messages).where(messages.c.id.in_(bindparam("pks", expanding=True)))


def _purged(connection: Transaction, inserted: dict[tuple[str, str], int]) -> dict[tuple[str, str], Tombstone]:
    """The tombstones of the messages just inserted, whose rows are taken out again (the batch's transaction).

    Checked in the transaction that inserts, after the insert: a purge that removes the same (sender,
    messageId) commits either before (its tombstone is seen here) or after (the row it removes is the
    original's, still there when this insert met it, so this one was a resend of a stored message).
    """
    if not inserted:
        return {}
    rows = connection.execute(
        _TOMBSTONES, {"senders": list({sender for sender, _ in inserted}), "ids": [key[1] for key in inserted]}
    ).all()
    found = {
        key: Tombstone(digest, receipt_digest, received_at, archive)
        for sender, message_id, digest, receipt_digest, received_at, archive in rows
        if (key := (sender, message_id)) in inserted
    }
    if found:
        connection.execute(_DELETE_BY_ID, {"pks": [inserted.pop(key) for key in found]})
    return found


def _purged_since(connection: Connection, sender: str, message_id: str) -> Tombstone:
    row = connection.execute(
        select(purged_messages.c.digest, purged_messages.c.receipt_digest, purged_messages.c.received_at, purged_messages.c.archive)
        .where(purged_messages.c.sender == sender, purged_messages.c.message_id == message_id)
    ).one()
    return Tombstone(*row)


def _resent_after_purge(new: NewMessage, tombstone: Tombstone) -> Recorded:
    return Recorded(None, None, conflict=not hmac.compare_digest(tombstone.digest, new.digest), purged=tombstone)


_NEW_MESSAGE_FIELDS = tuple(f.name for f in fields(NewMessage))
_FACT_COLUMNS = tuple(column for column in messages.c if column.name not in ("body", "receipt"))


def _clip(value: str | None, limit: int) -> str | None:
    return value[:limit] if value else value
