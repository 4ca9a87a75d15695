"""The party registry: who may send, in which roles, with which certificates.

config/parties.toml is the operator's source; `sync_parties` loads it into the
store, and every gateway process reads the registry from the store (so that
several ingress instances agree), refreshing it periodically.

A party may also have an endpoint (the gateway pushes its messages there instead
of waiting for it to pull them) and its own trust anchors: the CA of a partner
single window vouches for that partner's certificates and for nobody else's.
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import structlog
from cryptography import x509
from sqlalchemy import Connection, Engine, delete, insert, select, update

from gateway.config import read_toml
from gateway.exceptions import ConfigurationError
from gateway.signing.keys import certificate_from_der, der_of, fingerprint, load_certificates
from gateway.signing.pki import PartyKeySpec
from gateway.store.engine import writing
from gateway.store.tables import (
    parties,
    party_anchors,
    party_certificate_changes,
    party_certificates,
    party_endpoints,
    party_suspensions,
)

ROLES = frozenset({"trader", "marketplace", "logistics", "ministry", "customs", "nsw", "asw_partner", "operator"})
ENDPOINT_TRANSPORTS = frozenset({"http", "soap", "soap12"})  # gateway/adapters/pushers.py carries each
log = structlog.get_logger(__name__)


@dataclass(frozen=True, slots=True)
class Endpoint:
    """Where the gateway pushes a party's messages: HTTP POST of the envelope, or the SOAP Submit operation."""

    transport: str  # one of ENDPOINT_TRANSPORTS
    url: str


@dataclass(frozen=True)
class Party:
    identity: str
    name: str
    country: str
    roles: frozenset[str]
    status: str = "active"
    certificates: dict[str, x509.Certificate] = field(default_factory=dict)  # fingerprint -> certificate
    anchors: tuple[x509.Certificate, ...] = ()  # CAs trusted for this party's certificates only
    endpoint: Endpoint | None = None  # None: the party pulls its messages

    @property
    def active(self) -> bool:
        return self.status == "active"


@dataclass(frozen=True)
class PartyConfig:
    """A party as configured in parties.toml."""

    identity: str
    name: str
    country: str
    roles: frozenset[str]
    status: str
    key_kind: str
    certificate_files: tuple[Path, ...]
    anchor_files: tuple[Path, ...] = ()
    endpoint: Endpoint | None = None

    def key_spec(self) -> PartyKeySpec:
        return PartyKeySpec(self.identity, self.name, self.country, self.key_kind)


def read_parties_file(path: Path, pki_dir: Path) -> list[PartyConfig]:
    """Parse parties.toml; certificate paths may use {pki} and default to {pki}/<identity>.cert.pem."""
    entries = read_toml(path, "party registry").get("party", [])
    configured = []
    for entry in entries:
        try:
            identity = entry["id"]
            roles = frozenset(entry["roles"])
        except KeyError as exc:
            raise ConfigurationError(f"{path}: a [[party]] entry lacks {exc}") from None
        unknown = roles - ROLES
        if unknown:
            raise ConfigurationError(f"{path}: party {identity} has unknown roles {sorted(unknown)}")
        files = entry.get("certificates", ["{pki}/" + f"{identity}.cert.pem"])
        anchors = entry.get("ca", [])
        configured.append(
            PartyConfig(
                identity=identity,
                name=entry.get("name", identity),
                country=entry.get("country", "VN"),
                roles=roles,
                status=entry.get("status", "active"),
                key_kind=entry.get("key", "rsa-2048"),
                certificate_files=tuple(
                    _resolve(f.replace("{pki}", str(pki_dir)), path.parent) for f in files
                ),
                anchor_files=tuple(
                    _resolve(f.replace("{pki}", str(pki_dir)), path.parent)
                    for f in ([anchors] if isinstance(anchors, str) else anchors)
                ),
                endpoint=_endpoint(path, identity, entry.get("endpoint")),
            )
        )
    return configured


def _endpoint(path: Path, identity: str, value: object) -> Endpoint | None:
    if value is None:
        return None
    if not isinstance(value, dict) or set(value) != {"transport", "url"}:
        raise ConfigurationError(f'{path}: party {identity}: endpoint must be {{transport = "...", url = "..."}}')
    transport, url = value["transport"], value["url"]
    if transport not in ENDPOINT_TRANSPORTS:
        raise ConfigurationError(
            f"{path}: party {identity}: endpoint transport {transport!r} is not one of {sorted(ENDPOINT_TRANSPORTS)}"
        )
    if not isinstance(url, str) or not url.startswith(("http://", "https://")):
        raise ConfigurationError(f"{path}: party {identity}: endpoint url {url!r} is not an http(s) URL")
    return Endpoint(transport, url)


REMOVED = "removed"
SUSPENDED = "suspended"
ADDED = "added"
RETIRED = "retired"


def sync_parties(engine: Engine, configured: Iterable[PartyConfig]) -> None:
    """Make the store's registry match the configuration, in a transaction of its own (see apply_parties)."""
    with writing(engine) as connection:
        apply_parties(connection, configured)


def apply_parties(connection: Connection, configured: Iterable[PartyConfig]) -> None:
    """Make the store's registry match the configuration (parties and their certificates), in the caller's transaction.

    A party that is no longer configured is kept (its messages refer to it) but marked
    removed, and its certificates are deleted: it can send nothing more. An operator's
    suspension and certificate changes (party_certificate_changes) are applied over the files.
    """
    configured = list(configured)
    files = {party.identity: _certificates(party) for party in configured}
    now = dt.datetime.now(dt.UTC)
    connection.execute(  # the first statement writes: a SQLite transaction takes the write lock at once
        update(parties)
        .where(parties.c.identity.not_in([p.identity for p in configured]), parties.c.status != REMOVED)
        .values(status=REMOVED, updated_at=now)
    )
    certificates = _with_operator_changes(connection, files)
    _refuse_shared_certificates(certificates)
    for table in (party_certificates, party_anchors, party_endpoints):
        connection.execute(delete(table).where(table.c.party.not_in([p.identity for p in configured])))
    held = set(connection.execute(select(party_suspensions.c.party)).scalars())
    for party in configured:
        values = {
            "name": party.name,
            "country": party.country,
            "roles": " ".join(sorted(party.roles)),
            "status": SUSPENDED if party.identity in held else party.status,
            "updated_at": now,
        }
        changed = connection.execute(update(parties).where(parties.c.identity == party.identity).values(**values))
        if changed.rowcount == 0:
            connection.execute(insert(parties).values(identity=party.identity, **values))
        connection.execute(delete(party_certificates).where(party_certificates.c.party == party.identity))
        for certificate in certificates[party.identity]:
            connection.execute(
                insert(party_certificates).values(
                    fingerprint=fingerprint(certificate),
                    party=party.identity,
                    der=der_of(certificate),
                    subject=certificate.subject.rfc4514_string()[:512],
                    not_before=certificate.not_valid_before_utc,
                    not_after=certificate.not_valid_after_utc,
                    added_at=now,
                )
            )
        _sync_extras(connection, party)


def _with_operator_changes(
    connection: Connection, configured: dict[str, list[x509.Certificate]]
) -> dict[str, list[x509.Certificate]]:
    """The configured certificates, plus those an operator added, less those an operator retired."""
    found = {identity: {fingerprint(c): c for c in owned} for identity, owned in configured.items()}
    for row in connection.execute(select(party_certificate_changes).order_by(party_certificate_changes.c.at)):
        if row.party not in found:
            continue  # the party is no longer configured: it has no certificates at all
        if row.change == ADDED:
            found[row.party][row.fingerprint] = certificate_from_der(row.der)
        else:
            found[row.party].pop(row.fingerprint, None)
    return {identity: list(owned.values()) for identity, owned in found.items()}


def _sync_extras(connection: Connection, party: PartyConfig) -> None:
    """The party's own trust anchors and its endpoint, replaced by what is configured."""
    connection.execute(delete(party_anchors).where(party_anchors.c.party == party.identity))
    anchors = {fingerprint(ca): ca for path in party.anchor_files for ca in _anchor_certificates(party, path)}
    for print_, ca in anchors.items():
        connection.execute(
            insert(party_anchors).values(
                party=party.identity, fingerprint=print_, der=der_of(ca), subject=ca.subject.rfc4514_string()[:512]
            )
        )
    connection.execute(delete(party_endpoints).where(party_endpoints.c.party == party.identity))
    if party.endpoint is not None:
        connection.execute(
            insert(party_endpoints).values(party=party.identity, transport=party.endpoint.transport, url=party.endpoint.url)
        )


def _anchor_certificates(party: PartyConfig, path: Path) -> list[x509.Certificate]:
    # Unlike a missing party certificate (the party just cannot sign yet), a missing CA file is a
    # configuration fault: the partner could never be trusted, and nobody would know why.
    try:
        return load_certificates(path)
    except (OSError, ValueError) as exc:
        raise ConfigurationError(f"party {party.identity}: trust anchor file {path} cannot be read: {exc}") from None


def load_registry(engine: Engine) -> dict[str, Party]:
    with engine.connect() as connection:
        certificates: dict[str, dict[str, x509.Certificate]] = {}
        for row in connection.execute(select(party_certificates.c.party, party_certificates.c.fingerprint, party_certificates.c.der)):
            certificates.setdefault(row.party, {})[row.fingerprint] = certificate_from_der(row.der)
        anchors: dict[str, list[x509.Certificate]] = {}
        for row in connection.execute(select(party_anchors.c.party, party_anchors.c.der).order_by(party_anchors.c.fingerprint)):
            anchors.setdefault(row.party, []).append(certificate_from_der(row.der))
        endpoints = {row.party: Endpoint(row.transport, row.url) for row in connection.execute(select(party_endpoints))}
        return {
            row.identity: Party(
                identity=row.identity,
                name=row.name,
                country=row.country,
                roles=frozenset(row.roles.split()),
                status=row.status,
                certificates=certificates.get(row.identity, {}),
                anchors=tuple(anchors.get(row.identity, ())),
                endpoint=endpoints.get(row.identity),
            )
            for row in connection.execute(select(parties))
        }


class PartyRegistry:
    """The parties as the store has them, re-read at most every `refresh_s` seconds."""

    def __init__(self, engine: Engine, refresh_s: float = 30.0) -> None:
        self._engine = engine
        self._refresh_s = refresh_s
        self._lock = threading.Lock()
        self._parties = load_registry(engine)
        self._loaded_at = time.monotonic()

    def get(self, identity: str) -> Party | None:
        if time.monotonic() - self._loaded_at > self._refresh_s:
            self.refresh()
        return self._parties.get(identity)

    def refresh(self) -> None:
        with self._lock:
            try:
                self._parties = load_registry(self._engine)
            except Exception:  # the store may be briefly unreachable; keep serving what we know
                log.warning("party registry refresh failed", exc_info=True)
            self._loaded_at = time.monotonic()

    def owner_of(self, certificate_fingerprint: str) -> Party | None:
        """The party a certificate is registered to, if any."""
        return next((p for p in self._parties.values() if certificate_fingerprint in p.certificates), None)

    def all(self) -> list[Party]:
        return list(self._parties.values())


def _certificates(party: PartyConfig) -> list[x509.Certificate]:
    """The party's certificates, each once (a file listed twice is one certificate)."""
    found: dict[str, x509.Certificate] = {}
    for path in party.certificate_files:
        if path.exists():
            certificate = load_certificates(path)[0]
            found.setdefault(fingerprint(certificate), certificate)
        else:
            log.warning("registered certificate file is missing", party=party.identity, path=str(path))
    return list(found.values())


def _refuse_shared_certificates(certificates: dict[str, list[x509.Certificate]]) -> None:
    owners: dict[str, str] = {}
    for identity, owned in certificates.items():
        for certificate in owned:
            other = owners.setdefault(fingerprint(certificate), identity)
            if other != identity:
                raise ConfigurationError(
                    f"certificate {certificate.subject.rfc4514_string()} is registered to both {other!r} and "
                    f"{identity!r}; a certificate identifies one party"
                )


def _resolve(value: str, base: Path) -> Path:
    candidate = Path(value)
    return candidate if candidate.is_absolute() else (base / candidate).resolve()
