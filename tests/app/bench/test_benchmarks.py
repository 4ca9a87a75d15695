"""The benchmark commands, run short against real servers: every figure they promise is there and sane."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import psycopg
import pytest
from sqlalchemy import create_engine, inspect

from app.bench import bodies
from app.bench.instance import bench_store
from app.bench.processes import HTTP_THREAD_ROLES, ROLES
from app.cli.main import main
from conformance import sample
from gateway import xmlsafe

pytestmark = pytest.mark.slow


def test_prepared_messages_are_distinct_and_signed(pki_dir: Path, tmp_path: Path) -> None:
    declaration = sample("ECOM_DECLARATION")
    shares = bodies.prepare(bodies.Signer(pki_dir, declaration.sender, declaration.file), 5, tmp_path, shares=2)

    messages = [body for share in shares for body in bodies.read(share)]

    assert [len(list(bodies.read(share))) for share in shares] == [3, 2]
    ids = {xmlsafe.parse(body).findtext(".//{*}messageId") for body in messages}
    assert len(ids) == 5
    assert all(b"SignatureValue" in body for body in messages)


def test_a_postgresql_bench_store_is_a_database_of_its_own_dropped_afterwards(postgres_url: str, tmp_path: Path) -> None:
    url = postgres_url.replace("postgresql://", "postgresql+psycopg://")
    with bench_store(url, tmp_path) as store:
        name = store.rsplit("/", 1)[1]
        engine = create_engine(store)
        assert inspect(engine).get_table_names() == []
        engine.dispose()
    with psycopg.connect(postgres_url) as connection:
        assert connection.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone() is None


def test_a_bench_store_must_be_postgresql(tmp_path: Path, capsys: pytest.CaptureFixture[str], config_path: Path) -> None:
    status = main(["--config", str(config_path), "bench", "intake", "--db", f"mysql://x/{uuid.uuid4().hex}"])

    assert status == 2
    assert "--db takes a PostgreSQL URL" in capsys.readouterr().err


@pytest.mark.integration  # the bench runs a gateway on the real broker
def test_bench_intake_prints_every_figure(config_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    status = main(["--config", str(config_path), "bench", "intake", "--seconds", "4", "--rate", "20", "--clients", "4",
                   "--json"])

    figures = json.loads(capsys.readouterr().out)
    assert status == 0
    assert figures["accepted_per_s"] > 0 and figures["achieved_per_s"] > 0
    assert figures["rejected"] == 0 and figures["repeated"] == 0
    assert set(figures["cpu_ms_per_message"]) == set(ROLES)
    assert figures["cpu_ms_per_message"]["http workers"] > 0
    assert figures["cpu_ms_per_message_total"] >= figures["cpu_ms_per_message"]["http workers"]
    threads = figures["http_threads_cpu_ms_per_message"]
    assert set(threads) == set(HTTP_THREAD_ROLES)
    assert threads["request threads"] > 0 and threads["group commit"] > 0 and threads["forwarder"] > 0
    assert sum(threads.values()) <= figures["cpu_ms_per_message"]["http workers"] * 1.01  # a part of theirs
    assert figures["queued_measured"] > 0 and 0 < figures["accept_to_queued_p50_ms"] <= figures["accept_to_queued_p99_ms"]
    assert figures["ceiling_per_s"] > 0 and figures["store"] == "sqlite"


@pytest.mark.integration  # the bench runs a gateway on the real broker
def test_bench_large_measures_the_memory_a_large_message_costs(config_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    status = main(["--config", str(config_path), "bench", "large", "--megabytes", "2", "--json"])

    figures = json.loads(capsys.readouterr().out)
    assert status == 0 and figures["status"] == 200
    assert 1.8 * 2**20 < figures["message_bytes"] <= 2 * 2**20
    assert figures["items"] == 999
    assert figures["peak_bytes"] >= figures["resident_before_bytes"] > 0
    assert figures["cost_per_message_byte"] == round(figures["cost_bytes"] / figures["message_bytes"], 2)
