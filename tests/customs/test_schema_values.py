"""No receipt that a handler will contradict: every value the schema accepts is handled.

For every document type with a sample, hypothesis rewrites the sample's leaf values with
values drawn from the value space of each leaf's XSD simple type (read with xmlschema from
the type's pack): dates and date-times anywhere in years 1..9999 with any zone, 24:00:00 and
any number of fraction digits, decimals and integers with signs, leading zeros and trailing
zeros, booleans in all their spellings, enumerations. Values the type's facets refuse are
filtered out. Each document goes through the real intake; when intake accepts it, the
route's handlers process it as a worker would, and a handler's exception fails the test
(a message accepted with a receipt, then `failed` for a value the schema allowed).

Text types with patterns keep the sample's value: their lexical space is the pattern's,
which the readers take as text.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from decimal import Decimal
from functools import cache
from pathlib import Path

import pytest
import xmlschema
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lxml import etree
from support import config_with_rules, without_random_selection

from conformance import SAMPLE_SENDERS
from customs.inspection import read_result
from gateway import xmlsafe
from gateway.envelope import content_element
from gateway.schemas.catalogue import builtin
from routing.processing import process

pytestmark = pytest.mark.stores("sqlite")  # business: SQLite; the PostgreSQL cross-checks are marked (tests/conftest.py)

# Business state the later documents refer to (the registered platform, the order the declaration declares):
# sent once per test so that the documents drawn reach their handlers' real paths, not only "unknown".
SEED = ("PLATFORM_REGISTRATION", "POLICY_NOTICE", "ECOM_ORDER", "ECOM_DECLARATION")
TYPES = sorted(SAMPLE_SENDERS)


@pytest.fixture
def config_path(tmp_path: Path, pki_dir: Path, namespace: str) -> Path:
    return config_with_rules(tmp_path, pki_dir, namespace, risk=without_random_selection)


def _zone() -> st.SearchStrategy[str]:
    offsets = st.integers(min_value=-14 * 60, max_value=14 * 60)
    return st.one_of(st.just("Z"), offsets.map(lambda m: f"{'+' if m >= 0 else '-'}{abs(m) // 60:02d}:{abs(m) % 60:02d}"))


def _date_times() -> st.SearchStrategy[str]:
    days = st.dates(min_value=dt.date(1, 1, 1), max_value=dt.date(9999, 12, 31)).map(dt.date.isoformat)
    clocks = st.one_of(
        st.just("24:00:00"),
        st.times().map(lambda t: t.strftime("%H:%M:%S")),
        st.builds(lambda t, digits: f"{t:%H:%M:%S}.{digits}", st.times(), st.from_regex(r"[0-9]{1,9}", fullmatch=True)),
    )
    return st.builds(lambda day, clock, zone: f"{day}T{clock}{zone}", days, clocks, _zone())


def _decimals() -> st.SearchStrategy[str]:
    numbers = st.decimals(min_value=Decimal("-1e19"), max_value=Decimal("1e19"), allow_nan=False, allow_infinity=False, places=4)
    return st.builds(
        lambda n, sign, zeros, trailing: f"{sign if n >= 0 else ''}{'0' * zeros}{n}{'0' * trailing if '.' in str(n) else ''}",
        numbers, st.sampled_from(["", "+"]), st.integers(0, 3), st.integers(0, 3),
    )


def _integers() -> st.SearchStrategy[str]:
    return st.builds(
        lambda n, sign, zeros: f"{sign if n >= 0 else '-'}{'0' * zeros}{abs(n)}",
        st.integers(min_value=-(10**18), max_value=10**18), st.sampled_from(["", "+"]), st.integers(0, 3),
    )


PRIMITIVES: dict[str, Callable[[], st.SearchStrategy[str]]] = {
    "dateTime": _date_times,
    "date": lambda: st.dates().map(dt.date.isoformat),
    "decimal": _decimals,
    "boolean": lambda: st.sampled_from(["true", "false", "1", "0", " true "]),
}


def _values(simple: xmlschema.validators.XsdSimpleType) -> st.SearchStrategy[str] | None:
    """Values of `simple`'s value space (filtered by its facets), or None for a text type kept as in the sample."""
    if simple.enumeration:
        return st.sampled_from([str(value) for value in simple.enumeration])
    primitive = simple.primitive_type.local_name
    integral = simple.is_derived(simple.maps.types[f"{{{xmlschema.names.XSD_NAMESPACE}}}integer"])
    draw = _integers if integral else PRIMITIVES.get(primitive)
    if draw is None:
        return None
    return draw().filter(simple.is_valid)


@cache
def _leaves(document_type: str) -> tuple[tuple[str, st.SearchStrategy[str]], ...]:
    """The sample payload's leaves that carry a value space: (path below the payload, the strategy of its values)."""
    definition = builtin()[document_type]
    schema = xmlschema.XMLSchema(str(definition.xsd))
    payload = _sample_payload(document_type)
    tree = etree.ElementTree(payload)
    found = []
    for element in payload.iter(tag=etree.Element):
        if len(element):
            continue
        steps = [element, *element.iterancestors()]
        steps = reversed(steps[: steps.index(payload) + 1])
        declaration = schema.find("/".join(f"{{{etree.QName(s).namespace}}}{etree.QName(s).localname}" for s in steps))
        kind = getattr(declaration, "type", None)
        simple = kind if kind is None or kind.is_simple() else kind.content if kind.has_simple_content() else None
        values = _values(simple) if simple is not None else None
        if values is not None:
            found.append((tree.getelementpath(element), values))
    return tuple(found)


def _sample_payload(document_type: str) -> etree._Element:
    payload = content_element(etree.parse(str(builtin()[document_type].sample.file)).getroot())
    assert payload is not None
    return payload


@st.composite
def _rewrites(draw: st.DrawFn, document_type: str) -> dict[str, str]:
    leaves = _leaves(document_type)
    chosen = draw(st.sets(st.sampled_from(range(len(leaves))), min_size=1, max_size=4))
    return {leaves[i][0]: draw(leaves[i][1]) for i in sorted(chosen)}


@pytest.mark.parametrize("document_type", TYPES)
def test_schema_valid_values_are_handled_or_refused_at_intake(exchange, document_type: str) -> None:  # type: ignore[no-untyped-def]
    if not _leaves(document_type):
        pytest.skip(f"{document_type}'s sample has no leaf with a value space beyond its patterns")
    for seed in SEED:
        if seed != document_type:
            exchange.send(seed)

    @settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.filter_too_much, HealthCheck.too_slow])
    @given(rewrites=_rewrites(document_type))
    def check(rewrites: dict[str, str]) -> None:
        def edit(root: etree._Element) -> None:
            payload = content_element(root)
            for path, value in rewrites.items():
                payload.find(path).text = value

        outcome = exchange.offer(document_type, edit=edit)
        if outcome.accepted:  # only this message: one that failed must not fail the examples after it
            stored = exchange.services.store.get(SAMPLE_SENDERS[document_type], str(outcome.message_id))
            handlers = exchange.handlers[stored.route]
            processed = process(exchange.services, exchange.assembly.rules, stored, handlers, actor="worker")
            assert processed.outcome == "processed", (rewrites, processed)

    check()


def test_an_inspection_result_issued_at_24_00_is_applied_as_the_next_days_midnight(exchange, inspection_result) -> None:  # type: ignore[no-untyped-def]
    for seed in SEED:
        exchange.send(seed)
    stored = exchange.send(
        "INSPECTION_RESULT", "BYT", inspection_result([(4, "21069072", "PASS", None)], issued="2026-03-11T24:00:00+07:00")
    )
    assert "1 item(s) applied" in exchange.outcome(stored, "routing.handlers.inspection:handler")
    assert read_result(content_element(xmlsafe.parse(stored.body))).issued_at == dt.datetime(
        2026, 3, 12, tzinfo=dt.timezone(dt.timedelta(hours=7))
    )


def _setting(local: str, text: str) -> Callable[[etree._Element], None]:
    def edit(root: etree._Element) -> None:
        (element,) = root.iter(f"{{*}}{local}")
        element.text = text

    return edit


@pytest.mark.parametrize(
    ("document_type", "local", "text"),
    [
        ("INSPECTION_RESULT", "issuedAt", "9999-12-31T24:00:00Z"),  # the day after 9999-12-31
        ("ECOM_ORDER", "orderDate", "0001-01-01T00:00:00+14:00"),  # before year 1 in UTC
        ("ECOM_ORDER", "orderDate", "9999-12-30T00:00:00Z"),  # the calendar's last UTC day
    ],
)
def test_an_instant_the_gateway_cannot_represent_gets_its_own_rejection(
    exchange, document_type: str, local: str, text: str  # type: ignore[no-untyped-def]
) -> None:
    outcome = exchange.offer(document_type, None, _setting(local, text))
    assert (outcome.accepted, outcome.status, outcome.codes) == (False, 422, ("PAYLOAD_VALUE_UNSUPPORTED",))
