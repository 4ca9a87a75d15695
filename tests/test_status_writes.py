"""Only gateway/lifecycle.py writes the `status` of a message (DESIGN.md: a message's life is explicit).

Checked on the source of every package: outside gateway/lifecycle.py, no SQLAlchemy
statement written against the `messages` or `outbox` table sets `status` (as a keyword
of `.values()`, or a "status" / `.c.status` key of a dict in a module that writes those
tables), and no SQL text updates their status or inserts into them. Other tables'
`status` columns (parties, declarations, platforms) are not the lifecycle's.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

from support import REPO

PACKAGES = ("app", "console", "routing", "customs", "gateway", "conformance")
OWNER = Path("gateway/lifecycle.py")
TABLES_MODULE = "gateway.store.tables"
GUARDED = frozenset({"messages", "outbox"})
RAW_SQL = re.compile(
    r"""\bupdate\s+["`]?(messages|outbox)["`]?\s+set\b.*\bstatus\b|\binsert\s+into\s+["`]?(messages|outbox)\b""",
    re.IGNORECASE | re.DOTALL,
)


def guarded_names(tree: ast.Module) -> set[str]:
    """The local names bound to the guarded tables (`from gateway.store.tables import messages as m`),
    and `tables.<name>` spelled through the module."""
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module == TABLES_MODULE:
            names |= {alias.asname or alias.name for alias in node.names if alias.name in GUARDED}
        if isinstance(node, ast.ImportFrom) and node.module == "gateway.store":
            names |= {f"{alias.asname or alias.name}.{table}" for alias in node.names if alias.name == "tables" for table in GUARDED}
    return names


def _dotted(node: ast.AST) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        base = _dotted(node.value)
        return f"{base}.{node.attr}" if base else None
    return None


def _writes_guarded(node: ast.AST, guarded: set[str]) -> bool:
    """Whether the statement chain `node` starts as an UPDATE or INSERT of a guarded table."""
    while True:
        if isinstance(node, ast.Call):
            func = node.func
            name = (_dotted(func) or "").rsplit(".", 1)[-1].lower()
            if ("update" in name or "insert" in name) and node.args and _dotted(node.args[0]) in guarded:
                return True  # update(messages), insert(outbox), dialect_insert(messages)
            if isinstance(func, ast.Attribute) and func.attr in ("update", "insert") and _dotted(func.value) in guarded:
                return True  # outbox.update(), messages.insert()
            node = func.value if isinstance(func, ast.Attribute) else func
        elif isinstance(node, ast.Attribute):
            node = node.value
        else:
            return False


def _sets_status(values: ast.Call) -> bool:
    if any(keyword.arg == "status" for keyword in values.keywords):
        return True
    return any(isinstance(arg, ast.Dict) and _has_status_key(arg) for arg in values.args)


def _has_status_key(node: ast.Dict) -> bool:
    return any(
        (isinstance(key, ast.Constant) and key.value == "status") or (isinstance(key, ast.Attribute) and key.attr == "status")
        for key in node.keys
    )


def status_writes(source: str, where: str) -> list[str]:
    """Where `source` writes the status of a message or an outbox row."""
    tree = ast.parse(source)
    guarded = guarded_names(tree)
    found = []
    writes_guarded = False
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and guarded and _writes_guarded(node, guarded):
            writes_guarded = True
            if isinstance(node.func, ast.Attribute) and node.func.attr == "values" and _sets_status(node):
                found.append(f"{where}:{node.lineno} sets status in a statement on {'/'.join(sorted(GUARDED))}")
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and RAW_SQL.search(node.value):
            found.append(f"{where}:{node.lineno} writes messages or outbox in SQL text")
    if writes_guarded:  # rows handed to such a statement are dicts: none may carry a status
        found += [
            f"{where}:{node.lineno} builds a row with a status in a module that writes messages or outbox"
            for node in ast.walk(tree)
            if isinstance(node, ast.Dict) and _has_status_key(node)
        ]
    return sorted(set(found), key=lambda problem: int(problem.split(" ", 1)[0].rsplit(":", 1)[1]))


def production_modules() -> Iterator[Path]:
    for package in PACKAGES:
        if (REPO / package).is_dir():
            yield from sorted((REPO / package).rglob("*.py"))


def test_only_the_lifecycle_writes_a_message_status() -> None:
    found = []
    for path in production_modules():
        relative = path.relative_to(REPO)
        if relative != OWNER:
            found += status_writes(path.read_text(encoding="utf-8"), str(relative))
    assert found == []


def test_the_lifecycle_is_where_the_status_is_written() -> None:
    """Not vacuous: the same check finds the writes in the owner itself."""
    owner = (REPO / OWNER).read_text(encoding="utf-8")
    assert "update(table)" in owner and ".values(status=" in owner


def test_the_check_finds_each_way_of_writing_a_status() -> None:
    source = '''
from sqlalchemy import insert, text, update
from gateway.store.tables import messages as messages_table, outbox, parties

def a(tx):
    tx.execute(update(messages_table).where(messages_table.c.id == 1).values(status="processed"))

def b(tx):
    tx.execute(outbox.update().where(outbox.c.id == 1).values({"status": "parked", "attempts": 0}))

def c(tx, rows):
    tx.execute(insert(outbox), [{"message_id": "x", "status": "delivered"}])

def d(tx):
    tx.execute(text("UPDATE messages SET last_error = NULL, status = 'failed' WHERE id = 1"))

def e(tx):
    tx.execute(update(parties).values(status="suspended"))   # another table's status: allowed
'''
    found = status_writes(source, "m.py")
    where = list(dict.fromkeys(problem.split(" ", 1)[0] for problem in found))  # in line order
    assert where == ["m.py:6", "m.py:9", "m.py:12", "m.py:15"]


def test_the_check_leaves_reads_and_other_tables_alone() -> None:
    source = '''
from sqlalchemy import select, update
from gateway.store.tables import messages, parties

def read(connection):
    return connection.execute(select(messages.c.status).where(messages.c.status == "queued")).all()

def suspend(tx):
    tx.execute(update(parties).values(status="suspended"))
    return {"status": "ok"}
'''
    assert status_writes(source, "m.py") == []
