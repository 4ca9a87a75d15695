"""The store's schema: migrations build exactly the tables in code, and a previous release's store upgrades intact."""

from __future__ import annotations

import concurrent.futures
import datetime as dt

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, MetaData, insert, select, text
from support import previous_release_store

from app.cli.main import main
from app.schema import product_metadata
from gateway.store import schema
from gateway.store.engine import make_engine

pytestmark = pytest.mark.empty_store  # these tests make and migrate stores: theirs start with no table
NOW = dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.UTC)
# One row in each of the previous release's main tables (its column names), with bytes that must survive.
OLD_ROWS: dict[str, list[dict[str, object]]] = {
    "parties": [dict(identity="0101234567", name="Shop", country="VN", roles="marketplace", status="active", updated_at=NOW)],
    "messages": [
        dict(
            id=7, sender="0101234567", message_id="5b1c0c52-7d8e-4f0a-9a43-1f1a1d5a0c01", recipient="VNECOMGW",
            document_type="ECOM_ORDER", function="01", reference="R1", pre_reference=None, correlation_id="c1",
            door="http", digest="ab" * 32, body=b"<Envelope>\xe1\xba\xa3\x00\xff</Envelope>", receipt=b"<Receipt/>",
            route="orders", status="processed", attempts=1, last_error=None, received_at=NOW, queued_at=NOW,
            processed_at=NOW,
        )
    ],
    "outbox": [
        dict(
            id=3, message_id="6c2d1d63-8e9f-4a1b-8b54-2a2b2e6b1d12", recipient="0101234567", document_type="ECOM_DECISION",
            function="26", reference="R1", pre_reference="5b1c0c52-7d8e-4f0a-9a43-1f1a1d5a0c01", correlation_id="c1",
            source=7, body=b"<Decision/>", status="delivered", created_at=NOW, published_at=NOW, attempts=1,
            last_error=None, delivered_at=NOW, delivery_receipt=b"<Ack/>",
        )
    ],
    "message_history": [
        dict(id=1, kind="inbound", message=7, from_status=None, to_status="received", at=NOW, actor="http", reason=None)
    ],
    "rejections": [
        dict(
            id=2, received_at=NOW, door="soap", sender="0101234567", message_id="x", document_type="ECOM_ORDER",
            correlation_id="c2", digest="cd" * 32, codes="XML_MALFORMED", errors="[]", body=b"<oops", receipt=b"<R/>",
        )
    ],
}


@pytest.fixture
def engine(db_url: str) -> Engine:
    built = make_engine(db_url, create_schema=False)
    yield built
    built.dispose()


def test_the_migrations_build_exactly_the_tables_in_code(engine: Engine) -> None:
    """Fails when a table, column, index or type in code has no migration (write one: README, "Schema migrations")."""
    schema.upgrade(engine)
    with engine.connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection, opts={"compare_type": True}), product_metadata())
    assert differences == []


def test_a_fresh_store_is_created_at_head(db_url: str, engine: Engine, capsys: pytest.CaptureFixture[str]) -> None:
    make_engine(db_url).dispose()
    with engine.connect() as connection:
        assert schema.revision(connection) == schema.head()
    make_engine(db_url).dispose()  # and opened again as it is


def test_a_previous_release_store_is_refused_then_upgraded_with_every_row(db_url: str, engine: Engine) -> None:
    previous_release_store(db_url)
    old = MetaData()
    old.reflect(engine)
    with engine.begin() as connection:
        for table, rows in OLD_ROWS.items():
            connection.execute(insert(old.tables[table]), rows)
    with pytest.raises(schema.SchemaMismatch, match="run `gateway db upgrade`"):
        make_engine(db_url)

    assert schema.upgrade(engine) == (schema.BASELINE, schema.head())

    make_engine(db_url).dispose()  # now accepted
    with engine.connect() as connection:
        for table, rows in OLD_ROWS.items():
            kept = [row._asdict() for row in connection.execute(select(*old.tables[table].columns))]
            assert [_comparable(row) for row in kept] == [_comparable(row) for row in rows], table


def test_upgrading_twice_changes_nothing(engine: Engine) -> None:
    assert schema.upgrade(engine) == (None, schema.head())
    assert schema.upgrade(engine) == (schema.head(), schema.head())


@pytest.mark.stores("sqlite")
def test_db_commands(tmp_path, pki_dir, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    from support import write_config

    config = write_config(tmp_path / "config", pki_dir, "gwtest-unused")
    monkeypatch.setenv("GATEWAY_DB_URL", f"sqlite:///{tmp_path / 'store.db'}")
    assert main(["--config", str(config), "db", "current"]) == 1
    assert "store: empty" in capsys.readouterr().out
    assert main(["--config", str(config), "db", "upgrade"]) == 0
    assert f"it is now at {schema.head()}" in capsys.readouterr().out
    assert main(["--config", str(config), "db", "current"]) == 0
    assert f"store: {schema.head()}" in capsys.readouterr().out


def _comparable(row: dict[str, object]) -> dict[str, object]:
    """Timestamps as instants (SQLite gives them back without a zone), bytes as bytes."""
    return {
        key: value.replace(tzinfo=value.tzinfo or dt.UTC) if isinstance(value, dt.datetime) else value
        for key, value in row.items()
    }


def test_db_revision_writes_the_next_migration_for_a_change_in_code(
    tmp_path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import shutil

    from sqlalchemy import Column, Integer, Table

    import app.cli.db

    migrations = tmp_path / "migrations"
    shutil.copytree(schema.MIGRATIONS, migrations, ignore=shutil.ignore_patterns("__pycache__"))
    monkeypatch.setattr(schema, "MIGRATIONS", migrations)
    changed = MetaData()
    for table in product_metadata().tables.values():
        table.to_metadata(changed)
    Table("gadgets", changed, Column("id", Integer, primary_key=True))
    monkeypatch.setattr(app.cli.db, "product_metadata", lambda: changed)

    current, count = schema.head(), len(list((migrations / "versions").glob("*.py")))

    assert main(["db", "revision", "-m", "Add the gadgets!"]) == 0

    written = migrations / "versions" / f"{count + 1:04d}_add_the_gadgets.py"
    assert str(written) in capsys.readouterr().out.replace("\n", "")
    source = written.read_text()
    assert f"down_revision = '{current}'" in source and "op.create_table('gadgets'" in source
    assert "drop_table" not in source.split("def downgrade")[0]  # nothing else differs


def test_a_store_made_by_a_newer_release_is_refused(db_url: str, engine: Engine) -> None:
    schema.upgrade(engine)
    with engine.begin() as connection:
        connection.execute(text("UPDATE alembic_version SET version_num = '9999_from_the_future'"))
    with pytest.raises(schema.SchemaMismatch, match="which this gateway does not know"):
        make_engine(db_url)


def test_processes_starting_together_on_a_fresh_store_create_it_once(db_url: str, engine: Engine) -> None:
    with concurrent.futures.ThreadPoolExecutor(4) as pool:  # each opens its own engine, as processes do
        for opened in pool.map(lambda _: make_engine(db_url), range(4)):
            opened.dispose()
    with engine.connect() as connection:
        assert schema.stamped(connection) == schema.head()
