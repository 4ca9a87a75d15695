"""The HTML report: one self-contained page (no script, no external file) that a person can read.

Every text that comes from a case, a gateway or a message is escaped: the
messages are hostile on purpose.
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape
from pathlib import Path

from conformance.suite.reports.text import shown
from conformance.suite.results import CaseResult, RunInfo, Status, StepResult, Summary

_STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em; color: #222; }
table { border-collapse: collapse; margin: 1em 0; }
th, td { border: 1px solid #ccc; padding: 0.3em 0.6em; text-align: left; vertical-align: top; }
.passed { color: #176f2c; } .failed { color: #b00020; font-weight: bold; } .skipped { color: #8a6d00; }
pre { background: #f6f6f6; padding: 0.6em; max-height: 30em; overflow: auto; white-space: pre-wrap; }
details { margin: 0.4em 0 1em 0; }
"""


def write(path: Path, results: Sequence[CaseResult], info: RunInfo) -> None:
    path.write_text(render(results, info), encoding="utf-8")


def render(results: Sequence[CaseResult], info: RunInfo) -> str:
    summary = Summary.of(results)
    verdict = "passed" if summary.ok else "failed"
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>Gateway conformance: {escape(verdict)}</title><style>{_STYLE}</style></head><body>",
        f'<h1>Gateway conformance: <span class="{verdict}">{escape(verdict)}</span></h1>',
        "<p>"
        + escape(
            f"{info.target} through the {info.door} door, signing as {info.party}; suite version "
            f"{info.suite_version}, seed {info.seed}; started {info.started.isoformat(timespec='seconds')}, "
            f"{info.seconds:.1f} s."
        )
        + "</p>",
        _totals(summary),
        "<h2>By tag</h2>",
        _by_tag(summary),
    ]
    failed = [r for r in results if r.status is Status.FAILED]
    if failed:
        parts += ["<h2>Failures</h2>", *(_failure(result) for result in failed)]
    skipped = [r for r in results if r.status is Status.SKIPPED]
    if skipped:
        parts += ["<h2>Skipped</h2>", _skipped(skipped)]
    parts += ["<h2>All cases</h2>", _all(results), "</body></html>"]
    return "\n".join(parts)


def _totals(summary: Summary) -> str:
    cells = "".join(f'<td class="{status.value}">{summary.totals[status]} {status.value}</td>' for status in Status)
    return f"<table><tr>{cells}</tr></table>"


def _by_tag(summary: Summary) -> str:
    rows = "".join(
        f"<tr><td>{escape(tag)}</td>" + "".join(f'<td class="{s.value}">{counts[s]}</td>' for s in Status) + "</tr>"
        for tag, counts in summary.by_tag.items()
    )
    return f"<table><tr><th>tag</th><th>passed</th><th>failed</th><th>skipped</th></tr>{rows}</table>"


def _failure(result: CaseResult) -> str:
    case = result.case
    steps = "".join(_step(step) for step in result.steps)
    return (
        f'<h3 id="{escape(case.id)}" class="failed">{escape(case.id)}: {escape(case.title)}</h3>'
        f"<p><b>Checks:</b> {escape(case.checks)}<br><b>Why:</b> {escape(case.why)}<br>"
        f"<b>Tags:</b> {escape(', '.join(case.tags))}</p>{steps}"
    )


def _step(step: StepResult) -> str:
    mismatches = "".join(f"<li>{escape(m)}</li>" for m in step.mismatches)
    errors = "".join(f"<li>{escape(e)}</li>" for e in step.errors)
    return (
        f"<h4>Step {escape(step.name)}: "
        f'<span class="{"passed" if step.passed else "failed"}">{"passed" if step.passed else "failed"}</span></h4>'
        f"<table><tr><th>expected</th><td>{escape(step.expected)}</td></tr>"
        f"<tr><th>actual</th><td>{escape(step.actual)}</td></tr></table>"
        + (f"<ul>{mismatches}</ul>" if mismatches else "")
        + (f"<p>The receipt's errors:</p><ul>{errors}</ul>" if errors else "")
        + f"<details><summary>Message sent ({len(step.sent):,} bytes)</summary>"
        + f"<pre>{escape(shown(step.sent))}</pre></details>"
        + f"<details><summary>Receipt</summary><pre>{escape(shown(step.receipt))}</pre></details>"
    )


def _skipped(results: Sequence[CaseResult]) -> str:
    rows = "".join(f"<tr><td>{escape(r.case.id)}</td><td>{escape(r.reason or '')}</td></tr>" for r in results)
    return f"<table><tr><th>case</th><th>why it was skipped</th></tr>{rows}</table>"


def _all(results: Sequence[CaseResult]) -> str:
    rows = "".join(
        f'<tr><td class="{r.status.value}">{r.status.value}</td><td>{escape(r.case.id)}</td>'
        f"<td>{escape(r.case.title)}</td><td>{escape(r.case.describe_expectation())}</td>"
        f"<td>{escape(', '.join(r.case.tags))}</td></tr>"
        for r in results
    )
    return f"<table><tr><th></th><th>case</th><th>title</th><th>expected</th><th>tags</th></tr>{rows}</table>"
