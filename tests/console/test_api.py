"""The admin API against the real store and broker: sessions, CSRF, throttling, tokens, the traffic, actions
that move messages through their lifecycle and leave an audit record, statistics, health, OpenAPI."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import pytest
from console_support import API, PARTY, PASSWORD, log_in, parked
from fastapi.testclient import TestClient
from lxml import etree
from rows import HTTP, accept
from sqlalchemy import select, update
from support import MessageFactory, wait_until

from console import audit
from console.context import Console
from console.tables import audit_trail, console_sessions
from customs.statistics import Period, report
from gateway.lifecycle import MessageStatus, OutboundStatus
from gateway.parties import read_parties_file, sync_parties
from gateway.pipeline import Pipeline
from gateway.services import Services
from gateway.store.engine import writing



def audit_actions(services: Services) -> list[tuple[str, str, str | None]]:
    with services.engine.connect() as connection:
        rows = connection.execute(select(audit_trail.c.actor, audit_trail.c.action, audit_trail.c.reason).order_by(audit_trail.c.id))
        return [tuple(row) for row in rows]  # type: ignore[misc]


@pytest.mark.stores("sqlite")
def test_a_login_opens_an_httponly_samesite_session_whose_changes_need_the_csrf_token(client: TestClient, console: Console) -> None:
    answer = client.post(f"{API}/session", json={"login": "viewer", "password": PASSWORD})
    cookie = answer.headers["set-cookie"]
    assert answer.status_code == 200 and "HttpOnly" in cookie and "SameSite=strict" in cookie and "Max-Age=28800" in cookie
    csrf = answer.json()["csrf_token"]
    assert client.get(f"{API}/session").json()["operator"]["role"] == "viewer"
    assert client.post(f"{API}/tokens", json={"name": "ci"}).status_code == 403
    assert client.post(f"{API}/tokens", json={"name": "ci"}, headers={"X-CSRF-Token": "wrong"}).status_code == 403
    issued = client.post(f"{API}/tokens", json={"name": "ci"}, headers={"X-CSRF-Token": csrf})
    assert issued.status_code == 201 and issued.json()["token"].startswith("gwt_")
    assert client.delete(f"{API}/session", headers={"X-CSRF-Token": csrf}).status_code == 200
    assert client.get(f"{API}/session").status_code == 401
    assert [action for _, action, _ in audit_actions(console.services)][-3:] == ["login", "token.issue", "logout"]


@pytest.mark.stores("sqlite")
def test_an_expired_session_or_a_disabled_account_opens_nothing(client: TestClient, console: Console, token_for: Callable[[str], str]) -> None:
    log_in(client, "viewer")
    with writing(console.services.engine) as tx:
        tx.execute(update(console_sessions).values(expires_at=dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)))
    assert client.get(f"{API}/session").status_code == 401
    token = token_for("operator")
    assert client.get(f"{API}/messages", headers={"Authorization": f"Bearer {token}"}).status_code == 200
    log_in(client, "operator")
    console.accounts.disable("operator", by=audit.Entry("operator:admin", "account.disable", "local"))
    assert client.get(f"{API}/messages", headers={"Authorization": f"Bearer {token}"}).status_code == 401
    assert client.get(f"{API}/session").status_code == 401
    assert client.post(f"{API}/session", json={"login": "operator", "password": PASSWORD}).status_code == 401


@pytest.mark.stores("sqlite")
def test_failed_logins_are_audited_and_throttled(client: TestClient, console: Console) -> None:
    for _ in range(console.services.settings.console.login_max_failures):
        assert client.post(f"{API}/session", json={"login": "viewer", "password": "wrong password!"}).status_code == 401
    blocked = client.post(f"{API}/session", json={"login": "viewer", "password": PASSWORD})
    assert blocked.status_code == 429 and int(blocked.headers["retry-after"]) > 0
    assert client.post(f"{API}/session", json={"login": "auditor", "password": PASSWORD}).status_code == 200
    actions = [(actor, action) for actor, action, _ in audit_actions(console.services)]
    assert actions.count(("login:viewer", "login.failed")) == 5 and ("login:viewer", "login.throttled") in actions


def test_resending_a_parked_message_moves_it_through_the_lifecycle_and_is_audited(client: TestClient, console: Console) -> None:
    services = console.services
    pk = parked(services)
    csrf = log_in(client, "operator")
    answer = client.post(f"{API}/outbox/{pk}/resend", json={"reason": "partner back online"}, headers={"X-CSRF-Token": csrf})
    assert answer.status_code == 200, answer.text
    detail = client.get(f"{API}/outbox/{pk}").json()
    assert detail["status"] == OutboundStatus.PENDING and detail["attempts"] == 0 and detail["published_at"] is None
    last = detail["timeline"][-1]
    assert (last["from_status"], last["to_status"], last["actor"], last["reason"]) == (
        "parked", "pending", "operator:operator", "partner back online")
    assert client.post(f"{API}/outbox/{pk}/resend", json={"reason": "again"}, headers={"X-CSRF-Token": csrf}).status_code == 409
    assert audit_actions(services)[-1] == ("operator:operator", "outbox.resend", "partner back online")
    assert client.get(f"{API}/outbox", params={"status": "parked"}).json()["items"] == []


def test_bulk_resend_takes_the_recipients_parked_messages_of_the_period(client: TestClient, console: Console) -> None:
    services = console.services
    pks = [parked(services) for _ in range(3)]
    other = parked(services, "0309876543")
    csrf = log_in(client, "admin")
    answer = client.post(f"{API}/outbox/resend", json={"recipient": PARTY, "reason": "outage over",
                                                      "since": (dt.datetime.now(dt.UTC) - dt.timedelta(hours=1)).isoformat()},
                         headers={"X-CSRF-Token": csrf})
    assert answer.json() == {"resent": pks}
    assert client.get(f"{API}/outbox/{other}").json()["status"] == OutboundStatus.PARKED


def test_a_dead_letter_is_redriven_through_the_lifecycle(
    client: TestClient, console: Console, pipeline: Pipeline, messages: MessageFactory
) -> None:
    stored = accept(pipeline, messages, "ECOM_ORDER")
    wait_until(lambda: console.services.store.find(stored.pk)[0]["status"] == MessageStatus.QUEUED)  # confirmed
    assert console.services.store.mark_failed(stored.pk, "handler kept failing", dt.datetime.now(dt.UTC), "worker")
    csrf = log_in(client, "operator")
    assert [item["id"] for item in client.get(f"{API}/dead-letters").json()["items"]] == [stored.pk]
    answer = client.post(f"{API}/dead-letters/{stored.pk}/redrive", json={"reason": "handler fixed"}, headers={"X-CSRF-Token": csrf})
    assert answer.status_code == 200, answer.text
    detail = client.get(f"{API}/messages/{stored.pk}").json()
    assert detail["status"] == MessageStatus.ACCEPTED and detail["attempts"] == 0
    assert detail["timeline"][-1]["actor"] == "operator:operator" and detail["timeline"][-1]["reason"] == "handler fixed"
    assert client.get(f"{API}/dead-letters").json()["items"] == []
    assert audit_actions(console.services)[-1] == ("operator:operator", "message.redrive", "handler fixed")


@pytest.mark.stores("sqlite")
def test_message_search_detail_and_signed_bytes(
    client: TestClient, console: Console, pipeline: Pipeline, messages: MessageFactory, token_for: Callable[[str], str]
) -> None:
    mine = [accept(pipeline, messages, "ECOM_ORDER", PARTY) for _ in range(3)]
    theirs = accept(pipeline, messages, "ECOM_DECLARATION")
    log_in(client, "viewer")
    found = client.get(f"{API}/messages", params={"message_id": mine[1].message_id}).json()
    assert [item["id"] for item in found["items"]] == [mine[1].pk]
    first = client.get(f"{API}/messages", params={"sender": PARTY, "limit": 2}).json()
    second = client.get(f"{API}/messages", params={"sender": PARTY, "limit": 2, "before": first["next"]}).json()
    assert [i["id"] for i in first["items"] + second["items"]] == [m.pk for m in reversed(mine)] and second["next"] is None
    detail = client.get(f"{API}/messages/{theirs.pk}").json()
    assert detail["message_id"] == theirs.message_id and detail["timeline"][0]["to_status"] == "accepted"
    raw = client.get(f"{API}/messages/{theirs.pk}/raw")
    assert raw.content == theirs.body and raw.headers["content-type"] == "application/xml"
    receipt = etree.fromstring(client.get(f"{API}/messages/{theirs.pk}/receipt").content)
    assert theirs.message_id in etree.tostring(receipt).decode()

    party = {"Authorization": f"Bearer {token_for('party')}"}
    own = client.get(f"{API}/party/messages", headers=party).json()["items"]
    assert sorted(item["id"] for item in own) == sorted(m.pk for m in mine)
    assert client.get(f"{API}/party/messages/{mine[0].pk}", headers=party).status_code == 200
    assert client.get(f"{API}/party/messages/{theirs.pk}", headers=party).status_code == 404
    assert client.get(f"{API}/party/messages/{theirs.pk}/receipt", headers=party).status_code == 404
    assert client.get(f"{API}/party/read/{theirs.message_id}", headers=party).status_code == 404
    readable = client.get(f"{API}/party/read/{mine[0].message_id}", headers=party).json()["items"]
    assert [entry["message_id"] for entry in readable] == [mine[0].message_id]


@pytest.mark.stores("sqlite")
def test_statistics_are_the_reports_figures_and_health_sees_the_store_and_queues(
    client: TestClient, console: Console, pipeline: Pipeline, messages: MessageFactory
) -> None:
    accept(pipeline, messages, "ECOM_ORDER")
    log_in(client, "viewer")
    start, end = dt.datetime(2020, 1, 1, tzinfo=dt.UTC), dt.datetime(2100, 1, 1, tzinfo=dt.UTC)
    figures = client.get(f"{API}/statistics", params={"from": start.isoformat(), "to": end.isoformat()}).json()
    with console.services.engine.connect() as connection:
        assert figures == report(connection, Period(start, end)).document()
    assert figures["summary"]["messages_accepted"] == 1
    soon = client.get(f"{API}/certificates", params={"within_days": 3650}).json()["items"]
    assert soon and soon == sorted(soon, key=lambda c: c["not_after"]) and {"party", "days_to_expiry"} <= set(soon[0])
    assert client.get(f"{API}/certificates", params={"within_days": 0}).json()["items"] == []
    health = client.get(f"{API}/health").json()
    assert health["ok"] and health["store"]["ok"] and health["broker"]["ok"]
    assert set(health["queues"]) == set(console.services.topology.queues())
    assert all(depth is not None and depth["messages"] >= 0 for depth in health["queues"].values())


@pytest.mark.stores("sqlite")
def test_the_openapi_document_is_served_and_lists_every_endpoint(client: TestClient) -> None:
    log_in(client, "viewer")
    document = client.get(f"{API}/openapi.json").json()
    assert document["openapi"].startswith("3.") and f"{API}/outbox/{{pk}}/resend" in document["paths"]
    assert "post" in document["paths"][f"{API}/session"]


@pytest.mark.stores("sqlite")
def test_answers_are_kept_out_of_caches_and_frames_and_big_bodies_are_refused(client: TestClient) -> None:
    answer = client.post(f"{API}/session", content=b"x" * (65 * 1024), headers={"Content-Type": "application/json"})
    assert answer.status_code == 413
    headers = client.get(f"{API}/session").headers
    assert headers["cache-control"] == "no-store" and headers["x-frame-options"] == "DENY"
    assert "default-src 'none'" in headers["content-security-policy"]


def test_a_suspended_party_is_refused_at_intake_until_reactivated_and_stays_suspended_across_a_reload(
    client: TestClient, console: Console, pipeline: Pipeline, messages: MessageFactory
) -> None:
    services = console.services
    csrf = log_in(client, "admin")
    answer = client.post(f"{API}/parties/{PARTY}/suspend", json={"reason": "certificate compromised"}, headers={"X-CSRF-Token": csrf})
    assert answer.status_code == 200, answer.text
    sync_parties(services.engine, read_parties_file(services.settings.parties_file, services.settings.pki_dir))  # a restart
    services.parties.refresh()
    refused = pipeline.submit(messages.signed("ECOM_ORDER", PARTY), HTTP)
    assert not refused.accepted and "PARTY_SUSPENDED" in refused.codes
    assert client.get(f"{API}/parties/{PARTY}").json()["status"] == "suspended"
    back = client.post(f"{API}/parties/{PARTY}/reactivate", json={"reason": "new certificate"}, headers={"X-CSRF-Token": csrf})
    assert back.status_code == 200
    assert client.post(f"{API}/parties/{PARTY}/reactivate", json={"reason": "twice"}, headers={"X-CSRF-Token": csrf}).status_code == 409
    services.parties.refresh()
    assert pipeline.submit(messages.signed("ECOM_ORDER", PARTY), HTTP).accepted
    assert [action for _, action, _ in audit_actions(services)][-2:] == ["party.suspend", "party.reactivate"]
