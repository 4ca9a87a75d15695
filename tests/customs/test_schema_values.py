"""No receipt that the handler will contradict: every value a document type's XSD accepts is either handled or
refused at intake with a signed rejection.

For each built-in document type with a sample, hypothesis rewrites the sample's leaf values with values drawn
from each leaf's XSD simple type (read with xmlschema: dates and times over their whole value space, numbers
within their facets, booleans in every lexical form, enumerations, patterned codes), keeps only values the type
accepts, signs the document and pushes it through the real intake and, when accepted, through the route's
handlers as a worker runs them: a handler that raises would leave the message `failed` after its receipt.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from typing import Any

import pytest
import xmlschema
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from lxml import etree

from conformance import SAMPLE_SENDERS
from gateway.envelope import content_element
from gateway.schemas.catalogue import builtin

pytestmark = pytest.mark.stores("sqlite")

DOCUMENT_TYPES = sorted(SAMPLE_SENDERS)
XML_CHARACTERS = st.characters(min_codepoint=0x20, max_codepoint=0xD7FF)  # XML 1.0 Char, without controls
XS = "http://www.w3.org/2001/XMLSchema"
Draw = Callable[[st.SearchStrategy[Any]], Any]


def _zone() -> st.SearchStrategy[str]:
    offsets = st.tuples(st.sampled_from("+-"), st.integers(0, 14), st.sampled_from([0, 30, 45, 59]))
    return st.one_of(st.just("Z"), offsets.map(lambda o: f"{o[0]}{o[1]:02d}:{0 if o[1] == 14 else o[2]:02d}"))


def _date() -> st.SearchStrategy[str]:
    years = st.one_of(st.integers(1, 9999), st.sampled_from([1, 2, 1969, 1970, 2026, 2038, 9998, 9999]))
    return st.tuples(years, st.integers(1, 12), st.integers(1, 31)).map(lambda d: f"{d[0]:04d}-{d[1]:02d}-{d[2]:02d}")


def _clock() -> st.SearchStrategy[str]:
    fraction = st.one_of(st.just(""), st.from_regex(r"\.[0-9]{1,9}", fullmatch=True))
    ordinary = st.tuples(st.integers(0, 23), st.integers(0, 59), st.integers(0, 59), fraction)
    return st.one_of(
        st.just("24:00:00"),
        st.just("24:00:00.000"),
        ordinary.map(lambda t: f"{t[0]:02d}:{t[1]:02d}:{t[2]:02d}{t[3]}"),
    )


def _number(simple: Any) -> st.SearchStrategy[str]:
    fraction = simple.get_facet(f"{{{XS}}}fractionDigits")
    total = simple.get_facet(f"{{{XS}}}totalDigits")
    places = fraction.value if fraction is not None else 0
    widest = 10 ** ((total.value if total is not None else 18) - places) - 1
    low = simple.min_value if simple.min_value is not None else -widest
    high = min(simple.max_value if simple.max_value is not None else widest, widest)
    numbers = st.decimals(min_value=low, max_value=high, places=places, allow_nan=False)
    return numbers.map(lambda n: format(n, "f")) | st.sampled_from([str(low), str(high), f"+{high}", f"0{high}"])


def _values(simple: Any) -> st.SearchStrategy[str] | None:
    """Values of `simple`'s lexical space (filtered by the type itself); None to keep the sample's value."""
    if simple.enumeration:
        return st.sampled_from([str(value) for value in simple.enumeration])
    primitive = simple.primitive_type.local_name
    if primitive == "dateTime":
        drawn = st.tuples(_date(), _clock(), _zone()).map(lambda p: f"{p[0]}T{p[1]}{p[2]}")
    elif primitive == "date":
        drawn = _date()
    elif primitive == "decimal":
        drawn = _number(simple)
    elif primitive == "boolean":
        drawn = st.sampled_from(["true", "false", "1", "0", " true "])
    elif simple.patterns is not None and simple.patterns.regexps:
        drawn = st.from_regex(simple.patterns.regexps[0], fullmatch=True, alphabet=XML_CHARACTERS)
    else:
        return None
    return drawn.filter(simple.is_valid)


@cache
def _schema(document_type: str) -> xmlschema.XMLSchema:
    return xmlschema.XMLSchema(str(builtin()[document_type].xsd))


def _rewrite(draw: Draw, element: etree._Element, declared: Any) -> None:
    """Rewrite the leaves under `element` (declared by `declared`), each kept or drawn from its simple type."""
    if declared.type.is_simple() or declared.type.has_simple_content():
        simple = declared.type if declared.type.is_simple() else declared.type.content
        values = _values(simple)
        if values is not None and draw(st.booleans()):
            element.text = draw(values)
        return
    children = {child.name: child for child in declared.iterchildren()}
    for child in element:
        if isinstance(child.tag, str) and child.tag in children:
            _rewrite(draw, child, children[child.tag])


@pytest.mark.parametrize("document_type", DOCUMENT_TYPES)
@settings(max_examples=25, deadline=None, phases=[Phase.explicit, Phase.generate], suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_what_intake_accepts_its_handlers_process(exchange, document_type: str, data: st.DataObject) -> None:  # type: ignore[no-untyped-def]
    schema = _schema(document_type)

    def edit(root: etree._Element) -> None:
        payload = content_element(root)
        assert payload is not None
        _rewrite(data.draw, payload, schema.elements[etree.QName(payload).localname])

    outcome = exchange.offer(document_type, None, edit)
    if outcome.accepted:
        exchange.process()  # a handler that raises fails the test: the receipt would be contradicted



def _setting(local: str, text: str) -> Callable[[etree._Element], None]:
    def edit(root: etree._Element) -> None:
        (element,) = root.iter(f"{{*}}{local}")
        element.text = text

    return edit


@pytest.mark.parametrize(
    ("document_type", "local", "text"),
    [
        ("INSPECTION_RESULT", "issuedAt", "2026-03-11T24:00:00+07:00"),  # raised "hour must be in 0..23"
        ("PLATFORM_REGISTRATION", "effectiveFrom", "0001-01-01"),  # its local midnight is before year 1 in UTC
        ("POLICY_NOTICE", "effectiveFrom", "9999-12-31"),
    ],
)
def test_the_edges_of_the_calendar_are_handled(exchange, document_type: str, local: str, text: str) -> None:  # type: ignore[no-untyped-def]
    outcome = exchange.offer(document_type, None, _setting(local, text))
    assert outcome.accepted, outcome.codes
    exchange.process()


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
