"""The console's pages under /admin: the same data and actions as the API, as server-rendered HTML forms.

Each page requires the permission of its API counterpart; a caller without a session is sent to
the login page, one without the permission gets a 403 page (console.app). Forms post with the
session's CSRF token and answer with a redirect (post/redirect/get).
"""

from __future__ import annotations

import datetime as dt
import json
import secrets
from importlib import resources
from typing import Any

from fastapi import APIRouter, Form, HTTPException, Query, Request, Response, status
from fastapi.responses import RedirectResponse
from sqlalchemy import select

from console import actions, archives, audit, dashboard, probes, search
from console.api import audit_trail, business, registry
from console.api.common import Paging, paging, timeline
from console.api.session import authenticate, log_out, set_session_cookie
from console.auth import Caller, console_of, guard
from console.roles import Permission, allows
from console.web import charts
from console.web.i18n import LANGUAGES
from console.web.render import LANGUAGE_COOKIE, render
from customs.statistics import Period, report
from customs.timestamps import as_utc
from gateway.lifecycle import INBOUND, OUTBOUND, OutboundStatus
from gateway.store.tables import messages, outbox, party_certificates, rejections

router = APIRouter(prefix="/admin", include_in_schema=False)
LOGIN_CSRF_COOKIE = "gw_login_csrf"  # before a session exists, the login form's token is checked against this cookie
YEAR_S = 365 * 86400


def _safe_next(target: str | None) -> str:
    """Only a path of this console: never another site (an open redirect)."""
    if target and target.startswith("/admin") and not target.startswith("//") and "\\" not in target:
        return target
    return "/admin/"


def _back(target: str) -> RedirectResponse:
    return RedirectResponse(target, status_code=status.HTTP_303_SEE_OTHER)


# --- public: login, language, stylesheet ------------------------------------------------------------------


@router.get("/login")
def login_page(request: Request, next: str | None = Query(None, max_length=512)) -> Response:
    token = request.cookies.get(LOGIN_CSRF_COOKIE) or secrets.token_urlsafe(32)
    page = render(request, "login.html", login_csrf=token, next=_safe_next(next), error=None)
    page.set_cookie(LOGIN_CSRF_COOKIE, token, httponly=True, samesite="strict", path="/admin/login",
                    secure=console_of(request).sessions.settings.secure_cookies)
    return page


@router.post("/login")
def login_form(
    request: Request,
    login: str = Form(..., max_length=64),
    password: str = Form(..., max_length=1024),
    csrf_token: str = Form(..., max_length=128),
    next: str = Form("/admin/", max_length=512),
) -> Response:
    expected = request.cookies.get(LOGIN_CSRF_COOKIE, "")
    if not expected or not secrets.compare_digest(csrf_token.encode(), expected.encode()):
        raise HTTPException(status.HTTP_403_FORBIDDEN, "missing or wrong CSRF token")
    try:
        session = authenticate(request, login, password)
    except HTTPException as refused:
        return render(request, "login.html", status_code=refused.status_code, login_csrf=expected, next=_safe_next(next),
                      error="throttled" if refused.status_code == 429 else "wrong")
    answer = _back(_safe_next(next))
    set_session_cookie(request, answer, session)
    return answer


@router.get("/lang/{code}")
def switch_language(code: str, next: str | None = Query(None, max_length=512)) -> Response:
    answer = _back(_safe_next(next))
    if code in LANGUAGES:
        answer.set_cookie(LANGUAGE_COOKIE, code, max_age=YEAR_S, samesite="lax", path="/admin")
    return answer


@router.get("/static/console.css")
def stylesheet() -> Response:
    css = (resources.files("console.web") / "static" / "console.css").read_bytes()
    return Response(css, media_type="text/css", headers={"Cache-Control": "max-age=3600"})


@router.post("/logout")
def logout(request: Request, caller: Caller = guard(Permission.SELF)) -> Response:
    answer = _back("/admin/login")
    log_out(request, answer, caller)
    return answer


# --- the dashboard -----------------------------------------------------------------------------------------


@router.get("/")
def home(request: Request, caller: Caller = guard(Permission.SELF)) -> Response:
    if not allows(caller.operator.role, Permission.READ):
        return _back("/admin/party")
    services = console_of(request).services
    now = dt.datetime.now(dt.UTC)
    with services.engine.connect() as connection:
        figures = {
            "door": dashboard.messages_per_hour(connection, "door", now),
            "document_type": dashboard.messages_per_hour(connection, "document_type", now),
            "outcome": dashboard.messages_per_hour(connection, "outcome", now),
            "lanes": dashboard.lanes_per_day(connection, now),
        }
        inspections = dashboard.inspection_timeliness(connection)
        waiting = dashboard.outbox_waiting(connection)
        expiry = dashboard.certificates_by_expiry(connection, now)
    health = probes.health(services)
    svg = {  # hours shown as "HH", days as "MM-DD"
        name: charts.stacked_bars(name, [column[-2:] if name != "lanes" else column[5:] for column in s.columns], s.series)
        for name, s in figures.items()
    }
    svg["inspections"] = charts.bars("inspections", inspections)
    svg["outbox"] = charts.bars("outbox", waiting)
    svg["certificates"] = charts.bars("certificates", expiry)
    return render(request, "dashboard.html", caller, charts=svg, health=health)


# --- messages, rejections, dead letters ---------------------------------------------------------------------


@router.get("/messages")
def messages_page(
    request: Request,
    window: Paging = paging,
    message_id: str | None = Query(None, max_length=64),
    sender: str | None = Query(None, max_length=64),
    document_type: str | None = Query(None, max_length=64),
    status_: str | None = Query(None, alias="status", max_length=16),
    reference: str | None = Query(None, max_length=64),
    caller: Caller = guard(Permission.READ),
) -> Response:
    filters = {"message_id": message_id, "sender": sender, "document_type": document_type, "status": status_,
               "reference": reference}
    filters = {name: value or None for name, value in filters.items()}
    with console_of(request).services.engine.connect() as connection:
        found = search.messages_page(connection, window.window, **filters)
    return render(request, "messages.html", caller, page=found, filters=filters)


@router.get("/messages/{pk}")
def message_page(pk: int, request: Request, caller: Caller = guard(Permission.READ)) -> Response:
    return _message(request, caller, pk, party=None)


def _message(request: Request, caller: Caller, pk: int, party: str | None) -> Response:
    with console_of(request).services.engine.connect() as connection:
        row = search.one(connection, messages, pk, *search.MESSAGE_FACTS)
        if row is None or (party is not None and row["sender"] != party):
            raise HTTPException(status.HTTP_404_NOT_FOUND, "not found")
        steps = timeline(connection, INBOUND, pk)
    return render(request, "message.html", caller, message=row, steps=steps, party=party)


@router.get("/rejections")
def rejections_page(
    request: Request,
    window: Paging = paging,
    sender: str | None = Query(None, max_length=64),
    code: str | None = Query(None, pattern=r"^[A-Z0-9_]{0,64}$"),
    caller: Caller = guard(Permission.READ),
) -> Response:
    with console_of(request).services.engine.connect() as connection:
        found = search.rejections_page(connection, window.window, sender=sender or None, code=code or None)
        pks = [item["id"] for item in found["items"]]
        errors = dict(connection.execute(select(rejections.c.id, rejections.c.errors).where(rejections.c.id.in_(pks))).all())
    for item in found["items"]:
        item["errors"] = json.loads(errors.get(item["id"]) or "[]")
    return render(request, "rejections.html", caller, page=found, filters={"sender": sender, "code": code})


@router.get("/dead-letters")
def dead_letters_page(request: Request, window: Paging = paging, caller: Caller = guard(Permission.READ)) -> Response:
    with console_of(request).services.engine.connect() as connection:
        found = search.dead_letters_page(connection, window.window)
    return render(request, "dead_letters.html", caller, page=found)


@router.post("/dead-letters/{pk}/redrive")
def redrive_form(pk: int, request: Request, reason: str = Form(..., min_length=1, max_length=2000),
                 caller: Caller = guard(Permission.ACT)) -> Response:
    actions.redrive(console_of(request).services.engine, caller.entry("message.redrive"), pk, reason)
    return _back(f"/admin/messages/{pk}")


# --- the outbox ---------------------------------------------------------------------------------------------


@router.get("/outbox")
def outbox_page(
    request: Request,
    window: Paging = paging,
    status_: str | None = Query(None, alias="status", max_length=16),
    recipient: str | None = Query(None, max_length=64),
    caller: Caller = guard(Permission.READ),
) -> Response:
    chosen_status = status_ if status_ in {s.value for s in OutboundStatus} else None
    with console_of(request).services.engine.connect() as connection:
        found = search.outbox_page(connection, window.window, status=chosen_status, recipient=recipient or None)
    return render(request, "outbox.html", caller, page=found, filters={"status": chosen_status, "recipient": recipient},
                  statuses=[s.value for s in OutboundStatus])


@router.get("/outbox/{pk}")
def outbox_message_page(pk: int, request: Request, caller: Caller = guard(Permission.READ)) -> Response:
    with console_of(request).services.engine.connect() as connection:
        row = search.one(connection, outbox, pk, *search.OUTBOX_FACTS)
        if row is None:
            raise HTTPException(status.HTTP_404_NOT_FOUND, "not found")
        steps = timeline(connection, OUTBOUND, pk)
    return render(request, "outbox_message.html", caller, message=row, steps=steps)


@router.post("/outbox/{pk}/resend")
def resend_form(pk: int, request: Request, reason: str = Form(..., min_length=1, max_length=2000),
                caller: Caller = guard(Permission.ACT)) -> Response:
    actions.resend(console_of(request).services.engine, caller.entry("outbox.resend"), [pk], reason)
    return _back(f"/admin/outbox/{pk}")


# --- declarations and inspection results ---------------------------------------------------------------------


@router.get("/declarations")
def declarations_page(
    request: Request,
    window: Paging = paging,
    lane: str | None = Query(None, max_length=8),
    declarant: str | None = Query(None, max_length=64),
    caller: Caller = guard(Permission.READ),
) -> Response:
    filters = {"lane": lane or None, "declarant": declarant or None}
    with console_of(request).services.engine.connect() as connection:
        found = business.declarations_found(connection, window.window, filters)
    return render(request, "declarations.html", caller, page=found, filters=filters)


@router.get("/declarations/{number}")
def declaration_page(number: str, request: Request, caller: Caller = guard(Permission.READ)) -> Response:
    with console_of(request).services.engine.connect() as connection:
        found = business.declaration_detail(connection, number)
    return render(request, "declaration.html", caller, declaration=found, replays=business.replays(found["decisions"]))


@router.get("/inspections")
def inspections_page(
    request: Request,
    window: Paging = paging,
    ministry: str | None = Query(None, max_length=64),
    late: bool | None = None,
    caller: Caller = guard(Permission.READ),
) -> Response:
    filters = {"ministry": ministry or None, "late": late}
    with console_of(request).services.engine.connect() as connection:
        found = business.inspections_found(connection, window.window, filters)
    return render(request, "inspections.html", caller, page=found, filters=filters)


# --- parties, alerts, audit, reports -------------------------------------------------------------------------


@router.get("/parties")
def parties_page(request: Request, caller: Caller = guard(Permission.READ)) -> Response:
    services = console_of(request).services
    services.parties.refresh()
    now = dt.datetime.now(dt.UTC)
    with services.engine.connect() as connection:
        certificates: dict[str, list[dict[str, Any]]] = {}
        for row in connection.execute(select(party_certificates).order_by(party_certificates.c.not_after)):
            days_left = (as_utc(row.not_after) - now).days
            certificates.setdefault(row.party, []).append({"subject": row.subject, "days": days_left,
                                                           "fingerprint": row.fingerprint})
    return render(request, "parties.html", caller, parties=services.parties.all(), certificates=certificates)


@router.post("/parties/{identity}/suspend")
def suspend_form(identity: str, request: Request, reason: str = Form(..., min_length=1, max_length=2000),
                 caller: Caller = guard(Permission.ADMINISTER)) -> Response:
    actions.suspend_party(console_of(request).services.engine, caller.entry("party.suspend"), identity, reason)
    return _back("/admin/parties")


@router.post("/parties/{identity}/reactivate")
def reactivate_form(identity: str, request: Request, reason: str = Form(..., min_length=1, max_length=2000),
                    caller: Caller = guard(Permission.ADMINISTER)) -> Response:
    actions.reactivate_party(console_of(request).services.engine, caller.entry("party.reactivate"), identity, reason)
    return _back("/admin/parties")


@router.post("/parties/reload")
def reload_form(request: Request, caller: Caller = guard(Permission.ACT)) -> Response:
    registry.reload(request, caller)
    return _back("/admin/parties")


@router.post("/parties/{identity}/certificates")
def add_certificate_form(identity: str, request: Request, pem: str = Form(..., min_length=1, max_length=registry.PEM_LIMIT),
                         reason: str = Form(..., min_length=1, max_length=2000),
                         caller: Caller = guard(Permission.ADMINISTER)) -> Response:
    registry.add(request, caller, identity, pem, reason)
    return _back("/admin/parties")


@router.post("/parties/{identity}/certificates/{certificate}/retire")
def retire_certificate_form(identity: str, certificate: str, request: Request,
                            reason: str = Form(..., min_length=1, max_length=2000),
                            caller: Caller = guard(Permission.ADMINISTER)) -> Response:
    registry.retire(request, caller, identity, certificate, reason)
    return _back("/admin/parties")


@router.get("/alerts")
def alerts_page(request: Request, window: Paging = paging, caller: Caller = guard(Permission.READ)) -> Response:
    with console_of(request).services.engine.connect() as connection:
        found = search.alerts_page(connection, window.window)
    return render(request, "alerts.html", caller, page=found)


@router.post("/alerts/{pk}/acknowledge")
def acknowledge_form(pk: int, request: Request, note: str = Form("", max_length=2000),
                     caller: Caller = guard(Permission.ACT)) -> Response:
    try:
        actions.acknowledge(console_of(request).services.engine, caller.entry("alert.acknowledge"), pk, note or None)
    except actions.AlreadyAcknowledged:
        pass  # someone else was quicker: the page shows who
    return _back("/admin/alerts")


@router.get("/audit")
def audit_page(
    request: Request,
    window: Paging = paging,
    actor: str | None = Query(None, max_length=128),
    action: str | None = Query(None, max_length=64),
    caller: Caller = guard(Permission.AUDIT),
) -> Response:
    services = console_of(request).services
    with services.engine.connect() as connection:
        found = search.audit_page(connection, window.window, actor=actor or None, action=action or None)
        verification = audit.verify(connection, services.keys.current.certificate)
    return render(request, "audit.html", caller, page=found, verification=verification,
                  filters={"actor": actor, "action": action})


@router.get("/archives")
def archives_page(request: Request, caller: Caller = guard(Permission.AUDIT)) -> Response:
    with console_of(request).services.engine.connect() as connection:
        found = archives.listed(connection)
    return render(request, "archives.html", caller, archives=found)


@router.post("/archives/{name}/verify")
def verify_archive_form(name: str, request: Request, caller: Caller = guard(Permission.AUDIT)) -> Response:
    audit_trail.verified(request, caller, name)
    return _back("/admin/archives")


def _period(start: dt.date | None, end: dt.date | None) -> Period:
    end_at = dt.datetime.combine(end, dt.time(), dt.UTC) if end else dt.datetime.now(dt.UTC)
    start_at = dt.datetime.combine(start, dt.time(), dt.UTC) if start else end_at - dt.timedelta(days=30)
    try:
        return Period(start_at, end_at)
    except ValueError as exc:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_ENTITY, str(exc)) from None


@router.get("/reports")
def reports_page(
    request: Request,
    start: dt.date | None = Query(None, alias="from"),
    end: dt.date | None = Query(None, alias="to"),
    caller: Caller = guard(Permission.READ),
) -> Response:
    period = _period(start, end)
    with console_of(request).services.engine.connect() as connection:
        result = report(connection, period)
    return render(request, "reports.html", caller, report=result, start=start, end=end)


@router.get("/reports.csv")
def report_csv(
    request: Request,
    start: dt.date | None = Query(None, alias="from"),
    end: dt.date | None = Query(None, alias="to"),
    _: Caller = guard(Permission.READ),
) -> Response:
    period = _period(start, end)
    with console_of(request).services.engine.connect() as connection:
        text = report(connection, period).csv()
    name = f"report-{period.start:%Y%m%d}-{period.end:%Y%m%d}.csv"
    return Response(text, media_type="text/csv; charset=utf-8", headers={"Content-Disposition": f'attachment; filename="{name}"'})


# --- a party's own view --------------------------------------------------------------------------------------


@router.get("/party")
def party_page(request: Request, window: Paging = paging, caller: Caller = guard(Permission.PARTY_READ)) -> Response:
    party = caller.operator.party or ""
    with console_of(request).services.engine.connect() as connection:
        found = search.messages_page(connection, window.window, party=party)
        inbox = search.outbox_page(connection, search.Window(limit=20), recipient=party)
    return render(request, "party.html", caller, page=found, inbox=inbox, party=party)


@router.get("/party/messages/{pk}")
def party_message_page(pk: int, request: Request, caller: Caller = guard(Permission.PARTY_READ)) -> Response:
    return _message(request, caller, pk, party=caller.operator.party or "")

