"""Purging: what is past its retention and in a final state is archived, then removed, leaving tombstones.

One round takes a batch of candidates: inbound messages in a final state received before their document
type's cut-off, delivered outbound messages created before the outbox's, rejections received before theirs.
A row that another row still points to (a declaration's latest message, the inbound message a kept reply
answers: any foreign key in the store, found by reflection) is not a candidate: it stays until what points
to it goes. The round writes the candidates, with their receipts, proofs of delivery, processing records and
histories, to a signed archive (gateway/retention/archive.py), whole and on disk, and only then removes them in
one transaction that also writes a tombstone per inbound message (so that a resend is still recognised) and
the archive's row. Killed at any moment, a round loses nothing: before the commit every row is still in the
store (and perhaps also in an archive, which the next round writes again), after it every removed row is in an
archive. Rounds repeat until nothing is due, so a second run finds nothing: purging is idempotent.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import structlog
from sqlalchemy import (
    ColumnElement,
    Connection,
    Engine,
    MetaData,
    and_,
    delete,
    exists,
    false,
    func,
    insert,
    or_,
    select,
)
from sqlalchemy.dialects import postgresql, sqlite

from gateway.config import RetentionSettings, Settings
from gateway.lifecycle import INBOUND, OUTBOUND
from gateway.retention.archive import CONTENTS, PARTIAL_SUFFIX, write_archive
from gateway.signing.keys import SigningIdentity
from gateway.signing.rotation import GatewayKeys
from gateway.store.engine import writing
from gateway.store.tables import archives, message_history, messages, outbox, processing, purged_messages, rejections

log = structlog.get_logger(__name__)
STALE_PARTIAL_S = 3600.0  # an unfinished archive older than this was left by a killed purge


@dataclass
class PurgeReport:
    inbound: int = 0
    outbound: int = 0
    rejections: int = 0
    archives: list[Path] = field(default_factory=list)

    def add(self, other: PurgeReport) -> None:
        self.inbound += other.inbound
        self.outbound += other.outbound
        self.rejections += other.rejections
        self.archives.extend(other.archives)


@dataclass(frozen=True)
class _Batch:
    inbound: list[dict]
    outbound: list[dict]
    rejections: list[dict]
    history: dict[tuple[str, int], list[dict]]
    processing: dict[int, list[dict]]

    def __bool__(self) -> bool:
        return bool(self.inbound or self.outbound or self.rejections)


class Purger:
    def __init__(self, engine: Engine, retention: RetentionSettings, signer: SigningIdentity, gateway: str) -> None:
        self.engine = engine
        self.retention = retention
        self.signer = signer
        self.gateway = gateway
        reflected = MetaData()
        reflected.reflect(engine)
        self._unreferenced = {
            table: [~exists().where(column == table.c.id) for column in _references(reflected, table.name)]
            for table in (messages, outbox)
        }
        dialect_insert = postgresql.insert if engine.dialect.name == "postgresql" else sqlite.insert
        self._tombstone = dialect_insert(purged_messages).on_conflict_do_nothing()

    @classmethod
    def of(cls, settings: Settings, engine: Engine) -> Purger:
        """The purger of the configured gateway: its retention, its key (which signs the archives)."""
        gateway = settings.gateway.identity
        signer = GatewayKeys.load(settings.pki_dir, gateway, settings.next_key_from).signer()
        return cls(engine, settings.retention, signer, gateway)

    def due(self, now: dt.datetime) -> PurgeReport:
        """How many rows a purge at `now` would remove (`gateway purge --dry-run`); nothing is written."""
        with self.engine.connect() as connection:
            counts = [
                connection.execute(select(func.count()).select_from(table).where(condition)).scalar_one()
                for table, condition in self._conditions(now)
            ]
        return PurgeReport(*counts)

    def run(self, now: dt.datetime | None = None) -> PurgeReport:
        """Archive and remove everything due at `now` (default: the present), one batch after the other."""
        now = now or dt.datetime.now(dt.UTC)
        self._remove_stale_partials()
        report = PurgeReport()
        while batch := self._batch(now):
            done = self._purge(batch, now)
            report.add(done)
            if not (done.inbound or done.outbound or done.rejections):
                break  # another purger removed them first
        return report

    def _conditions(self, now: dt.datetime) -> list[tuple[object, ColumnElement[bool]]]:
        retention = self.retention
        cut_off = {name: now - dt.timedelta(days=days) for name, days in retention.document_types.items()}
        by_type = [
            and_(messages.c.document_type == name, messages.c.received_at < moment) for name, moment in cut_off.items()
        ]
        if retention.default_days is not None:
            by_type.append(
                and_(
                    messages.c.document_type.not_in(list(cut_off)),
                    messages.c.received_at < now - dt.timedelta(days=retention.default_days),
                )
            )
        inbound = and_(messages.c.status.in_(sorted(INBOUND.final)), or_(false(), *by_type), *self._unreferenced[messages])
        outbound = and_(
            outbox.c.status.in_(sorted(OUTBOUND.final)),
            _older(outbox.c.created_at, now, retention.outbox_days),
            *self._unreferenced[outbox],
        )
        return [
            (messages, inbound),
            (outbox, outbound),
            (rejections, _older(rejections.c.received_at, now, retention.rejections_days)),
        ]

    def _batch(self, now: dt.datetime) -> _Batch:
        limit = self.retention.batch
        (_, inbound), (_, outbound), (_, rejected) = self._conditions(now)
        with self.engine.connect() as connection:
            batch = _Batch(
                inbound=_rows(connection, select(messages).where(inbound).order_by(messages.c.id).limit(limit)),
                outbound=_rows(connection, select(outbox).where(outbound).order_by(outbox.c.id).limit(limit)),
                rejections=_rows(connection, select(rejections).where(rejected).order_by(rejections.c.id).limit(limit)),
                history={},
                processing={},
            )
            for kind, rows in (("inbound", batch.inbound), ("outbound", batch.outbound)):
                for row in _rows(
                    connection,
                    select(message_history)
                    .where(message_history.c.kind == kind, message_history.c.message.in_([r["id"] for r in rows]))
                    .order_by(message_history.c.id),
                ):
                    batch.history.setdefault((kind, row["message"]), []).append(row)
            for row in _rows(
                connection, select(processing).where(processing.c.message.in_([r["id"] for r in batch.inbound]))
            ):
                batch.processing.setdefault(row["message"], []).append(row)
        return batch

    def _purge(self, batch: _Batch, now: dt.datetime) -> PurgeReport:
        name = f"{self.gateway}-{now:%Y%m%dT%H%M%SZ}-{uuid.uuid4().hex[:12]}.tar"
        path = self.retention.archive_dir / name
        sha256 = write_archive(path, _files(batch, self.gateway, now), self.signer, now.timestamp())
        inbound_ids = [row["id"] for row in batch.inbound]
        outbound_ids = [row["id"] for row in batch.outbound]
        with writing(self.engine) as tx:
            if batch.inbound:
                tx.execute(self._tombstone, [_tombstone(row, now, name) for row in batch.inbound])
            tx.execute(delete(processing).where(processing.c.message.in_(inbound_ids)))
            report = PurgeReport(
                inbound=_remove(tx, messages, inbound_ids, INBOUND.final, "inbound"),
                outbound=_remove(tx, outbox, outbound_ids, OUTBOUND.final, "outbound"),
                rejections=tx.execute(
                    delete(rejections).where(rejections.c.id.in_([row["id"] for row in batch.rejections]))
                ).rowcount,
                archives=[path],
            )
            tx.execute(
                insert(archives).values(
                    name=name, created_at=now, sha256=sha256, messages=report.inbound, outbound=report.outbound,
                    rejections=report.rejections,
                )
            )
        log.info(
            "purged into a signed archive", archive=str(path), inbound=report.inbound, outbound=report.outbound,
            rejections=report.rejections,
        )
        return report

    def _remove_stale_partials(self) -> None:
        if not self.retention.archive_dir.is_dir():
            return
        for partial in self.retention.archive_dir.glob(f"*.tar{PARTIAL_SUFFIX}"):
            if time.time() - partial.stat().st_mtime > STALE_PARTIAL_S:
                partial.unlink(missing_ok=True)


def _references(reflected: MetaData, target: str) -> Iterable:
    """The columns of the store's tables that point to `target`'s rows, but processing's (purged with them)."""
    for table in reflected.tables.values():
        for key in table.foreign_keys:
            if key.column.table.name == target and table.name != processing.name:
                yield key.parent


def _older(column: ColumnElement, now: dt.datetime, days: float | None) -> ColumnElement[bool]:
    return false() if days is None else column < now - dt.timedelta(days=days)


def _rows(connection: Connection, query: object) -> list[dict]:
    return [dict(row._mapping) for row in connection.execute(query)]  # type: ignore[call-overload]


def _remove(tx: Connection, table: object, ids: list[int], final: frozenset[str], kind: str) -> int:
    """Delete the rows (still in a final state) and their history; the number of rows deleted."""
    if not ids:
        return 0
    tx.execute(delete(message_history).where(message_history.c.kind == kind, message_history.c.message.in_(ids)))
    return tx.execute(delete(table).where(table.c.id.in_(ids), table.c.status.in_(sorted(final)))).rowcount  # type: ignore[attr-defined]


def _tombstone(row: dict, now: dt.datetime, archive: str) -> dict:
    return {
        "sender": row["sender"],
        "message_id": row["message_id"],
        "document_type": row["document_type"],
        "digest": row["digest"],
        "receipt_digest": hashlib.sha256(row["receipt"]).hexdigest(),
        "received_at": row["received_at"],
        "processed_at": row["processed_at"],
        "purged_at": now,
        "archive": archive,
    }


def _files(batch: _Batch, gateway: str, now: dt.datetime) -> list[tuple[str, bytes]]:
    """The archive's files: each row's bytes as they were stored, its facts and history as JSON."""
    files: list[tuple[str, bytes]] = []
    contents: dict[str, object] = {"gateway": gateway, "created_at": now.isoformat()}
    sections = (
        ("inbound", batch.inbound, {"body": "envelope.xml", "receipt": "receipt.xml"}),
        ("outbound", batch.outbound, {"body": "envelope.xml", "delivery_receipt": "delivery-receipt.xml"}),
        ("rejections", batch.rejections, {"body": "body.xml", "receipt": "receipt.xml"}),
    )
    for kind, rows, blobs in sections:
        facts = []
        for row in rows:
            folder = f"{kind}/{row['id']}"
            for column, file_name in blobs.items():
                if row[column] is not None:
                    files.append((f"{folder}/{file_name}", row[column]))
            if kind != "rejections":
                files.append((f"{folder}/history.json", _json(batch.history.get((kind, row["id"]), []))))
            if kind == "inbound":
                files.append((f"{folder}/processing.json", _json(batch.processing.get(row["id"], []))))
            facts.append(
                {key: value for key, value in row.items() if key not in blobs}
                | {f"{column}_sha256": hashlib.sha256(row[column]).hexdigest() for column in blobs if row[column]}
                | {"folder": folder}
            )
        contents[kind] = facts
    files.append((CONTENTS, _json(contents)))
    return files


def _json(value: object) -> bytes:
    return json.dumps(value, ensure_ascii=False, indent=1, default=_plain).encode("utf-8")


def _plain(value: object) -> str:
    if isinstance(value, dt.datetime):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not archived as JSON")
