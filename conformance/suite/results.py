"""What a run found: per case, per step, and counted by tag."""

from __future__ import annotations

import datetime as dt
import enum
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

from conformance.suite.model import Case


class Status(enum.Enum):
    PASSED = "passed"
    FAILED = "failed"
    SKIPPED = "skipped"


@dataclass(frozen=True)
class StepResult:
    """One message sent and judged."""

    name: str
    expected: str
    actual: str
    errors: tuple[str, ...]  # the receipt's errors, "CODE: message (location)"
    mismatches: tuple[str, ...]  # empty when the step got what it expected
    sent: bytes
    receipt: bytes | None

    @property
    def passed(self) -> bool:
        return not self.mismatches


@dataclass(frozen=True)
class CaseResult:
    case: Case
    status: Status
    steps: tuple[StepResult, ...] = ()
    reason: str | None = None  # why the case was skipped
    seconds: float = 0.0

    @property
    def named_steps(self) -> bool:
        """Whether reports name the steps: a case of several, or one holding connections (a step of their own)."""
        return len(self.case.steps) > 1 or self.case.hold is not None

    @property
    def failed_step(self) -> StepResult | None:
        return next((step for step in self.steps if not step.passed), None)

    def failure_message(self) -> str:
        step = self.failed_step
        if step is None:
            return ""
        where = f"step {step.name!r}: " if self.named_steps else ""
        return where + "; ".join(step.mismatches)


@dataclass(frozen=True)
class Summary:
    totals: Counter[Status]
    by_tag: dict[str, Counter[Status]]

    @property
    def ok(self) -> bool:
        return self.totals[Status.FAILED] == 0

    @classmethod
    def of(cls, results: Iterable[CaseResult]) -> Summary:
        totals: Counter[Status] = Counter()
        by_tag: dict[str, Counter[Status]] = {}
        for result in results:
            totals[result.status] += 1
            for tag in result.case.tags:
                by_tag.setdefault(tag, Counter())[result.status] += 1
        return cls(totals, dict(sorted(by_tag.items())))


@dataclass(frozen=True)
class RunInfo:
    """What was run against what, for the reports."""

    target: str
    door: str
    party: str
    suite_version: str
    seed: int
    started: dt.datetime
    seconds: float
