"""`gateway serve --role console`: the console on its own listener under uvicorn, sealing the audit trail at start,
stopped cleanly by SIGTERM."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import requests
from console_support import API, PASSWORD
from sqlalchemy import select
from support import AMQP_URL, wait_until

from app.process import free_port
from console.context import Console
from console.tables import audit_seals

pytestmark = pytest.mark.stores("sqlite")


def test_the_console_role_serves_the_api_on_its_own_port_and_seals_the_trail(
    console: Console, config_path: Path, db_url: str, tmp_path: Path
) -> None:
    port = free_port()
    env = {**os.environ, "GATEWAY_CONFIG": str(config_path), "GATEWAY_DB_URL": db_url, "GATEWAY_AMQP_URL": AMQP_URL}
    with (tmp_path / "console.log").open("ab") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "app", "serve", "--role", "console", "--console-bind", f"127.0.0.1:{port}"],
            env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )
    base = f"http://127.0.0.1:{port}{API}"
    try:
        session = requests.Session()

        def logged_in() -> bool:
            try:
                return session.post(f"{base}/session", json={"login": "viewer", "password": PASSWORD}, timeout=2).ok
            except requests.ConnectionError:
                return False

        wait_until(logged_in, timeout=60)
        document = session.get(f"{base}/openapi.json", timeout=5).json()
        assert document["openapi"].startswith("3.") and f"{API}/messages" in document["paths"]
        assert requests.get(f"{base}/messages", timeout=5).status_code == 401  # another client: no session
        with console.services.engine.connect() as connection:
            assert connection.execute(select(audit_seals.c.head)).scalars().all()  # sealed when it started
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(40) == 0, (tmp_path / "console.log").read_text()
