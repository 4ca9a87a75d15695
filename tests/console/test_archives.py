"""The signed archives for auditors: listed, verified (file digest, signature, signer, members), each verification
audited and shown with its outcome; a changed file is found out."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from aged import GATEWAY, NOW, inbound
from console_support import API, form_login, log_in
from fastapi.testclient import TestClient
from sqlalchemy import select

from console.context import Console
from console.tables import audit_trail
from gateway.config import RetentionSettings
from gateway.retention.purge import Purger
from gateway.signing.keys import SigningIdentity

pytestmark = pytest.mark.stores("sqlite")


@pytest.fixture
def archived(console: Console, identity: Callable[[str], SigningIdentity]) -> list[str]:
    """Two archives of the console's store, written by a purge of old declarations (one message each)."""
    services = console.services
    for _ in range(2):
        inbound(services.store, age_days=40)
    retention = RetentionSettings(archive_dir=services.settings.retention.archive_dir,
                                  document_types={"ECOM_DECLARATION": 30}, batch=1)
    report = Purger(services.engine, retention, identity(GATEWAY), GATEWAY).run(NOW)
    assert len(report.archives) == 2
    return [path.name for path in report.archives]


def test_an_auditor_lists_and_verifies_the_archives_and_each_verification_is_audited(
    client: TestClient, console: Console, archived: list[str],
) -> None:
    csrf = log_in(client, "auditor")
    listed = client.get(f"{API}/archives").json()["items"]
    assert sorted(item["name"] for item in listed) == sorted(archived) and all(item["verified"] is None for item in listed)
    first, second = archived
    answer = client.post(f"{API}/archives/{first}/verify", headers={"X-CSRF-Token": csrf})
    assert answer.status_code == 200, answer.text
    outcome = answer.json()
    assert outcome["valid"] and outcome["problem"] is None and outcome["counts"]["inbound"] == 1 and GATEWAY in outcome["signer"]
    path = console.services.settings.retention.archive_dir / second
    spoiled = bytearray(path.read_bytes())
    spoiled[-1024] ^= 1
    path.write_bytes(bytes(spoiled))
    refused = client.post(f"{API}/archives/{second}/verify", headers={"X-CSRF-Token": csrf}).json()
    assert not refused["valid"] and "SHA-256" in refused["problem"]
    assert client.post(f"{API}/archives/no-such.tar/verify", headers={"X-CSRF-Token": csrf}).status_code == 404
    with console.services.engine.connect() as connection:
        records = connection.execute(select(audit_trail.c.actor, audit_trail.c.target).where(
            audit_trail.c.action == "archive.verify").order_by(audit_trail.c.id)).all()
    assert [tuple(record) for record in records] == [("operator:auditor", f"archive:{first}"), ("operator:auditor", f"archive:{second}")]
    verified = {item["name"]: item["verified"] for item in client.get(f"{API}/archives").json()["items"]}
    assert verified[first]["valid"] and not verified[second]["valid"] and verified[second]["actor"] == "operator:auditor"


def test_the_archives_page_verifies_with_the_csrf_token_and_shows_the_outcome(
    client: TestClient, archived: list[str],
) -> None:
    form_login(client, "auditor")
    client.get("/admin/lang/en")
    page = client.get("/admin/archives")
    assert all(f'action="/admin/archives/{name}/verify"' in page.text for name in archived)
    token = page.text.split('name="csrf_token" value="')[1].split('"')[0]
    assert client.post(f"/admin/archives/{archived[0]}/verify", data={"csrf_token": "forged"}).status_code == 403
    done = client.post(f"/admin/archives/{archived[0]}/verify", data={"csrf_token": token}, follow_redirects=False)
    assert done.status_code == 303
    assert 'class="ok">valid</span>' in client.get("/admin/archives").text
