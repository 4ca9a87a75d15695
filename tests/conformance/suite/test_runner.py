"""The runner: skips what cannot run (saying why), stops a case at its first failing step, calls the business probe."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from conformance.suite.builder import Builder, Message
from conformance.suite.doors import Response
from conformance.suite.identities import Credentials
from conformance.suite.model import BusinessExpectation, Case, Expectation, SenderSpec, Step
from conformance.suite.results import Status
from conformance.suite.runner import Runner
from conformance.suite.verdict import ReceiptCheck
from gateway.client import ReceiptView
from gateway.signing.keys import SigningIdentity
from gateway.signing.trust import TrustStore

from ..conftest import PRIMARY, SuiteIdentities, receipt_for

ACCEPTED = Expectation(True)


class AcceptingDoor:
    """Stands in for a gateway that accepts everything: the runner's logic is under test here, not a gateway."""

    name = "http"

    def __init__(self, signer: SigningIdentity) -> None:
        self.signer = signer
        self.sent: list[Message] = []

    def send(self, message: Message) -> Response:
        self.sent.append(message)
        return Response(receipt_for(message, self.signer), 200, True, ())

    def close(self) -> None:
        """Nothing to close."""


class Probe:
    def __init__(self, answer: list[str]) -> None:
        self.answer = answer
        self.asked: list[tuple[str | None, BusinessExpectation]] = []

    def observe(self, message: Message, receipt: ReceiptView, expected: BusinessExpectation) -> list[str]:
        self.asked.append((receipt.received_message_id, expected))
        return self.answer


@pytest.fixture
def door(identity: Callable[[str], SigningIdentity]) -> AcceptingDoor:
    return AcceptingDoor(identity("VNECOMGW"))


def runner(
    door: AcceptingDoor, builder: Builder, suite_identities: SuiteIdentities, probe: Probe | None = None
) -> Runner:
    return Runner(door, builder, ReceiptCheck(TrustStore.from_files([suite_identities.ca])), probe)


def case(*steps: Step, doors: tuple[str, ...] = ("http", "soap11", "soap12", "amqp")) -> Case:
    return Case("x.case", "t", "c", "w", ("xml",), steps, doors)


def test_a_case_for_other_doors_is_skipped_and_not_sent(
    door: AcceptingDoor, builder: Builder, suite_identities: SuiteIdentities
) -> None:
    result = runner(door, builder, suite_identities).run_case(
        case(Step("m", ACCEPTED, sample="ECOM_ORDER"), doors=("amqp",))
    )

    assert result.status is Status.SKIPPED and "amqp" in (result.reason or "") and door.sent == []


def test_a_case_without_its_prerequisites_is_skipped_with_the_reason(
    door: AcceptingDoor, suite_identities: SuiteIdentities
) -> None:
    alone = Builder(
        Credentials.load(PRIMARY, suite_identities.key(PRIMARY), suite_identities.cert(PRIMARY), roles=["logistics"])
    )
    steps = (
        Step("m", ACCEPTED, sample="ECOM_ORDER"),
        Step("n", ACCEPTED, sample="ECOM_ORDER", sender=SenderSpec(distinct_from="m")),
    )

    result = runner(door, alone, suite_identities).run_case(case(*steps))

    assert result.status is Status.SKIPPED and "--identities" in (result.reason or "")
    assert door.sent == []  # nothing is half-sent


def test_a_case_stops_at_its_first_failing_step(
    door: AcceptingDoor, builder: Builder, suite_identities: SuiteIdentities
) -> None:
    refused = Expectation(False, frozenset({"SIGNATURE_INVALID"}))
    steps = (
        Step("a", ACCEPTED, sample="ECOM_ORDER"),
        Step("b", refused, sample="ECOM_ORDER"),
        Step("c", ACCEPTED, sample="ECOM_ORDER"),
    )

    result = runner(door, builder, suite_identities).run_case(case(*steps))

    assert result.status is Status.FAILED and [s.name for s in result.steps] == ["a", "b"]
    assert len(door.sent) == 2 and "got an acceptance" in result.failure_message()
    assert result.failure_message().startswith("step 'b'")


def test_every_run_uses_fresh_message_ids(
    door: AcceptingDoor, builder: Builder, suite_identities: SuiteIdentities
) -> None:
    once = case(Step("m", ACCEPTED, sample="ECOM_ORDER"))
    run = runner(door, builder, suite_identities)

    assert all(r.status is Status.PASSED for r in run.run([once, once]))
    assert len({message.message_id for message in door.sent}) == 2


def test_a_business_expectation_needs_a_probe(
    door: AcceptingDoor, builder: Builder, suite_identities: SuiteIdentities
) -> None:
    lane = BusinessExpectation("LANE_NOTICE", "GREEN")
    business = case(Step("m", Expectation(True, business=lane), sample="ECOM_DECLARATION"))

    skipped = runner(door, builder, suite_identities).run_case(business)
    satisfied = Probe([])
    passed = runner(door, builder, suite_identities, satisfied).run_case(business)
    failed = runner(door, builder, suite_identities, Probe(["lane YELLOW, expected GREEN"])).run_case(business)

    assert skipped.status is Status.SKIPPED and "business probe" in (skipped.reason or "")
    assert passed.status is Status.PASSED and satisfied.asked == [(door.sent[-2].message_id, lane)]
    assert failed.status is Status.FAILED and failed.failure_message() == "lane YELLOW, expected GREEN"
