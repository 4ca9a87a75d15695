"""The audit trail: append-only records of what operators did, each chained to the one before by its hash.

A record says who (`operator:<login>`), when, from which address, what (an action
name and its target), the state before and after, and why. Its `hash` is the
SHA-256 of the previous record's hash and this record's canonical JSON, so a
record changed, removed or inserted later breaks the chain from there on.

A rewrite of the whole table (every hash recomputed) would still chain; against
that, the head of the chain is sealed: its id and hash signed with the gateway's
key (`seal`, run daily by the console and by `gateway audit seal`). `verify` walks
the chain and checks every seal against it and against the gateway's certificate.

Records are appended in the caller's write transaction (`gateway.store.engine.writing`),
so an action and its record commit together. On PostgreSQL the table is locked for
the append, so two appends never chain to the same predecessor; SQLite's write lock
does that already.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from sqlalchemy import Connection, Engine, func, insert, select, text

from console.tables import audit_seals, audit_trail
from customs.timestamps import as_utc
from gateway.signing.keys import SigningIdentity, certificate_from_der, der_of, fingerprint
from gateway.store.engine import writing

GENESIS = "0" * 64
TEXT_LIMIT = 8000


@dataclass(frozen=True)
class Entry:
    """What an audit record says; `record` adds the place in the chain."""

    actor: str
    action: str
    address: str | None = None
    target: str | None = None
    before: Any = None
    after: Any = None
    reason: str | None = None


def record(tx: Connection, entry: Entry, at: dt.datetime | None = None) -> int:
    """Append `entry` to the chain in the caller's transaction; returns its id."""
    if tx.dialect.name == "postgresql":
        tx.execute(text("LOCK TABLE audit_trail IN EXCLUSIVE MODE"))
    last = tx.execute(select(audit_trail.c.id, audit_trail.c.hash).order_by(audit_trail.c.id.desc()).limit(1)).first()
    pk, prev_hash = (last.id + 1, last.hash) if last else (1, GENESIS)
    row = {
        "id": pk,
        "at": as_utc(at or dt.datetime.now(dt.UTC)),
        "actor": entry.actor[:128],
        "address": (entry.address or None) and entry.address[:64],
        "action": entry.action[:64],
        "target": (entry.target or None) and entry.target[:255],
        "before": _json(entry.before),
        "after": _json(entry.after),
        "reason": entry.reason[:TEXT_LIMIT] if entry.reason else None,
        "prev_hash": prev_hash,
    }
    row["hash"] = chained_hash(prev_hash, row)
    tx.execute(insert(audit_trail).values(row))
    return pk


def chained_hash(prev_hash: str, row: dict[str, Any]) -> str:
    """The hash of a record: over the previous hash and the record's fields in a fixed form."""
    fields = {name: row[name] for name in ("id", "actor", "address", "action", "target", "before", "after", "reason")}
    fields["at"] = as_utc(row["at"]).isoformat(timespec="microseconds")
    canonical = json.dumps(fields, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(f"{prev_hash}\n{canonical}".encode()).hexdigest()


def seal(engine: Engine, signer: SigningIdentity, at: dt.datetime | None = None) -> int | None:
    """Sign the chain's head with the gateway's key; returns the head sealed (None when the trail is empty)."""
    moment = as_utc(at or dt.datetime.now(dt.UTC))
    with writing(engine) as tx:
        head = tx.execute(select(audit_trail.c.id, audit_trail.c.hash).order_by(audit_trail.c.id.desc()).limit(1)).first()
        if head is None:
            return None
        signature = _sign(signer, _statement(head.id, head.hash, moment))
        tx.execute(
            insert(audit_seals).values(
                at=moment, head=head.id, head_hash=head.hash, signature=signature, certificate=der_of(signer.certificate)
            )
        )
        return int(head.id)


def last_seal_at(connection: Connection) -> dt.datetime | None:
    moment = connection.execute(select(func.max(audit_seals.c.at))).scalar()
    return as_utc(moment) if moment is not None else None


@dataclass
class Verification:
    records: int = 0
    seals: int = 0
    sealed_through: int = 0  # the highest record id a valid seal covers
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def verify(connection: Connection, gateway_certificate: x509.Certificate) -> Verification:
    """Walk the whole chain and check every seal; the problems found, first ones first."""
    result = Verification()
    hashes_by_id: dict[int, str] = {}
    prev_hash = GENESIS
    for row in _rows(connection):
        result.records += 1
        expected_id = result.records
        if row["id"] != expected_id:
            result.problems.append(f"record {expected_id} is missing (the next one is {row['id']})")
            break
        if row["prev_hash"] != prev_hash:
            result.problems.append(f"record {row['id']} does not chain to the record before it")
            break
        if chained_hash(prev_hash, row) != row["hash"]:
            result.problems.append(f"record {row['id']} was changed after it was written (its hash does not match)")
            break
        hashes_by_id[row["id"]] = prev_hash = row["hash"]
    trusted = fingerprint(gateway_certificate)
    for seal_row in connection.execute(select(audit_seals).order_by(audit_seals.c.id)):
        result.seals += 1
        problem = _seal_problem(seal_row, hashes_by_id, trusted)
        if problem:
            result.problems.append(f"seal {seal_row.id} of {as_utc(seal_row.at):%Y-%m-%d %H:%M}: {problem}")
        else:
            result.sealed_through = max(result.sealed_through, seal_row.head)
    return result


def _seal_problem(seal_row: Any, hashes_by_id: dict[int, str], trusted: str) -> str | None:
    certificate = certificate_from_der(bytes(seal_row.certificate))
    if fingerprint(certificate) != trusted:
        return "signed by a certificate that is not the gateway's"
    statement = _statement(seal_row.head, seal_row.head_hash, as_utc(seal_row.at))
    if not _valid(certificate, bytes(seal_row.signature), statement):
        return "its signature is not valid"
    if hashes_by_id.get(seal_row.head) != seal_row.head_hash:
        return f"record {seal_row.head} is not the record that was sealed (the trail was rewritten)"
    return None


def _rows(connection: Connection) -> Iterator[dict[str, Any]]:
    result = connection.execution_options(yield_per=1000).execute(select(audit_trail).order_by(audit_trail.c.id))
    for row in result:
        yield dict(row._mapping)


def _statement(head: int, head_hash: str, at: dt.datetime) -> bytes:
    return f"audit-trail-head {head} {head_hash} {at.isoformat(timespec='microseconds')}".encode()


def _sign(signer: SigningIdentity, data: bytes) -> bytes:
    key = signer.private_key
    if isinstance(key, ec.EllipticCurvePrivateKey):
        return key.sign(data, ec.ECDSA(hashes.SHA256()))
    return key.sign(data, padding.PKCS1v15(), hashes.SHA256())


def _valid(certificate: x509.Certificate, signature: bytes, data: bytes) -> bool:
    key = certificate.public_key()
    try:
        if isinstance(key, ec.EllipticCurvePublicKey):
            key.verify(signature, data, ec.ECDSA(hashes.SHA256()))
        elif isinstance(key, rsa.RSAPublicKey):
            key.verify(signature, data, padding.PKCS1v15(), hashes.SHA256())
        else:
            return False
    except InvalidSignature:
        return False
    return True


def _json(value: Any) -> str | None:
    if value is None:
        return None
    return json.dumps(value, sort_keys=True, ensure_ascii=False, default=str)[:TEXT_LIMIT]
