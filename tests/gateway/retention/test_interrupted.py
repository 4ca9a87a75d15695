"""`gateway purge` killed with SIGKILL mid-run loses nothing that is not in a signed archive; run again, it finishes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from aged import archived, inbound
from sqlalchemy import Engine, select
from support import write_config

from gateway.retention.purge import Purger
from gateway.retention.verify import verify_archive
from gateway.signing.trust import TrustStore
from gateway.store.messages import MessageStore
from gateway.store.tables import messages, purged_messages

MESSAGES = 240
BATCH = 6


def test_a_purge_killed_mid_run_loses_nothing_and_a_second_run_finishes_it(
    db_url: str, engine: Engine, store: MessageStore, purger_for: Callable[..., Purger], pki_dir: Path,
    namespace: str, tmp_path: Path,
) -> None:
    sent = {new.message_id: new for new in (inbound(store, age_days=40) for _ in range(MESSAGES))}
    archive_dir = tmp_path / "archive"
    config = write_config(
        tmp_path / "config", pki_dir, namespace,
        retention={"default_days": 30, "batch": BATCH, "archive_dir": str(archive_dir)},
    )
    purge = subprocess.Popen(
        [sys.executable, "-m", "app", "--config", str(config), "purge"],
        env={**os.environ, "GATEWAY_DB_URL": db_url}, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )
    while len(list(archive_dir.glob("*.tar"))) < 3 and purge.poll() is None:
        time.sleep(0.005)
    purge.send_signal(signal.SIGKILL)
    assert purge.wait() == -signal.SIGKILL, purge.stderr.read() if purge.stderr else ""

    kept = {row.message_id for row in _rows(engine, messages.c.message_id)}
    tombstoned = {row.message_id for row in _rows(engine, purged_messages.c.message_id)}
    assert kept and tombstoned, "the kill did not land in the middle of the purge"
    assert kept | tombstoned == set(sent) and not kept & tombstoned
    trust = TrustStore.from_files([pki_dir / "ca.pem"])
    whole = sorted(archive_dir.glob("*.tar"))
    for path in whole:
        verify_archive(path, trust)
    assert {sent[m].body for m in tombstoned} <= set(archived(whole))  # every removed message is archived

    report = purger_for(default_days=30, batch=50, archive_dir=archive_dir).run()

    assert report.inbound == len(kept)
    assert not _rows(engine, messages.c.message_id)
    assert archived(archive_dir.glob("*.tar")) == {new.body: new.receipt for new in sent.values()}


def _rows(engine: Engine, *columns: object) -> list:
    with engine.connect() as connection:
        return list(connection.execute(select(*columns)))  # type: ignore[call-overload]
