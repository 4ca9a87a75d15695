"""`gateway bench console` seeds an empty store and times every console query, on both stores."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from support import write_config

from sqlalchemy import func, select

from app.bench.console import queries
from app.cli.main import main
from gateway.store.engine import make_engine
from gateway.store.tables import message_history, messages


def test_the_console_bench_seeds_the_store_and_times_every_query(
    db_url: str, tmp_path: Path, pki_dir: Path, namespace: str, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write_config(tmp_path / "config", pki_dir, namespace)
    status = main(["--config", str(config), "bench", "console", "--db-url", db_url, "--messages", "3000", "--repeat", "3",
                   "--json"])
    figures = json.loads(capsys.readouterr().out)
    assert status == 0, figures
    assert figures["messages"] == 3000 and figures["store"] in ("sqlite", "postgresql")
    assert set(figures["queries"]) == set(queries(dt.datetime.now(dt.UTC), {}))
    assert all(0 < figure["p95_ms"] < figures["target_p95_ms"] for figure in figures["queries"].values())
    with make_engine(db_url).connect() as connection:
        statuses = dict(connection.execute(select(messages.c.status, func.count()).group_by(messages.c.status)).all())
        history = connection.execute(select(func.count()).select_from(message_history)).scalar_one()
    assert statuses == {"processed": 2997, "failed": 3} and history >= 2 * 3000  # entered, then moved
    again = main(["--config", str(config), "bench", "console", "--db-url", db_url, "--messages", "10"])
    assert again == 2 and "not empty" in capsys.readouterr().out
