"""Every table of the product in one metadata: what the store's migrations must build.

The gateway's tables and each upper layer's own (customs.state, console.tables; add a new table module's import here)
share `gateway.store.tables.metadata`. `gateway db revision` compares this with the store to write a
migration, and tests/app/test_schema.py fails when code and migrations disagree.
"""

from __future__ import annotations

from sqlalchemy import MetaData

import console.tables  # noqa: F401  (its tables join the metadata)
import customs.state  # noqa: F401  (its tables join the metadata)
from gateway.store.tables import metadata


def product_metadata() -> MetaData:
    return metadata
