"""Edits by data: each operation changes exactly what its path selects, and a path that selects nothing is an error."""

from __future__ import annotations

import pytest
from lxml import etree

from conformance import SAMPLES_DIR
from conformance.suite.edits import EditError, apply, path_of, select
from conformance.suite.model import Edit
from gateway.envelope import content_element

ITEMS = "e:Body/e:Content/p:Declaration/p:items/p:item"


@pytest.fixture
def root() -> etree._Element:
    return etree.parse(str(SAMPLES_DIR / "ECOM_DECLARATION.xml")).getroot()


def texts(root: etree._Element, path: str) -> list[str]:
    return [element.text for element in select(root, path)]


def test_set_replaces_the_text_of_every_selected_element(root: etree._Element) -> None:
    apply(root, [Edit("set", f"{ITEMS}/p:unit", value="KGM")])

    assert set(texts(root, f"{ITEMS}/p:unit")) == {"KGM"}


def test_set_fills_a_value_of_a_given_length_in_characters(root: etree._Element) -> None:
    apply(root, [Edit("set", f"{ITEMS}[1]/p:description", fill=5, char="ệ")])

    assert texts(root, f"{ITEMS}[1]/p:description") == ["ệệệệệ"]


def test_set_an_attribute(root: etree._Element) -> None:
    apply(root, [Edit("set", "e:Header", attribute="Id", value="h")])

    assert select(root, "e:Header")[0].get("Id") == "h"


def test_remove_and_duplicate(root: etree._Element) -> None:
    apply(root, [Edit("remove", f"{ITEMS}[position() > 1]"), Edit("duplicate", ITEMS, times=3)])

    assert texts(root, f"{ITEMS}/p:lineNumber") == ["1", "1", "1", "1"]


def test_append_an_element_in_the_payload_namespace(root: etree._Element) -> None:
    apply(root, [Edit("append", "e:Body/e:Content/p:Declaration", element="p:extra", value="x")])

    (extra,) = select(root, "e:Body/e:Content/p:Declaration/p:extra")
    assert extra.text == "x" and extra.getparent()[-1] is extra


def test_replace_payload_puts_another_samples_payload_in(root: etree._Element) -> None:
    apply(root, [Edit("replace_payload", sample="ECOM_ORDER")])

    assert etree.QName(content_element(root)).localname == "Order"


@pytest.mark.parametrize("path", ["e:Header/e:Nothing", "e:Header/@x", "count(e:Header)", "e:Header[", ""])
def test_a_path_that_selects_no_element_is_an_error(root: etree._Element, path: str) -> None:
    with pytest.raises(EditError):
        apply(root, [Edit("remove", path)])


def test_path_of_selects_exactly_the_element(root: etree._Element) -> None:
    payload = content_element(root)
    for element in payload.iter(etree.Element):
        assert select(root, path_of(element)) == [element]
