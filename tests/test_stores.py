"""The tests' stores (tests/stores.py): a store made from the worker's template is the store the migrations make."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, text
from stores import StoreTemplates
from support import isolated_schema

from gateway.store import schema
from gateway.store.engine import make_engine

# What a store is made of, each row with the schema's name (PostgreSQL) replaced by "{schema}".
CATALOGUE = {
    "sqlite": ["SELECT type, name, tbl_name, sql FROM sqlite_master WHERE name NOT LIKE 'sqlite_%' ORDER BY name"],
    "postgresql": [
        "SELECT table_name, column_name, ordinal_position, data_type, column_default, is_nullable"
        " FROM information_schema.columns WHERE table_schema = current_schema() ORDER BY 1, 3",
        "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = current_schema() ORDER BY 1",
        "SELECT c.conname, c.contype, pg_get_constraintdef(c.oid) FROM pg_constraint c"
        " JOIN pg_namespace n ON n.oid = c.connamespace WHERE n.nspname = current_schema() ORDER BY 1",
        "SELECT sequence_name, start_value, increment FROM information_schema.sequences"
        " WHERE sequence_schema = current_schema() ORDER BY 1",
    ],
}


def catalogue(engine: Engine) -> list[list[tuple[object, ...]]]:
    with engine.connect() as connection:
        name = connection.execute(text("SELECT current_schema()")).scalar_one() if engine.dialect.name != "sqlite" else None
        tables = [
            [tuple(str(v).replace(name, "{schema}") if name and isinstance(v, str) else v for v in row) for row in connection.execute(text(query))]
            for query in CATALOGUE[engine.dialect.name]
        ]
        tables.append(connection.execute(text("SELECT * FROM alembic_version")).all())
    return tables


@pytest.fixture
def from_template(request: pytest.FixtureRequest, tmp_path: Path, store_templates: StoreTemplates) -> Iterator[Engine]:
    """A store made as the tests' are, from the template, on the store kind of the test's `db_url`."""
    if request.node.callspec.params["db_url"] == "sqlite":
        engine = make_engine(store_templates.sqlite(tmp_path / "copy" / "gateway.db"))
        yield engine
        engine.dispose()
        return
    database_url = request.getfixturevalue("postgres_url")
    with isolated_schema(database_url) as url:
        store_templates.postgresql(url, database_url)
        engine = make_engine(url)
        yield engine
        engine.dispose()


@pytest.mark.empty_store
def test_a_store_from_the_template_is_the_migrated_store(db_url: str, from_template: Engine) -> None:
    migrated = make_engine(db_url)  # an empty store, migrated
    try:
        made, expected = catalogue(from_template), catalogue(migrated)
    finally:
        migrated.dispose()

    assert made == expected
    assert all(expected), "the catalogue read nothing"
    with from_template.connect() as connection:
        assert schema.stamped(connection) == schema.head()
