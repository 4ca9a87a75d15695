"""INSPECTION_RESULT through intake, the real broker and a worker, on both stores.

The declaration awaiting inspection is arranged directly in the store (its facts
read from the sample declaration with the declarations engineer's reader), so that
these tests depend on the inspection handler only; the route's handlers are the
repository's. Intake's reception time is set on the stored message before the
worker runs, so the working hours between issue and receipt are exact.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import insert, select
from support import REPO, write_config

from conformance import SAMPLE_SENDERS
from customs.documents import read_declaration
from customs.inspection import LATE, UNMATCHED
from customs.state import DeclarationStatus, alerts, declarations, inspections
from gateway import xmlsafe
from gateway.envelope import content_element
from gateway.store.messages import StoredMessage
from routing.table import RoutingTable

pytestmark = pytest.mark.stores("sqlite")  # business: SQLite; the PostgreSQL cross-checks are marked (tests/conftest.py)

VN = ZoneInfo("Asia/Ho_Chi_Minh")
NUMBER = "107012345670"
DECLARANT = SAMPLE_SENDERS["ECOM_DECLARATION"]
ISSUED = "2026-03-11T14:20:00+07:00"  # a Wednesday afternoon
ON_TIME = dt.datetime(2026, 3, 11, 16, 0, tzinfo=VN)  # 1 h 40 min of working time later
LATE_RECEIPT = dt.datetime(2026, 3, 12, 9, 30, tzinfo=VN)  # 2 h 40 min that afternoon + 1 h 30 min the next morning
RECORD = "routing.handlers.record:handler"
HANDLER = "routing.handlers.inspection:handler"


@pytest.fixture
def config_path(tmp_path: Path, pki_dir: Path, namespace: str) -> Path:
    """The repository's route for INSPECTION_RESULT; every other document is only recorded."""
    route = RoutingTable.load(REPO / "config" / "routes.toml").route_for("INSPECTION_RESULT", "01")
    assert route is not None
    handlers = ", ".join(f'"{handler}"' for handler in route.handlers)
    (tmp_path / "routes.toml").write_text(
        f'[[route]]\nname = "{route.name}"\ndocument_types = ["INSPECTION_RESULT"]\nhandlers = [{handlers}]\n\n'
        f'[[route]]\nname = "default"\ndocument_types = ["*"]\nhandlers = ["{RECORD}"]\n',
        encoding="utf-8",
    )
    return write_config(tmp_path / "config", pki_dir, namespace, registry={"routes": str(tmp_path / "routes.toml")})


def test_the_repository_routes_inspection_results_to_the_inspection_handler() -> None:
    route = RoutingTable.load(REPO / "config" / "routes.toml").route_for("INSPECTION_RESULT", "02")
    assert route is not None and route.handlers[0] == HANDLER


# --- arranging ----------------------------------------------------------------


def awaiting(exchange, ministries: dict[int, str]) -> StoredMessage:  # type: ignore[no-untyped-def]
    """The sample declaration, decided, awaiting inspection of the given lines by the given ministries."""
    stored = exchange.send("ECOM_DECLARATION")
    facts = read_declaration(content_element(xmlsafe.parse(stored.body)))
    hs_of = {item["line"]: item["hs_code"] for item in facts["items"]}
    now = dt.datetime.now(dt.UTC)
    with exchange.services.engine.begin() as connection:
        connection.execute(
            insert(declarations).values(
                number=NUMBER,
                declarant=DECLARANT,
                direction=facts["direction"],
                status=DeclarationStatus.AWAITING_INSPECTION.value,
                facts=facts,
                message=stored.pk,
                correlation_id=stored.correlation_id,
                total_value_vnd=facts["total_value_vnd"],
                lane="GREEN",
                received_at=now,
                decided_at=now,
                updated_at=now,
            )
        )
        for line, ministry in ministries.items():
            connection.execute(
                insert(inspections).values(
                    declaration=NUMBER, line=line, hs_code=hs_of[line], ministry=ministry, status="required"
                )
            )
    return stored


def rows(exchange) -> dict[int, dict]:  # type: ignore[no-untyped-def]
    with exchange.services.engine.connect() as connection:
        found = connection.execute(select(inspections).where(inspections.c.declaration == NUMBER)).all()
    return {row.line: dict(row._mapping) for row in found}


def status(exchange) -> str:  # type: ignore[no-untyped-def]
    with exchange.services.engine.connect() as connection:
        return connection.execute(select(declarations.c.status).where(declarations.c.number == NUMBER)).scalar_one()


def raised(exchange, kind: str) -> list[dict]:  # type: ignore[no-untyped-def]
    with exchange.services.engine.connect() as connection:
        return [dict(row._mapping) for row in connection.execute(select(alerts).where(alerts.c.kind == kind))]


def as_utc(value: dt.datetime) -> dt.datetime:
    return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


# --- on time, late -------------------------------------------------------------


def test_results_on_time_complete_the_declaration_with_a_signed_result_notice(exchange, inspection_result) -> None:  # type: ignore[no-untyped-def]
    declaration = awaiting(exchange, {4: "BYT", 2: "BCT"})

    byt = exchange.send(
        "INSPECTION_RESULT", "BYT", inspection_result([(4, "21069072", "PASS", None)]), received_at=ON_TIME
    )
    assert status(exchange) == "awaiting_inspection"
    assert exchange.sent("RESULT_NOTICE") == []
    line4 = rows(exchange)[4]
    assert line4["status"] == "pass" and line4["certificate"] == "0456/2026/XNNK-ATTP" and line4["late"] is False
    assert line4["working_hours"] == pytest.approx(5 / 3)
    assert as_utc(line4["issued_at"]) == dt.datetime.fromisoformat(ISSUED)
    assert as_utc(line4["received_at"]) == ON_TIME and line4["message"] == byt.pk
    assert rows(exchange)[2]["status"] == "required"

    bct = exchange.send(
        "INSPECTION_RESULT",
        "BCT",
        inspection_result([(2, "85183090", "PASS", None)], ministry="BCT", certificate="77/2026/KTCL"),
        received_at=ON_TIME,
    )
    assert status(exchange) == "completed"
    (notice,) = exchange.sent("RESULT_NOTICE", DECLARANT)
    assert (notice.header.function, notice.header.reference) == ("23", NUMBER)
    assert notice.header.pre_reference == declaration.message_id
    assert notice.texts("outcome") == ["COMPLETED"]
    assert notice.texts("lineNumber") == ["1", "2", "3", "4", "5", "6"]
    assert notice.texts("result") == ["CLEARED"] * 6
    reasons = notice.texts("reason")
    assert len(reasons) == 2 and "77/2026/KTCL" in reasons[0] and "0456/2026/XNNK-ATTP" in reasons[1]
    assert raised(exchange, LATE) == []
    assert "declaration completed" in exchange.outcome(bct, HANDLER)


def test_a_late_result_is_flagged_alerted_and_still_applied(exchange, inspection_result) -> None:  # type: ignore[no-untyped-def]
    awaiting(exchange, {4: "BYT"})

    stored = exchange.send(
        "INSPECTION_RESULT", "BYT", inspection_result([(4, "21069072", "PASS", None)]), received_at=LATE_RECEIPT
    )

    line4 = rows(exchange)[4]
    assert line4["status"] == "pass" and line4["late"] is True
    assert line4["working_hours"] == pytest.approx(4 + 1 / 6)
    assert status(exchange) == "completed"
    assert [n.texts("outcome") for n in exchange.sent("RESULT_NOTICE", DECLARANT)] == [["COMPLETED"]]
    (alert,) = raised(exchange, LATE)
    assert (alert["declaration"], alert["party"], alert["severity"]) == (NUMBER, "BYT", "MEDIUM")
    assert alert["metrics"] == {"WORKING_HOURS_ELAPSED": pytest.approx(4 + 1 / 6), "DEADLINE_WORKING_HOURS": 2.0}
    (warning,) = exchange.sent("RISK_ALERT", "HQHCM")
    assert warning.texts("kind") == [LATE] and warning.texts("declarationNumber") == [NUMBER]
    assert "late (4.17 working hours)" in exchange.outcome(stored, HANDLER)


# --- failure --------------------------------------------------------------------


def test_a_failed_item_rejects_the_declaration_and_names_the_item_and_why(exchange, inspection_result) -> None:  # type: ignore[no-untyped-def]
    declaration = awaiting(exchange, {4: "BYT", 2: "BCT"})
    why = "Không đạt chỉ tiêu vi sinh vật theo QCVN 8-3:2012/BYT."

    exchange.send("INSPECTION_RESULT", "BYT", inspection_result([(4, "21069072", "FAIL", why)]), received_at=ON_TIME)

    assert status(exchange) == "rejected"
    (notice,) = exchange.sent("RESULT_NOTICE", DECLARANT)
    assert (notice.header.function, notice.header.pre_reference) == ("26", declaration.message_id)
    assert notice.texts("outcome") == ["REJECTED"]
    assert notice.texts("lineNumber") == ["4"] and notice.texts("result") == ["REJECTED"]
    (reason,) = notice.texts("reason")
    assert why in reason and "BYT" in reason and "0456/2026/XNNK-ATTP" in reason
    assert "dòng hàng 4" in notice.texts("text")[0]

    # The other ministry's result still arrives: it is recorded, and nothing more is sent.
    exchange.send(
        "INSPECTION_RESULT",
        "BCT",
        inspection_result([(2, "85183090", "PASS", None)], ministry="BCT"),
        received_at=ON_TIME,
    )
    assert rows(exchange)[2]["status"] == "pass"
    assert status(exchange) == "rejected" and len(exchange.sent("RESULT_NOTICE")) == 1


# --- several results for one item --------------------------------------------------


def test_the_result_issued_last_counts(exchange, inspection_result) -> None:  # type: ignore[no-untyped-def]
    awaiting(exchange, {4: "BYT", 2: "BCT"})
    exchange.send("INSPECTION_RESULT", "BYT", inspection_result([(4, "21069072", "PASS", None)]), received_at=ON_TIME)

    earlier = exchange.send(
        "INSPECTION_RESULT",
        "BYT",
        inspection_result([(4, "21069072", "FAIL", "Sai.")], issued="2026-03-11T14:00:00+07:00"),
        received_at=ON_TIME,
    )
    assert rows(exchange)[4]["status"] == "pass" and status(exchange) == "awaiting_inspection"
    assert "0 item(s) applied" in exchange.outcome(earlier, HANDLER)
    assert raised(exchange, UNMATCHED) == []

    exchange.send(
        "INSPECTION_RESULT",
        "BYT",
        inspection_result(
            [(4, "21069072", "FAIL", "Hồ sơ bị thu hồi.")],
            issued="2026-03-11T15:00:00+07:00",
            certificate="0457/2026",
            function="02",
        ),
        received_at=ON_TIME,
    )
    assert rows(exchange)[4]["status"] == "fail" and rows(exchange)[4]["certificate"] == "0457/2026"
    assert status(exchange) == "rejected"
    assert [n.texts("outcome") for n in exchange.sent("RESULT_NOTICE")] == [["REJECTED"]]


def test_a_differing_result_after_the_outcome_is_not_applied_but_alerted(exchange, inspection_result) -> None:  # type: ignore[no-untyped-def]
    awaiting(exchange, {4: "BYT"})
    exchange.send("INSPECTION_RESULT", "BYT", inspection_result([(4, "21069072", "PASS", None)]), received_at=ON_TIME)
    assert status(exchange) == "completed"

    exchange.send(
        "INSPECTION_RESULT",
        "BYT",
        inspection_result([(4, "21069072", "PASS", None)], issued="2026-03-11T15:00:00+07:00"),
        received_at=ON_TIME,
    )
    assert raised(exchange, UNMATCHED) == []  # the same verdict again: nothing to say

    exchange.send(
        "INSPECTION_RESULT",
        "BYT",
        inspection_result([(4, "21069072", "FAIL", "Sai.")], issued="2026-03-11T15:30:00+07:00"),
        received_at=ON_TIME,
    )
    assert rows(exchange)[4]["status"] == "pass" and status(exchange) == "completed"
    assert len(exchange.sent("RESULT_NOTICE")) == 1
    (alert,) = raised(exchange, UNMATCHED)
    assert [reason["code"] for reason in alert["reasons"]] == ["RESULT_AFTER_OUTCOME"]


# --- results that match nothing -----------------------------------------------------


def test_a_result_for_an_unknown_declaration_is_kept_and_alerted(exchange, inspection_result) -> None:  # type: ignore[no-untyped-def]
    stored = exchange.send(
        "INSPECTION_RESULT", "BYT", inspection_result([(4, "21069072", "PASS", None)], number="107099999990")
    )

    assert "unknown; not applied" in exchange.outcome(stored, HANDLER)
    (alert,) = raised(exchange, UNMATCHED)
    assert (alert["declaration"], alert["party"]) == ("107099999990", "BYT")
    assert [reason["code"] for reason in alert["reasons"]] == ["UNKNOWN_DECLARATION"]
    assert exchange.sent("RISK_ALERT", "HQHCM")[0].texts("kind") == [UNMATCHED]
    assert exchange.sent("RESULT_NOTICE") == []


def test_items_that_are_not_awaited_or_name_other_goods_are_not_applied(exchange, inspection_result) -> None:  # type: ignore[no-untyped-def]
    awaiting(exchange, {4: "BYT", 3: "BCT"})
    items = [(1, "30049099", "PASS", None), (3, "33041000", "PASS", None), (4, "21069090", "PASS", None)]

    stored = exchange.send("INSPECTION_RESULT", "BYT", inspection_result(items), received_at=ON_TIME)

    assert {line: row["status"] for line, row in rows(exchange).items()} == {3: "required", 4: "required"}
    (alert,) = raised(exchange, UNMATCHED)
    assert [reason["code"] for reason in alert["reasons"]] == [
        "NOT_AWAITED",
        "AWAITED_FROM_OTHER_MINISTRY",
        "HS_CODE_DIFFERS",
    ]
    assert "3 not applied" in exchange.outcome(stored, HANDLER)
    assert status(exchange) == "awaiting_inspection"
