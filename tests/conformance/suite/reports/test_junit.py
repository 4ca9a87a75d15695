"""The JUnit report: readable by CI tools, with each failure's expected and actual outcome and the message sent."""

from __future__ import annotations

from lxml import etree

from conformance.suite.reports import junit
from conformance.suite.results import CaseResult, RunInfo

from ...conftest import HOSTILE


def test_the_report_counts_and_describes_every_case(results: list[CaseResult], run_info: RunInfo) -> None:
    document = etree.fromstring(junit.render(results, run_info))  # well-formed despite the hostile message

    (suite,) = document.findall("testsuite")
    assert (suite.get("tests"), suite.get("failures"), suite.get("skipped")) == ("3", "1", "1")
    assert {p.get("name"): p.get("value") for p in suite.iter("property")}["target"] == "http://gateway.example"
    passed, failed, skipped = suite.findall("testcase")
    assert passed.get("name") == "x.passed: Passes" and len(passed) == 0
    assert skipped.find("skipped").get("message") == "needs <the CA key> & more"
    failure = failed.find("failure")
    assert failure.get("message") == "expected a rejection with XML_DTD_FORBIDDEN, got an acceptance"
    assert "expected: rejected: XML_DTD_FORBIDDEN (HTTP 400)" in failure.text
    assert "actual:   accepted (HTTP 200)" in failure.text
    assert '<script>alert("x")</script>' in failure.text  # the message sent, as text
    assert failed.get("classname") == "conformance.security"


def test_characters_xml_cannot_carry_are_replaced(results: list[CaseResult], run_info: RunInfo) -> None:
    assert b"\x00" in HOSTILE
    text = etree.fromstring(junit.render(results, run_info)).find("testsuite/testcase[2]/failure").text

    assert "\x00" not in text and "\ufffd" in text
