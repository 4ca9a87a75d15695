"""The tests' stores: each test has one of its own, at the schema's head, made from a template migrated once.

Running the migrations costs about 0.1 s on SQLite and 0.3 s on PostgreSQL, and some 600 tests take a store:
each worker migrates one store of each kind once, and every test's store is a copy of it. On SQLite the copy
is the file's; on PostgreSQL (a schema of the test's own in the worker's database) it is the migration's
statements, recorded while the template was migrated and replayed in the new schema in one transaction: the
same statements, in the same order, on the same empty schema, with the same parameters.
A test about making or migrating a store itself asks for an empty one (`pytest.mark.empty_store`).
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
from sqlalchemy import event, text
from support import isolated_schema

from gateway.store import schema
from gateway.store.engine import make_engine


@dataclass(frozen=True)
class Statement:
    """One statement the migration sent to PostgreSQL, as the driver received it."""

    sql: str
    parameters: Any
    many: bool


class StoreTemplates:
    """A worker's migrated templates: a SQLite file, the statements that migrate an empty PostgreSQL schema."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._sqlite: Path | None = None
        self._statements: tuple[Statement, ...] | None = None

    def sqlite(self, database: Path) -> str:
        """A SQLite store at head at `database` (a copy of the template file); its URL."""
        if self._sqlite is None:
            self._sqlite = self._migrated_sqlite()
        database.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(self._sqlite, database)
        return f"sqlite:///{database}"

    def postgresql(self, url: str, database_url: str) -> None:
        """Bring the empty PostgreSQL schema at `url` (its search_path) in `database_url` to head."""
        if self._statements is None:
            self._statements = self._recorded_migration(database_url)
        with psycopg.connect(url) as connection, connection.cursor() as cursor:  # one transaction, committed on leaving
            for statement in self._statements:
                if statement.many:
                    cursor.executemany(statement.sql, statement.parameters)
                else:
                    cursor.execute(statement.sql, statement.parameters)

    def _migrated_sqlite(self) -> Path:
        path = self.directory / "template.db"
        engine = make_engine(f"sqlite:///{path}")
        engine.dispose()  # the last connection closed: SQLite checkpoints its WAL into the file and removes it
        assert not path.with_name(path.name + "-wal").exists(), "the template's WAL was not checkpointed"
        return path

    @staticmethod
    def _recorded_migration(database_url: str) -> tuple[Statement, ...]:
        recorded: list[Statement] = []

        def record(_connection: object, _cursor: object, sql: str, parameters: Any, _context: object, many: bool) -> None:
            recorded.append(Statement(sql, parameters, many))

        with isolated_schema(database_url) as url:
            engine = make_engine(url, create_schema=False)
            try:
                with engine.connect() as connection:
                    name = connection.execute(text("SELECT current_schema()")).scalar_one()
                event.listen(engine, "before_cursor_execute", record)
                schema.ensure_current(engine)
            finally:
                engine.dispose()
        # Replaying is only right if every statement goes by the search_path, none by the template's schema's name.
        named = [s.sql for s in recorded if name in s.sql or name in repr(s.parameters)]
        assert not named, f"the migration names its schema ({name}), so it cannot be replayed elsewhere: {named[0]}"
        return tuple(recorded)
