"""The `gateway` command: keys init, sign, messages and submit.

`keys`, `sign` and `messages` run in-process through `app.cli.main.main` (with a wide console, so that
rich's tables are not folded); `submit` and the error exits run as `python -m app` subprocesses, against
a live gateway.
"""

from __future__ import annotations

import os
import re
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from rich.console import Console
from sqlalchemy import select
from support import REPO, Live, MessageFactory, write_config

from app.cli import messages as messages_command
from app.cli.main import main
from app.process import free_port
from conformance import SAMPLE_SENDERS, SAMPLES_DIR
from gateway import client, xmlsafe
from gateway.envelope import qname
from gateway.signing.revocation.crls import parse_crl
from gateway.parties import read_parties_file
from gateway.pipeline import Pipeline, Transport
from gateway.services import Services
from gateway.signing.keys import der_of, key_type, load_certificates
from gateway.signing.trust import TrustStore
from gateway.signing.verify import verify_envelope
from gateway.store.tables import messages as messages_table

PARTIES = read_parties_file(REPO / "config" / "parties.toml", Path("/unused"))
KEY_KINDS = {p.identity: p.key_kind for p in PARTIES}
MESSAGE_ID = f"{qname('Header')}/{qname('Reference')}/{qname('messageId')}"
UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


@pytest.fixture(autouse=True)
def no_gateway_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """The command must take its paths from --config here, not from the caller's environment."""
    for variable in ("GATEWAY_CONFIG", "GATEWAY_PKI_DIR", "GATEWAY_VAR_DIR"):
        monkeypatch.delenv(variable, raising=False)


def run(*argv: str, env: dict[str, str] | None = None, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """`python -m gateway ARGV` in a subprocess, with a wide terminal for rich's tables."""
    environment = {k: v for k, v in os.environ.items() if not k.startswith("GATEWAY_")}
    environment.update({"COLUMNS": "250", **(env or {})})
    return subprocess.run(
        [sys.executable, "-m", "app", *argv], cwd=REPO, env=environment, capture_output=True, text=True, timeout=timeout
    )


def words(text: str) -> str:
    """Rich wraps console lines at spaces; compare texts with their whitespace collapsed."""
    return " ".join(text.split())


# --- keys init -----------------------------------------------------------------------------------


@pytest.fixture
def keys_config(tmp_path: Path) -> Path:
    """A configuration whose var and pki directories are under tmp_path."""
    return write_config(tmp_path / "config", tmp_path / "configured-pki", "cli-keys")


def pki_files(directory: Path) -> dict[str, bytes]:
    return {path.name: path.read_bytes() for path in sorted(directory.iterdir())}


def test_keys_init_makes_a_ca_and_a_key_per_party(
    keys_config: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    directory = tmp_path / "made"

    assert main(["--config", str(keys_config), "keys", "init", "--dir", str(directory)]) == 0

    expected = {"ca.pem", "ca.key.pem", "ca.crl.pem"} | {f"{p}.{kind}.pem" for p in KEY_KINDS for kind in ("key", "cert")}
    assert {path.name for path in directory.iterdir()} == expected
    assert not (tmp_path / "configured-pki").exists()  # --dir wins over the configured directory
    ca = load_certificates(directory / "ca.pem")[0]
    assert ca.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    for party, kind in KEY_KINDS.items():
        certificate = load_certificates(directory / f"{party}.cert.pem")[0]
        key = serialization.load_pem_private_key((directory / f"{party}.key.pem").read_bytes(), password=None)
        certificate.verify_directly_issued_by(ca)
        assert certificate.subject.get_attributes_for_oid(x509.NameOID.USER_ID)[0].value == party
        assert certificate.public_key().public_numbers() == key.public_key().public_numbers()
        family, size = kind.split("-")
        assert (key_type(key), key.key_size) == (family, int(size.lstrip("p")))
    out = words(capsys.readouterr().out)
    assert "keys made for" in out and all(party in out for party in KEY_KINDS)


def test_keys_revoke_adds_the_party_to_the_cas_crl_and_keys_init_keeps_it(
    keys_config: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    directory = tmp_path / "made"
    assert main(["--config", str(keys_config), "keys", "init", "--dir", str(directory)]) == 0
    party = next(iter(KEY_KINDS))
    serial = load_certificates(directory / f"{party}.cert.pem")[0].serial_number
    ca = load_certificates(directory / "ca.pem")[0]
    assert list(parse_crl((directory / "ca.crl.pem").read_bytes())) == []

    assert main(["--config", str(keys_config), "keys", "revoke", party, "--dir", str(directory)]) == 0
    assert main(["--config", str(keys_config), "keys", "init", "--dir", str(directory)]) == 0  # renews the CRL

    crl = parse_crl((directory / "ca.crl.pem").read_bytes())
    assert crl.is_signature_valid(ca.public_key()) and [entry.serial_number for entry in crl] == [serial]
    assert f"serial {serial:x}" in words(capsys.readouterr().out)
    assert main(["--config", str(keys_config), "keys", "revoke", "nobody", "--dir", str(directory)]) == 2


def test_keys_rotate_makes_the_next_key_and_finish_makes_it_current(
    keys_config: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    directory = tmp_path / "made"
    assert main(["--config", str(keys_config), "keys", "init", "--dir", str(directory)]) == 0
    old = load_certificates(directory / "VNECOMGW.cert.pem")[0]

    assert main(["--config", str(keys_config), "keys", "rotate", "--dir", str(directory)]) == 0
    assert "next_from" in words(capsys.readouterr().out)
    following = load_certificates(directory / "VNECOMGW.next.cert.pem")[0]
    assert stat.S_IMODE((directory / "VNECOMGW.next.key.pem").stat().st_mode) == 0o600
    assert main(["--config", str(keys_config), "keys", "rotate", "--dir", str(directory)]) == 2  # one at a time

    assert main(["--config", str(keys_config), "keys", "rotate", "--finish", "--dir", str(directory)]) == 0
    assert load_certificates(directory / "VNECOMGW.cert.pem")[0] == following
    assert load_certificates(directory / "VNECOMGW.previous.cert.pem")[0] == old
    assert main(["--config", str(keys_config), "keys", "rotate", "--finish", "--dir", str(directory)]) == 2


def test_keys_init_private_keys_are_readable_by_the_owner_only(keys_config: Path, tmp_path: Path) -> None:
    directory = tmp_path / "made"
    assert main(["--config", str(keys_config), "keys", "init", "--dir", str(directory)]) == 0

    modes = {path.name: stat.S_IMODE(path.stat().st_mode) for path in directory.glob("*.key.pem")}

    assert len(modes) == len(KEY_KINDS) + 1 and set(modes.values()) == {0o600}


def test_keys_init_defaults_to_the_configured_pki_dir(keys_config: Path, tmp_path: Path) -> None:
    assert main(["--config", str(keys_config), "keys", "init"]) == 0

    assert (tmp_path / "configured-pki" / "ca.pem").exists()
    assert all((tmp_path / "configured-pki" / f"{party}.key.pem").exists() for party in KEY_KINDS)


def test_keys_init_again_keeps_existing_keys(keys_config: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    directory = tmp_path / "made"
    assert main(["--config", str(keys_config), "keys", "init", "--dir", str(directory)]) == 0
    before = pki_files(directory)
    capsys.readouterr()

    assert main(["--config", str(keys_config), "keys", "init", "--dir", str(directory)]) == 0

    after = pki_files(directory)
    assert after.pop("ca.crl.pem") != before.pop("ca.crl.pem")  # the CRL is renewed (its next update moves on)
    assert after == before
    assert "keys made for nobody (all present)" in words(capsys.readouterr().out)


def test_keys_init_force_replaces_everything(keys_config: Path, tmp_path: Path) -> None:
    directory = tmp_path / "made"
    assert main(["--config", str(keys_config), "keys", "init", "--dir", str(directory)]) == 0
    before = pki_files(directory)

    assert main(["--config", str(keys_config), "keys", "init", "--dir", str(directory), "--force"]) == 0

    after = pki_files(directory)
    assert after.keys() == before.keys()
    assert all(after[name] != before[name] for name in before)
    ca = load_certificates(directory / "ca.pem")[0]
    for party in KEY_KINDS:
        load_certificates(directory / f"{party}.cert.pem")[0].verify_directly_issued_by(ca)
    assert {stat.S_IMODE(p.stat().st_mode) for p in directory.glob("*.key.pem")} == {0o600}


def test_keys_init_after_adding_a_party_makes_only_its_key(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    parties = tmp_path / "parties.toml"
    original = (REPO / "config" / "parties.toml").read_text(encoding="utf-8")
    parties.write_text(original, encoding="utf-8")
    config = write_config(tmp_path / "config", tmp_path / "pki", "cli-keys", registry={"parties": str(parties)})
    assert main(["--config", str(config), "keys", "init"]) == 0
    before = pki_files(tmp_path / "pki")
    capsys.readouterr()
    parties.write_text(original + '\n[[party]]\nid = "0400000009"\nroles = ["logistics"]\n', encoding="utf-8")

    assert main(["--config", str(config), "keys", "init"]) == 0

    after = pki_files(tmp_path / "pki")
    assert set(after) - set(before) == {"0400000009.key.pem", "0400000009.cert.pem"}
    assert all(after[name] == before[name] for name in before if name != "ca.crl.pem")  # the CRL is renewed
    assert "keys made for 0400000009" in words(capsys.readouterr().out)


def test_keys_init_force_tightens_loose_key_permissions(keys_config: Path, tmp_path: Path) -> None:
    directory = tmp_path / "made"
    assert main(["--config", str(keys_config), "keys", "init", "--dir", str(directory)]) == 0
    for path in directory.glob("*.key.pem"):
        path.chmod(0o644)

    assert main(["--config", str(keys_config), "keys", "init", "--dir", str(directory), "--force"]) == 0

    assert {stat.S_IMODE(p.stat().st_mode) for p in directory.glob("*.key.pem")} == {0o600}


# --- sign ------------------------------------------------------------------------------------------


def sign(capsysbinary: pytest.CaptureFixture[bytes], config: Path, *argv: str) -> bytes:
    assert main(["--config", str(config), "sign", *argv]) == 0
    return capsysbinary.readouterr().out


@pytest.mark.parametrize("document_type", sorted(SAMPLE_SENDERS))
def test_sign_prints_an_envelope_whose_signature_verifies(
    document_type: str, config_path: Path, pki_dir: Path, capsysbinary: pytest.CaptureFixture[bytes]
) -> None:
    party = SAMPLE_SENDERS[document_type]
    sample = SAMPLES_DIR / f"{document_type}.xml"

    out = sign(capsysbinary, config_path, str(sample), "--party", party)

    root = xmlsafe.parse(out)
    verified = verify_envelope(root)
    assert verified.certificate_der == der_of(load_certificates(pki_dir / f"{party}.cert.pem")[0])
    assert TrustStore.from_files([pki_dir / "ca.pem"]).check(verified.certificate_der) == []
    assert root.findtext(MESSAGE_ID) == xmlsafe.parse(sample.read_bytes()).findtext(MESSAGE_ID)  # not --fresh


def test_sign_fresh_changes_the_message_id(config_path: Path, capsysbinary: pytest.CaptureFixture[bytes]) -> None:
    sample = SAMPLES_DIR / "ECOM_ORDER.xml"
    original = xmlsafe.parse(sample.read_bytes()).findtext(MESSAGE_ID)

    firsts = [xmlsafe.parse(sign(capsysbinary, config_path, str(sample), "--party", "0101234567", "--fresh")) for _ in range(2)]

    ids = [root.findtext(MESSAGE_ID) for root in firsts]
    assert original not in ids and ids[0] != ids[1] and all(UUID.fullmatch(i) for i in ids)
    for root in firsts:
        verify_envelope(root)


def test_sign_with_explicit_key_and_certificate(
    config_path: Path, pki_dir: Path, capsysbinary: pytest.CaptureFixture[bytes]
) -> None:
    out = sign(
        capsysbinary, config_path, str(SAMPLES_DIR / "ECOM_DECLARATION.xml"), "--party", "ignored-when-key-given",
        "--key", str(pki_dir / "0309876543.key.pem"), "--cert", str(pki_dir / "0309876543.cert.pem"),
    )

    assert verify_envelope(xmlsafe.parse(out)).certificate_der == der_of(load_certificates(pki_dir / "0309876543.cert.pem")[0])


def test_sign_leaves_a_signed_envelope_as_it_is(
    config_path: Path, tmp_path: Path, messages: MessageFactory, capsysbinary: pytest.CaptureFixture[bytes]
) -> None:
    signed = tmp_path / "signed.xml"
    signed.write_bytes(messages.signed("ECOM_ORDER"))

    assert sign(capsysbinary, config_path, str(signed), "--party", "0309876543") == signed.read_bytes() + b"\n"
    with pytest.raises(SystemExit, match="--fresh cannot change a signed envelope"):
        main(["--config", str(config_path), "sign", str(signed), "--party", "0101234567", "--fresh"])


@pytest.mark.parametrize("command", ["sign", "submit"])
def test_party_without_a_key_is_a_clean_error(command: str, config_path: Path) -> None:
    result = run("--config", str(config_path), command, str(SAMPLES_DIR / "ECOM_ORDER.xml"), "--party", "NOBODY")

    assert result.returncode not in (0, 1) and "Traceback" not in result.stderr
    assert "NOBODY.key.pem" in result.stdout + result.stderr


def test_submit_to_an_unreachable_gateway_is_not_reported_as_rejected(config_path: Path) -> None:
    result = run(
        "--config", str(config_path), "submit", str(SAMPLES_DIR / "ECOM_ORDER.xml"), "--party", "0101234567",
        "--url", f"http://127.0.0.1:{free_port()}",
    )

    assert result.returncode not in (0, 1) and "Traceback" not in result.stderr


# --- messages -----------------------------------------------------------------------------------------


@pytest.fixture
def recorded(pipeline: Pipeline, services: Services, messages: MessageFactory) -> dict[str, dict[str, str]]:
    """Five stored messages: three left `accepted` (never published), two `queued`. message id -> facts."""
    unpublished = pipeline.replacing("forward", lambda intake, services: None)
    plan = [
        (unpublished, "ECOM_ORDER", "accepted"),
        (unpublished, "ECOM_ORDER", "accepted"),
        (unpublished, "ECOM_DECLARATION", "accepted"),
        (pipeline, "ECOM_DECLARATION", "queued"),
        (pipeline, "INSPECTION_RESULT", "queued"),
    ]
    facts = {}
    for runner, document_type, status in plan:
        outcome = runner.submit(messages.signed(document_type), Transport("http"))
        assert outcome.status == 200, outcome.codes
        facts[outcome.message_id] = {"type": document_type, "sender": SAMPLE_SENDERS[document_type], "status": status}
    assert services.forwarder.flush()
    for message_id, fact in facts.items():
        assert services.store.get(fact["sender"], message_id).status == fact["status"]
    return facts


def table_rows(output: str) -> list[list[str]]:
    """The body rows of a rich table as lists of cell texts."""
    return [
        [cell.strip() for cell in line.strip().strip("│").split("│")]
        for line in output.splitlines()
        if line.strip().startswith("│")
    ]


FILTERS = [
    ([], lambda f: True),
    (["--status", "accepted"], lambda f: f["status"] == "accepted"),
    (["--status", "queued"], lambda f: f["status"] == "queued"),
    (["--type", "ECOM_DECLARATION"], lambda f: f["type"] == "ECOM_DECLARATION"),
    (["--sender", "0101234567"], lambda f: f["sender"] == "0101234567"),
    (
        ["--status", "accepted", "--type", "ECOM_DECLARATION"],
        lambda f: f["status"] == "accepted" and f["type"] == "ECOM_DECLARATION",
    ),
    (["--status", "failed"], lambda f: False),
]


def test_messages_lists_and_counts_what_the_store_holds(
    recorded: dict[str, dict[str, str]], config_path: Path, db_url: str,
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
) -> None:
    """Each filter on the same five messages (listing and counting change nothing)."""
    monkeypatch.setenv("GATEWAY_DB_URL", db_url)
    monkeypatch.setattr(messages_command, "console", Console(width=250))  # whole cells in rich's tables
    for filters, selects in FILTERS:
        chosen = {message_id: fact for message_id, fact in recorded.items() if selects(fact)}
        expected_counts: dict[tuple[str, str, str], int] = {}
        for fact in chosen.values():
            key = (fact["status"], fact["type"], fact["sender"])
            expected_counts[key] = expected_counts.get(key, 0) + 1

        assert main(["--config", str(config_path), "messages", *filters]) == 0, filters
        listed = capsys.readouterr().out
        assert main(["--config", str(config_path), "messages", "--count", *filters]) == 0, filters
        counted = capsys.readouterr().out

        rows = {UUID.search(" ".join(row)).group(): row for row in table_rows(listed) if UUID.search(" ".join(row))}
        assert set(rows) == set(chosen), filters
        for message_id, row in rows.items():  # columns: id, received, sender, message id, type, fn, status, route, error
            fact = chosen[message_id]
            assert [row[2], row[4], row[6]] == [fact["sender"], fact["type"], fact["status"]], filters
        count_rows = table_rows(counted)
        assert {tuple(row[:3]): int(row[3]) for row in count_rows if row[0] not in ("status", "total")} == expected_counts, filters
        assert [row for row in count_rows if row[0] == "total"] == [["total", "", "", str(len(chosen))]], filters


# --- submit ---------------------------------------------------------------------------------------------

DOORS = {"http": [], "soap": ["--soap"], "soap12": ["--soap12"]}


@pytest.mark.parametrize("door", DOORS)
def test_submit_exits_0_when_accepted_and_1_when_rejected(door: str, live_gateway: Live) -> None:
    services, config_path = live_gateway.services, live_gateway.config_path

    def submit(sample: str, party: str) -> subprocess.CompletedProcess[str]:
        return run(
            "--config", str(config_path), "submit", str(SAMPLES_DIR / f"{sample}.xml"), "--party", party,
            "--fresh", "--url", live_gateway.url, *DOORS[door],
        )

    accepted = submit("ECOM_ORDER", "0101234567")
    rejected = submit("ECOM_ORDER", "0309876543")  # From says 0101234567, signed with another party's key

    assert accepted.returncode == 0, accepted.stdout + accepted.stderr
    out = words(accepted.stdout)
    assert out.startswith("ACCEPTED (HTTP 200, function 99) message ") and "signature verified" in out
    message_id = UUID.search(out).group()
    assert services.store.get("0101234567", message_id).document_type == "ECOM_ORDER"

    assert rejected.returncode == 1, rejected.stdout + rejected.stderr
    out = words(rejected.stdout)
    assert out.startswith("REJECTED (HTTP ") and "function 22" in out
    assert "CERTIFICATE_NOT_REGISTERED" in out and "registered to party '0309876543'" in out
    assert services.store.get("0101234567", UUID.search(out).group()) is None


def test_submit_a_presigned_file_and_print_the_raw_receipt(live_gateway: Live, tmp_path: Path, messages: MessageFactory) -> None:
    services, config_path = live_gateway.services, live_gateway.config_path
    signed = tmp_path / "signed.xml"
    signed.write_bytes(messages.signed("INSPECTION_RESULT"))
    message_id = xmlsafe.parse(signed.read_bytes()).findtext(MESSAGE_ID)

    first = run(
        "--config", str(config_path), "submit", str(signed), "--party", "BYT", "--url", live_gateway.url, "--raw",
        env={"COLUMNS": "40"},  # a narrow terminal: the raw receipt must not be wrapped or marked up anyway
    )
    again = run("--config", str(config_path), "submit", str(signed), "--party", "BYT", "--url", live_gateway.url)

    assert first.returncode == 0, first.stdout + first.stderr
    assert f"message {message_id}" in words(first.stdout)
    raw = first.stdout[first.stdout.index("<?xml") :].encode("utf-8")
    with services.engine.connect() as connection:
        stored_receipt = connection.execute(
            select(messages_table.c.receipt).where(messages_table.c.message_id == message_id)
        ).scalar_one()
    assert raw == stored_receipt + b"\n"  # byte for byte, e.g. urn:customs.gov.vn:ecom:envelope:1 untouched
    assert client.read_receipt(raw, services.trust).accepted
    assert services.store.get("BYT", message_id).body == signed.read_bytes()
    assert again.returncode == 0 and words(again.stdout).startswith("ACCEPTED (HTTP 200")
    assert f"message {message_id}" in again.stdout
