"""Retention fixtures: a purger for the test's store (tests/gateway/conftest.py), signing with the test PKI's gateway key."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from aged import GATEWAY
from sqlalchemy import Engine

from gateway.config import RetentionSettings
from gateway.retention.purge import Purger
from gateway.signing.keys import SigningIdentity


@pytest.fixture
def purger_for(
    engine: Engine, tmp_path: Path, identity: Callable[[str], SigningIdentity]
) -> Callable[..., Purger]:
    def make(**retention: object) -> Purger:
        settings = RetentionSettings(**{"archive_dir": tmp_path / "archive", **retention})  # type: ignore[arg-type]
        return Purger(engine, settings, identity(GATEWAY), GATEWAY)

    return make
