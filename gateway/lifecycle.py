"""The life of a message: its states, the moves allowed between them, and the one way to make a move.

Inbound messages (table `messages`)        who moves them
    (recorded)  -> accepted                 the door: http, soap, amqp (stored with its signed receipt)
    accepted    -> queued                   the door's intake, or the relay: the broker confirmed it
    accepted    -> processed                worker: it had the message before the confirm was noted
    queued      -> processed                worker: the handlers' effects are committed
    accepted    -> failed                   worker: the handlers kept failing; dead-lettered
    queued      -> failed                   worker: the same
    failed      -> processed                worker: another copy of it was processed after all
    failed      -> accepted                 an operator's re-drive in the console (the relay then publishes it again)
    processed                               final

Outbound messages (table `outbox`)
    (emitted)   -> pending                  worker or timers, with the effect that caused it
    pending     -> delivered                delivery (the recipient's signed receipt of a push),
                                            or pull (the recipient's signed MESSAGE_ACK)
    pending     -> parked                   delivery: every attempt failed, or the recipient refused it
    parked      -> pending                  an operator: `gateway outbox resend`
    parked      -> delivered                pull: a parked message acknowledged after all
    delivered                               final

Every move is a conditional UPDATE (`... WHERE id IN (...) AND status = <a state
it may start from>`) on the caller's connection, so that it belongs to the caller's
transaction, plus one history row per message moved (`message_history`: from, to,
when, by whom, why). A message in a state the
move may not start from is left alone and gets no history row: the move is
refused, and the caller learns it from the result (False, or the pks that did
move). What a refusal means depends on the caller, which says so where it moves;
nothing here raises for it. No other module writes a `status` column
(tests/test_status_writes.py checks the source).

An actor is the component that makes the move ("http", "soap", "amqp", "relay",
"worker", "timers", "delivery", "pull") or "operator:<login name>"; it is always
passed in by the caller.
"""

from __future__ import annotations

import datetime as dt
import enum
import functools
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from sqlalchemy import (
    Column,
    Connection,
    DateTime,
    Insert,
    String,
    Table,
    Text,
    Update,
    bindparam,
    insert,
    literal,
    select,
    update,
)

from gateway.store.prepared import Transaction
from gateway.store.tables import message_history, messages, outbox

REASON_LIMIT = 4000


class MessageStatus(enum.StrEnum):
    """The states of an accepted inbound message."""

    ACCEPTED = "accepted"  # stored and receipted; the broker has not confirmed it (yet)
    QUEUED = "queued"  # the broker confirmed it; a worker will take it
    PROCESSED = "processed"  # its handlers' effects are committed
    FAILED = "failed"  # its handlers kept failing; it is in the dead-letter queue


class OutboundStatus(enum.StrEnum):
    """The states of a message the gateway sends (lane notices, result notices, alerts, copies)."""

    PENDING = "pending"  # signed and stored; not yet delivered
    DELIVERED = "delivered"  # the recipient acknowledged it (pull) or returned a valid signed receipt (push)
    PARKED = "parked"  # every delivery attempt failed; waiting for an operator


@dataclass(frozen=True, eq=False)
class Lifecycle:
    """One state machine: the table whose `status` it owns, its first state and its moves."""

    kind: str  # "inbound" or "outbound": the `kind` of its history rows
    table: Table
    states: tuple[str, ...]
    initial: str
    moves: Mapping[str, tuple[str, ...]]  # to -> the states it may be reached from

    def sources(self, to: str) -> tuple[str, ...]:
        """The states a move to `to` may start from."""
        if to not in self.states:
            raise ValueError(f"{to!r} is not a state of {self.kind} messages")
        return self.moves.get(to, ())

    def allows(self, from_status: str, to: str) -> bool:
        return from_status in self.sources(to)

    @property
    def final(self) -> frozenset[str]:
        """The states no move leaves."""
        return frozenset(self.states) - {source for sources in self.moves.values() for source in sources}

    def with_initial_status(self, statement: Insert) -> Insert:
        """`statement`, an INSERT into this lifecycle's table, with the status every new message starts in."""
        return statement.values(status=str(self.initial))


INBOUND = Lifecycle(
    kind="inbound",
    table=messages,
    states=tuple(MessageStatus),
    initial=MessageStatus.ACCEPTED,
    moves={
        MessageStatus.QUEUED: (MessageStatus.ACCEPTED,),
        MessageStatus.PROCESSED: (MessageStatus.QUEUED, MessageStatus.ACCEPTED, MessageStatus.FAILED),
        MessageStatus.FAILED: (MessageStatus.QUEUED, MessageStatus.ACCEPTED),
        MessageStatus.ACCEPTED: (MessageStatus.FAILED,),
    },
)

OUTBOUND = Lifecycle(
    kind="outbound",
    table=outbox,
    states=tuple(OutboundStatus),
    initial=OutboundStatus.PENDING,
    moves={
        OutboundStatus.DELIVERED: (OutboundStatus.PENDING, OutboundStatus.PARKED),
        OutboundStatus.PARKED: (OutboundStatus.PENDING,),
        OutboundStatus.PENDING: (OutboundStatus.PARKED,),
    },
)

LIFECYCLES = {lifecycle.kind: lifecycle for lifecycle in (INBOUND, OUTBOUND)}


@dataclass(frozen=True, slots=True)
class Step:
    """One line of a message's history."""

    from_status: str | None  # None: the message entered its lifecycle
    to_status: str
    at: dt.datetime  # timezone-aware (UTC)
    actor: str
    reason: str | None


Actor = str | Column[str]  # a name, or the column of the lifecycle's table that holds one per message
Moment = dt.datetime | Column[dt.datetime]


def entered(
    tx: Transaction, lifecycle: Lifecycle, pks: Sequence[int], *, actor: Actor, at: Moment, reason: str | None = None
) -> None:
    """Write the first history row (none -> the initial state) of newly inserted messages.

    `actor` and `at` may name columns of the lifecycle's table, so that a batch of
    messages that came in through different doors at different times is recorded
    by one INSERT ... SELECT (the group commit's hot path).
    """
    if pks:
        _record(tx, lifecycle, pks, None, lifecycle.initial, actor=actor, at=at, reason=reason)


def transition(
    tx: Transaction,
    lifecycle: Lifecycle,
    pk: int,
    to: str,
    *,
    actor: str,
    at: dt.datetime,
    reason: str | None = None,
    values: Mapping[str, object] | None = None,
) -> bool:
    """Move one message to `to` (setting `values` too); False when the move is refused."""
    return bool(transition_many(tx, lifecycle, (pk,), to, actor=actor, at=at, reason=reason, values=values))


def transition_many(
    tx: Transaction,
    lifecycle: Lifecycle,
    pks: Iterable[int],
    to: str,
    *,
    actor: str,
    at: dt.datetime,
    reason: str | None = None,
    values: Mapping[str, object] | None = None,
) -> list[int]:
    """Move every one of `pks` that may move to `to`; returns those that moved (each with its history row).

    A move with one source state (accepted -> queued, the forwarder's and the relay's) is
    one UPDATE ... RETURNING and one INSERT ... SELECT of the history rows, whatever
    the size of the batch. A move with several first reads and locks the rows
    (SELECT ... FOR UPDATE; on SQLite the write lock does that): trying the sources
    one UPDATE after the other would miss a message that another transaction moves
    from a source not tried yet to one already tried. Then, per source state found,
    one UPDATE and one INSERT.
    """
    if not actor:
        raise ValueError("a move needs an actor")
    extra = dict(values or {})
    if "status" in extra:
        raise ValueError("the status is the move's target, not one of its values")
    to = str(to)
    wanted = list(dict.fromkeys(pks))
    sources = lifecycle.sources(to)
    if not wanted or not sources:
        return []
    by_source = {sources[0]: wanted} if len(sources) == 1 else _locked_by_source(tx, lifecycle, wanted, sources)
    statement = _move_statement(lifecycle, tuple(sorted(extra)))
    parameters = {f"set_{name}": value for name, value in extra.items()} | {"new_status": to}
    moved: set[int] = set()
    for source, group in by_source.items():
        from_source = set(tx.execute(statement, parameters | {"pks": group, "old_status": str(source)}).scalars())
        if from_source:
            _record(tx, lifecycle, sorted(from_source), source, to, actor=actor, at=at, reason=reason)
            moved |= from_source
    return [pk for pk in wanted if pk in moved]


def _locked_by_source(
    tx: Transaction, lifecycle: Lifecycle, pks: list[int], sources: Sequence[str]
) -> dict[str, list[int]]:
    """Those of `pks` in one of `sources`, by state, their rows locked until the transaction ends."""
    table = lifecycle.table
    rows = tx.execute(
        select(table.c.id, table.c.status).where(table.c.id.in_(pks)).order_by(table.c.id).with_for_update()
    )
    by_source: dict[str, list[int]] = {}
    for pk, status in rows:
        if status in sources:
            by_source.setdefault(status, []).append(pk)
    return by_source


def history(connection: Connection, lifecycle: Lifecycle, pk: int) -> list[Step]:
    """A message's moves, oldest first."""
    rows = connection.execute(
        select(
            message_history.c.from_status,
            message_history.c.to_status,
            message_history.c.at,
            message_history.c.actor,
            message_history.c.reason,
        )
        .where(message_history.c.kind == lifecycle.kind, message_history.c.message == pk)
        .order_by(message_history.c.id)
    )
    return [Step(row.from_status, row.to_status, _utc(row.at), row.actor, row.reason) for row in rows]


@functools.lru_cache(maxsize=32)
def _move_statement(lifecycle: Lifecycle, value_names: Sequence[str]) -> Update:
    """Built once per shape, so SQLAlchemy compiles it once."""
    table = lifecycle.table
    return (
        update(table)
        .where(table.c.id.in_(bindparam("pks", expanding=True)), table.c.status == bindparam("old_status"))
        .values(status=bindparam("new_status"), **{name: bindparam(f"set_{name}") for name in value_names})
        .returning(table.c.id)
    )


def _record(
    tx: Transaction,
    lifecycle: Lifecycle,
    pks: Sequence[int],
    from_status: str | None,
    to: str,
    *,
    actor: Actor,
    at: Moment,
    reason: str | None,
) -> None:
    actor_column = actor if isinstance(actor, Column) else None
    at_column = at if isinstance(at, Column) else None
    parameters: dict[str, object] = {
        "h_pks": list(pks),
        "h_from": None if from_status is None else str(from_status),
        "h_to": str(to),
        "h_reason": reason[:REASON_LIMIT] if reason else None,
    }
    if actor_column is None:
        parameters["h_actor"] = str(actor)[:128]
    if at_column is None:
        parameters["h_at"] = at
    tx.execute(_record_statement(lifecycle, actor_column, at_column), parameters)


@functools.lru_cache(maxsize=16)
def _record_statement(
    lifecycle: Lifecycle, actor_column: Column[str] | None, at_column: Column[dt.datetime] | None
) -> Insert:
    """INSERT INTO message_history ... SELECT ... FROM <the lifecycle's table> WHERE id IN (...), built once."""
    table = lifecycle.table
    rows = select(
        literal(lifecycle.kind, String),
        table.c.id,
        bindparam("h_from", type_=String),
        bindparam("h_to", type_=String),
        at_column if at_column is not None else bindparam("h_at", type_=DateTime(timezone=True)),
        actor_column if actor_column is not None else bindparam("h_actor", type_=String),
        bindparam("h_reason", type_=Text),
    ).where(table.c.id.in_(bindparam("h_pks", expanding=True)))
    columns = ["kind", "message", "from_status", "to_status", "at", "actor", "reason"]
    return insert(message_history).from_select(columns, rows)


def _utc(moment: dt.datetime) -> dt.datetime:
    """SQLite gives back naive datetimes; everything stored is UTC."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=dt.UTC)
