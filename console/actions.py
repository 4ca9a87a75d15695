"""What operators do to messages, alerts and parties, each in one transaction with its audit record.

Party changes go through the store path of `gateway parties reload` (gateway.parties.apply_parties) in
the transaction that records them, so parties.toml and an operator's changes never disagree: a
certificate an operator added or retired stays so after any later reload.

Message states change through gateway/lifecycle.py only (`unpark_many`, `redrive_many`),
so each message's history names the operator and the reason too. The API and the pages
both call these.
"""

from __future__ import annotations

import datetime as dt

from cryptography import x509
from sqlalchemy import Connection, Engine, delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from console import audit
from console.tables import alert_acknowledgements
from customs.state import alerts
from gateway.outbound.outbox import unpark_many
from gateway.parties import ADDED, REMOVED, RETIRED, SUSPENDED, PartyConfig, apply_parties
from gateway.signing.keys import certificate_from_der, der_of, fingerprint
from gateway.store.engine import writing
from gateway.store.messages import redrive_many
from gateway.store.tables import parties, party_certificate_changes, party_certificates, party_suspensions

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


def reload_parties(engine: Engine, by: audit.Entry, configured: list[PartyConfig]) -> dict[str, list[str]]:
    """Apply parties.toml (read by the caller) to the store; returns each party's certificate fingerprints after.

    ConfigurationError (nothing changed) when the file's certificates conflict."""
    now = dt.datetime.now(dt.UTC)
    with engine.connect() as connection:
        before = _registry(connection)  # a SQLite write transaction starts with its write: read before it
    with writing(engine) as tx:
        apply_parties(tx, configured)
        after = _registry(tx)
        audit.record(tx, audit.Entry(by.actor, "parties.reload", by.address, "parties", before, after, None), now)
    return {identity: state["certificates"] for identity, state in after.items()}


def add_certificate(engine: Engine, by: audit.Entry, configured: list[PartyConfig], identity: str,
                    certificate: x509.Certificate, reason: str) -> list[str] | None:
    """Register one more certificate to a configured party; its fingerprints after, None when it is not configured.

    ConfigurationError (nothing changed) when the certificate is another party's."""
    return _change_certificate(engine, by, configured, identity, certificate, ADDED, reason)


def retire_certificate(engine: Engine, by: audit.Entry, configured: list[PartyConfig], identity: str,
                       print_: str, reason: str) -> list[str] | None:
    """The party's certificate identifies it no more; its fingerprints after, None when it has no such certificate."""
    with engine.connect() as connection:
        der = connection.execute(select(party_certificates.c.der).where(
            party_certificates.c.party == identity, party_certificates.c.fingerprint == print_)).scalar()
    if der is None:
        return None
    return _change_certificate(engine, by, configured, identity, certificate_from_der(der), RETIRED, reason)


def _change_certificate(engine: Engine, by: audit.Entry, configured: list[PartyConfig], identity: str,
                        certificate: x509.Certificate, change: str, reason: str) -> list[str] | None:
    if identity not in {party.identity for party in configured}:
        return None
    print_ = fingerprint(certificate)
    now = dt.datetime.now(dt.UTC)
    with writing(engine) as tx:
        tx.execute(delete(party_certificate_changes).where(party_certificate_changes.c.fingerprint == print_))
        before = _certificates_of(tx, identity)
        tx.execute(insert(party_certificate_changes).values(
            fingerprint=print_, party=identity, change=change, der=der_of(certificate), actor=by.actor, at=now,
            reason=reason,
        ))
        apply_parties(tx, configured)
        after = _certificates_of(tx, identity)
        audit.record(tx, audit.Entry(
            by.actor, f"party.certificate.{'add' if change == ADDED else 'retire'}", by.address,
            f"party:{identity}", {"certificates": before}, {"certificates": after, change: print_}, reason,
        ), now)
    return after


def _certificates_of(connection: Connection, identity: str) -> list[str]:
    return sorted(connection.execute(
        select(party_certificates.c.fingerprint).where(party_certificates.c.party == identity)).scalars())


def _registry(connection: Connection) -> dict[str, dict[str, object]]:
    """Each party's status and certificate fingerprints: what a reload changes, for its audit record."""
    held: dict[str, list[str]] = {}
    for row in connection.execute(select(party_certificates.c.party, party_certificates.c.fingerprint)
                                  .order_by(party_certificates.c.fingerprint)):
        held.setdefault(row.party, []).append(row.fingerprint)
    return {row.identity: {"status": row.status, "certificates": held.get(row.identity, [])}
            for row in connection.execute(select(parties.c.identity, parties.c.status).order_by(parties.c.identity))}
