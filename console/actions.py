"""What operators do to messages, alerts and parties, each in one transaction with its audit record.

Message states change through gateway/lifecycle.py only (`unpark_many`, `redrive_many`),
so each message's history names the operator and the reason too. The API and the pages
both call these.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Engine, delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from console import audit
from console.tables import alert_acknowledgements
from customs.state import alerts
from gateway.outbound.outbox import unpark_many
from gateway.parties import REMOVED, SUSPENDED
from gateway.store.engine import writing
from gateway.store.messages import redrive_many
from gateway.store.tables import parties, party_suspensions

ACTIVE = "active"


def resend(engine: Engine, by: audit.Entry, pks: list[int], reason: str, target: str | None = None,
           selection: dict[str, object] | None = None) -> list[int]:
    """Parked outbound messages go out again (the relay publishes them); returns those that were parked."""
    now = dt.datetime.now(dt.UTC)
    with writing(engine) as tx:
        moved = unpark_many(tx, pks, now, by.actor, reason)
        if moved:
            audit.record(tx, audit.Entry(
                by.actor, "outbox.resend", by.address, target or f"outbox:{moved[0]}",
                {"status": "parked", **(selection or {})}, {"status": "pending", "outbox": moved}, reason,
            ), now)
    return moved


def redrive(engine: Engine, by: audit.Entry, pk: int, reason: str) -> bool:
    """A failed (dead-lettered) message goes to its handlers again; False when it was not failed."""
    now = dt.datetime.now(dt.UTC)
    with writing(engine) as tx:
        if not redrive_many(tx, [pk], now, by.actor, reason):
            return False
        audit.record(tx, audit.Entry(by.actor, "message.redrive", by.address, f"message:{pk}", {"status": "failed"},
                                     {"status": "accepted"}, reason), now)
    return True


class AlreadyAcknowledged(Exception):
    """An alert is acknowledged once."""


def acknowledge(engine: Engine, by: audit.Entry, pk: int, note: str | None) -> bool:
    """Acknowledge an alert; False when there is no such alert, AlreadyAcknowledged when it was."""
    now = dt.datetime.now(dt.UTC)
    with engine.connect() as connection:
        alert = connection.execute(select(alerts.c.alert_id).where(alerts.c.id == pk)).scalar()
    if alert is None:
        return False
    try:
        with writing(engine) as tx:
            tx.execute(insert(alert_acknowledgements).values(alert=pk, actor=by.actor, at=now, note=note))
            audit.record(tx, audit.Entry(by.actor, "alert.acknowledge", by.address, f"alert:{alert}", None,
                                         {"acknowledged": True}, note), now)
    except IntegrityError:
        raise AlreadyAcknowledged(pk) from None
    return True


def suspend_party(engine: Engine, by: audit.Entry, identity: str, reason: str) -> bool:
    """The party can send nothing (intake refuses it with PARTY_SUSPENDED once the registry is refreshed, within
    30 s), until reactivated; the suspension outlives a reload of parties.toml. False when it is not registered."""
    now = dt.datetime.now(dt.UTC)
    with writing(engine) as tx:
        before = tx.execute(select(parties.c.status).where(parties.c.identity == identity)).scalar()
        if before is None or before == REMOVED:
            return False
        tx.execute(delete(party_suspensions).where(party_suspensions.c.party == identity))
        tx.execute(insert(party_suspensions).values(party=identity, actor=by.actor, at=now, reason=reason))
        tx.execute(update(parties).where(parties.c.identity == identity).values(status=SUSPENDED, updated_at=now))
        audit.record(tx, audit.Entry(by.actor, "party.suspend", by.address, f"party:{identity}", {"status": before},
                                     {"status": SUSPENDED}, reason), now)
    return True


def reactivate_party(engine: Engine, by: audit.Entry, identity: str, reason: str) -> bool:
    """Lift an operator's suspension; False when the party was not suspended by one."""
    now = dt.datetime.now(dt.UTC)
    with writing(engine) as tx:
        if not tx.execute(delete(party_suspensions).where(party_suspensions.c.party == identity)).rowcount:
            return False
        tx.execute(update(parties).where(parties.c.identity == identity).values(status=ACTIVE, updated_at=now))
        audit.record(tx, audit.Entry(by.actor, "party.reactivate", by.address, f"party:{identity}",
                                     {"status": SUSPENDED}, {"status": ACTIVE}, reason), now)
    return True
