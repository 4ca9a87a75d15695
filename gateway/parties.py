"""The party registry: who may send, in which roles, with which certificates.

config/parties.toml is the operator's source; `sync_parties` loads it into the
store, and every gateway process reads the registry from the store (so that
several ingress instances agree), refreshing it periodically.
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
from sqlalchemy import Engine, delete, insert, select, update

from gateway.config import read_toml
from gateway.errors import ConfigurationError
from gateway.signing.keys import certificate_from_der, der_of, fingerprint, load_certificates
from gateway.signing.pki import PartyKeySpec
from gateway.store.engine import writing
from gateway.store.tables import parties, party_certificates

ROLES = frozenset({"trader", "marketplace", "logistics", "ministry", "customs", "nsw", "asw_partner", "operator"})
log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class Party:
    identity: str
    name: str
    country: str
    roles: frozenset[str]
    status: str = "active"
    certificates: dict[str, x509.Certificate] = field(default_factory=dict)  # fingerprint -> certificate

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
            )
        )
    return configured


REMOVED = "removed"


def sync_parties(engine: Engine, configured: Iterable[PartyConfig]) -> None:
    """Make the store's registry match the configuration (parties and their certificates).

    A party that is no longer configured is kept (its messages refer to it) but marked
    removed, and its certificates are deleted: it can send nothing more.
    """
    configured = list(configured)
    certificates = {party.identity: _certificates(party) for party in configured}
    _refuse_shared_certificates(certificates)
    now = dt.datetime.now(dt.UTC)
    with writing(engine) as connection:
        connection.execute(
            update(parties)
            .where(parties.c.identity.not_in([p.identity for p in configured]), parties.c.status != REMOVED)
            .values(status=REMOVED, updated_at=now)
        )
        connection.execute(
            delete(party_certificates).where(party_certificates.c.party.not_in([p.identity for p in configured]))
        )
        for party in configured:
            values = {
                "name": party.name,
                "country": party.country,
                "roles": " ".join(sorted(party.roles)),
                "status": party.status,
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


def load_registry(engine: Engine) -> dict[str, Party]:
    with engine.connect() as connection:
        certificates: dict[str, dict[str, x509.Certificate]] = {}
        for row in connection.execute(select(party_certificates.c.party, party_certificates.c.fingerprint, party_certificates.c.der)):
            certificates.setdefault(row.party, {})[row.fingerprint] = certificate_from_der(row.der)
        return {
            row.identity: Party(
                identity=row.identity,
                name=row.name,
                country=row.country,
                roles=frozenset(row.roles.split()),
                status=row.status,
                certificates=certificates.get(row.identity, {}),
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
