"""The routing table: loading routes.toml, matching, the start-up coverage check, and handler references."""

from __future__ import annotations

from pathlib import Path

import pytest
from support import REPO

from gateway.exceptions import ConfigurationError
from gateway.schemas.registry import SchemaRegistry
from routing.handlers import record
from routing.table import Route, RoutingTable, load_handler

HANDLER = "routing.handlers.record:handler"


def route(name: str, types: list[str], functions: list[str] | None = None) -> Route:
    return Route(name, frozenset(types), frozenset(functions) if functions is not None else None, HANDLER)


def table_file(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "routes.toml"
    path.write_text(text, encoding="utf-8")
    return path


TABLE = RoutingTable(
    [
        route("cancellations", ["ECOM_ORDER", "ECOM_DECLARATION"], ["03"]),
        route("orders", ["ECOM_ORDER"]),
        route("declarations", ["ECOM_DECLARATION"], ["01", "02"]),
        route("default", ["*"]),
        route("never", ["ECOM_ORDER"]),  # shadowed by "orders" and "default"
    ]
)


@pytest.mark.parametrize(
    ("document_type", "function", "expected"),
    [
        ("ECOM_ORDER", "01", "orders"),
        ("ECOM_ORDER", "03", "cancellations"),  # first match wins, even over a more specific later route
        ("ECOM_DECLARATION", "02", "declarations"),
        ("ECOM_DECLARATION", "03", "cancellations"),
        ("ECOM_DECLARATION", "11", "default"),  # the functions filter lets it fall through
        ("WCO_GOODS_DECLARATION", "01", "default"),  # "*" takes any type
        ("WCO_GOODS_DECLARATION", "03", "default"),  # "cancellations" names types: no "*" there
    ],
)
def test_first_matching_route_wins(document_type: str, function: str, expected: str) -> None:
    assert TABLE.route_for(document_type, function).name == expected


def test_no_route_without_a_match() -> None:
    table = RoutingTable([route("orders", ["ECOM_ORDER"], ["01"])])

    assert table.route_for("ECOM_ORDER", "02") is None
    assert table.route_for("ACDD", "01") is None


@pytest.mark.parametrize(
    ("candidate", "document_type", "function", "matches"),
    [
        (route("r", ["*"]), "ANY_TYPE", "99", True),
        (route("r", ["*"], ["26"]), "ANY_TYPE", "26", True),
        (route("r", ["*"], ["26"]), "ANY_TYPE", "01", False),
        (route("r", ["A", "B"]), "B", "01", True),
        (route("r", ["A", "B"]), "C", "01", False),
        (route("r", ["A"], []), "A", "01", False),  # an empty functions list matches nothing
    ],
)
def test_route_matches(candidate: Route, document_type: str, function: str, matches: bool) -> None:
    assert candidate.matches(document_type, function) is matches


# --- loading routes.toml -----------------------------------------------------------------------


def test_repository_routes_cover_the_catalogue() -> None:
    table = RoutingTable.load(REPO / "config" / "routes.toml")
    schemas = SchemaRegistry.load()

    table.check_covers(list(schemas.documents), {name: doc.functions for name, doc in schemas.documents.items()})

    assert table.names[-1] == "default" and table.route_for("SOMETHING_NEW", "01").name == "default"
    assert table.route_for("ACDD", "21").name == "asean"
    assert all(r.handlers for r in table.routes)


def test_load_reads_every_field(tmp_path: Path) -> None:
    path = table_file(
        tmp_path,
        '[[route]]\nname = "amend"\ndocument_types = ["ECOM_ORDER"]\nfunctions = ["02"]\nhandlers = ["pkg.mod:amend", "pkg.mod:share"]\n'
        '[[route]]\nname = "rest"\ndocument_types = ["*"]\nhandlers = ["pkg.mod:rest"]\n',
    )

    table = RoutingTable.load(path)

    assert table.routes == [
        Route("amend", frozenset({"ECOM_ORDER"}), frozenset({"02"}), ("pkg.mod:amend", "pkg.mod:share")),
        Route("rest", frozenset({"*"}), None, ("pkg.mod:rest",)),
    ]
    assert table.names == ("amend", "rest")


@pytest.mark.parametrize("missing", ["name", "document_types", "handlers"])
def test_route_missing_a_key_is_refused(tmp_path: Path, missing: str) -> None:
    entry = {"name": '"r"', "document_types": '["*"]', "handlers": f'["{HANDLER}"]'}
    del entry[missing]
    path = table_file(tmp_path, "[[route]]\n" + "".join(f"{k} = {v}\n" for k, v in entry.items()))

    with pytest.raises(ConfigurationError) as caught:
        RoutingTable.load(path)

    assert str(path) in str(caught.value) and repr(missing) in str(caught.value)


@pytest.mark.parametrize("content", [None, "[[route]\nname = 1\n"], ids=["missing", "malformed"])
def test_unreadable_routes_file_is_refused(tmp_path: Path, content: str | None) -> None:
    path = tmp_path / "routes.toml"
    if content is not None:
        path.write_text(content, encoding="utf-8")

    with pytest.raises(ConfigurationError, match="cannot be read") as caught:
        RoutingTable.load(path)

    assert str(path) in str(caught.value)


def test_duplicate_route_names_are_refused(tmp_path: Path) -> None:
    path = table_file(
        tmp_path,
        f'[[route]]\nname = "orders"\ndocument_types = ["ECOM_ORDER"]\nhandlers = ["{HANDLER}"]\n'
        f'[[route]]\nname = "orders"\ndocument_types = ["*"]\nhandlers = ["{HANDLER}"]\n',
    )

    with pytest.raises(ConfigurationError, match="unique"):
        RoutingTable.load(path)
    with pytest.raises(ConfigurationError, match="orders"):
        RoutingTable([route("a", ["*"]), route("orders", ["X"]), route("orders", ["Y"])])


# --- the start-up check ---------------------------------------------------------------------------


def test_check_covers_passes_when_every_type_and_function_has_a_route() -> None:
    TABLE.check_covers(["ECOM_ORDER", "NEW_TYPE"], {"ECOM_ORDER": frozenset({"01", "03"}), "NEW_TYPE": frozenset({"26"})})


@pytest.mark.parametrize(
    ("types", "functions_of", "missing"),
    [
        (["ACDD"], {"ACDD": frozenset({"01"})}, "ACDD/01"),  # no route names the type
        (["ECOM_ORDER"], {"ECOM_ORDER": frozenset({"01", "02", "03"})}, "ECOM_ORDER/02, ECOM_ORDER/03"),  # filter
        (
            ["ECOM_ORDER", "ACDD"],
            {"ECOM_ORDER": frozenset({"02"}), "ACDD": frozenset({"21", "01"})},
            "ECOM_ORDER/02, ACDD/01, ACDD/21",
        ),
    ],
    ids=["uncovered-type", "uncovered-function", "several"],
)
def test_check_covers_names_what_has_nowhere_to_go(types: list[str], functions_of: dict, missing: str) -> None:
    table = RoutingTable([route("orders", ["ECOM_ORDER"], ["01"])])

    with pytest.raises(ConfigurationError) as caught:
        table.check_covers(types, functions_of)

    assert f"no route for {missing};" in str(caught.value)


# --- handlers ----------------------------------------------------------------------------------------


def test_load_handler_returns_the_attribute() -> None:
    assert load_handler(HANDLER) is record.handler
    assert load_handler("routing.table:RoutingTable") is RoutingTable


@pytest.mark.parametrize(
    "reference",
    [
        "routing.handlers.nonexistent:handler",  # no such module
        "routing.handlers.record:no_such_handler",  # no such attribute
        "routing.handlers.record",  # no attribute named at all
        "no_such_top_level_package_xyz:handler",
        pytest.param(
            ":handler",
        ),
        pytest.param(
            ".record:handler",
        ),
    ],
)
def test_load_handler_errors_are_configuration_errors(reference: str) -> None:
    with pytest.raises(ConfigurationError) as caught:
        load_handler(reference)

    assert repr(reference) in str(caught.value)
