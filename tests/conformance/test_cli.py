"""`gateway-conformance list` and `export`; `run` is exercised against live gateways in test_live_gateway.py."""

from __future__ import annotations

from pathlib import Path

import pytest

from conformance.cli import main
from gateway import xmlsafe
from gateway.envelope import read_header
from gateway.signing.trust import TrustStore
from gateway.signing.verify import verify_envelope

from .conftest import PRIMARY, SuiteIdentities


def test_list_prints_the_selected_cases_and_counts_them(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["list", "--tag", "duplicate", "--only", "duplicate.*"]) == 0

    out = capsys.readouterr().out
    assert "duplicate.identical-resend" in out and "sequence.amend-after-declare" not in out
    assert "7 cases; by tag: ECOM_DECLARATION 7, duplicate 7" in out


def test_list_without_a_match_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["list", "--only", "no.such.case"]) == 2
    assert "no case matches" in capsys.readouterr().out


def test_export_writes_signed_messages_other_tools_can_send(tmp_path: Path, suite_identities: SuiteIdentities) -> None:
    status = main(
        [
            "export",
            "valid.ecom_declaration.f01",
            "duplicate.identical-resend",
            "--out",
            str(tmp_path),
            *suite_identities.options(),
        ]
    )

    assert status == 0
    single = (tmp_path / "valid.ecom_declaration.f01.xml").read_bytes()
    root = xmlsafe.parse(single)
    verified = verify_envelope(root)
    assert TrustStore.from_files([suite_identities.ca]).check(verified.certificate_der) == []
    assert read_header(root).sender.identity == PRIMARY
    original = (tmp_path / "duplicate.identical-resend.1-original.xml").read_bytes()
    assert (tmp_path / "duplicate.identical-resend.2-resend.xml").read_bytes() == original


def test_export_says_which_cases_it_cannot_build(
    tmp_path: Path, suite_identities: SuiteIdentities, capsys: pytest.CaptureFixture[str]
) -> None:
    lone = [
        "--party",
        PRIMARY,
        "--roles",
        "logistics",
        "--key",
        str(suite_identities.key(PRIMARY)),
        "--cert",
        str(suite_identities.cert(PRIMARY)),
    ]

    assert main(["export", "party.suspended", "xml.doctype", "--out", str(tmp_path), *lone]) == 0

    out = capsys.readouterr().out
    assert "skipped party.suspended: needs the key of a suspended party" in out.replace("\n", " ")
    assert [p.name for p in tmp_path.iterdir()] == ["xml.doctype.xml"]


def test_unknown_roles_are_a_usage_error(
    tmp_path: Path, suite_identities: SuiteIdentities, capsys: pytest.CaptureFixture[str]
) -> None:
    options = [
        "--party",
        PRIMARY,
        "--key",
        str(suite_identities.key(PRIMARY)),
        "--cert",
        str(suite_identities.cert(PRIMARY)),
    ]

    assert main(["export", "xml.doctype", "--out", str(tmp_path), *options]) == 2
    assert "--roles" in capsys.readouterr().out
