"""The business as the console shows it: a declaration with its lane, reasons and inspections; inspection results
against their deadline; alerts, acknowledged once, with an audit record."""

from __future__ import annotations

import datetime as dt

import pytest
from business import Exchange
from console_support import API, log_in
from fastapi.testclient import TestClient
from rows import declared_flow
from sqlalchemy import insert, select, update

from console.context import Console
from console.tables import audit_trail
from customs.state import alerts, declarations, decisions, inspections
from gateway.store.engine import writing

pytestmark = pytest.mark.stores("sqlite")


def test_a_declaration_with_its_lane_reasons_and_inspections(client: TestClient, exchange: Exchange) -> None:
    declared_flow(exchange)
    with exchange.services.engine.connect() as connection:
        number, lane = connection.execute(select(declarations.c.number, declarations.c.lane)).one()
    log_in(client, "viewer")
    listed = client.get(f"{API}/declarations").json()["items"]
    assert [(item["number"], item["lane"]) for item in listed] == [(number, lane)] and "facts" not in listed[0]
    detail = client.get(f"{API}/declarations/{number}").json()
    assert detail["lane"] == lane and detail["decisions"] and detail["decisions"][-1]["lane"] == lane
    assert "record" in detail["decisions"][-1] and isinstance(detail["inspections"], list)
    assert client.get(f"{API}/inspections", params={"late": True}).json()["items"] == []
    assert client.get(f"{API}/declarations", params={"lane": "NONE"}).json()["items"] == []


def test_an_alert_is_acknowledged_once_and_the_acknowledgement_is_audited(client: TestClient, console: Console) -> None:
    with writing(console.services.engine) as tx:
        pk = tx.execute(
            insert(alerts).values(
                alert_id="ALERT-1", kind="INSPECTION_LATE", severity="high", declaration="107012345670",
                raised_at=dt.datetime.now(dt.UTC), recipients="BYT", reasons=[{"code": "LATE", "text": "late"}],
            ).returning(alerts.c.id)
        ).scalar_one()
    csrf = log_in(client, "operator")
    assert client.get(f"{API}/alerts").json()["items"][0]["acknowledged_by"] is None
    answer = client.post(f"{API}/alerts/{pk}/acknowledge", json={"note": "ministry called"}, headers={"X-CSRF-Token": csrf})
    assert answer.status_code == 200, answer.text
    again = client.post(f"{API}/alerts/{pk}/acknowledge", json={}, headers={"X-CSRF-Token": csrf})
    assert again.status_code == 409
    (item,) = client.get(f"{API}/alerts", params={"kind": "INSPECTION_LATE"}).json()["items"]
    assert (item["acknowledged_by"], item["acknowledgement_note"]) == ("operator:operator", "ministry called")
    with console.services.engine.connect() as connection:
        last = connection.execute(select(audit_trail).order_by(audit_trail.c.id.desc()).limit(1)).one()
    assert (last.actor, last.action, last.target, last.reason) == (
        "operator:operator", "alert.acknowledge", "alert:ALERT-1", "ministry called")


def test_the_replay_recomputes_the_recorded_draws_and_finds_a_tampered_record(client: TestClient, exchange: Exchange) -> None:
    declared_flow(exchange)
    with exchange.services.engine.connect() as connection:
        number, lane = connection.execute(select(declarations.c.number, declarations.c.lane)).one()
        pk, record = connection.execute(select(decisions.c.id, decisions.c.record)).one()
    log_in(client, "viewer")
    (replayed,) = client.get(f"{API}/declarations/{number}/replay").json()["decisions"]
    assert (replayed["id"], replayed["lane"], replayed["replayable"], replayed["identical"]) == (pk, lane, True, True)
    forged = {**record, "lane": "RED" if lane != "RED" else "GREEN"}
    with writing(exchange.services.engine) as tx:
        tx.execute(update(decisions).where(decisions.c.id == pk).values(record=forged))
    (replayed,) = client.get(f"{API}/declarations/{number}/replay").json()["decisions"]
    assert not replayed["identical"] and replayed["differences"]["lane"] == {"recorded": forged["lane"], "replayed": lane}
    page = client.get(f"/admin/declarations/{number}")
    assert page.status_code == 200 and f'id="replay-{pk}" class="bad"' in page.text and record["seed"] not in page.text
    assert client.get(f"{API}/declarations/NO-SUCH/replay").status_code == 404


def test_the_declaration_and_inspection_pages_show_lane_reasons_exemptions_draws_and_deadlines(
    client: TestClient, exchange: Exchange,
) -> None:
    declared_flow(exchange)
    with exchange.services.engine.connect() as connection:
        number, lane = connection.execute(select(declarations.c.number, declarations.c.lane)).one()
        (record,) = connection.execute(select(decisions.c.record)).scalars()
    with writing(exchange.services.engine) as tx:
        tx.execute(insert(inspections).values(
            declaration=number, line=99, hs_code="30049099", ministry="BYT", status="pass",
            issued_at=dt.datetime.now(dt.UTC) - dt.timedelta(days=3), received_at=dt.datetime.now(dt.UTC),
            working_hours=30.5, late=True))
    log_in(client, "viewer")
    client.get("/admin/lang/en")
    listed = client.get("/admin/declarations", params={"lane": lane})
    assert listed.status_code == 200 and f'href="/admin/declarations/{number}"' in listed.text
    assert number not in client.get("/admin/declarations", params={"lane": "NONE"}).text
    page = client.get(f"/admin/declarations/{number}").text
    assert all(profile["id"] in page and f"{profile['draw']:.6f}" in page for profile in record["profiles"])
    assert f"{record['random']['draw']:.6f}" in page
    assert all(item["exemption"] in page and item["rule"] in page for item in record["items"])
    assert "30.5" in page and 'class="bad">late' in page and "identical" in page
    late = client.get("/admin/inspections", params={"late": "true"}).text
    assert "30049099" in late and "30.5" in late
    assert "30049099" not in client.get("/admin/inspections", params={"ministry": "BCT"}).text
