"""The catalogue: the document types' definitions, read from packs without compiling a schema.

A pack is a folder. The built-in pack (gateway/schemas/packs/) and an operator's have
the same shape: one folder per document type, holding its definition
(``document.toml``), its XSD(s) and its sample. A folder with a ``document.toml`` is
one type; a folder of such folders is a pack of several. The earlier form, a
``pack.toml`` listing the same definitions as ``[[document]]`` entries, is still read.

Reading a catalogue costs a few small files, so whatever only needs to know the
types (their namespaces, samples and senders; the conformance suite, which also
runs against remote gateways) uses it; the registry (registry.py) compiles the
XSDs it names. `builtin()` is the built-in catalogue, read once per process.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lxml import etree

from gateway import xmlsafe
from gateway.config import read_toml
from gateway.envelope import FUNCTION_NAMES, read_header
from gateway.exceptions import ConfigurationError, Rejected
from gateway.parties import ROLES

HERE = Path(__file__).parent
BUILTIN_PACKS = HERE / "packs"
SHARED_XSD = HERE / "xsd"  # the envelope's schema, and the common types every built-in type imports
ENVELOPE_XSD = SHARED_XSD / "envelope.xsd"
COMMON_XSD = SHARED_XSD / "common.xsd"
DEFINITION_FILE = "document.toml"
PACK_FILE = "pack.toml"
DEFAULT_FUNCTIONS = ["01", "02", "03"]  # declare, amend, cancel

_REQUIRED = ("type", "version", "xsd", "root", "senders")
_OPTIONAL = ("functions", "sample")
_TYPE = re.compile(r"^[A-Z][A-Z0-9_]{1,63}$")  # the envelope's DocumentTypeType
_VERSION = re.compile(r"^[0-9A-Za-z][0-9A-Za-z._-]{0,31}$")
_CLARK = re.compile(r"^\{([^{}\s]+)\}([A-Za-z_][A-Za-z0-9_.-]*)$")


@dataclass(frozen=True)
class Sample:
    """An unsigned envelope of the type, valid against its schemas; its From/identity is the party that sends it."""

    file: Path
    sender: str


@dataclass(frozen=True)
class Definition:
    """One document type: the Subject/documentType it is sent under, and what that type takes."""

    name: str
    version: str | None  # None only in a pack.toml entry written before definitions had a version
    root: str  # the payload's root element, in Clark notation {namespace}local
    xsd: Path
    senders: frozenset[str]
    functions: tuple[str, ...]
    sample: Sample | None
    source: Path  # the file that defines it

    @property
    def namespace(self) -> str:
        return etree.QName(self.root).namespace


class Catalogue(Mapping[str, Definition]):
    """Definitions by document type; a type defined twice, in any two packs, is refused."""

    def __init__(self, definitions: Iterable[Definition]) -> None:
        self._by_name: dict[str, Definition] = {}
        for definition in definitions:
            if (earlier := self._by_name.get(definition.name)) is not None:
                raise ConfigurationError(
                    f"document type {definition.name} is defined in both {earlier.source} and {definition.source}"
                )
            self._by_name[definition.name] = definition

    @classmethod
    def read(cls, packs: Iterable[Path] = ()) -> Catalogue:
        """The built-in pack and then `packs`, each a folder (or a pack.toml or document.toml file)."""
        return cls(definition for pack in (BUILTIN_PACKS, *packs) for definition in read_pack(pack))

    def __getitem__(self, document_type: str) -> Definition:
        return self._by_name[document_type]

    def __iter__(self) -> Iterator[str]:
        return iter(self._by_name)

    def __len__(self) -> int:
        return len(self._by_name)

    def namespace(self, document_type: str) -> str:
        """The namespace of the type's payload (of its root element)."""
        return self[document_type].namespace

    def root(self, document_type: str) -> str:
        """The Clark name of the type's payload root element."""
        return self[document_type].root


@functools.cache
def builtin() -> Catalogue:
    """The built-in document types. An operator's pack cannot redefine them, so this is what every gateway has."""
    return Catalogue.read()


@functools.cache
def common_namespace() -> str:
    """The namespace of the common types (common.xsd) that the built-in payloads use for shared elements."""
    parser = etree.XMLParser(no_network=True, resolve_entities=False, load_dtd=False)
    namespace = etree.parse(str(COMMON_XSD), parser).getroot().get("targetNamespace")
    if not namespace:
        raise ConfigurationError(f"{COMMON_XSD} has no targetNamespace")
    return namespace


def read_pack(path: Path) -> list[Definition]:
    """The definitions of one pack, in folder order; see the module's docstring for the forms a pack takes."""
    if path.is_dir():
        for name in (DEFINITION_FILE, PACK_FILE):
            if (path / name).is_file():
                return read_pack(path / name)
        folders = sorted(child for child in path.iterdir() if (child / DEFINITION_FILE).is_file())
        if not folders:
            raise ConfigurationError(
                f"schema pack {path} has no {DEFINITION_FILE}, no {PACK_FILE} and no folder with a {DEFINITION_FILE}"
            )
        return [definition for folder in folders for definition in read_pack(folder)]
    if path.name == DEFINITION_FILE:
        return [_definition(read_toml(path, "document definition"), path)]
    entries = read_toml(path, "schema pack").get("document", [])
    return [_definition(entry, path, versioned=False) for entry in entries]


def _definition(entry: dict[str, Any], source: Path, versioned: bool = True) -> Definition:
    """One definition, checked for what makes a type unusable: it is refused at start, not per message."""
    required = _REQUIRED if versioned else tuple(key for key in _REQUIRED if key != "version")
    where = f"{source}, document type {entry.get('type', '?')}"
    if missing := [key for key in required if key not in entry]:
        raise ConfigurationError(f"{where}: the definition lacks {', '.join(map(repr, missing))}")
    if unknown := sorted(entry.keys() - {*_REQUIRED, *_OPTIONAL}):
        raise ConfigurationError(f"{where}: unknown keys {unknown}; a definition has {[*_REQUIRED, *_OPTIONAL]}")
    name, version, root = entry["type"], entry.get("version"), entry["root"]
    if not isinstance(name, str) or not _TYPE.match(name):
        raise ConfigurationError(
            f"{where}: type {name!r} cannot be carried in the envelope's Subject/documentType, which takes upper-case "
            "letters, digits and _ (2 to 64, starting with a letter): rename it, e.g. WCO_DEC_DMS_2 for WCO-DEC-DMS-2"
        )
    if version is not None and (not isinstance(version, str) or not _VERSION.match(version)):
        raise ConfigurationError(f"{where}: the version must be a short string such as \"1.0\"")
    if not isinstance(root, str) or not _CLARK.match(root):
        raise ConfigurationError(f"{where}: the root {root!r} is not a Clark name {{namespace}}local")
    senders = frozenset(_strings(entry["senders"], "senders", where))
    if unknown := senders - ROLES:
        raise ConfigurationError(f"{where}: unknown sender roles {sorted(unknown)}; roles are {sorted(ROLES)}")
    functions = tuple(_strings(entry.get("functions", DEFAULT_FUNCTIONS), "functions", where))
    if unknown := set(functions) - FUNCTION_NAMES.keys():
        raise ConfigurationError(f"{where}: unknown function codes {sorted(unknown)}")
    base = source.parent
    sample = entry.get("sample")
    return Definition(
        name=name,
        version=version,
        root=root,
        xsd=(base / _string(entry["xsd"], "xsd", where)).resolve(),
        senders=senders,
        functions=functions,
        sample=_sample((base / _string(sample, "sample", where)).resolve(), name, where) if sample is not None else None,
        source=source,
    )


def _sample(file: Path, document_type: str, where: str) -> Sample:
    try:
        header = read_header(xmlsafe.parse(file.read_bytes()))
    except OSError as exc:
        raise ConfigurationError(f"{where}: the sample cannot be read: {exc}") from None
    except Rejected as exc:
        raise ConfigurationError(f"{where}: the sample {file} is not an envelope: {exc}") from None
    if header.document_type != document_type:
        raise ConfigurationError(f"{where}: the sample {file} has the documentType {header.document_type}")
    return Sample(file, header.sender.identity)


def _string(value: object, key: str, where: str) -> str:
    if not isinstance(value, str) or not value:
        raise ConfigurationError(f"{where}: {key} must be a non-empty string")
    return value


def _strings(value: object, key: str, where: str) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise ConfigurationError(f"{where}: {key} must be a list of strings")
    return value
