"""The business as the console shows it: a declaration with its lane, reasons and inspections; inspection results
against their deadline; alerts, acknowledged once, with an audit record."""

from __future__ import annotations

import datetime as dt

import pytest
from business import Exchange
from console_support import API, log_in
from fastapi.testclient import TestClient
from rows import declared_flow
from sqlalchemy import insert, select

from console.context import Console
from console.tables import audit_trail
from customs.state import alerts, declarations
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
