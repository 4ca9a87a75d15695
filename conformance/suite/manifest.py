"""Loading the suite: conformance/manifest.toml, its hand-written cases and its generated families.

The manifest is data only. A ``[[case]]`` table is one case; a ``[[family]]``
table names a generator (`conformance.suite.families`) that produces case
tables of exactly the same form, from the suite's seed, so that every machine
gets the same suite. Every table is checked strictly: an unknown key, an
unknown error code, tag, sample, operation or signer, or a step referring to a
step that does not come before it, is an error that names the case.
"""

from __future__ import annotations

import random
import re
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any

from conformance.suite import spec
from conformance.suite.edits import EDIT_OPS
from conformance.suite.families import GENERATORS, Family
from conformance.suite.holds import HOLDS
from conformance.suite.identities import SIGNERS
from conformance.suite.model import (
    DOORS,
    BusinessExpectation,
    Case,
    Edit,
    Expectation,
    Hold,
    Operation,
    SenderSpec,
    SignatureSpec,
    Step,
    known_tags,
)
from conformance.suite.operations import BODIES, TRANSFORMS, OperationDef
from conformance.suite.signatures import check_signature_spec

MANIFEST = Path(__file__).resolve().parent.parent / "manifest.toml"
_ID = re.compile(r"^[a-z0-9][a-z0-9._-]*$")
_STEP_KEYS = frozenset(
    {
        "sample",
        "body",
        "resend",
        "sender",
        "signer",
        "signature",
        "message_id",
        "pre_reference",
        "function",
        "edits",
        "after_signing",
        "attack",
        "content_type",
        "operation",
        "reply_to",
        "expect",
    }
)
_CONTENT_TYPE_DOORS = frozenset({"http", "amqp"})  # the doors whose transport carries a content type we choose
_OPERATION_DOORS = frozenset({"soap11", "soap12"})  # the doors with operations to choose from
_REPLY_TO = ("ordinary-queue",)  # the reply_to queues a step may ask for (AMQP door only)


class ManifestError(ValueError):
    """The manifest is not valid; the message names the case and what is wrong."""


@dataclass(frozen=True)
class Suite:
    version: str
    seed: int
    cases: tuple[Case, ...]

    def select(self, tags: Iterable[str] = (), only: Iterable[str] = (), skip: Iterable[str] = ()) -> list[Case]:
        """The cases with any of `tags` (all when none) whose id matches any of `only` and none of `skip`
        (glob patterns)."""
        wanted_tags, patterns, left_out = set(tags), list(only), list(skip)
        return [
            case
            for case in self.cases
            if (not wanted_tags or wanted_tags & set(case.tags))
            and (not patterns or any(fnmatchcase(case.id, pattern) for pattern in patterns))
            and not any(fnmatchcase(case.id, pattern) for pattern in left_out)
        ]


def load_suite(path: Path = MANIFEST) -> Suite:
    with path.open("rb") as handle:
        data = tomllib.load(handle)
    unknown = set(data) - {"suite", "case", "family"}
    if unknown:
        raise ManifestError(f"{path}: unknown top-level keys {sorted(unknown)}")
    header = _Table(data.get("suite", {}), "[suite]")
    version = header.take("version", str)
    seed = header.take("seed", int)
    header.finish()

    cases = [parse_case(table) for table in data.get("case", [])]
    for table in data.get("family", []):
        family = _family(table)
        rng = random.Random(f"{seed}:{family.id}")
        cases.extend(parse_case(generated, family.id) for generated in GENERATORS[family.generator](family, rng))
    seen: set[str] = set()
    for case in cases:
        if case.id in seen:
            raise ManifestError(f"case id {case.id!r} is used twice")
        seen.add(case.id)
    return Suite(version, seed, tuple(cases))


def parse_case(data: Mapping[str, Any], family: str | None = None) -> Case:
    """A case from its table (hand-written or generated); raises ManifestError naming the case."""
    table = _Table(data, f"case {data.get('id', '?')!r}")
    case_id = table.take("id", str)
    if not _ID.match(case_id):
        raise ManifestError(f"{table.where}: ids are lower-case letters, digits, '.', '_' and '-'")
    title, checks, why = table.take("title", str), table.take("checks", str), table.take("why", str)
    tags = tuple(table.take("tags", list))
    if not tags or not set(tags) <= known_tags():
        raise ManifestError(f"{table.where}: tags must be some of {sorted(known_tags())}, not {tags}")
    doors = tuple(table.take("doors", list, list(DOORS)))
    if not doors or not set(doors) <= set(DOORS):
        raise ManifestError(f"{table.where}: doors must be some of {DOORS}")
    hold = _hold(table.take("hold", dict, None), table.where)
    if hold is not None and doors != ("http",):
        raise ManifestError(f"{table.where}: connections can be held on the http door only")
    if "step" in data:
        steps = [_step(_Table(step, f"{table.where}, step {i + 1}")) for i, step in enumerate(table.take("step", list))]
    else:
        single = _Table({key: data[key] for key in _STEP_KEYS if key in data}, table.where)
        table.used.update(single.data)
        steps = [_step(single, name="message")]
    table.finish()
    _check_references(steps, table.where)
    if any(step.content_type is not None for step in steps) and not set(doors) <= _CONTENT_TYPE_DOORS:
        raise ManifestError(
            f"{table.where}: a content type can be chosen on the {sorted(_CONTENT_TYPE_DOORS)} doors only"
        )
    if any(step.reply_to is not None for step in steps) and doors != ("amqp",):
        raise ManifestError(f"{table.where}: a reply_to can be chosen on the amqp door only")
    if any(step.operation is not None for step in steps) and not set(doors) <= _OPERATION_DOORS:
        raise ManifestError(f"{table.where}: an operation can be chosen on the {sorted(_OPERATION_DOORS)} doors only")
    return Case(case_id, title, checks, why, tags, tuple(steps), doors, family, hold)


def _step(table: _Table, name: str | None = None) -> Step:
    name = name or table.take("name", str)
    sources = [key for key in ("sample", "body", "resend") if key in table.data]
    if len(sources) != 1:
        raise ManifestError(f"{table.where}: give exactly one of sample, body and resend, not {sources}")
    sample = table.take("sample", str, None)
    if sample is not None and (sample not in spec.documents() or spec.documents()[sample].sample is None):
        raise ManifestError(f"{table.where}: no sample for document type {sample!r}")
    step = Step(
        name=name,
        expect=_expectation(_Table(table.take("expect", dict), f"{table.where}, expect")),
        sample=sample,
        body=_operation(table.take("body", dict, None), BODIES, table.where),
        resend=table.take("resend", str, None),
        sender=_sender(table.take("sender", dict, {}), table.where),
        signer=table.take("signer", str, "sender"),
        signature=_signature(table.take("signature", dict, {}), table.where),
        message_id=table.take("message_id", str, None),
        pre_reference=table.take("pre_reference", str, None),
        function=table.take("function", str, None),
        edits=tuple(_edit(edit, table.where) for edit in table.take("edits", list, [])),
        after_signing=tuple(_edit(edit, table.where) for edit in table.take("after_signing", list, [])),
        attack=_operation(table.take("attack", dict, None), TRANSFORMS, table.where),
        content_type=table.take("content_type", str, None),
        operation=table.take("operation", str, None),
        reply_to=table.take("reply_to", str, None),
    )
    table.finish()
    if step.reply_to not in (None, *_REPLY_TO):
        raise ManifestError(f"{table.where}: reply_to is one of {list(_REPLY_TO)}, not {step.reply_to!r}")
    if (step.reply_to is None) != step.expect.answered:
        raise ManifestError(f"{table.where}: a step with reply_to expects outcome 'unanswered', and only it")
    if step.operation not in (None, "Submit", "Pull"):
        raise ManifestError(f"{table.where}: the SOAP operations are Submit and Pull, not {step.operation!r}")
    if step.signer not in SIGNERS:
        raise ManifestError(f"{table.where}: unknown signer {step.signer!r}; signers are {sorted(SIGNERS)}")
    if step.sample is None and (step.edits or step.after_signing or step.attack or step.function or step.pre_reference):
        raise ManifestError(f"{table.where}: edits, attacks and header fields need a sample to apply to")
    return step


def _expectation(table: _Table) -> Expectation:
    outcome = table.take("outcome", str)
    codes = frozenset(table.take("codes", list, []))
    business = table.take("business", dict, None)
    within_s = table.take("within_s", (int, float), None)
    expectation = Expectation(
        answered=outcome != "unanswered",
        accepted=outcome == "accepted",
        codes=codes,
        same_receipt_as=table.take("same_receipt_as", str, None),
        business=_business(_Table(business, f"{table.where}, business")) if business is not None else None,
        within_s=None if within_s is None else _seconds(within_s, table, "within_s"),
    )
    table.finish()
    if outcome not in ("accepted", "rejected", "unanswered"):
        raise ManifestError(f"{table.where}: outcome is 'accepted', 'rejected' or 'unanswered', not {outcome!r}")
    if unknown := codes - spec.ERROR_CODES:
        raise ManifestError(f"{table.where}: unknown error codes {sorted(unknown)}")
    if codes & spec.UNPROVOKABLE_CODES:
        raise ManifestError(f"{table.where}: no message can provoke {sorted(codes & spec.UNPROVOKABLE_CODES)}")
    if not expectation.answered and (codes or business is not None or within_s is not None):
        raise ManifestError(f"{table.where}: an unanswered step has no codes, business outcome or within_s")
    if expectation.answered and expectation.accepted == bool(codes):
        raise ManifestError(f"{table.where}: a rejection lists its codes, an acceptance none")
    if expectation.business and not expectation.accepted:
        raise ManifestError(f"{table.where}: only an accepted message has a business outcome")
    return expectation


def _hold(data: Mapping[str, Any] | None, where: str) -> Hold | None:
    if data is None:
        return None
    table = _Table(data, f"{where}, hold")
    name = table.take("name", str)
    connections = table.take("connections", int)
    closed_within_s = _seconds(table.take("closed_within_s", (int, float)), table, "closed_within_s")
    params = {key: value for key, value in data.items() if key not in table.used}
    if name not in HOLDS:
        raise ManifestError(f"{table.where}: unknown kind {name!r}; known: {sorted(HOLDS)}")
    if connections < 1:
        raise ManifestError(f"{table.where}: hold at least one connection")
    try:
        HOLDS[name].check(params)
    except (TypeError, ValueError) as exc:
        raise ManifestError(f"{table.where}: {name}: {exc}") from None
    return Hold(name, connections, closed_within_s, params)


def _seconds(value: int | float, table: _Table, key: str) -> float:
    """`value`, a positive number of seconds (TOML integer or float)."""
    if value <= 0:
        raise ManifestError(f"{table.where}: {key!r} is a positive number of seconds")
    return float(value)


def _business(table: _Table) -> BusinessExpectation:
    business = BusinessExpectation(table.take("notice", str), table.take("lane", str, None))
    table.finish()
    return business


def _sender(data: Mapping[str, Any], where: str) -> SenderSpec:
    table = _Table(data, f"{where}, sender")
    allowed = table.take("allowed", (bool, str), True)
    if allowed not in (True, False, "either"):
        raise ManifestError(f'{where}: sender.allowed is true, false or "either"')
    sender = SenderSpec(
        role=table.take("role", str, None),
        allowed=None if allowed == "either" else allowed,
        status=table.take("status", str, "active"),
        claim=table.take("claim", str, "self"),
        distinct_from=table.take("distinct_from", str, None),
    )
    table.finish()
    if sender.role is not None and sender.role not in spec.ALL_ROLES:
        raise ManifestError(f"{where}: unknown role {sender.role!r}")
    if sender.status not in ("active", "suspended") or sender.claim not in ("self", "other-party", "unregistered"):
        raise ManifestError(f"{where}: sender.status is active|suspended, sender.claim self|other-party|unregistered")
    return sender


def _signature(data: Mapping[str, Any], where: str) -> SignatureSpec:
    table = _Table(data, f"{where}, signature")
    defaults = SignatureSpec()
    signature = SignatureSpec(
        method=table.take("method", str, defaults.method),
        digest=table.take("digest", str, defaults.digest),
        c14n=table.take("c14n", str, defaults.c14n),
        transforms=tuple(table.take("transforms", list, list(defaults.transforms))),
        reference=table.take("reference", str, defaults.reference),
        value_key=table.take("value_key", str, defaults.value_key),
        key_info=table.take("key_info", str, defaults.key_info),
        prefix_list=tuple(table.take("prefix_list", list, list(defaults.prefix_list))),
    )
    table.finish()
    try:
        check_signature_spec(signature)
    except ValueError as exc:
        raise ManifestError(f"{where}: {exc}") from None
    return signature


def _operation(data: Mapping[str, Any] | None, registry: Mapping[str, OperationDef], where: str) -> Operation | None:
    if data is None:
        return None
    params = dict(data)
    name = params.pop("name", None)
    if name not in registry:
        raise ManifestError(f"{where}: unknown operation {name!r}; known: {sorted(registry)}")
    try:
        registry[name].check(params)
    except TypeError as exc:
        raise ManifestError(f"{where}: {name}: {exc}") from None
    return Operation(name, params)


def _edit(data: Mapping[str, Any], where: str) -> Edit:
    ops = [key for key in data if key in EDIT_OPS]
    if len(ops) != 1:
        raise ManifestError(f"{where}: an edit names exactly one of {sorted(EDIT_OPS)}: {dict(data)}")
    op = ops[0]
    table = _Table(data, f"{where}, edit {op}")
    target = table.take(op, str)
    edit = Edit(
        op=op,
        path=target if op != "replace_payload" else "",
        sample=target if op == "replace_payload" else None,
        value=table.take("value", str, None),
        attribute=table.take("attribute", str, None),
        fill=table.take("fill", int, None),
        seconds_from_now=table.take("seconds_from_now", int, None),
        char=table.take("char", str, "x"),
        element=table.take("element", str, None),
        times=table.take("times", int, 1),
    )
    table.finish()
    return edit


def _family(data: Mapping[str, Any]) -> Family:
    table = _Table(data, f"family {data.get('id', '?')!r}")
    family = Family(
        id=table.take("id", str),
        generator=table.take("generator", str),
        title=table.take("title", str),
        checks=table.take("checks", str),
        why=table.take("why", str),
        tags=tuple(table.take("tags", list)),
        count=table.take("count", int, 1),
    )
    table.finish()
    if family.generator not in GENERATORS:
        raise ManifestError(f"{table.where}: unknown generator {family.generator!r}; known: {sorted(GENERATORS)}")
    return family


def _check_references(steps: list[Step], where: str) -> None:
    earlier: set[str] = set()
    for step in steps:
        references = (
            step.resend,
            step.message_id,
            step.pre_reference,
            step.expect.same_receipt_as,
            step.sender.distinct_from,
        )
        for reference in references:
            if reference is not None and reference not in earlier:
                raise ManifestError(f"{where}, step {step.name!r}: {reference!r} is not an earlier step")
        if step.name in earlier:
            raise ManifestError(f"{where}: two steps are named {step.name!r}")
        earlier.add(step.name)


_MISSING = object()


class _Table:
    """A TOML table read key by key: a wrong type or a key nobody read is an error."""

    def __init__(self, data: Mapping[str, Any], where: str) -> None:
        if not isinstance(data, Mapping):
            raise ManifestError(f"{where}: expected a table")
        self.data, self.where, self.used = dict(data), where, set[str]()

    def take(self, key: str, kind: type | tuple[type, ...], default: Any = _MISSING) -> Any:
        self.used.add(key)
        if key not in self.data:
            if default is _MISSING:
                raise ManifestError(f"{self.where}: {key!r} is missing")
            return default
        value = self.data[key]
        kinds = kind if isinstance(kind, tuple) else (kind,)
        if not isinstance(value, kind) or (isinstance(value, bool) and bool not in kinds):
            raise ManifestError(f"{self.where}: {key!r} has the wrong type ({type(value).__name__})")
        return value

    def finish(self) -> None:
        if unknown := set(self.data) - self.used:
            raise ManifestError(f"{self.where}: unknown keys {sorted(unknown)}")
