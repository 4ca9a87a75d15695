"""The manifest: enough cases, each well-formed, covering what the issue asks for, the same on every machine."""

from __future__ import annotations

import dataclasses
import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from support import REPO

from conformance.suite import spec
from conformance.suite.holds import HOLDS
from conformance.suite.manifest import ManifestError, Suite, load_suite, parse_case
from conformance.suite.model import DOORS, BusinessExpectation, Hold
from gateway.errors import ErrorCode

MINIMAL: dict[str, Any] = {
    "id": "x.minimal",
    "title": "t",
    "checks": "c",
    "why": "w",
    "tags": ["xml"],
    "sample": "ECOM_ORDER",
    "expect": {"outcome": "accepted"},
}
STALLED: dict[str, Any] = {"name": "stalled_bodies", "connections": 1, "closed_within_s": 5}


def test_the_suite_has_at_least_200_cases_with_unique_ids(suite: Suite) -> None:
    ids = [case.id for case in suite.cases]
    assert len(ids) >= 200
    assert len(set(ids)) == len(ids)


def test_every_case_says_what_it_checks_and_why(suite: Suite) -> None:
    for case in suite.cases:
        assert case.title.strip() and case.checks.strip() and case.why.strip(), case.id
        unfilled = re.search(r"\{[a-z_]+(![a-z])?\}", case.title + case.checks + case.why)
        assert unfilled is None, f"{case.id}: template variable {unfilled.group()} was not filled in"


def test_every_expected_code_is_in_the_error_catalogue(suite: Suite) -> None:
    catalogue = {code.name for code in ErrorCode}
    expected = {code for case in suite.cases for step in case.steps for code in step.expect.codes}
    assert expected <= catalogue


def test_every_error_a_message_can_provoke_is_expected_by_some_case(suite: Suite) -> None:
    expected = {code for case in suite.cases for step in case.steps for code in step.expect.codes}
    expected |= {code for case in suite.cases if case.hold for code in HOLDS[case.hold.name].receipt_codes}
    provokable = {code.name for code in ErrorCode} - spec.UNPROVOKABLE_CODES
    assert provokable - expected == set()


@pytest.mark.parametrize("door", DOORS)
def test_every_document_type_is_accepted_through_every_door(suite: Suite, door: str) -> None:
    accepted = {
        case.steps[0].sample
        for case in suite.cases
        if door in case.doors and len(case.steps) == 1 and case.steps[0].expect.accepted
    }
    assert set(spec.documents()) <= accepted


@pytest.mark.parametrize(
    "required",
    [
        # signature attacks: wrapping variants, downgrade, key substitution, other party, expired, untrusted
        "signature.wrapping-object",
        "signature.wrapping-forged-envelope",
        "signature.wrapping-foreign-root",
        "signature.wrapping-second-payload",
        "signature.wrapping-second-body",
        "signature.wrapping-reference-by-id",
        "algorithm.sha1",
        "algorithm.md5-digest",
        "signature.key-substitution",
        "certificate.of-another-party",
        "certificate.expired",
        "certificate.foreign-ca",
        # XML attacks
        "xml.doctype",
        "xml.xxe-file",
        "xml.billion-laughs",
        "xml.deep-nesting",
        "xml.huge-attribute",
        # boundaries
        "boundary.value-at-de-minimis",
        "boundary.value-above-de-minimis",
        "boundary.description-512",
        "boundary.send-date-earliest",
        "boundary.send-date-latest",
        # duplicates and replays
        "duplicate.identical-resend",
        "duplicate.other-content",
        "sequence.amend-after-declare",
        # slow clients on the HTTP door
        "transport.slow.stalled-bodies",
        "transport.slow.trickling-headers",
        "transport.amqp-reply-to-ordinary-queue",
    ],
)
def test_the_suite_covers_what_the_issue_lists(suite: Suite, required: str) -> None:
    assert required in {case.id for case in suite.cases}


def test_every_category_of_the_issue_has_cases(suite: Suite) -> None:
    tags = {tag for case in suite.cases for tag in case.tags}
    assert {"security", "schema", "duplicate", "permission", "http", "soap", "amqp"} <= tags
    assert set(spec.documents()) <= tags


def test_permission_refusals_cover_every_role_a_document_type_refuses(suite: Suite) -> None:
    refused = {
        (case.steps[0].sample, case.steps[0].sender.role)
        for case in suite.cases
        if case.steps[0].expect.codes == {"ROLE_NOT_PERMITTED"}
    }
    expected = {(d.name, role) for d in spec.documents().values() for role in spec.ALL_ROLES if role not in d.senders}
    assert refused == expected


def test_generation_is_deterministic() -> None:
    assert load_suite() == load_suite()


def test_generation_is_the_same_in_another_interpreter(suite: Suite) -> None:
    """Another process, with another hash seed, generates exactly the same cases."""
    script = (
        "import dataclasses, json; from conformance.suite.manifest import load_suite; "
        "print(json.dumps([dataclasses.asdict(case) for case in load_suite().cases], default=sorted))"
    )
    out = subprocess.run(
        [sys.executable, "-c", script],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
        env={"PYTHONHASHSEED": "12345", "PATH": "/usr/bin:/bin"},
    ).stdout
    here = json.dumps([dataclasses.asdict(case) for case in suite.cases], default=sorted)
    assert json.loads(out) == json.loads(here)


def test_the_seed_drives_the_sampled_families(tmp_path: Path, suite: Suite) -> None:
    manifest = (REPO / "conformance" / "manifest.toml").read_text(encoding="utf-8")
    reseeded = tmp_path / "manifest.toml"
    reseeded.write_text(manifest.replace(f"seed = {suite.seed}", f"seed = {suite.seed + 1}", 1), encoding="utf-8")

    other = load_suite(reseeded)

    sampled = {"payload-schema", "tampered", "signature-variant"}
    assert [c for c in other.cases if c.family not in sampled] == [c for c in suite.cases if c.family not in sampled]
    assert [c for c in other.cases if c.family in sampled] != [c for c in suite.cases if c.family in sampled]


def test_a_business_expectation_is_read() -> None:
    case = parse_case(
        {**MINIMAL, "expect": {"outcome": "accepted", "business": {"notice": "LANE_NOTICE", "lane": "GREEN"}}}
    )

    assert case.business
    assert case.steps[0].expect.business == BusinessExpectation("LANE_NOTICE", "GREEN")
    assert "LANE_NOTICE (lane GREEN)" in case.describe_expectation()


def test_a_hold_and_a_time_bound_are_read() -> None:
    hold = {"name": "stalled_bodies", "connections": 3, "declared": 50, "sent": 5, "closed_within_s": 7}
    case = parse_case({**MINIMAL, "doors": ["http"], "hold": hold, "expect": {"outcome": "accepted", "within_s": 2}})

    assert case.hold == Hold("stalled_bodies", 3, 7.0, {"declared": 50, "sent": 5})
    assert case.steps[0].expect.within_s == 2.0
    assert case.describe_expectation() == (
        "accepted (HTTP 200), within 2 s, while holding 3 connections (stalled bodies), each closed within 7 s"
    )


def test_steps_refer_to_earlier_steps_by_name() -> None:
    case = parse_case(
        {
            **{k: v for k, v in MINIMAL.items() if k not in ("sample", "expect")},
            "step": [
                {"name": "first", "sample": "ECOM_ORDER", "expect": {"outcome": "accepted"}},
                {"name": "again", "resend": "first", "expect": {"outcome": "accepted", "same_receipt_as": "first"}},
            ],
        }
    )
    assert [step.name for step in case.steps] == ["first", "again"]
    assert case.steps[1].resend == "first"


@pytest.mark.parametrize(
    ("change", "complaint"),
    [
        ({"colour": "red"}, "unknown keys"),
        ({"id": "Upper"}, "ids are"),
        ({"tags": ["xml", "nonsense"]}, "tags must be"),
        ({"tags": []}, "tags must be"),
        ({"doors": ["ftp"]}, "doors must be"),
        ({"sample": "NO_SUCH_TYPE"}, "no sample"),
        ({"expect": {"outcome": "rejected", "codes": ["NO_SUCH_CODE"]}}, "unknown error codes"),
        ({"expect": {"outcome": "rejected", "codes": ["INTERNAL_ERROR"]}}, "no message can provoke"),
        ({"expect": {"outcome": "accepted", "codes": ["XML_MALFORMED"]}}, "a rejection lists its codes"),
        ({"expect": {"outcome": "rejected"}}, "a rejection lists its codes"),
        ({"expect": {"outcome": "maybe"}}, "outcome is"),
        (
            {"expect": {"outcome": "rejected", "codes": ["XML_MALFORMED"], "business": {"notice": "X"}}},
            "only an accepted",
        ),
        ({"attack": {"name": "no_such_attack"}}, "unknown operation"),
        ({"attack": {"name": "xxe", "colour": "red"}}, "xxe"),
        ({"signer": "the-queen"}, "unknown signer"),
        ({"signature": {"digest": "sha3"}}, "unknown digest"),
        ({"sender": {"allowed": "perhaps"}}, "sender.allowed"),
        ({"sender": {"role": "emperor"}}, "unknown role"),
        ({"edits": [{"set": "e:Header", "remove": "e:Body"}]}, "exactly one of"),
        ({"content_type": "text/plain"}, "content type can be chosen"),
        ({"operation": "Pull"}, "operation can be chosen"),
        ({"message_id": "later"}, "is not an earlier step"),
        ({"body": {"name": "literal", "text": ""}}, "exactly one of sample, body and resend"),
        ({"expect": {"outcome": "accepted", "within_s": 0}}, "positive number of seconds"),
        ({"expect": {"outcome": "accepted", "within_s": True}}, "wrong type"),
        ({"doors": ["http"], "hold": {"name": "slowloris", "connections": 1, "closed_within_s": 5}}, "unknown kind"),
        ({"doors": ["http"], "hold": {"name": "stalled_bodies", "connections": 1}}, "closed_within_s"),
        ({"doors": ["http"], "hold": {"name": "stalled_bodies", "connections": 0, "closed_within_s": 5}}, "at least"),
        ({"doors": ["http"], "hold": {**STALLED, "sent": 6000}}, "fewer bytes"),
        ({"doors": ["http"], "hold": {**STALLED, "name": "trickling_headers", "colour": "red"}}, "trickling_headers"),
        ({"hold": {"name": "trickling_headers", "connections": 1, "closed_within_s": 5}}, "on the http door only"),
        ({"doors": ["amqp"], "reply_to": "gateway.inbound", "expect": {"outcome": "unanswered"}}, "reply_to is one of"),
        ({"doors": ["amqp"], "reply_to": "ordinary-queue"}, "expects outcome 'unanswered'"),
        ({"doors": ["amqp"], "expect": {"outcome": "unanswered"}}, "expects outcome 'unanswered'"),
        ({"reply_to": "ordinary-queue", "expect": {"outcome": "unanswered"}}, "on the amqp door only"),
        (
            {"doors": ["amqp"], "reply_to": "ordinary-queue", "expect": {"outcome": "unanswered", "within_s": 1}},
            "has no",
        ),
    ],
)
def test_a_mistake_in_a_case_is_refused_with_the_case_named(change: dict[str, Any], complaint: str) -> None:
    with pytest.raises(ManifestError, match=complaint) as raised:
        parse_case({**MINIMAL, **change})
    assert "'" in str(raised.value) and ("x.minimal" in str(raised.value) or "Upper" in str(raised.value))


def test_a_repeated_id_is_refused(tmp_path: Path) -> None:
    manifest = tmp_path / "manifest.toml"
    case = '[[case]]\nid = "x.a"\ntitle = "t"\nchecks = "c"\nwhy = "w"\ntags = ["xml"]\nsample = "ECOM_ORDER"\n'
    case += 'expect = { outcome = "accepted" }\n'
    manifest.write_text('[suite]\nversion = "1"\nseed = 1\n' + case + case, encoding="utf-8")

    with pytest.raises(ManifestError, match="used twice"):
        load_suite(manifest)
