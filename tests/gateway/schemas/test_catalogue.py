"""The catalogue: the built-in type folders, the forms of a pack, namespaces, and the definitions it refuses.

Nothing here compiles a schema (test_registry.py and test_schema_packs.py do): the
catalogue is what the conformance suite and the payload builders read.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from lxml import etree

from gateway.exceptions import ConfigurationError
from gateway.schemas.catalogue import (
    BUILTIN_PACKS,
    COMMON_XSD,
    DEFINITION_FILE,
    Catalogue,
    builtin,
    common_namespace,
    read_pack,
)

XS = "http://www.w3.org/2001/XMLSchema"
WCO_PACK = Path(__file__).parent / "packs" / "wco_declaration"
WCO = "WCO_GOODS_DECLARATION"
TYPE_FOLDERS = sorted(path.parent for path in BUILTIN_PACKS.glob(f"*/{DEFINITION_FILE}"))


def schema_root(path: Path) -> etree._Element:
    return etree.parse(str(path)).getroot()


# --- the built-in pack -----------------------------------------------------------------------


def test_builtin_catalogue_is_one_folder_per_type() -> None:
    assert [folder.name for folder in TYPE_FOLDERS] == list(builtin())
    assert sorted(path.name for path in BUILTIN_PACKS.iterdir()) == [folder.name for folder in TYPE_FOLDERS]


@pytest.mark.parametrize("folder", TYPE_FOLDERS, ids=lambda folder: folder.name)
def test_builtin_type_folder_holds_its_definition_xsd_and_sample(folder: Path) -> None:
    definition = builtin()[folder.name]

    assert definition.source == folder / DEFINITION_FILE
    assert definition.xsd.parent == folder.resolve() and definition.xsd.suffix == ".xsd"
    assert definition.sample is not None and definition.sample.file == (folder / "sample.xml").resolve()
    assert sorted(path.name for path in folder.iterdir()) == sorted([DEFINITION_FILE, definition.xsd.name, "sample.xml"])
    xsd = schema_root(definition.xsd)
    assert definition.version == xsd.get("version")
    assert definition.namespace == xsd.get("targetNamespace")
    assert etree.QName(definition.root).localname in {element.get("name") for element in xsd.findall(f"{{{XS}}}element")}


@pytest.mark.parametrize("folder", TYPE_FOLDERS, ids=lambda folder: folder.name)
def test_builtin_xsd_imports_the_shared_common_types(folder: Path) -> None:
    (common,) = schema_root(builtin()[folder.name].xsd).findall(f"{{{XS}}}import")

    assert common.get("namespace") == common_namespace()
    assert (folder / common.get("schemaLocation")).resolve() == COMMON_XSD.resolve()


def test_namespaces_come_from_the_definitions() -> None:
    catalogue = builtin()

    assert catalogue.namespace("ECOM_ORDER") == "urn:customs.gov.vn:ecom:order:1"
    assert catalogue.root("RECEIPT") == "{urn:customs.gov.vn:ecom:receipt:1}Receipt"
    assert common_namespace() == schema_root(COMMON_XSD).get("targetNamespace") == "urn:customs.gov.vn:ecom:common:1"
    assert len({definition.namespace for definition in catalogue.values()}) == len(catalogue)
    with pytest.raises(KeyError):
        catalogue.namespace("NO_SUCH_TYPE")


def test_sample_senders_are_the_samples_from_identities() -> None:
    senders = {name: definition.sample.sender for name, definition in builtin().items()}

    assert senders["ECOM_ORDER"] == "0101234567" and senders["INSPECTION_RESULT"] == "BYT"
    assert senders["ACDD"] == "SG-ASW" and senders["RECEIPT"] == "VNSW"


# --- the forms of an operator's pack ------------------------------------------------------------


def folder_pack(tmp_path: Path, *types: str) -> Path:
    """A pack folder of several type folders: copies of the WCO pack under other type names."""
    pack = tmp_path / "pack"
    for name in types:
        folder = shutil.copytree(WCO_PACK, pack / name)
        edit(folder / DEFINITION_FILE, lambda text, name=name: text.replace(f'type = "{WCO}"', f'type = "{name}"'))
        edit(folder / "sample.xml", lambda text, name=name: text.replace(f">{WCO}<", f">{name}<"))
    return pack


def edit(path: Path, change: Callable[[str], str]) -> None:
    path.write_text(change(path.read_text(encoding="utf-8")), encoding="utf-8")


def test_a_type_folder_is_a_pack() -> None:
    (definition,) = read_pack(WCO_PACK)

    assert (definition.name, definition.version, definition.source) == (WCO, "2.0", WCO_PACK / DEFINITION_FILE)
    assert definition.xsd == (WCO_PACK / "WCO_DEC_DMS_2.xsd").resolve()
    assert definition.senders == {"trader", "logistics"} and definition.functions == ("01", "02", "03")
    assert definition.sample.sender == "0312345678"
    assert read_pack(WCO_PACK / DEFINITION_FILE) == [definition]


def test_a_folder_of_type_folders_is_a_pack(tmp_path: Path) -> None:
    pack = folder_pack(tmp_path, "WCO_B", "WCO_A")

    catalogue = Catalogue.read([pack])

    assert [d.name for d in read_pack(pack)] == ["WCO_A", "WCO_B"]
    assert set(catalogue) == set(builtin()) | {"WCO_A", "WCO_B"}
    assert catalogue.namespace("WCO_A") == "urn:wco:datamodel:WCO:DEC-DMS:2"


def test_a_pack_file_of_document_entries_is_still_read(tmp_path: Path) -> None:
    """The earlier form: pack.toml with [[document]] entries, whose version may be missing."""
    pack = shutil.copytree(WCO_PACK, tmp_path / "pack")
    (pack / DEFINITION_FILE).unlink()
    (pack / "pack.toml").write_text(
        f'[[document]]\ntype = "{WCO}"\nxsd = "WCO_DEC_DMS_2.xsd"\n'
        'root = "{urn:wco:datamodel:WCO:DEC-DMS:2}Declaration"\nsenders = ["trader"]\n',
        encoding="utf-8",
    )

    (definition,) = read_pack(pack)

    assert (definition.name, definition.version, definition.sample) == (WCO, None, None)
    assert definition.functions == ("01", "02", "03") and definition.source == pack / "pack.toml"


# --- what the catalogue refuses -------------------------------------------------------------------


def refusal(packs: list[Path]) -> str:
    with pytest.raises(ConfigurationError) as caught:
        Catalogue.read(packs)
    return str(caught.value)


def test_a_type_in_two_packs_is_refused(tmp_path: Path) -> None:
    first, second = (shutil.copytree(WCO_PACK, tmp_path / name) for name in ("first", "second"))

    message = refusal([first, second])

    assert WCO in message and str(first / DEFINITION_FILE) in message and str(second / DEFINITION_FILE) in message


def test_a_builtin_type_cannot_be_redefined(tmp_path: Path) -> None:
    pack = folder_pack(tmp_path, "ECOM_ORDER")

    message = refusal([pack])

    assert str(BUILTIN_PACKS / "ECOM_ORDER" / DEFINITION_FILE) in message and str(pack / "ECOM_ORDER") in message


def test_a_folder_without_definitions_is_refused(tmp_path: Path) -> None:
    (tmp_path / "empty" / "inner").mkdir(parents=True)

    message = refusal([tmp_path / "empty"])

    assert str(tmp_path / "empty") in message and DEFINITION_FILE in message


def _replace(old: str, new: str) -> Callable[[str], str]:
    return lambda text: text.replace(old, new)


@pytest.mark.parametrize(
    ("change", "named"),
    [
        pytest.param(lambda text: text + 'sender = "x"\n', "unknown keys ['sender']", id="unknown-key"),
        pytest.param(_replace(f'"{WCO}"', '"wco-declaration"'), "upper-case", id="type-not-a-name"),
        pytest.param(_replace('version = "2.0"', "version = 2"), "version", id="version-not-a-string"),
        pytest.param(_replace("{urn:wco:datamodel:WCO:DEC-DMS:2}Declaration", "Declaration"), "Clark", id="root-no-namespace"),
        pytest.param(_replace('["trader", "logistics"]', '"trader"'), "senders must be a list", id="senders-not-a-list"),
        pytest.param(_replace('["01", "02", "03"]', '["01", "77"]'), "unknown function codes ['77']", id="unknown-function"),
        pytest.param(_replace('"sample.xml"', '"missing.xml"'), "the sample cannot be read", id="sample-missing"),
    ],
)
def test_a_definition_that_makes_its_type_unusable_is_refused(
    tmp_path: Path, change: Callable[[str], str], named: str
) -> None:
    pack = shutil.copytree(WCO_PACK, tmp_path / "pack")
    edit(pack / DEFINITION_FILE, change)

    message = refusal([pack])

    assert str(pack / DEFINITION_FILE) in message and named in message


@pytest.mark.parametrize(
    ("change", "named"),
    [
        (_replace(f">{WCO}<", ">ECOM_ORDER<"), "has the documentType ECOM_ORDER"),
        (lambda text: text.replace("<Envelope", "<NotAnEnvelope", 1).replace("</Envelope>", "</NotAnEnvelope>"), "not an envelope"),
    ],
    ids=["of-another-type", "not-an-envelope"],
)
def test_a_sample_that_is_not_an_envelope_of_its_type_is_refused(
    tmp_path: Path, change: Callable[[str], str], named: str
) -> None:
    pack = shutil.copytree(WCO_PACK, tmp_path / "pack")
    edit(pack / "sample.xml", change)

    assert named in refusal([pack])
