"""The schema registry: every document type the gateway knows, compiled once at start-up.

The types come from the catalogue (catalogue.py): the built-in pack and the
operators' packs named in [schemas] packs. Adding a document type is
configuration only: a folder with its definition, its XSD(s) and its sample.
An operator's pack is checked harder at start than the built-in one, whose
checks are tests: its root must be a global element of its XSD, and its sample
must be a valid envelope of the type.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import xmlschema
from lxml import etree
from xmlschema.validators import XsdAnyElement

from gateway import xmlsafe
from gateway.envelope import content_element
from gateway.errors import ErrorCode, Problem
from gateway.exceptions import ConfigurationError
from gateway.locations import describe, xpath_of
from gateway.namespaces import ENVELOPE_NS
from gateway.schemas.catalogue import BUILTIN_PACKS, ENVELOPE_XSD, Catalogue, Definition
from gateway.xsdtime import unsupported

MAX_ERRORS = 100
CONTENT_PATH = f"/env:Envelope/env:Body/env:Content (env = {ENVELOPE_NS})"
XS_NS = "http://www.w3.org/2001/XMLSchema"


@dataclass
class Schema:
    """A compiled XSD; validation is serialised per schema because lxml validators keep state."""

    path: Path
    _compiled: etree.XMLSchema = field(repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @classmethod
    def compile(cls, path: Path) -> Schema:
        parser = etree.XMLParser(no_network=True, resolve_entities=False, load_dtd=False)
        try:
            return cls(path, etree.XMLSchema(etree.parse(str(path), parser)))
        except (OSError, etree.XMLSyntaxError, etree.XMLSchemaParseError) as exc:
            raise ConfigurationError(f"schema {path} cannot be compiled: {exc}") from None

    def problems(self, element: etree._Element, code: ErrorCode) -> list[Problem]:
        with self._lock:
            if self._compiled.validate(element):
                return []
            entries = list(self._compiled.error_log)[:MAX_ERRORS]
        return [_problem(code, entry, element) for entry in entries]


@dataclass(frozen=True)
class DocumentType:
    """A catalogue definition with its compiled schema."""

    definition: Definition
    schema: Schema

    @property
    def name(self) -> str:
        return self.definition.name

    @property
    def root(self) -> str:
        return self.definition.root

    @property
    def senders(self) -> frozenset[str]:
        return self.definition.senders

    @property
    def functions(self) -> frozenset[str]:
        return frozenset(self.definition.functions)

    @cached_property
    def temporal(self) -> dict[str, str]:
        """The payload's elements holding dates or times: Clark name -> "date" or "dateTime".

        Read from the XSD with xmlschema on the first message of the type (libxml2 does not tell
        an element's type). A name declared with other types too is left out: its values are the
        schema's alone to judge.
        """
        kinds: dict[str, set[str | None]] = {}
        for element in _declared_elements(xmlschema.XMLSchema(str(self.definition.xsd), allow="local")):
            kind = element.type.primitive_type.local_name if element.type.is_simple() else None
            kinds.setdefault(element.name, set()).add(kind if kind in ("date", "dateTime") else None)
        return {name: str(kind.pop()) for name, kind in kinds.items() if len(kind) == 1 and None not in kind}

    def unsupported_values(self, payload: etree._Element) -> list[Problem]:
        """Schema-valid dates and times the gateway cannot process (gateway.xsdtime), each a problem."""
        problems = []
        for element in payload.iter(*self.temporal) if self.temporal else ():
            reason = unsupported(self.temporal[element.tag], element.text or "")
            if reason is not None:
                problems.append(Problem(ErrorCode.PAYLOAD_VALUE_UNSUPPORTED, reason, describe(element)))
        return problems


class SchemaRegistry:
    def __init__(self, envelope: Schema, catalogue: Catalogue, documents: dict[str, DocumentType]) -> None:
        self.envelope = envelope
        self.catalogue = catalogue
        self.documents = documents

    @classmethod
    def load(cls, packs: Iterable[Path] = ()) -> SchemaRegistry:
        """Compile the envelope schema and every type of the built-in pack and of `packs`."""
        catalogue = Catalogue.read(packs)
        documents = {name: DocumentType(definition, Schema.compile(definition.xsd)) for name, definition in catalogue.items()}
        registry = cls(Schema.compile(ENVELOPE_XSD), catalogue, documents)
        for document in documents.values():
            if not document.definition.source.is_relative_to(BUILTIN_PACKS):
                registry._check_operator_type(document)
        return registry

    def get(self, document_type: str) -> DocumentType | None:
        return self.documents.get(document_type)

    def validate_envelope(self, root: etree._Element) -> list[Problem]:
        return self.envelope.problems(root, ErrorCode.ENVELOPE_SCHEMA_INVALID)

    def validate_payload(self, document: DocumentType, payload: etree._Element | None) -> list[Problem]:
        if payload is None:
            return [Problem(ErrorCode.PAYLOAD_SCHEMA_INVALID, "Body/Content must hold exactly one element", CONTENT_PATH)]
        if payload.tag != document.root:
            return [
                Problem(
                    ErrorCode.PAYLOAD_SCHEMA_INVALID,
                    f"Content holds {payload.tag}, but documentType {document.name} needs {document.root}",
                    describe(payload),
                )
            ]
        return document.schema.problems(payload, ErrorCode.PAYLOAD_SCHEMA_INVALID) or document.unsupported_values(payload)

    def _check_operator_type(self, document: DocumentType) -> None:
        """An operator's type that no message could pass is refused at start, not per message."""
        definition = document.definition
        where = f"{definition.source}, document type {definition.name}"
        # lxml does not list a schema's global elements; xmlschema does (including imports).
        try:
            maps = xmlschema.XMLSchema(str(definition.xsd), allow="local").maps
        except xmlschema.XMLSchemaException as exc:
            raise ConfigurationError(f"{where}: {exc}") from None
        if definition.root not in maps.elements:
            raise ConfigurationError(f"{where}: the root {definition.root} is not a global element of {definition.xsd}")
        for wildcard in _unsatisfiable_wildcards(maps):
            raise ConfigurationError(
                f"{where}: {definition.xsd} has a strict wildcard (xs:any) for elements of {wildcard}, but the pack "
                "declares no element in it, so every message would fail; add that namespace's XSD to the pack "
                '(an xs:import with a schemaLocation inside the pack) or make the wildcard processContents="lax"'
            )
        if definition.sample is not None:
            root = xmlsafe.parse(definition.sample.file.read_bytes())
            problems = self.validate_envelope(root) + self.validate_payload(document, content_element(root))
            if problems:
                raise ConfigurationError(f"{where}: the sample {definition.sample.file} is not valid: {problems[0].message}")


def _unsatisfiable_wildcards(maps: xmlschema.XsdGlobals) -> list[str]:
    """The strict wildcards of a pack whose namespaces declare no global element: nothing can match them."""
    declared = {etree.QName(name).namespace or "" for name in maps.elements if not name.startswith(f"{{{XS_NS}}}")}
    found = []
    for component in maps.iter_components():
        if not isinstance(component, XsdAnyElement) or component.process_contents != "strict":
            continue
        own, allowed = component.target_namespace or "", set(component.namespace)
        if component.target_namespace == XS_NS or "##any" in allowed:
            continue
        if "##other" in allowed:
            matching = declared - {own, ""}
        else:
            named = {"" if n == "##local" else own if n == "##targetNamespace" else n for n in allowed}
            matching = named & declared
        if not matching:
            found.append(", ".join(sorted(allowed)))
    return found


def _declared_elements(schema: xmlschema.XMLSchema) -> Iterator[xmlschema.XsdElement]:
    """Every element declaration of the schema and its imports, global or local, each once."""
    seen: set[int] = set()
    pending = list(schema.maps.elements.values())
    while pending:
        element = pending.pop()
        if id(element) in seen or not isinstance(element, xmlschema.XsdElement):
            continue
        seen.add(id(element))
        yield element
        if not element.type.is_simple() and not element.type.has_simple_content():
            pending.extend(element.iterchildren())


def _problem(code: ErrorCode, entry: etree._LogEntry, validated: etree._Element) -> Problem:
    """libxml2's complaint with a location a person can read (gateway.locations), not its positional path."""
    node = _node_at(entry, validated)
    if node is None:
        return Problem(code, entry.message, f"line {entry.line}")
    _, bindings = xpath_of(node)
    message = entry.message
    for prefix, namespace in bindings.items():  # '{urn:...:declaration:1}hsCode' -> 'declaration:hsCode'
        message = message.replace(f"{{{namespace}}}", f"{prefix}:")
    return Problem(code, message, describe(node))


def _node_at(entry: etree._LogEntry, validated: etree._Element) -> etree._Element | None:
    """The element libxml2's path names; it is relative to the validated element ("/*" is the element)."""
    if not entry.path or not entry.path.startswith("/*"):
        return None
    relative = entry.path[2:].lstrip("/")
    if not relative:
        return validated
    try:
        found = validated.xpath(relative)
    except etree.XPathError:
        return None
    return found[0] if found and isinstance(found[0], etree._Element) else None
