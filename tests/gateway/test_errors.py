"""The error catalogue: stable codes, documented, with a sensible status."""

from __future__ import annotations

import re

import pytest
from support import REPO

from gateway.errors import ErrorCode, Problem
from gateway.exceptions import Rejected


def test_every_error_code_is_documented_in_the_readme_with_its_status() -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    documented = dict(re.findall(r"^\| `([A-Z_]+)` \| (\d{3}) \|", readme, flags=re.MULTILINE))
    assert documented == {code.name: str(code.status) for code in ErrorCode}


def test_a_rejection_takes_the_most_significant_status_of_its_problems() -> None:
    rejection = Rejected(
        Problem(ErrorCode.CERTIFICATE_EXPIRED, "expired"), Problem(ErrorCode.PAYLOAD_SCHEMA_INVALID, "bad")
    )
    assert rejection.status == 422
    assert "CERTIFICATE_EXPIRED" in str(rejection) and "PAYLOAD_SCHEMA_INVALID" in str(rejection)


def test_a_rejection_needs_a_problem() -> None:
    with pytest.raises(ValueError):
        Rejected()
