"""Running cases against a gateway: build, send, judge, step by step, case by case, in manifest order.

Each case runs with fresh message ids, so the suite can run again and again
against the same gateway. A case whose prerequisites this run lacks (see
`identities`), that is not for this run's door, or that expects a business
outcome nobody can observe here, is skipped with the reason. A case that holds slow
connections open (`holds`) runs its steps while they are held, and what became of
them is judged as one more step, "held connections".
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator
from typing import Protocol

from conformance.suite.builder import Builder, Message, PreparedStep
from conformance.suite.doors import Door, HttpDoor
from conformance.suite.holds import Held
from conformance.suite.model import BusinessExpectation, Case, Unavailable
from conformance.suite.results import CaseResult, Status, StepResult
from conformance.suite.verdict import ReceiptCheck, judge
from gateway.client import ReceiptView


class BusinessProbe(Protocol):
    """Observes what the business handlers answer an accepted message with (lane notices, results).

    The runner calls it after a step whose expectation has a business outcome was
    accepted; it returns what differs from the expectation (empty: as expected).
    """

    def observe(self, message: Message, receipt: ReceiptView, expected: BusinessExpectation) -> list[str]: ...


class Runner:
    def __init__(
        self, door: Door, builder: Builder, receipts: ReceiptCheck, probe: BusinessProbe | None = None
    ) -> None:
        self.door = door
        self.builder = builder
        self.receipts = receipts
        self.probe = probe

    def run(self, cases: Iterable[Case]) -> Iterator[CaseResult]:
        for case in cases:
            yield self.run_case(case)

    def run_case(self, case: Case) -> CaseResult:
        started = time.monotonic()
        if self.door.name not in case.doors:
            return CaseResult(
                case,
                Status.SKIPPED,
                reason=f"for the {', '.join(case.doors)} door(s); this run drives {self.door.name}",
            )
        if case.business and self.probe is None:
            return CaseResult(
                case, Status.SKIPPED, reason="expects a business outcome, and this run has no business probe"
            )
        try:
            prepared = self.builder.prepare(case)
        except Unavailable as exc:
            return CaseResult(case, Status.SKIPPED, reason=str(exc))
        if case.hold is None:
            steps = self._steps(prepared)
        elif not isinstance(self.door, HttpDoor):
            return CaseResult(case, Status.SKIPPED, reason="holds connections open on the plain HTTP door only")
        else:
            steps = self._steps_while_held(prepared, Held(self.door.url, case.hold))
        status = Status.PASSED if all(step.passed for step in steps) else Status.FAILED
        return CaseResult(case, status, tuple(steps), seconds=time.monotonic() - started)

    def _steps_while_held(self, prepared: list[PreparedStep], held: Held) -> list[StepResult]:
        """The steps, run while the case's slow connections are held open, and then what became of those."""
        expected = held.hold.describe()
        try:
            held.open()
        except OSError as exc:
            held.abandon()
            problem = f"could not open the connections to hold: {exc}"
            return [StepResult("held connections", expected, problem, (), (problem,), b"", None)]
        try:
            steps = self._steps(prepared)
        except BaseException:
            held.abandon()
            raise
        outcome = held.finish(self.receipts)
        held_step = StepResult(
            "held connections", expected, outcome.actual, (), outcome.mismatches, outcome.sent, outcome.answer
        )
        return [*steps, held_step]

    def _steps(self, prepared: list[PreparedStep]) -> list[StepResult]:
        sent: dict[str, Message] = {}
        receipts: dict[str, bytes] = {}
        steps: list[StepResult] = []
        for step in prepared:
            message = self.builder.build(step, sent)
            sending = time.monotonic()
            response = self.door.send(message)
            seconds = time.monotonic() - sending
            verdict = judge(step.step.expect, message, response, self.receipts, receipts, seconds)
            mismatches = list(verdict.mismatches)
            business = step.step.expect.business
            if business and self.probe and verdict.receipt and not mismatches:
                mismatches += self.probe.observe(message, verdict.receipt, business)
            sent[step.step.name] = message
            receipts[step.step.name] = response.receipt or b""
            steps.append(
                StepResult(
                    step.step.name,
                    step.step.expect.describe(),
                    verdict.actual,
                    verdict.errors,
                    tuple(mismatches),
                    message.body,
                    response.receipt,
                )
            )
            if mismatches:
                break  # later steps build on this one
        return steps
