"""Operator accounts: logins with a role, passwords hashed with argon2id, API tokens stored hashed.

Every change to an account is an audit record in the same transaction. A party user
(role `party`) belongs to one registered party and sees only what that party may read.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import secrets
from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import Connection, Engine, delete, insert, select, update

from console import audit
from console.roles import Role
from console.tables import api_tokens, console_sessions, operators
from gateway.exceptions import GatewayError
from gateway.store.engine import writing

LOGIN = re.compile(r"^[a-z0-9][a-z0-9._@-]{0,63}$")
MIN_PASSWORD = 12
MAX_PASSWORD = 1024  # argon2 takes any length; a megabyte "password" would only cost CPU
TOKEN_PREFIX = "gwt_"
ACTIVE, DISABLED = "active", "disabled"
_hasher = PasswordHasher()  # argon2id with the library's (RFC 9106) defaults
# Checked against when the login is unknown, so that the answer takes as long as for a known one.
_DUMMY_HASH = _hasher.hash(secrets.token_urlsafe(16))


class AccountError(GatewayError):
    """An account cannot be made or changed as asked."""


@dataclass(frozen=True)
class Operator:
    id: int
    login: str
    role: str
    party: str | None
    status: str

    @property
    def actor(self) -> str:
        """How the operator is named in the messages' history and in the audit trail."""
        return f"operator:{self.login}"

    @property
    def active(self) -> bool:
        return self.status == ACTIVE

    def public(self) -> dict[str, object]:
        return {"login": self.login, "role": self.role, "party": self.party, "status": self.status}


def token_hash(secret: str) -> str:
    """Sessions' and API tokens' values are random and long: a plain SHA-256 keeps them unreadable in the store."""
    return hashlib.sha256(secret.encode()).hexdigest()


class Accounts:
    def __init__(self, engine: Engine, known_parties: frozenset[str] | None = None) -> None:
        self.engine = engine
        self.known_parties = known_parties

    def add(self, login: str, role: str, password: str, *, party: str | None, by: audit.Entry) -> Operator:
        """A new active account; `by` says who makes it (its action and target are filled in here)."""
        login = login.strip().lower()
        if not LOGIN.match(login):
            raise AccountError(f"login {login!r} must be 1-64 lower-case letters, digits or . _ @ -")
        try:
            role = Role(role).value
        except ValueError:
            raise AccountError(f"role {role!r} is not one of {', '.join(Role)}") from None
        if (role == Role.PARTY) != (party is not None):
            raise AccountError("a party user needs --party, and only a party user has one")
        if party is not None and self.known_parties is not None and party not in self.known_parties:
            raise AccountError(f"party {party} is not registered")
        digest = _hashed(password)
        now = dt.datetime.now(dt.UTC)
        with writing(self.engine) as tx:
            if tx.execute(select(operators.c.id).where(operators.c.login == login)).first():
                raise AccountError(f"account {login} exists already")
            values = {"login": login, "role": role, "party": party, "status": ACTIVE}
            pk = tx.execute(
                insert(operators).values(**values, password_hash=digest, created_at=now, updated_at=now).returning(operators.c.id)
            ).scalar_one()
            audit.record(tx, _entry(by, "account.add", login, None, values), now)
        return Operator(pk, login, role, party, ACTIVE)

    def all(self) -> list[Operator]:
        with self.engine.connect() as connection:
            return [operator_of(row) for row in connection.execute(select(operators).order_by(operators.c.login))]

    def get(self, login: str) -> Operator | None:
        with self.engine.connect() as connection:
            return _get(connection, login.strip().lower())

    def disable(self, login: str, *, by: audit.Entry) -> Operator:
        """The account can no longer log in; its sessions end and its API tokens stop working."""
        now = dt.datetime.now(dt.UTC)
        with writing(self.engine) as tx:
            operator = _existing(tx, login)
            tx.execute(update(operators).where(operators.c.id == operator.id).values(status=DISABLED, updated_at=now))
            tx.execute(delete(console_sessions).where(console_sessions.c.operator == operator.id))
            tx.execute(
                update(api_tokens)
                .where(api_tokens.c.operator == operator.id, api_tokens.c.revoked_at.is_(None))
                .values(revoked_at=now)
            )
            audit.record(tx, _entry(by, "account.disable", operator.login, {"status": operator.status}, {"status": DISABLED}), now)
        return Operator(operator.id, operator.login, operator.role, operator.party, DISABLED)

    def set_password(self, login: str, password: str, *, by: audit.Entry) -> None:
        """A new password; the account's sessions end (whoever knew the old one is logged out)."""
        digest = _hashed(password)
        now = dt.datetime.now(dt.UTC)
        with writing(self.engine) as tx:
            operator = _existing(tx, login)
            tx.execute(update(operators).where(operators.c.id == operator.id).values(password_hash=digest, updated_at=now))
            tx.execute(delete(console_sessions).where(console_sessions.c.operator == operator.id))
            audit.record(tx, _entry(by, "account.password", operator.login, None, None), now)

    def check_password(self, login: str, password: str) -> Operator | None:
        """The active account whose password this is, else None (unknown login, wrong password, disabled)."""
        if len(password) > MAX_PASSWORD:
            return None
        with self.engine.connect() as connection:
            row = connection.execute(select(operators).where(operators.c.login == login.strip().lower())).first()
        try:
            _hasher.verify(row.password_hash if row is not None else _DUMMY_HASH, password)
        except (VerificationError, InvalidHashError):
            return None
        if row is None:
            return None
        if _hasher.check_needs_rehash(row.password_hash):
            with writing(self.engine) as tx:
                tx.execute(update(operators).where(operators.c.id == row.id).values(password_hash=_hasher.hash(password)))
        operator = operator_of(row)
        return operator if operator.active else None

    # --- API tokens ------------------------------------------------------------

    def issue_token(self, operator: Operator, name: str, *, by: audit.Entry) -> tuple[int, str]:
        """A new API token for `operator`: (its id, the secret, shown this once and never stored)."""
        secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
        now = dt.datetime.now(dt.UTC)
        with writing(self.engine) as tx:
            pk = tx.execute(
                insert(api_tokens)
                .values(operator=operator.id, name=name[:64], token_hash=token_hash(secret), created_at=now)
                .returning(api_tokens.c.id)
            ).scalar_one()
            audit.record(tx, _entry(by, "token.issue", operator.login, None, {"token": pk, "name": name[:64]}), now)
        return pk, secret

    def tokens(self, operator: Operator) -> list[dict[str, object]]:
        query = (
            select(api_tokens.c.id, api_tokens.c.name, api_tokens.c.created_at, api_tokens.c.revoked_at)
            .where(api_tokens.c.operator == operator.id)
            .order_by(api_tokens.c.id)
        )
        with self.engine.connect() as connection:
            return [dict(row._mapping) for row in connection.execute(query)]

    def revoke_token(self, operator: Operator, token: int, *, by: audit.Entry) -> bool:
        now = dt.datetime.now(dt.UTC)
        with writing(self.engine) as tx:
            revoked = tx.execute(
                update(api_tokens)
                .where(api_tokens.c.id == token, api_tokens.c.operator == operator.id, api_tokens.c.revoked_at.is_(None))
                .values(revoked_at=now)
            ).rowcount
            if revoked:
                audit.record(tx, _entry(by, "token.revoke", operator.login, {"token": token}, None), now)
        return bool(revoked)

    def by_token(self, secret: str) -> Operator | None:
        """The active account an unrevoked API token belongs to."""
        if not secret.startswith(TOKEN_PREFIX):
            return None
        query = (
            select(operators)
            .join(api_tokens, api_tokens.c.operator == operators.c.id)
            .where(api_tokens.c.token_hash == token_hash(secret), api_tokens.c.revoked_at.is_(None))
        )
        with self.engine.connect() as connection:
            row = connection.execute(query).first()
        operator = operator_of(row) if row is not None else None
        return operator if operator is not None and operator.active else None


def _hashed(password: str) -> str:
    if not MIN_PASSWORD <= len(password) <= MAX_PASSWORD:
        raise AccountError(f"a password has {MIN_PASSWORD} to {MAX_PASSWORD} characters")
    return _hasher.hash(password)


def _entry(by: audit.Entry, action: str, target: str, before: object, after: object) -> audit.Entry:
    return audit.Entry(by.actor, action, by.address, target, before, after, by.reason)


def _get(connection: Connection, login: str) -> Operator | None:
    row = connection.execute(select(operators).where(operators.c.login == login)).first()
    return operator_of(row) if row is not None else None


def _existing(tx: Connection, login: str) -> Operator:
    operator = _get(tx, login.strip().lower())
    if operator is None:
        raise AccountError(f"no account {login}")
    return operator


def operator_of(row: object) -> Operator:
    return Operator(row.id, row.login, row.role, row.party, row.status)  # type: ignore[attr-defined]
