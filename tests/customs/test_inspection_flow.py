"""Inspection after a real decision: the repository's routes and rules, the real broker, both stores.

The sample declaration, once BYT's policy notice is in force, needs two inspections:
line 2 (a loudspeaker over the threshold) by BCT and line 4 (a food supplement on
BYT's exception list) by BYT. BYT answers on time, BCT late; the declarant then
gets the completed notice and the managing unit the late-result alert.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select
from support import config_with_rules, without_random_selection

from customs.inspection import LATE
from customs.state import alerts, declarations, inspections

pytestmark = pytest.mark.stores("sqlite")  # business: SQLite; the PostgreSQL cross-checks are marked (tests/conftest.py)

VN = ZoneInfo("Asia/Ho_Chi_Minh")
NUMBER = "107012345670"
DECLARANT = "0309876543"


@pytest.fixture
def config_path(tmp_path: Path, pki_dir: Path, namespace: str) -> Path:
    return config_with_rules(tmp_path, pki_dir, namespace, risk=without_random_selection)


def test_an_on_time_and_a_late_result_complete_a_decided_declaration(exchange, inspection_result) -> None:  # type: ignore[no-untyped-def]
    exchange.send("PLATFORM_REGISTRATION")
    exchange.send("POLICY_NOTICE")
    exchange.send("ECOM_ORDER")
    exchange.send("ECOM_DECLARATION")
    with exchange.services.engine.connect() as connection:
        awaited = {
            row.line: row.ministry
            for row in connection.execute(select(inspections).where(inspections.c.declaration == NUMBER))
        }
        assert awaited == {2: "BCT", 4: "BYT"}
        assert (
            connection.execute(select(declarations.c.status).where(declarations.c.number == NUMBER)).scalar_one()
            == "awaiting_inspection"
        )

    exchange.send(
        "INSPECTION_RESULT",
        "BYT",
        inspection_result([(4, "21069072", "PASS", None)]),
        received_at=dt.datetime(2026, 3, 11, 15, tzinfo=VN),
    )
    assert exchange.sent("RESULT_NOTICE") == []
    exchange.send(
        "INSPECTION_RESULT",
        "BCT",
        inspection_result([(2, "85183090", "PASS", None)], ministry="BCT", certificate="77/2026/KTCL"),
        received_at=dt.datetime(
            2026, 3, 13, 8, 0, tzinfo=VN
        ),  # issued Wednesday 14:20: 2 h 40 min + a full Thursday later
    )

    (notice,) = exchange.sent("RESULT_NOTICE", DECLARANT)
    assert notice.header.function == "23" and notice.texts("outcome") == ["COMPLETED"]
    assert notice.texts("result") == ["CLEARED"] * 6
    with exchange.services.engine.connect() as connection:
        lateness = dict(
            connection.execute(
                select(inspections.c.line, inspections.c.late).where(inspections.c.declaration == NUMBER)
            ).all()
        )
        assert lateness == {2: True, 4: False}
        (alert,) = connection.execute(select(alerts).where(alerts.c.kind == LATE)).all()
    assert (alert.declaration, alert.party) == (NUMBER, "BCT")
    assert alert.metrics["WORKING_HOURS_ELAPSED"] == pytest.approx(10 + 2 / 3)
    assert [a.texts("kind") for a in exchange.sent("RISK_ALERT", "HQHCM")] == [[LATE]]
