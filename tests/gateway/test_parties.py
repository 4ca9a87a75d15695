"""The party registry: parties.toml, syncing it into the store (SQLite and PostgreSQL), and reading it back.

The PostgreSQL database is shared by the whole test run, so these tests use party ids of their
own (with a random suffix) and only look at those.
"""

from __future__ import annotations

import json
import re
import tomllib
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from sqlalchemy import Engine
from support import REPO, MessageFactory, write_config

from gateway import client
from gateway.config import write_table_array
from gateway.exceptions import ConfigurationError
from gateway.parties import ROLES, Endpoint, PartyConfig, PartyRegistry, load_registry, read_parties_file, sync_parties
from gateway.pipeline import Pipeline, Transport
from gateway.services import Services
from gateway.signing.keys import SigningIdentity, fingerprint, load_certificates
from gateway.signing.pki import CertificateAuthority
from gateway.store.engine import make_engine

TRADER = "0312345678"


def write_parties(path: Path, entries: list[dict[str, object]]) -> Path:
    lines = []
    for entry in entries:
        lines.append("[[party]]")
        lines.extend(f"{key} = {json.dumps(value, ensure_ascii=False)}" for key, value in entry.items())
        lines.append("")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


def write_cert(path: Path, identity: SigningIdentity) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(identity.certificate.public_bytes(serialization.Encoding.PEM))
    return path


@pytest.fixture(scope="module")
def ca() -> CertificateAuthority:
    return CertificateAuthority.create("Party Registry Tests CA")


@pytest.fixture
def certs(ca: CertificateAuthority) -> list[SigningIdentity]:
    """Fresh for every test: a fingerprint can be registered only once in the store the run shares."""
    return [ca.issue(f"Party Test {n}", f"PT{n}", "ec-p256") for n in range(4)]


@pytest.fixture
def ids() -> Callable[[str], str]:
    suffix = uuid.uuid4().hex[:8].upper()
    return lambda label: f"{label}-{suffix}"


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    built = make_engine(db_url)
    yield built
    built.dispose()


# --- read_parties_file -----------------------------------------------------------------------


def test_defaults_of_a_minimal_entry(tmp_path: Path) -> None:
    path = write_parties(tmp_path / "etc" / "parties.toml", [{"id": "0300000001", "roles": ["trader"]}])

    (party,) = read_parties_file(path, tmp_path / "pki")

    assert party == PartyConfig(
        identity="0300000001", name="0300000001", country="VN", roles=frozenset({"trader"}), status="active",
        key_kind="rsa-2048", certificate_files=(tmp_path / "pki" / "0300000001.cert.pem",),
    )


def test_certificate_paths_use_pki_and_are_relative_to_the_parties_file(tmp_path: Path) -> None:
    path = write_parties(
        tmp_path / "etc" / "parties.toml",
        [{"id": "P1", "roles": ["logistics", "trader"], "name": "Một", "country": "SG", "status": "suspended",
          "key": "ec-p384", "certificates": ["{pki}/P1-2025.cert.pem", "rotation/P1-2026.cert.pem", "/abs/p1.pem"]}],
    )

    (party,) = read_parties_file(path, tmp_path / "pki")

    assert party.certificate_files == (
        tmp_path / "pki" / "P1-2025.cert.pem", tmp_path / "etc" / "rotation" / "P1-2026.cert.pem", Path("/abs/p1.pem"),
    )
    assert (party.name, party.country, party.status, party.roles) == ("Một", "SG", "suspended", {"logistics", "trader"})
    assert party.key_spec().key_kind == "ec-p384" and party.key_spec().identity == "P1"


def test_repository_parties_file_reads() -> None:
    parties = read_parties_file(REPO / "config" / "parties.toml", Path("/pki"))
    by_id = {p.identity: p for p in parties}

    assert len(by_id) == len(parties)
    assert by_id[TRADER].roles == {"trader"} and by_id["VNECOMGW"].key_kind == "ec-p256"
    assert all(p.roles and p.roles <= ROLES for p in parties)


def test_unknown_role_is_refused(tmp_path: Path) -> None:
    path = write_parties(tmp_path / "parties.toml", [{"id": "P1", "roles": ["trader", "smuggler"]}])

    with pytest.raises(ConfigurationError) as caught:
        read_parties_file(path, tmp_path)

    assert str(path) in str(caught.value) and "P1" in str(caught.value) and "smuggler" in str(caught.value)


@pytest.mark.parametrize("missing", ["id", "roles"])
def test_entry_without_id_or_roles_is_refused(tmp_path: Path, missing: str) -> None:
    entry = {"id": "P1", "name": "No one", "roles": ["trader"]}
    del entry[missing]
    path = write_parties(tmp_path / "parties.toml", [{"id": "P0", "roles": ["trader"]}, entry])

    with pytest.raises(ConfigurationError) as caught:
        read_parties_file(path, tmp_path)

    assert str(path) in str(caught.value) and repr(missing) in str(caught.value)


@pytest.mark.parametrize("content", [None, "[[party]\nid = 1\n"], ids=["missing", "malformed"])
def test_unreadable_parties_file_is_refused(tmp_path: Path, content: str | None) -> None:
    path = tmp_path / "parties.toml"
    if content is not None:
        path.write_text(content, encoding="utf-8")

    with pytest.raises(ConfigurationError, match="cannot be read") as caught:
        read_parties_file(path, tmp_path)

    assert str(path) in str(caught.value)


# --- sync_parties and load_registry, on both stores --------------------------------------------


def test_sync_then_load_registry(
    tmp_path: Path, engine: Engine, certs: list[SigningIdentity], ids: Callable[[str], str]
) -> None:
    seller, ministry, unsigned = ids("SELLER"), ids("MINISTRY"), ids("NOCERT")
    path = write_parties(
        tmp_path / "parties.toml",
        [
            {"id": seller, "name": "Sàn Việt", "roles": ["marketplace", "trader"]},
            {"id": ministry, "roles": ["ministry"], "country": "VN", "status": "suspended",
             "certificates": ["{pki}/ministry-old.pem", "{pki}/ministry-new.pem"]},
            {"id": unsigned, "roles": ["logistics"], "certificates": ["{pki}/not-there.pem"]},
        ],
    )
    pki = tmp_path / "pki"
    write_cert(pki / f"{seller}.cert.pem", certs[0])
    write_cert(pki / "ministry-old.pem", certs[1])
    write_cert(pki / "ministry-new.pem", certs[2])

    sync_parties(engine, read_parties_file(path, pki))
    registry = load_registry(engine)

    assert registry[seller].roles == {"marketplace", "trader"} and registry[seller].name == "Sàn Việt"
    assert registry[seller].active
    assert registry[seller].certificates == {fingerprint(certs[0].certificate): certs[0].certificate}
    assert not registry[ministry].active and registry[ministry].status == "suspended"
    assert registry[ministry].certificates == {
        fingerprint(c.certificate): c.certificate for c in (certs[1], certs[2])
    }
    assert registry[unsigned].certificates == {}  # a missing file is skipped, not fatal


def test_rotation_both_certificates_are_owned_by_the_party(
    tmp_path: Path, engine: Engine, certs: list[SigningIdentity], ids: Callable[[str], str]
) -> None:
    party, other = ids("ROTATING"), ids("OTHER")
    old, new = write_cert(tmp_path / "old.pem", certs[0]), write_cert(tmp_path / "new.pem", certs[1])
    write_cert(tmp_path / "other.pem", certs[2])
    path = write_parties(
        tmp_path / "parties.toml",
        [{"id": party, "roles": ["trader"], "certificates": [str(old), str(new)]},
         {"id": other, "roles": ["trader"], "certificates": ["other.pem"]}],
    )

    sync_parties(engine, read_parties_file(path, tmp_path))
    registry = PartyRegistry(engine)

    assert [registry.owner_of(fingerprint(c.certificate)).identity for c in certs[:3]] == [party, party, other]
    assert registry.owner_of(fingerprint(certs[3].certificate)) is None
    assert registry.owner_of("00" * 32) is None
    assert registry.get(party).roles == {"trader"} and registry.get("NOBODY-" + party) is None


def test_resync_follows_the_configuration(
    tmp_path: Path, engine: Engine, certs: list[SigningIdentity], ids: Callable[[str], str]
) -> None:
    party = ids("RESYNC")
    old, new = write_cert(tmp_path / "old.pem", certs[0]), write_cert(tmp_path / "new.pem", certs[1])
    before = [{"id": party, "roles": ["trader"], "certificates": [str(old), str(new)]}]
    after = [{"id": party, "roles": ["logistics"], "name": "Renamed", "status": "suspended", "certificates": [str(new)]}]
    sync_parties(engine, read_parties_file(write_parties(tmp_path / "before.toml", before), tmp_path))
    registry = PartyRegistry(engine, refresh_s=3600)
    assert registry.owner_of(fingerprint(certs[0].certificate)).identity == party

    sync_parties(engine, read_parties_file(write_parties(tmp_path / "after.toml", after), tmp_path))

    assert registry.get(party).roles == {"trader"}  # a registry re-reads the store only when refreshed
    registry.refresh()
    assert registry.owner_of(fingerprint(certs[0].certificate)) is None
    assert registry.owner_of(fingerprint(certs[1].certificate)).identity == party
    reloaded = load_registry(engine)[party]
    assert (reloaded.roles, reloaded.name, reloaded.active) == ({"logistics"}, "Renamed", False)
    assert list(reloaded.certificates) == [fingerprint(certs[1].certificate)]


def test_sync_is_idempotent(tmp_path: Path, engine: Engine, certs: list[SigningIdentity], ids: Callable[[str], str]) -> None:
    party = ids("TWICE")
    path = write_parties(
        tmp_path / "parties.toml",
        [{"id": party, "roles": ["trader"], "certificates": [str(write_cert(tmp_path / "c.pem", certs[0]))]}],
    )
    configured = read_parties_file(path, tmp_path)

    sync_parties(engine, configured)
    first = load_registry(engine)[party]
    sync_parties(engine, configured)

    assert load_registry(engine)[party] == first


def test_party_removed_from_the_configuration_can_no_longer_send(
    tmp_path: Path, engine: Engine, certs: list[SigningIdentity], ids: Callable[[str], str]
) -> None:
    kept, dropped = ids("KEPT"), ids("DROPPED")
    cert = str(write_cert(tmp_path / "dropped.pem", certs[0]))
    both = [{"id": kept, "roles": ["trader"]}, {"id": dropped, "roles": ["trader"], "certificates": [cert]}]
    sync_parties(engine, read_parties_file(write_parties(tmp_path / "both.toml", both), tmp_path))

    sync_parties(engine, read_parties_file(write_parties(tmp_path / "kept.toml", both[:1]), tmp_path))

    registry = load_registry(engine)
    assert kept in registry
    assert dropped not in registry or not registry[dropped].active or not registry[dropped].certificates


def test_certificate_listed_twice_for_one_party_is_registered_once(
    tmp_path: Path, engine: Engine, certs: list[SigningIdentity], ids: Callable[[str], str]
) -> None:
    party = ids("DOUBLE")
    cert = str(write_cert(tmp_path / "c.pem", certs[0]))
    path = write_parties(tmp_path / "parties.toml", [{"id": party, "roles": ["trader"], "certificates": [cert, cert]}])

    sync_parties(engine, read_parties_file(path, tmp_path))

    assert list(load_registry(engine)[party].certificates) == [fingerprint(certs[0].certificate)]


def test_certificate_registered_to_two_parties_is_a_configuration_error(
    tmp_path: Path, engine: Engine, certs: list[SigningIdentity], ids: Callable[[str], str]
) -> None:
    first, second = ids("FIRST"), ids("SECOND")
    cert = str(write_cert(tmp_path / "shared.pem", certs[0]))
    path = write_parties(
        tmp_path / "parties.toml",
        [{"id": first, "roles": ["trader"], "certificates": [cert]}, {"id": second, "roles": ["trader"], "certificates": [cert]}],
    )

    with pytest.raises(ConfigurationError) as caught:
        sync_parties(engine, read_parties_file(path, tmp_path))

    assert first in str(caught.value) and second in str(caught.value)


# --- rotation through the pipeline ---------------------------------------------------------------


@pytest.fixture(scope="module")
def successor(pki_dir: Path) -> SigningIdentity:
    """TRADER's next certificate, issued by the test PKI's CA (so it is trusted)."""
    key = serialization.load_pem_private_key((pki_dir / "ca.key.pem").read_bytes(), password=None)
    ca = CertificateAuthority(key, load_certificates(pki_dir / "ca.pem")[0])  # type: ignore[arg-type]
    return ca.issue("Công ty TNHH Thời trang Phương Nam (2026)", TRADER, "ec-p256")


@pytest.fixture(scope="module")
def unregistered(pki_dir: Path) -> SigningIdentity:
    """A certificate for TRADER from the same CA that is not in the registry."""
    key = serialization.load_pem_private_key((pki_dir / "ca.key.pem").read_bytes(), password=None)
    ca = CertificateAuthority(key, load_certificates(pki_dir / "ca.pem")[0])  # type: ignore[arg-type]
    return ca.issue("Công ty TNHH Thời trang Phương Nam (stray)", TRADER, "ec-p256")


@pytest.fixture
def config_path(tmp_path: Path, pki_dir: Path, namespace: str, successor: SigningIdentity) -> Path:
    """Overrides conftest's: config/parties.toml with TRADER in the middle of a key rotation."""
    new_cert = write_cert(tmp_path / "rotation" / f"{TRADER}-2026.cert.pem", successor)
    with (REPO / "config" / "parties.toml").open("rb") as handle:
        entries = tomllib.load(handle)["party"]
    for entry in entries:
        if entry["id"] == TRADER:
            entry["certificates"] = ["{pki}/" + f"{TRADER}.cert.pem", str(new_cert)]
    parties = write_parties(tmp_path / "rotation" / "parties.toml", entries)
    return write_config(tmp_path / "config", pki_dir, namespace, registry={"parties": str(parties)})


def test_during_rotation_both_certificates_are_accepted(
    pipeline: Pipeline, services: Services, messages: MessageFactory,
    identity: Callable[[str], SigningIdentity], successor: SigningIdentity, unregistered: SigningIdentity,
) -> None:
    def send(signer: SigningIdentity):  # type: ignore[no-untyped-def]
        return pipeline.submit(client.sign(messages.envelope("ECOM_DECLARATION", TRADER), signer), Transport("http"))

    outcomes = [send(identity(TRADER)), send(successor), send(unregistered)]

    assert [(o.status, o.codes) for o in outcomes] == [(200, ()), (200, ()), (403, ("CERTIFICATE_NOT_REGISTERED",))]
    assert all(services.store.get(TRADER, o.message_id) is not None for o in outcomes[:2])
    assert services.store.get(TRADER, outcomes[2].message_id) is None


# --- endpoints and a partner's own trust anchors ------------------------------------------------


def test_endpoint_and_partner_ca_are_synced_and_read_back(
    tmp_path: Path, engine: Engine, ca: CertificateAuthority, certs: list[SigningIdentity], ids: Callable[[str], str]
) -> None:
    partner, puller = ids("PARTNER"), ids("PULLER")
    ca_file = tmp_path / "partner-ca.pem"
    ca_file.write_bytes(ca.certificate.public_bytes(serialization.Encoding.PEM))
    path = write_table_array(tmp_path / "parties.toml", "party", [
        {"id": partner, "roles": ["asw_partner"], "ca": "partner-ca.pem",
         "endpoint": {"transport": "soap12", "url": "https://partner.example/soap"},
         "certificates": [str(write_cert(tmp_path / "p.pem", certs[0]))]},
        {"id": puller, "roles": ["trader"]},
    ])

    sync_parties(engine, read_parties_file(path, tmp_path))
    registry = load_registry(engine)

    assert registry[partner].endpoint == Endpoint("soap12", "https://partner.example/soap")
    assert registry[partner].anchors == (ca.certificate,)
    assert registry[puller].endpoint is None and registry[puller].anchors == ()

    without = write_table_array(tmp_path / "after.toml", "party", [{"id": partner, "roles": ["asw_partner"]}])
    sync_parties(engine, read_parties_file(without, tmp_path))
    assert (load_registry(engine)[partner].endpoint, load_registry(engine)[partner].anchors) == (None, ())


@pytest.mark.parametrize(
    ("endpoint", "complaint"),
    [
        ({"transport": "ftp", "url": "http://x.example"}, "endpoint transport 'ftp'"),
        ({"transport": "http", "url": "partner.example"}, "is not an http(s) URL"),
        ({"transport": "http"}, "endpoint must be"),
        ("http://x.example", "endpoint must be"),
    ],
)
def test_a_malformed_endpoint_is_refused(tmp_path: Path, endpoint: object, complaint: str) -> None:
    path = write_table_array(tmp_path / "parties.toml", "party", [{"id": "P1", "roles": ["trader"], "endpoint": endpoint}])

    with pytest.raises(ConfigurationError, match=re.escape(complaint)):
        read_parties_file(path, tmp_path)


def test_a_missing_partner_ca_file_stops_the_sync(tmp_path: Path, engine: Engine, ids: Callable[[str], str]) -> None:
    path = write_table_array(tmp_path / "parties.toml", "party", [{"id": ids("P"), "roles": ["asw_partner"], "ca": "nowhere.pem"}])

    with pytest.raises(ConfigurationError, match="nowhere.pem"):
        sync_parties(engine, read_parties_file(path, tmp_path))
