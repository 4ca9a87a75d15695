"""The named operations a case may use: attacks on signed bytes, and raw bodies.

Each name maps to a function of the attack library (`conformance.attacks`); the
manifest gives the keyword arguments. A few arguments come from the run rather
than the manifest (the signer's identity, the gateway's size limit): they are
listed per operation, so that the manifest can be checked without running it.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from conformance import attacks, certificate_attacks, shape_attacks
from gateway.signing.keys import SigningIdentity


@dataclass(frozen=True)
class RunContext:
    """What a run supplies to operations: the step's signing identity and the gateway's body size limit."""

    identity: SigningIdentity | None
    limit: int


@dataclass(frozen=True)
class OperationDef:
    function: Callable[..., bytes]
    from_run: tuple[str, ...] = ()  # keyword arguments taken from the RunContext
    takes_body: bool = True

    def check(self, params: Mapping[str, Any]) -> None:
        """Raise TypeError when `params` do not fit the function."""
        leading = (b"",) if self.takes_body else ()
        inspect.signature(self.function).bind(*leading, **dict.fromkeys(self.from_run), **params)

    def __call__(self, body: bytes | None, context: RunContext, params: Mapping[str, Any]) -> bytes:
        supplied = {name: getattr(context, name) for name in self.from_run}
        leading = (body,) if self.takes_body else ()
        return self.function(*leading, **supplied, **params)


def padded_to_limit(body: bytes, limit: int, offset: int = 0) -> bytes:
    """`body` padded to exactly the gateway's size limit plus `offset` bytes."""
    return attacks.padded(body, limit + offset)


def with_huge_attribute(body: bytes, size: int) -> bytes:
    """`body` with an attribute of `size` characters on its root (`attacks.huge_attribute`, body first)."""
    return attacks.huge_attribute(size, body)


def literal(text: str) -> bytes:
    """The UTF-8 bytes of `text`: whatever is not an envelope at all (empty, JSON...)."""
    return text.encode("utf-8")


TRANSFORMS: dict[str, OperationDef] = {
    "as_character_references": OperationDef(attacks.as_character_references),
    "body_changed_after_signing": OperationDef(attacks.body_changed_after_signing),
    "comment_in_text": OperationDef(attacks.comment_in_text),
    "external_dtd": OperationDef(attacks.external_dtd),
    "header_changed_after_signing": OperationDef(attacks.header_changed_after_signing),
    "huge_attribute": OperationDef(with_huge_attribute),
    "huge_text": OperationDef(attacks.huge_text),
    "key_info_removed": OperationDef(attacks.key_info_removed),
    "large_certificate": OperationDef(certificate_attacks.large_in_key_info, from_run=("identity",)),
    "long_prefix_list": OperationDef(shape_attacks.long_prefix_list),
    "malformed_certificate": OperationDef(certificate_attacks.malformed_in_key_info, from_run=("identity",)),
    "many_attributes": OperationDef(shape_attacks.many_attributes),
    "many_elements": OperationDef(shape_attacks.many_elements),
    "many_namespace_declarations": OperationDef(shape_attacks.many_namespace_declarations),
    "deep_namespace_scope": OperationDef(shape_attacks.deep_namespace_scope),
    "not_well_formed": OperationDef(attacks.not_well_formed),
    "padded_to_limit": OperationDef(padded_to_limit, from_run=("limit",)),
    "second_unsigned_content": OperationDef(attacks.second_unsigned_content),
    "signature_moved": OperationDef(attacks.signature_moved),
    "signature_removed": OperationDef(attacks.signature_removed),
    "text_as_cdata": OperationDef(attacks.text_as_cdata),
    "trailing_content": OperationDef(attacks.trailing_content),
    "two_signatures": OperationDef(attacks.two_signatures, from_run=("identity",)),
    "undeclared_entity": OperationDef(attacks.undeclared_entity),
    "with_doctype": OperationDef(attacks.with_doctype),
    "with_processing_instruction": OperationDef(attacks.with_processing_instruction),
    "with_utf8_bom": OperationDef(attacks.with_utf8_bom),
    "wrap_signed_copy_in_object": OperationDef(attacks.wrap_signed_copy_in_object),
    "wrap_signed_envelope_in_forged_envelope": OperationDef(attacks.wrap_signed_envelope_in_forged_envelope),
    "wrap_signed_envelope_in_wrapper": OperationDef(attacks.wrap_signed_envelope_in_wrapper),
    "wrong_encoding": OperationDef(attacks.wrong_encoding),
    "xxe": OperationDef(attacks.xxe),
}
"""Attacks on the signed bytes of a step (its `attack`)."""

BODIES: dict[str, OperationDef] = {
    "deep_nesting": OperationDef(attacks.deep_nesting, takes_body=False),
    "entity_bomb": OperationDef(attacks.entity_bomb, takes_body=False),
    "literal": OperationDef(literal, takes_body=False),
}
"""Raw bodies that are not built from a sample (a step's `body`)."""
