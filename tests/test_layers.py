"""The packages' layers point one way (DESIGN.md, "The house"), checked on the import graph itself.

Every import statement of every module counts, wherever it is (module level, inside a
function, under TYPE_CHECKING): a lazy import is still a dependency.

    app -> console -> routing -> customs -> gateway;   conformance -> gateway

Besides: nothing imports from routing/handlers/ (the worker loads handlers by the
names in routes.toml), and no two modules import each other at run time (a cycle).
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from support import REPO

PACKAGES = ("app", "console", "routing", "customs", "gateway", "conformance")
ALLOWED: Mapping[str, frozenset[str]] = {
    "app": frozenset(PACKAGES),
    "console": frozenset({"console", "routing", "customs", "gateway"}),
    "routing": frozenset({"routing", "customs", "gateway"}),
    "customs": frozenset({"customs", "gateway"}),
    "gateway": frozenset({"gateway"}),
    "conformance": frozenset({"conformance", "gateway"}),
}
LOADED_BY_NAME = "routing.handlers"  # only routes.toml names these modules


@dataclass(frozen=True)
class Import:
    module: str  # the importing module, dotted
    target: str  # the imported module (or module.attribute), dotted
    line: int
    runtime: bool  # at module level and not under TYPE_CHECKING


def module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imports_of(source: str, module: str, is_package: bool) -> list[Import]:
    """The imports in one module's source, absolute and dotted."""
    found: list[Import] = []
    package = module if is_package else module.rpartition(".")[0]

    def visit(node: ast.AST, runtime: bool) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.Import):
                found.extend(Import(module, alias.name, child.lineno, runtime) for alias in child.names)
            elif isinstance(child, ast.ImportFrom):
                base = child.module or ""
                if child.level:
                    anchor = package.split(".")[: len(package.split(".")) - (child.level - 1)]
                    base = ".".join([*anchor, base] if base else anchor)
                found.extend(Import(module, f"{base}.{alias.name}", child.lineno, runtime) for alias in child.names)
            elif isinstance(child, ast.If) and _is_type_checking(child.test):
                visit(child, runtime=False)
            elif isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
                visit(child, runtime=False)
            else:
                visit(child, runtime)

    visit(ast.parse(source), runtime=True)
    return found


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def project_imports(root: Path) -> list[Import]:
    found = []
    for package in PACKAGES:
        for path in sorted((root / package).rglob("*.py")) if (root / package).is_dir() else ():
            found += imports_of(path.read_text(encoding="utf-8"), module_name(path, root), path.name == "__init__.py")
    return found


def layer_violations(imports: Iterable[Import]) -> list[str]:
    problems = []
    for entry in imports:
        source, target = entry.module.split(".")[0], entry.target.split(".")[0]
        if target in PACKAGES and target not in ALLOWED[source]:
            problems.append(f"{entry.module}:{entry.line} imports {entry.target} ({source} may not depend on {target})")
        if (entry.target == LOADED_BY_NAME or entry.target.startswith(LOADED_BY_NAME + ".")) and not entry.module.startswith(
            LOADED_BY_NAME
        ):
            problems.append(f"{entry.module}:{entry.line} imports {entry.target} (handlers are loaded by name only)")
    return problems


def runtime_cycles(imports: Iterable[Import], modules: set[str]) -> list[list[str]]:
    """Cycles among modules that import each other at module level."""
    graph: dict[str, set[str]] = {module: set() for module in modules}
    for entry in imports:
        if not entry.runtime:
            continue
        target = entry.target if entry.target in modules else entry.target.rpartition(".")[0]
        if target in modules and target != entry.module:
            graph[entry.module].add(target)
    cycles, state = [], dict.fromkeys(graph, 0)  # 0 new, 1 on the stack, 2 done

    def walk(node: str, stack: list[str]) -> None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph[node]):
            if state[nxt] == 1:
                cycles.append([*stack[stack.index(nxt) :], nxt])
            elif state[nxt] == 0:
                walk(nxt, stack)
        stack.pop()
        state[node] = 2

    for node in sorted(graph):
        if state[node] == 0:
            walk(node, [])
    return cycles


def test_every_package_imports_only_the_layers_below_it() -> None:
    assert layer_violations(project_imports(REPO)) == []


def test_no_modules_import_each_other_at_run_time() -> None:
    imports = project_imports(REPO)
    modules = {entry.module for entry in imports} | {
        module_name(path, REPO) for package in PACKAGES for path in (REPO / package).rglob("*.py")
    }
    assert runtime_cycles(imports, modules) == []


def test_the_check_finds_a_backward_import_wherever_it_is_written() -> None:
    source = (
        "from __future__ import annotations\n"
        "from typing import TYPE_CHECKING\n"
        "import routing.table\n"
        "if TYPE_CHECKING:\n    from customs.rules import Rules\n"
        "def later():\n    from app import wiring\n"
    )
    found = layer_violations(imports_of(source, "gateway.pipeline", is_package=False))
    assert [problem.split(" imports ")[1].split(" ")[0] for problem in found] == ["routing.table", "customs.rules.Rules", "app.wiring"]


def test_the_check_resolves_relative_imports_and_finds_a_handler_imported_directly() -> None:
    relative = imports_of("from ...routing import table\n", "gateway.store.engine", is_package=False)
    assert layer_violations(relative) == ["gateway.store.engine:1 imports routing.table (gateway may not depend on routing)"]
    direct = imports_of("from routing.handlers import orders\n", "customs.decisions", is_package=False)
    assert layer_violations(direct) == [
        "customs.decisions:1 imports routing.handlers.orders (customs may not depend on routing)",
        "customs.decisions:1 imports routing.handlers.orders (handlers are loaded by name only)",
    ]


def test_the_check_finds_a_cycle() -> None:
    imports = imports_of("import gateway.b\n", "gateway.a", False) + imports_of("from gateway.a import x\n", "gateway.b", False)
    assert runtime_cycles(imports, {"gateway.a", "gateway.b"}) == [["gateway.a", "gateway.b", "gateway.a"]]
    lazy = imports_of("import gateway.b\n", "gateway.a", False) + imports_of(
        "def f():\n    from gateway.a import x\n", "gateway.b", False
    )
    assert runtime_cycles(lazy, {"gateway.a", "gateway.b"}) == []
