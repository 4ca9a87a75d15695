"""The Python exclusive canonicalisation used for `#default`: it agrees with libxml2 wherever libxml2 can be asked."""

from __future__ import annotations

from pathlib import Path
from xml.sax.saxutils import escape, quoteattr

from hypothesis import given, settings
from hypothesis import strategies as st
from lxml import etree

from conformance import SAMPLES_DIR
from gateway.signing.exc_c14n import AmbiguousPrefix, canonicalize_exclusive

URIS = ("urn:one", "urn:two", "urn:three")
PREFIXES = ("a", "b", "c")


def libxml2(element: etree._Element, prefixes: list[str], with_comments: bool) -> bytes:
    return etree.tostring(
        element, method="c14n", exclusive=True, with_comments=with_comments, inclusive_ns_prefixes=prefixes or None
    )


@st.composite
def documents(draw: st.DrawFn, depth: int = 0, in_scope: frozenset[str] = frozenset()) -> str:
    declarations = draw(st.dictionaries(st.sampled_from((None, *PREFIXES)), st.sampled_from(URIS + ("",)), max_size=3))
    declarations = {p: u for p, u in declarations.items() if u or p is None}  # only the default may be undeclared
    scope = in_scope | {p for p in declarations if p}
    prefix = draw(st.sampled_from((None, *sorted(scope))))
    name = f"{prefix}:e" if prefix else "e"
    attributes: dict[str, str] = {}
    for attribute_prefix in draw(st.lists(st.sampled_from((None, *sorted(scope))), max_size=3, unique=True)):
        attributes[f"{attribute_prefix}:x" if attribute_prefix else "x"] = draw(st.text("ab&<>\"'\t\n ", max_size=4))
    text = draw(st.text("ab&<> \n", max_size=4))
    children = draw(st.lists(documents(depth + 1, scope), max_size=0 if depth >= 3 else 3))
    comment = "<!--c-->" if draw(st.booleans()) else ""
    decls = "".join(f" xmlns{':' + p if p else ''}={quoteattr(u)}" for p, u in declarations.items())
    attrs = "".join(f" {n}={quoteattr(v)}" for n, v in attributes.items())
    return f"<{name}{decls}{attrs}>{escape(text)}{comment}{''.join(children)}</{name}>"


@settings(max_examples=400, deadline=None)
@given(document=documents(), prefixes=st.lists(st.sampled_from(PREFIXES), unique=True), with_comments=st.booleans(), data=st.data())
def test_the_python_form_agrees_with_libxml2_on_any_subtree(
    document: str, prefixes: list[str], with_comments: bool, data: st.DataObject
) -> None:
    try:
        root = etree.fromstring(document)
    except etree.XMLSyntaxError:  # two prefixes bound to one namespace make one attribute twice
        return
    elements = list(root.iter(etree.Element))
    apex = elements[data.draw(st.integers(0, len(elements) - 1), label="apex")]

    try:
        ours = canonicalize_exclusive(apex, prefixes, with_comments)
    except AmbiguousPrefix:
        assert any(_ambiguous(element) for element in apex.iter(etree.Element))
        return
    assert ours == libxml2(apex, prefixes, with_comments)


def _ambiguous(element: etree._Element) -> bool:
    namespaces = {etree.QName(name).namespace for name in element.attrib} - {None}
    return any(sum(1 for p, u in element.nsmap.items() if p and u == ns) > 1 for ns in namespaces)


def test_the_python_form_agrees_with_libxml2_on_every_sample() -> None:
    for path in sorted(Path(SAMPLES_DIR).glob("*.xml")):
        root = etree.parse(str(path)).getroot()
        for apex in (root, *root.iter(etree.Element)):
            assert canonicalize_exclusive(apex, ["ds"], False) == libxml2(apex, ["ds"], False), path


def test_default_in_the_prefix_list_renders_the_default_namespace_inclusively() -> None:
    root = etree.fromstring(b'<env:E xmlns:env="urn:e" xmlns="urn:d"><env:A><B/></env:A><env:C xmlns=""><D/></env:C></env:E>')

    assert canonicalize_exclusive(root, ["#default"], False) == (
        b'<env:E xmlns="urn:d" xmlns:env="urn:e"><env:A><B></B></env:A><env:C xmlns=""><D></D></env:C></env:E>'
    )
    assert canonicalize_exclusive(root[0], ["#default"], False) == b'<env:A xmlns="urn:d" xmlns:env="urn:e"><B></B></env:A>'
