"""The timers component purges on its own every `[retention] every_s`."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

from aged import inbound
from sqlalchemy import Engine, Table, func, select
from support import wait_until, write_config

from app.wiring import assemble
from gateway.config import Settings, load_settings
from gateway.schemas.registry import SchemaRegistry
from gateway.store.tables import messages, purged_messages


def test_the_timers_purge_what_is_due_and_keep_the_rest(
    db_url: str, pki_dir: Path, namespace: str, tmp_path: Path, schemas: Callable[[Settings], SchemaRegistry]
) -> None:
    config = write_config(
        tmp_path / "config", pki_dir, namespace,
        retention={"default_days": 30, "every_s": 0.2, "archive_dir": str(tmp_path / "archive")},
    )
    settings = load_settings(config, environ={"GATEWAY_DB_URL": db_url})
    assembly = assemble(settings, sync_registry=True, schemas=schemas(settings))
    store = assembly.services.store
    due, recent = inbound(store, age_days=31), inbound(store, age_days=29)
    timers = assembly.timers()
    running = threading.Thread(target=timers.run)
    running.start()
    try:
        wait_until(lambda: _count(assembly.services.engine, purged_messages) == 1, timeout=20)
    finally:
        timers.stop()
        running.join()
        assembly.close()
    engine = assembly.services.engine
    with engine.connect() as connection:
        assert connection.execute(select(messages.c.message_id)).scalars().all() == [recent.message_id]
        assert connection.execute(select(purged_messages.c.message_id)).scalars().all() == [due.message_id]
    assert len(list((tmp_path / "archive").glob("*.tar"))) == 1


def _count(engine: Engine, table: Table) -> int:
    with engine.connect() as connection:
        return connection.execute(select(func.count()).select_from(table)).scalar_one()
