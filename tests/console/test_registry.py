"""Parties and certificates as admins change them in the console (API and page forms), through the store path of
`gateway parties reload`, audited with before and after; and an operator's reload of parties.toml."""

from __future__ import annotations

import datetime as dt
import json
import re
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from console_support import API, PARTY, form_login, log_in
from cryptography.hazmat.primitives import serialization
from fastapi.testclient import TestClient
from sqlalchemy import select
from support import REPO, MessageFactory, write_config

from console.context import Console
from console.tables import audit_trail
from gateway import client as gateway_client
from gateway.parties import read_parties_file, sync_parties
from gateway.pipeline import Pipeline, Transport
from gateway.signing.keys import SigningIdentity, fingerprint, load_certificates
from gateway.signing.pki import CertificateAuthority

pytestmark = pytest.mark.stores("sqlite")
OTHER = "0312345678"  # another party of config/parties.toml


@pytest.fixture
def config_path(tmp_path: Path, pki_dir: Path, namespace: str) -> Path:
    """Overrides conftest's: a copy of config/parties.toml that a test may spoil."""
    parties = tmp_path / "registry" / "parties.toml"
    parties.parent.mkdir()
    shutil.copy(REPO / "config" / "parties.toml", parties)
    return write_config(tmp_path / "config", pki_dir, namespace, registry={"parties": str(parties)})


def issue(pki_dir: Path, **validity: dt.datetime) -> SigningIdentity:
    """A new certificate for PARTY from the test PKI's CA (trusted, not registered)."""
    key = serialization.load_pem_private_key((pki_dir / "ca.key.pem").read_bytes(), password=None)
    ca = CertificateAuthority(key, load_certificates(pki_dir / "ca.pem")[0])  # type: ignore[arg-type]
    return ca.issue("Sàn TMĐT (2027)", PARTY, "ec-p256", **validity)


def pem(signer: SigningIdentity) -> str:
    return signer.certificate.public_bytes(serialization.Encoding.PEM).decode()


def last_audit(console: Console) -> tuple[str, object, object, str | None]:
    with console.services.engine.connect() as connection:
        row = connection.execute(select(audit_trail).order_by(audit_trail.c.id.desc()).limit(1)).one()
    return row.action, json.loads(row.before or "null"), json.loads(row.after or "null"), row.reason


def test_an_admin_adds_a_certificate_retires_the_old_one_and_a_reload_keeps_both_changes(
    client: TestClient, console: Console, pipeline: Pipeline, messages: MessageFactory,
    identity: Callable[[str], SigningIdentity], pki_dir: Path,
) -> None:
    services, successor, old = console.services, issue(pki_dir), identity(PARTY)
    old_print, new_print = fingerprint(old.certificate), fingerprint(successor.certificate)

    def accepted(signer: SigningIdentity) -> tuple[str, ...]:
        services.parties.refresh()
        outcome = pipeline.submit(gateway_client.sign(messages.envelope("ECOM_ORDER", PARTY), signer), Transport("http"))
        return outcome.codes

    assert accepted(successor) == ("CERTIFICATE_NOT_REGISTERED",)
    csrf = log_in(client, "admin")
    added = client.post(f"{API}/parties/{PARTY}/certificates", json={"pem": pem(successor), "reason": "rotation 2027"},
                        headers={"X-CSRF-Token": csrf})
    assert added.status_code == 201, added.text
    assert added.json() == {"party": PARTY, "certificates": sorted([old_print, new_print]), "added": new_print}
    assert last_audit(console) == ("party.certificate.add", {"certificates": [old_print]},
                                   {"certificates": sorted([old_print, new_print]), "added": new_print}, "rotation 2027")
    assert accepted(successor) == () and accepted(old) == ()

    retired = client.post(f"{API}/parties/{PARTY}/certificates/{old_print}/retire", json={"reason": "key lost"},
                          headers={"X-CSRF-Token": csrf})
    assert retired.status_code == 200 and retired.json()["certificates"] == [new_print]
    assert last_audit(console)[0] == "party.certificate.retire"
    assert accepted(old) == ("CERTIFICATE_NOT_REGISTERED",)

    sync_parties(services.engine, read_parties_file(services.settings.parties_file, services.settings.pki_dir))
    assert accepted(successor) == () and accepted(old) == ("CERTIFICATE_NOT_REGISTERED",)  # the file names the old one
    listed = client.get(f"{API}/parties/{PARTY}").json()["certificates"]
    assert [certificate["fingerprint"] for certificate in listed] == [new_print]


def test_a_bad_expired_or_foreign_certificate_and_an_unknown_one_are_refused_and_change_nothing(
    client: TestClient, console: Console, identity: Callable[[str], SigningIdentity], pki_dir: Path,
) -> None:
    csrf = log_in(client, "admin")
    before = last_audit(console)
    past = dt.datetime.now(dt.UTC) - dt.timedelta(days=30)
    expired = issue(pki_dir, not_before=past, not_after=past + dt.timedelta(days=1))
    cases = [
        (f"{PARTY}/certificates", {"pem": "-----BEGIN CERTIFICATE-----\nnot one\n", "reason": "r"}, 422, "not a PEM"),
        (f"{PARTY}/certificates", {"pem": pem(expired), "reason": "r"}, 422, "expired"),
        (f"{PARTY}/certificates", {"pem": pem(identity(OTHER)), "reason": "r"}, 409, OTHER),
        (f"{PARTY}/certificates", {"pem": "x" * 20000, "reason": "r"}, 422, ""),
        ("NOBODY/certificates", {"pem": pem(issue(pki_dir)), "reason": "r"}, 404, "not found"),
        (f"{PARTY}/certificates/{'ab' * 32}/retire", {"reason": "r"}, 404, "not found"),
        (f"{OTHER}/certificates/{fingerprint(identity(PARTY).certificate)}/retire", {"reason": "r"}, 404, "not found"),
    ]
    for path, body, code, said in cases:
        answer = client.post(f"{API}/parties/{path}", json=body, headers={"X-CSRF-Token": csrf})
        assert answer.status_code == code and said in answer.text, (path, answer.status_code, answer.text)
    assert last_audit(console) == before
    assert len(client.get(f"{API}/parties/{PARTY}").json()["certificates"]) == 1


def test_an_operator_reloads_parties_toml_audited_and_a_bad_file_changes_nothing(
    client: TestClient, console: Console,
) -> None:
    csrf = log_in(client, "operator")
    answer = client.post(f"{API}/parties/reload", headers={"X-CSRF-Token": csrf})
    assert answer.status_code == 200, answer.text
    counted = answer.json()
    assert counted["parties"] == len(read_parties_file(console.services.settings.parties_file, console.services.settings.pki_dir))
    action, before, after, _ = last_audit(console)
    assert action == "parties.reload" and before == after and after[PARTY]["status"] == "active"  # type: ignore[index]
    console.services.settings.parties_file.write_text('[[party]]\nid = "X"\nroles = ["pirate"]\n', encoding="utf-8")
    refused = client.post(f"{API}/parties/reload", headers={"X-CSRF-Token": csrf})
    assert refused.status_code == 422 and "unknown roles" in refused.json()["detail"]
    assert last_audit(console)[0] == "parties.reload" and len(client.get(f"{API}/parties").json()["items"]) >= counted["parties"]
    assert client.get(f"{API}/parties/{PARTY}").json()["status"] == "active"


def test_the_parties_page_adds_and_retires_a_certificate_and_reloads_with_the_csrf_token(
    client: TestClient, console: Console, pki_dir: Path,
) -> None:
    successor = issue(pki_dir)
    new_print = fingerprint(successor.certificate)
    form_login(client, "admin")
    page = client.get("/admin/parties")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)  # type: ignore[union-attr]
    assert f'action="/admin/parties/{PARTY}/certificates"' in page.text and 'action="/admin/parties/reload"' in page.text
    forged = client.post(f"/admin/parties/{PARTY}/certificates", data={"pem": pem(successor), "reason": "r", "csrf_token": "x"})
    assert forged.status_code == 403
    added = client.post(f"/admin/parties/{PARTY}/certificates",
                        data={"pem": pem(successor), "reason": "rotation", "csrf_token": token}, follow_redirects=False)
    assert added.status_code == 303 and last_audit(console)[0] == "party.certificate.add"
    page = client.get("/admin/parties")
    assert f"/admin/parties/{PARTY}/certificates/{new_print}/retire" in page.text
    retired = client.post(f"/admin/parties/{PARTY}/certificates/{new_print}/retire",
                          data={"reason": "mistake", "csrf_token": token}, follow_redirects=False)
    assert retired.status_code == 303 and last_audit(console)[0] == "party.certificate.retire"
    bad = client.post(f"/admin/parties/{PARTY}/certificates", data={"pem": "nonsense", "reason": "r", "csrf_token": token})
    assert bad.status_code == 422 and "not a PEM certificate" in bad.text and "<script" not in bad.text
    reloaded = client.post("/admin/parties/reload", data={"csrf_token": token}, follow_redirects=False)
    assert reloaded.status_code == 303 and last_audit(console)[0] == "parties.reload"
    page = client.get("/admin/parties")
    assert f"/admin/parties/{PARTY}/certificates/{new_print}/retire" not in page.text  # retired stays retired
