"""Alembic's environment for the store: always run by gateway.store.schema on a connection it gives.

The caller opens the transaction (and takes the lock that keeps two processes from migrating at once);
`metadata` (for autogenerate only) is every table of the product, given by the composition root.
"""

from __future__ import annotations

from alembic import context

connection = context.config.attributes["connection"]
context.configure(
    connection=connection,
    target_metadata=context.config.attributes.get("metadata"),
    render_as_batch=connection.dialect.name == "sqlite",  # SQLite alters a table by copying it
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
