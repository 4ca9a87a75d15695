"""The JUnit XML report: one testcase per case, for CI systems and test dashboards.

A failure carries the expected and the actual outcome, what differed, the
receipt's errors and the message sent; a skipped case carries its reason.
"""

from __future__ import annotations

import xml.etree.ElementTree as ElementTree
from collections.abc import Sequence
from pathlib import Path

from conformance.suite.reports.text import clean, shown
from conformance.suite.results import CaseResult, RunInfo, Status, Summary


def write(path: Path, results: Sequence[CaseResult], info: RunInfo) -> None:
    path.write_bytes(render(results, info))


def render(results: Sequence[CaseResult], info: RunInfo) -> bytes:
    summary = Summary.of(results)
    suites = ElementTree.Element("testsuites", name="gateway-conformance")
    suite = ElementTree.SubElement(
        suites,
        "testsuite",
        name=f"gateway-conformance ({info.door})",
        tests=str(len(results)),
        failures=str(summary.totals[Status.FAILED]),
        skipped=str(summary.totals[Status.SKIPPED]),
        errors="0",
        time=f"{info.seconds:.3f}",
        timestamp=info.started.isoformat(timespec="seconds"),
    )
    properties = ElementTree.SubElement(suite, "properties")
    for name, value in (
        ("target", info.target),
        ("door", info.door),
        ("party", info.party),
        ("suite.version", info.suite_version),
        ("suite.seed", str(info.seed)),
    ):
        ElementTree.SubElement(properties, "property", name=name, value=clean(value))
    for result in results:
        suite.append(_testcase(result))
    ElementTree.indent(suites)
    return ElementTree.tostring(suites, encoding="utf-8", xml_declaration=True)


def _testcase(result: CaseResult) -> ElementTree.Element:
    case = result.case
    testcase = ElementTree.Element(
        "testcase",
        classname=f"conformance.{case.tags[0]}",
        name=clean(f"{case.id}: {case.title}"),
        time=f"{result.seconds:.3f}",
    )
    if result.status is Status.SKIPPED:
        ElementTree.SubElement(testcase, "skipped", message=clean(result.reason or ""))
    elif result.status is Status.FAILED:
        failure = ElementTree.SubElement(testcase, "failure", message=clean(result.failure_message()), type="mismatch")
        failure.text = _details(result)
    return testcase


def _details(result: CaseResult) -> str:
    lines = [f"checks: {result.case.checks}", f"why: {result.case.why}"]
    for step in result.steps:
        lines += [
            "",
            f"step {step.name}: {'passed' if step.passed else 'FAILED'}",
            f"  expected: {step.expected}",
            f"  actual:   {step.actual}",
            *(f"  - {mismatch}" for mismatch in step.mismatches),
            *(f"  receipt error {error}" for error in step.errors),
            "  message sent:",
            shown(step.sent),
        ]
    return clean("\n".join(lines))
