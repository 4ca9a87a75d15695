"""The console: a progress bar while the run goes, then the failures, the skipped cases and a summary table."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from conformance.suite.model import Case
from conformance.suite.results import CaseResult, Status, Summary
from conformance.suite.runner import Runner


def run_with_progress(runner: Runner, cases: Sequence[Case], console: Console) -> list[CaseResult]:
    results: list[CaseResult] = []
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=console, transient=False) as progress:
        task = progress.add_task("conformance", total=len(cases))
        for result in runner.run(cases):
            results.append(result)
            counts = Summary.of(results).totals
            progress.update(
                task,
                advance=1,
                description=(
                    f"[green]{counts[Status.PASSED]} passed[/] [red]{counts[Status.FAILED]} failed[/] "
                    f"[yellow]{counts[Status.SKIPPED]} skipped[/]"
                ),
            )
    return results


def report(results: Sequence[CaseResult], console: Console) -> None:
    """Every failure with what was expected and what came back, every skip with its reason, then the summary."""
    for result in results:
        if result.status is Status.FAILED:
            _failure(result, console)
    _skipped([r for r in results if r.status is Status.SKIPPED], console)
    console.print(summary_table(Summary.of(results)))


def summary_table(summary: Summary) -> Table:
    table = Table("tag", "passed", "failed", "skipped", "total", title="Conformance by tag")
    for tag, counts in summary.by_tag.items():
        table.add_row(
            escape(tag),
            *_counts(counts.get(Status.PASSED, 0), counts.get(Status.FAILED, 0), counts.get(Status.SKIPPED, 0)),
        )
    table.add_section()
    totals = summary.totals
    table.add_row("all cases", *_counts(totals[Status.PASSED], totals[Status.FAILED], totals[Status.SKIPPED]))
    return table


def _counts(passed: int, failed: int, skipped: int) -> tuple[str, str, str, str]:
    return (
        f"[green]{passed}[/]",
        f"[red]{failed}[/]" if failed else "0",
        f"[yellow]{skipped}[/]" if skipped else "0",
        str(passed + failed + skipped),
    )


def _failure(result: CaseResult, console: Console) -> None:
    console.print(f"[red bold]FAILED[/] {escape(result.case.id)}: {escape(result.case.title)}", highlight=False)
    for step in result.steps:
        if step.passed:
            continue
        prefix = f"  step {step.name}: " if result.named_steps else "  "
        console.print(f"{prefix}expected {step.expected}", markup=False, highlight=False)
        console.print(f"{' ' * len(prefix)}actual   {step.actual}", markup=False, highlight=False)
        for line in (*step.mismatches, *(f"receipt error {e}" for e in step.errors[:5])):
            console.print(f"{' ' * len(prefix)}- {line}", markup=False, highlight=False)


def _skipped(results: Iterable[CaseResult], console: Console) -> None:
    by_reason: dict[str, list[str]] = {}
    for result in results:
        by_reason.setdefault(result.reason or "", []).append(result.case.id)
    for reason, ids in by_reason.items():
        console.print(f"[yellow]SKIPPED[/] {len(ids)} case(s): {escape(reason)}", highlight=False)
        console.print("  " + ", ".join(ids), markup=False, highlight=False)
