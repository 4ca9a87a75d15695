"""The pages: logging in through the form (its own CSRF token), every page in Vietnamese and in English, every
text translated, output escaped, no script and no external asset, forms that need the CSRF token."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import pytest
from babel.messages.pofile import read_po
from console_support import PARTY, PASSWORD, form_login, parked
from fastapi.testclient import TestClient
from jinja2.ext import babel_extract
from rows import accept
from support import MessageFactory

from console.context import Console
from console.web.i18n import catalogue_path
from gateway.pipeline import Pipeline
from gateway.store.engine import writing
from gateway.store.tables import messages as messages_table

pytestmark = pytest.mark.stores("sqlite")
TEMPLATES = Path(__file__).resolve().parents[2] / "console" / "web" / "templates"
PAGES = ["/admin/", "/admin/messages", "/admin/rejections", "/admin/outbox", "/admin/dead-letters", "/admin/declarations",
         "/admin/inspections", "/admin/parties",
         "/admin/alerts", "/admin/reports"]


def test_every_text_of_the_templates_is_translated_into_vietnamese() -> None:
    texts = set()
    for template in TEMPLATES.glob("*.html"):
        with template.open("rb") as handle:
            for _, _, message, _ in babel_extract(handle, ("_",), [], {"extensions": "jinja2.ext.i18n"}):
                texts.add(message if isinstance(message, str) else message[0])
    with catalogue_path("vi").open("rb") as handle:
        catalogue = read_po(handle)
    translated = {entry.id for entry in catalogue if entry.id and entry.string}
    assert texts - translated == set()
    assert len(texts) > 80


def test_the_login_form_needs_its_csrf_token_and_leads_to_the_page_asked_for(client: TestClient) -> None:
    refused = client.post("/admin/login", data={"login": "viewer", "password": PASSWORD, "csrf_token": "forged"})
    assert refused.status_code == 403
    assert client.get("/admin/messages", follow_redirects=False).headers["location"] == "/admin/login?next=/admin/messages"
    assert form_login(client, "viewer", next_page="/admin/messages").endswith("/admin/messages")
    assert form_login(client, "viewer", next_page="https://evil.example/").endswith("/admin/")  # never elsewhere
    wrong = client.get("/admin/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', wrong.text).group(1)  # type: ignore[union-attr]
    answer = client.post("/admin/login", data={"login": "viewer", "password": "not the password", "csrf_token": token})
    assert answer.status_code == 401 and 'id="login-error"' in answer.text


@pytest.mark.parametrize("language", ["vi", "en"])
def test_every_page_renders_in_both_languages_with_no_script_and_no_external_asset(
    client: TestClient, console: Console, pipeline: Pipeline, messages: MessageFactory, language: str
) -> None:
    accept(pipeline, messages, "ECOM_ORDER", PARTY)
    form_login(client, "viewer")
    client.get(f"/admin/lang/{language}")
    for path in PAGES:
        page = client.get(path)
        assert page.status_code == 200, (path, page.text[:500])
        assert f'<html lang="{language}">' in page.text
        assert "<script" not in page.text and "http://" not in page.text.replace("http://www.w3.org/2000/svg", "")
        assert "https://" not in page.text
        csp = page.headers["content-security-policy"]
        assert "default-src 'none'" in csp and "script-src" not in csp and "style-src 'self'" in csp
    home = client.get("/admin/").text
    assert ("Tổng quan" in home) == (language == "vi") and ("Dashboard" in home) == (language == "en")
    assert home.count("<svg") == 7


def test_stored_text_is_escaped(client: TestClient, console: Console, pipeline: Pipeline, messages: MessageFactory) -> None:
    stored = accept(pipeline, messages, "ECOM_ORDER", PARTY)
    with writing(console.services.engine) as tx:
        tx.execute(messages_table.update().where(messages_table.c.id == stored.pk).values(last_error='<script>alert("x")</script>'))
    form_login(client, "viewer")
    page = client.get(f"/admin/messages/{stored.pk}").text
    assert "<script>" not in page and "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in page


def test_a_form_without_the_csrf_token_changes_nothing(client: TestClient, console: Console) -> None:
    form_login(client, "operator")
    answer = client.post("/admin/outbox/1/resend", data={"reason": "no token"})
    assert answer.status_code == 403 and "CSRF" in answer.text


def test_the_resend_form_carries_the_sessions_csrf_token_and_resends(client: TestClient, console: Console) -> None:
    pk = parked(console.services)
    form_login(client, "operator")
    page = client.get(f"/admin/outbox/{pk}").text
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.split('id="resend"')[1]).group(1)  # type: ignore[union-attr]
    answer = client.post(f"/admin/outbox/{pk}/resend", data={"csrf_token": token, "reason": "back"}, follow_redirects=False)
    assert answer.status_code == 303 and answer.headers["location"] == f"/admin/outbox/{pk}"
    assert "operator:operator" in client.get(f"/admin/outbox/{pk}").text


def test_the_report_downloads_as_csv(client: TestClient) -> None:
    form_login(client, "viewer")
    today = dt.date.today()
    answer = client.get("/admin/reports.csv", params={"from": str(today - dt.timedelta(days=7)), "to": str(today)})
    assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/csv")
    assert answer.text.splitlines()[0] == "period_from,period_to,section,dimension,key,subkey,measure,value"
    assert "attachment" in answer.headers["content-disposition"]


def test_a_party_user_sees_its_own_messages_only(client: TestClient, pipeline: Pipeline, messages: MessageFactory) -> None:
    mine = accept(pipeline, messages, "ECOM_ORDER", PARTY)
    theirs = accept(pipeline, messages, "ECOM_DECLARATION")
    assert form_login(client, "party").endswith("/admin/party")
    page = client.get("/admin/party").text
    assert mine.message_id in page and theirs.message_id not in page
    assert client.get(f"/admin/party/messages/{theirs.pk}").status_code == 404
    assert client.get(f"/admin/messages/{mine.pk}").status_code == 403
