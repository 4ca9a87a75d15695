"""The console: failures with expected and actual, every skip with its reason, a summary by tag."""

from __future__ import annotations

from rich.console import Console

from conformance.suite.reports import console as console_report
from conformance.suite.results import CaseResult, Summary


def test_the_report_shows_failures_skips_and_the_summary(results: list[CaseResult]) -> None:
    console = Console(record=True, width=200)

    console_report.report(results, console)

    text = console.export_text()
    assert "FAILED x.failed: Fails <b>&amp; shouts</b>" in text
    assert "expected rejected: XML_DTD_FORBIDDEN (HTTP 400)" in text and "actual   accepted (HTTP 200)" in text
    assert "SKIPPED 1 case(s): needs <the CA key> & more" in text and "x.skipped" in text
    lines = {line.split("│")[1].strip(): line for line in text.splitlines() if line.count("│") > 4}
    assert lines["security"].split("│")[2:6] == [" 0      ", " 1      ", " 0       ", " 1     "]
    assert "all cases" in lines


def test_the_summary_counts_by_tag(results: list[CaseResult]) -> None:
    summary = Summary.of(results)

    assert not summary.ok
    assert {tag: sum(counts.values()) for tag, counts in summary.by_tag.items()} == {
        "xml": 2,
        "security": 1,
        "signature": 1,
    }
