"""`gateway db upgrade|current|revision`: the store's schema (Alembic migrations shipped in the package).

    upgrade              bring the store to this release's schema (a fresh store is created; a store made
                         before migrations existed is taken as the baseline, then upgraded); one transaction
    current              the store's revision and this release's; exit 1 when they differ
    revision -m TEXT     (developers) write a migration for what the tables in code add to the migrated
                         schema, into gateway/store/migrations/versions/ (see README, "Schema migrations")
"""

from __future__ import annotations

import argparse
import re

from alembic import command
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, create_engine

from app.cli.output import console
from app.schema import product_metadata
from gateway.config import load_settings
from gateway.store import schema
from gateway.store.engine import make_engine, normalise_url


def register(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    db = commands.add_parser("db", help="the store's schema: upgrade, current revision")
    actions = db.add_subparsers(title="db commands")
    actions.add_parser("upgrade", help="bring the store's schema to this release's (creates a fresh store)").set_defaults(
        run=_upgrade
    )
    actions.add_parser("current", help="the store's schema revision and this release's").set_defaults(run=_current)
    revision = actions.add_parser("revision", help="(developers) write a migration for a change of the tables")
    revision.add_argument("-m", "--message", required=True, help="what the migration changes, in a sentence")
    revision.set_defaults(run=_revision)


def _engine(args: argparse.Namespace) -> Engine:
    return make_engine(load_settings(args.config).db_url, create_schema=False)


def _upgrade(args: argparse.Namespace) -> int:
    engine = _engine(args)
    try:
        before, after = schema.upgrade(engine)
    finally:
        engine.dispose()
    if before == after:
        console.print(f"the store is already at {after}")
    else:
        console.print(f"the store was at {before or 'nothing (empty)'}; it is now at {after}")
    return 0


def _current(args: argparse.Namespace) -> int:
    engine = _engine(args)
    try:
        with engine.connect() as connection:
            current = schema.revision(connection)
    finally:
        engine.dispose()
    console.print(f"store: {current or 'empty'}\nthis release: {schema.head()}")
    return 0 if current == schema.head() else 1


def _revision(args: argparse.Namespace) -> int:
    """Autogenerate against a scratch in-memory store migrated to head: the difference is the new migration.

    Its id (and file name) is the next number and a slug of the message, so the folder reads in order.
    """
    count = sum(1 for _ in ScriptDirectory.from_config(schema.config()).walk_revisions())
    # alembic_version holds at most 32 characters: "NNNN_" and 27 of the slug
    slug = "_".join(re.findall(r"[a-z0-9]+", args.message.lower()))[:27].rstrip("_")
    scratch = create_engine(normalise_url("sqlite://"))
    try:
        with scratch.begin() as connection:
            command.upgrade(schema.config(connection), "head")
            alembic_config = schema.config(connection, product_metadata())
            alembic_config.set_main_option("file_template", "%%(rev)s")
            script = command.revision(
                alembic_config, message=args.message, autogenerate=True, rev_id=f"{count + 1:04d}_{slug}"
            )
    finally:
        scratch.dispose()
    console.print(f"wrote {getattr(script, 'path', script)}: review it (README, \"Schema migrations\")", soft_wrap=True)
    return 0
