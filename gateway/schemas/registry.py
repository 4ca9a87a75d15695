"""The schema registry: every document type the gateway knows, compiled once at start-up.

Document types come from schema packs: a directory with a ``pack.toml`` (or the
built-in ``catalogue.toml``) listing ``[[document]]`` entries. Adding a document
type is configuration only: drop in the XSD files, name the root element and
the roles that may send it.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import xmlschema
from lxml import etree

from gateway.config import read_toml
from gateway.envelope import FUNCTION_NAMES
from gateway.errors import ErrorCode, Problem
from gateway.exceptions import ConfigurationError
from gateway.locations import describe, xpath_of
from gateway.parties import ROLES

BUILTIN_PACK = Path(__file__).parent / "catalogue.toml"
ENVELOPE_XSD = Path(__file__).parent / "xsd" / "envelope.xsd"
PACK_FILE = "pack.toml"
MAX_ERRORS = 100


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
    """One entry of the catalogue."""

    name: str
    root: str  # Clark name of the payload's root element
    schema: Schema
    senders: frozenset[str]
    functions: frozenset[str]
    pack: Path


class SchemaRegistry:
    def __init__(self, envelope: Schema, documents: dict[str, DocumentType]) -> None:
        self.envelope = envelope
        self.documents = documents

    @classmethod
    def load(cls, packs: Iterable[Path] = ()) -> SchemaRegistry:
        """Compile the envelope schema, the built-in catalogue and every extra pack."""
        documents: dict[str, DocumentType] = {}
        for pack_file in (BUILTIN_PACK, *(_pack_file(p) for p in packs)):
            for document in _read_pack(pack_file, check_roots=pack_file != BUILTIN_PACK):
                if document.name in documents:
                    raise ConfigurationError(
                        f"document type {document.name} is defined in both "
                        f"{documents[document.name].pack} and {pack_file}"
                    )
                documents[document.name] = document
        return cls(Schema.compile(ENVELOPE_XSD), documents)

    def get(self, document_type: str) -> DocumentType | None:
        return self.documents.get(document_type)

    def validate_envelope(self, root: etree._Element) -> list[Problem]:
        return self.envelope.problems(root, ErrorCode.ENVELOPE_SCHEMA_INVALID)

    def validate_payload(self, document: DocumentType, payload: etree._Element | None) -> list[Problem]:
        if payload is None:
            return [Problem(ErrorCode.PAYLOAD_SCHEMA_INVALID, "Body/Content must hold exactly one element", "/Envelope/Body/Content")]
        if payload.tag != document.root:
            return [
                Problem(
                    ErrorCode.PAYLOAD_SCHEMA_INVALID,
                    f"Content holds {payload.tag}, but documentType {document.name} needs {document.root}",
                    payload.getroottree().getpath(payload),
                )
            ]
        return document.schema.problems(payload, ErrorCode.PAYLOAD_SCHEMA_INVALID)


def _pack_file(path: Path) -> Path:
    return path / PACK_FILE if path.is_dir() else path


def _read_pack(pack_file: Path, check_roots: bool) -> list[DocumentType]:
    entries = read_toml(pack_file, "schema pack").get("document", [])
    documents = []
    for entry in entries:
        try:
            document = DocumentType(
                name=entry["type"],
                root=entry["root"],
                schema=Schema.compile((pack_file.parent / entry["xsd"]).resolve()),
                senders=frozenset(entry["senders"]),
                functions=frozenset(entry.get("functions", ["01", "02", "03"])),
                pack=pack_file,
            )
        except KeyError as exc:
            raise ConfigurationError(f"{pack_file}: a [[document]] entry lacks {exc}") from None
        _check_entry(pack_file, document, check_roots)
        documents.append(document)
    return documents


def _check_entry(pack_file: Path, document: DocumentType, check_root: bool) -> None:
    """Typos that would make a document type unsendable are refused at start-up, not per message."""
    where = f"{pack_file}, document type {document.name}"
    if unknown := document.senders - ROLES:
        raise ConfigurationError(f"{where}: unknown sender roles {sorted(unknown)}; roles are {sorted(ROLES)}")
    if unknown := document.functions - FUNCTION_NAMES.keys():
        raise ConfigurationError(f"{where}: unknown function codes {sorted(unknown)}")
    if check_root:
        # lxml does not list a schema's global elements; xmlschema does (including imports).
        try:
            elements = xmlschema.XMLSchema(str(document.schema.path), allow="local").maps.elements
        except xmlschema.XMLSchemaException as exc:
            raise ConfigurationError(f"{where}: {exc}") from None
        if document.root not in elements:
            raise ConfigurationError(f"{where}: the root {document.root} is not a global element of {document.schema.path}")


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
