"""Login sessions and login throttling, kept in the store so that every console process agrees.

A session is a random cookie value (only its SHA-256 is stored) with an expiry and
its own CSRF token, which every state-changing request of the session must carry.
Failed logins are counted per account and per address over a sliding window: past
the limit, further tries are refused (even with the right password) until the
oldest failure leaves the window.
"""

from __future__ import annotations

import datetime as dt
import secrets
from dataclasses import dataclass

from sqlalchemy import Engine, delete, func, insert, select

from console.accounts import Operator, operator_of, token_hash
from console.tables import console_sessions, login_failures, operators
from customs.timestamps import as_utc
from gateway.config import ConsoleSettings
from gateway.store.engine import writing

ADDRESS_FACTOR = 10  # one address may fail this many times more often than one account (a shared office NAT)


@dataclass(frozen=True)
class Session:
    secret: str  # the cookie's value
    operator: Operator
    csrf: str
    expires_at: dt.datetime


class Sessions:
    def __init__(self, engine: Engine, settings: ConsoleSettings) -> None:
        self.engine = engine
        self.settings = settings

    def open(self, operator: Operator, address: str | None) -> Session:
        now = dt.datetime.now(dt.UTC)
        session = Session(
            secrets.token_urlsafe(32), operator, secrets.token_urlsafe(32), now + dt.timedelta(seconds=self.settings.session_ttl_s)
        )
        with writing(self.engine) as tx:
            tx.execute(delete(console_sessions).where(console_sessions.c.expires_at < now))
            tx.execute(
                insert(console_sessions).values(
                    token_hash=token_hash(session.secret), operator=operator.id, csrf=session.csrf,
                    address=(address or "")[:64] or None, created_at=now, expires_at=session.expires_at,
                )
            )
        return session

    def find(self, secret: str) -> Session | None:
        """The live session of an active account this cookie value opens, else None."""
        query = (
            select(operators, console_sessions.c.csrf, console_sessions.c.expires_at)
            .join(console_sessions, console_sessions.c.operator == operators.c.id)
            .where(console_sessions.c.token_hash == token_hash(secret))
        )
        with self.engine.connect() as connection:
            row = connection.execute(query).first()
        if row is None or as_utc(row.expires_at) <= dt.datetime.now(dt.UTC):
            return None
        operator = operator_of(row)
        return Session(secret, operator, row.csrf, as_utc(row.expires_at)) if operator.active else None

    def close(self, secret: str) -> None:
        with writing(self.engine) as tx:
            tx.execute(delete(console_sessions).where(console_sessions.c.token_hash == token_hash(secret)))

    # --- throttling --------------------------------------------------------------

    def throttled(self, login: str, address: str) -> bool:
        """Whether this account, or this address, failed too often within the window."""
        since = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=self.settings.login_window_s)
        count = select(func.count()).select_from(login_failures).where(login_failures.c.at > since)
        with self.engine.connect() as connection:
            by_login = connection.execute(count.where(login_failures.c.login == login[:64])).scalar_one()
            by_address = connection.execute(count.where(login_failures.c.address == address[:64])).scalar_one()
        limit = self.settings.login_max_failures
        return by_login >= limit or by_address >= limit * ADDRESS_FACTOR

    def note_failure(self, login: str, address: str) -> None:
        now = dt.datetime.now(dt.UTC)
        with writing(self.engine) as tx:
            old = now - dt.timedelta(seconds=self.settings.login_window_s)
            tx.execute(delete(login_failures).where(login_failures.c.at < old))
            tx.execute(insert(login_failures).values(login=login[:64], address=address[:64], at=now))
