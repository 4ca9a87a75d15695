"""The signed archives (`archives`, written by `gateway purge`) as auditors check them from the console.

A verification re-reads the file: its SHA-256 must be the one recorded when it was written, then
gateway.retention.verify checks the manifest's signature, the signer's chain to the configured trust
anchors and every member's digest. Each verification is an audit record (`archive.verify`) with its
outcome, so the archives' page shows when each was last checked, by whom, and what was found.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, select

from console import audit
from console.tables import audit_trail
from gateway.config import Settings
from gateway.retention.verify import ArchiveInvalid, verify_archive
from gateway.signing.trust import TrustStore
from gateway.store.engine import writing
from gateway.store.tables import archives

ACTION = "archive.verify"
LIMIT = 500
CHUNK = 1 << 20


def listed(connection: Connection, limit: int = LIMIT) -> list[dict[str, Any]]:
    """The newest archives, each with its last verification (None: never verified from the console)."""
    rows = [dict(row._mapping) for row in connection.execute(
        select(archives).order_by(archives.c.created_at.desc(), archives.c.name).limit(limit))]
    last: dict[str, dict[str, Any]] = {}
    targets = [f"archive:{row['name']}" for row in rows]
    for record in connection.execute(
        select(audit_trail.c.target, audit_trail.c.actor, audit_trail.c.at, audit_trail.c.after)
        .where(audit_trail.c.action == ACTION, audit_trail.c.target.in_(targets)).order_by(audit_trail.c.id)
    ):
        last[record.target.removeprefix("archive:")] = {"actor": record.actor, "at": record.at,
                                                        **json.loads(record.after or "{}")}
    return [row | {"verified": last.get(row["name"])} for row in rows]


def verify(engine: Engine, by: audit.Entry, settings: Settings, name: str) -> dict[str, Any] | None:
    """Check one archive of the table and record the outcome; None when the table has no such archive."""
    with engine.connect() as connection:
        row = connection.execute(select(archives).where(archives.c.name == name)).first()
    if row is None:
        return None
    outcome = _check(settings.retention.archive_dir, row.name, row.sha256, settings.trust_anchors)
    now = dt.datetime.now(dt.UTC)
    with writing(engine) as tx:
        audit.record(tx, audit.Entry(by.actor, ACTION, by.address, f"archive:{name}", None, outcome, None), now)
    return {"name": name, **outcome}


def _check(directory: Path, name: str, recorded: str, anchors: tuple[Path, ...]) -> dict[str, Any]:
    if Path(name).name != name:  # the table names files of the archive directory, nothing else
        return {"valid": False, "problem": f"{name!r} is not a file name"}
    path = directory / name
    try:
        digest = _sha256(path)
    except OSError as exc:
        return {"valid": False, "problem": f"the archive file cannot be read: {exc.strerror or exc}"}
    if not hmac.compare_digest(digest, recorded):
        return {"valid": False, "problem": "the file's SHA-256 is not the one recorded when it was written"}
    try:
        verified = verify_archive(path, TrustStore.from_files(anchors))
    except ArchiveInvalid as exc:
        return {"valid": False, "problem": str(exc)}
    return {"valid": True, "problem": None, "signer": verified.signer, "signed_at": verified.created_at.isoformat(),
            "files": verified.files, "counts": verified.counts}


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()
