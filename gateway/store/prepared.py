"""Write transactions on the DB-API connection itself, for the statements run once per accepted message.

SQLAlchemy's Core execution path (a Connection and its transaction, their events, parameter and
result processing per execution) cost the group commit about 0.12 ms of CPU per transaction of
three statements, and the forwarder's note of the confirms as much per two: at the batch sizes
two processes of four threads make (one to four messages), a third of their CPU (README,
Performance). Here a
statement built with SQLAlchemy, by the module that owns it, is compiled once per dialect; running
it only fills in its parameters, expands its IN lists and converts the values that its column types
convert (SQLite's datetimes, for one), so the rows it writes are the rows SQLAlchemy would write.

Only what those hot paths need is here: `execute` of one statement with one set of parameters,
`insert_returning` of many rows, and results read by position (`all`, `scalars`).
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Iterator, Mapping, Sequence
from typing import Any, cast

from sqlalchemy import Connection, Engine
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import DBAPIError
from sqlalchemy.sql import ClauseElement
from sqlalchemy.sql.compiler import SQLCompiler

from gateway.store.engine import write_lock

class Compiled:
    """One statement compiled for one dialect, with its parameters' and result columns' converters."""

    def __init__(self, statement: ClauseElement, dialect: Dialect, column_keys: Sequence[str] | None = None) -> None:
        compiled = cast(SQLCompiler, statement.compile(dialect=dialect, column_keys=column_keys))
        self._compiled = compiled
        self._expanding = any(bind.expanding for bind in compiled.binds.values())
        self._bind_processors = {
            name: processor
            for name, bind in compiled.binds.items()
            if (processor := bind.type.dialect_impl(dialect).bind_processor(dialect)) is not None
        }
        described = getattr(statement, "returning_column_descriptions", None) or getattr(statement, "column_descriptions", ())
        processors = [d["type"].dialect_impl(dialect).result_processor(dialect, None) for d in described]
        self._result_processors = processors if any(processors) else None

    def sql_and_parameters(self, values: Mapping[str, Any]) -> tuple[str, Sequence[Any] | Mapping[str, Any]]:
        parameters = self._compiled.construct_params(values)
        for name, processor in self._bind_processors.items():
            if name in parameters:
                parameters[name] = processor(parameters[name])
        if not self._expanding:
            if self._compiled.positional:
                return self._compiled.string, [parameters[name] for name in self._compiled.positiontup or ()]
            return self._compiled.string, parameters
        expanded = self._compiled.construct_expanded_state(parameters)
        if self._compiled.positional:
            return expanded.statement, expanded.positional_parameters
        return expanded.statement, expanded.parameters

    def rows(self, raw: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
        if self._result_processors is None:
            return raw
        processors = self._result_processors
        return [
            tuple(value if processor is None else processor(value) for processor, value in zip(processors, row, strict=True))
            for row in raw
        ]


class Result:
    """The rows a statement returned, read by position."""

    def __init__(self, rows: list[tuple[Any, ...]]) -> None:
        self._rows = rows

    def all(self) -> list[tuple[Any, ...]]:
        return self._rows

    def scalars(self) -> list[Any]:
        return [row[0] for row in self._rows]

    def __iter__(self) -> Iterator[tuple[Any, ...]]:
        return iter(self._rows)


class RawTransaction:
    """A write transaction on one pooled DB-API connection; each statement is compiled on its first use."""

    def __init__(self, cursor: Any, dialect: Dialect) -> None:
        self._cursor = cursor
        self._dialect = dialect

    def execute(self, statement: ClauseElement, values: Mapping[str, Any] | None = None) -> Result:
        compiled = self._compiled(statement)
        sql, parameters = compiled.sql_and_parameters(values or {})
        self._cursor.execute(sql, parameters)
        returns_rows = self._cursor.description is not None
        return Result(compiled.rows(self._cursor.fetchall()) if returns_rows else [])

    def insert_returning(self, statement: ClauseElement, rows: Sequence[Mapping[str, Any]]) -> Result:
        """An INSERT ... RETURNING (without IN lists) run for each of `rows`; the rows returned, in order."""
        if not rows:
            return Result([])
        compiled = self._compiled(statement, tuple(rows[0]))  # the columns given: those of every row
        prepared = [compiled.sql_and_parameters(values) for values in rows]
        sql, sets = prepared[0][0], [parameters for _, parameters in prepared]
        returned: list[tuple[Any, ...]] = []
        if self._dialect.driver == "psycopg":  # one round trip: psycopg pipelines the rows
            self._cursor.executemany(sql, sets, returning=True)
            returned += self._cursor.fetchall()
            while self._cursor.nextset():
                returned += self._cursor.fetchall()
        else:  # SQLite: no round trip to save
            for parameters in sets:
                self._cursor.execute(sql, parameters)
                returned += self._cursor.fetchall()
        return Result(compiled.rows(returned))

    def _compiled(self, statement: ClauseElement, column_keys: tuple[str, ...] | None = None) -> Compiled:
        return _compile(statement, self._dialect, column_keys)


@functools.lru_cache(maxsize=128)  # the hot paths build their statements once: a handful per dialect
def _compile(statement: ClauseElement, dialect: Dialect, column_keys: tuple[str, ...] | None) -> Compiled:
    return Compiled(statement, dialect, column_keys)


@contextlib.contextmanager
def raw_writing(engine: Engine) -> Iterator[RawTransaction]:
    """`gateway.store.engine.writing`, on the DB-API connection: committed when the block ends, rolled back when it raises.

    A DB-API error leaves as SQLAlchemy's DBAPIError, with `connection_invalidated` set when the
    connection was lost (the pooled connection is then discarded), as `retrying_once` expects.
    """
    dialect = engine.dialect
    with write_lock(engine):
        connection = cursor = None
        try:
            connection = engine.raw_connection()
            cursor = connection.cursor()
            if dialect.name == "sqlite":
                cursor.execute("BEGIN")  # the driver's own transaction handling is off (engine.py)
            yield RawTransaction(cursor, dialect)
            connection.commit()
        except dialect.loaded_dbapi.Error as exc:
            lost = dialect.is_disconnect(exc, connection and connection.dbapi_connection, cursor)
            if connection is not None and lost:
                connection.invalidate(exc)
            elif connection is not None:
                _rollback(connection)
            raise DBAPIError.instance(None, None, exc, dialect.loaded_dbapi.Error, connection_invalidated=lost) from exc
        except BaseException:
            if connection is not None:
                _rollback(connection)
            raise
        finally:
            if connection is not None:
                connection.close()  # back to the pool (or discarded, when invalidated)


def _rollback(connection: Any) -> None:
    with contextlib.suppress(Exception):  # the error that brought us here is the one to report
        connection.rollback()


Transaction = Connection | RawTransaction
