"""Building the messages of a case: choose who signs, fill in the sample, sign, tamper.

`prepare` resolves everything a case needs from the run (identities, minted
credentials) before anything is sent, so a case that cannot run is skipped
whole rather than half-sent. `build` then makes one step's bytes, with a fresh
message id unless the step reuses an earlier one.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass

from lxml import etree

from conformance import SAMPLE_SENDERS, sample
from conformance.suite import edits, signatures, spec
from conformance.suite.identities import Credentials
from conformance.suite.model import Case, Step
from conformance.suite.operations import BODIES, TRANSFORMS, RunContext
from gateway import client
from gateway.envelope import qname
from gateway.signing.keys import SigningIdentity
from gateway.signing.sign import serialize

_SUBJECT_AFTER_PRE_REFERENCE = ("documentYear", "sendDate")
_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)


@dataclass(frozen=True)
class PreparedStep:
    """A step with the parties and the identity it will use on this run."""

    step: Step
    sender: str | None = None  # the party whose identity is chosen
    claim: str | None = None  # From/identity
    signer: SigningIdentity | None = None


@dataclass(frozen=True)
class Message:
    """The bytes a step sends, and what a receipt for them must name."""

    body: bytes
    sender: str | None
    message_id: str | None  # the messageId the envelope carries, as a reader of the whole text sees it
    content_type: str | None = None  # None: the door's usual one; "" none at all
    operation: str | None = None  # None: the door's usual one (SOAP: Submit)
    reply_to: str | None = None  # None: the door's usual one (AMQP: a queue the broker named)


class Builder:
    def __init__(self, credentials: Credentials, limit: int = spec.DEFAULT_MAX_BODY_BYTES) -> None:
        self.credentials = credentials
        self.limit = limit

    def prepare(self, case: Case) -> list[PreparedStep]:
        """Resolve the case's parties and identities; raises Unavailable with what is missing."""
        prepared: dict[str, PreparedStep] = {}
        for step in case.steps:
            if step.sample is None:
                prepared[step.name] = PreparedStep(step)
                continue
            exclude = prepared[step.sender.distinct_from].sender if step.sender.distinct_from else None
            sender = self.credentials.sender(step.sender, step.sample, exclude, SAMPLE_SENDERS.get(step.sample))
            signer = self.credentials.signer(step.signer, sender)
            signatures.recipe(step.signature, signer.key_type)  # fails early when the key type cannot do it
            prepared[step.name] = PreparedStep(step, sender, self.credentials.claim(step.sender, sender), signer)
        return list(prepared.values())

    def build(self, prepared: PreparedStep, earlier: Mapping[str, Message]) -> Message:
        step = prepared.step
        context = RunContext(prepared.signer, self.limit)
        if step.resend is not None:
            sent = earlier[step.resend]
            return Message(sent.body, sent.sender, sent.message_id, step.content_type, step.operation, step.reply_to)
        if step.body is not None:
            body = BODIES[step.body.name](None, context, step.body.params)
            return Message(body, None, None, step.content_type, step.operation, step.reply_to)
        assert step.sample is not None and prepared.signer is not None and prepared.claim is not None
        root = self._envelope(step, prepared.claim, earlier)
        fresh = self.credentials.fresh_key(prepared.signer) if step.signature.value_key == "fresh" else None
        signatures.sign(root, step.signature, prepared.signer, fresh)
        edits.apply(root, step.after_signing)
        body = serialize(root)
        if step.attack is not None:
            body = TRANSFORMS[step.attack.name](body, context, step.attack.params)
        message_id = _message_id_of(body) or _text(root, "Reference", "messageId")
        return Message(body, prepared.sender, message_id, step.content_type, step.operation, step.reply_to)

    def _envelope(self, step: Step, claim: str, earlier: Mapping[str, Message]) -> etree._Element:
        root = client.load_envelope(sample(step.sample).file)
        _field(root, "From", "identity").text = claim
        _field(root, "To", "identity").text = self.credentials.gateway_id
        client.refresh(root, earlier[step.message_id].message_id if step.message_id else str(uuid.uuid4()))
        if step.function is not None:
            _field(root, "Subject", "function").text = step.function
        if step.pre_reference is not None:
            _pre_reference(root).text = earlier[step.pre_reference].message_id
        edits.apply(root, step.edits)
        return root


def _field(root: etree._Element, *path: str) -> etree._Element:
    found = root.find("/".join(qname(local) for local in ("Header", *path)))
    if found is None:
        raise ValueError(f"the sample has no Header/{'/'.join(path)}")
    return found


def _text(root: etree._Element, *path: str) -> str | None:
    return "".join(_field(root, *path).itertext()).strip() or None


def _pre_reference(root: etree._Element) -> etree._Element:
    """Subject/preReference, made where the schema wants it if the sample has none."""
    subject = _field(root, "Subject")
    existing = subject.find(qname("preReference"))
    if existing is not None:
        return existing
    element = etree.Element(qname("preReference"))
    following = [subject.find(qname(local)) for local in _SUBJECT_AFTER_PRE_REFERENCE]
    next(e for e in following if e is not None).addprevious(element)
    return element


def _message_id_of(body: bytes) -> str | None:
    """The messageId in `body` (its whole text, comments skipped), if the body can be read at all."""
    try:
        root = etree.fromstring(body, _PARSER)
    except (etree.XMLSyntaxError, ValueError):
        return None
    found = root.find(f"{qname('Header')}/{qname('Reference')}/{qname('messageId')}")
    if found is None:
        return None
    return "".join(found.itertext()).strip() or None
