"""The attack library produces what it claims: one thing wrong per attack, the rest intact.

Signatures are checked with signxml (an independent XML-DSig implementation) or,
where signxml cannot express the case, with a few lines of lxml + cryptography
written here, so that these tests do not depend on the gateway's own verifier.
"""

from __future__ import annotations

import base64
import copy
import datetime as dt
import hashlib
from collections.abc import Callable
from pathlib import Path

import pytest
import signxml
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from lxml import etree
from signxml import DigestAlgorithm, SignatureConfiguration, SignatureMethod, XMLVerifier
from support import MessageFactory

from conformance import attacks
from gateway.envelope import DSIG_NS, ENVELOPE_NS, qname
from gateway.signing.keys import SigningIdentity, load_certificates
from gateway.signing.pki import CertificateAuthority

SENDER = "0309876543"  # the usual ECOM_DECLARATION sender, an RSA-2048 party
OTHER = "0312345678"  # another RSA-2048 party
EC_PARTY = "OPS"  # an EC P-256 party
DS = {"ds": DSIG_NS}
E = {"e": ENVELOPE_NS}
EXC_C14N = "http://www.w3.org/2001/10/xml-exc-c14n#"


# --- helpers ------------------------------------------------------------------


def parse(data: bytes) -> etree._Element:
    """A plain, safe parser: no DTD loading, no entity resolution."""
    return etree.fromstring(data, etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False))


def c14n(element: etree._Element) -> bytes:
    return etree.tostring(element, method="c14n", exclusive=True)


def signatures(root: etree._Element) -> list[etree._Element]:
    return root.findall(f"{{{DSIG_NS}}}Signature")


def without_signatures(root: etree._Element) -> etree._Element:
    stripped = copy.deepcopy(root)
    for signature in signatures(stripped):
        stripped.remove(signature)
    return stripped


def payload(root: etree._Element) -> etree._Element:
    (element,) = root.xpath("e:Body/e:Content/*", namespaces=E)
    return element


def leaf_texts(element: etree._Element) -> dict[str, str]:
    """Every leaf element's text, keyed by its path."""
    tree = element.getroottree()
    return {tree.getpath(e): (e.text or "") for e in element.iter(etree.Element) if len(e) == 0}


def pem(identity: SigningIdentity) -> bytes:
    return identity.certificate.public_bytes(serialization.Encoding.PEM)


def signxml_verifies(data: bytes | etree._Element, identity: SigningIdentity, **options: object) -> etree._Element:
    """Verify with signxml against `identity`'s certificate; returns what the signature covers."""
    return XMLVerifier().verify(data, x509_cert=pem(identity), **options).signed_xml


def enveloped_signature_is_valid(root: etree._Element, signature: etree._Element, identity: SigningIdentity) -> bool:
    """Check one enveloped, exclusive-c14n, RSA-SHA256 signature among several (signxml only checks the first)."""
    document = copy.deepcopy(root)
    index = root.index(signature)
    own = document[index]
    document.remove(own)
    digest_value = own.findtext("ds:SignedInfo/ds:Reference/ds:DigestValue", namespaces=DS)
    if base64.b64decode(digest_value) != hashlib.sha256(c14n(document)).digest():
        return False
    signed_info = own.find("ds:SignedInfo", DS)
    value = base64.b64decode(own.findtext("ds:SignatureValue", namespaces=DS))
    key = identity.certificate.public_key()
    assert isinstance(key, rsa.RSAPublicKey)
    try:
        key.verify(value, c14n(signed_info), padding.PKCS1v15(), hashes.SHA256())
    except InvalidSignature:
        return False
    return True


@pytest.fixture(scope="module")
def unsigned(messages: MessageFactory) -> Callable[[], etree._Element]:
    return lambda: messages.envelope("ECOM_DECLARATION", SENDER)


@pytest.fixture(scope="module")
def signed(messages: MessageFactory) -> bytes:
    return messages.signed("ECOM_DECLARATION", SENDER)


@pytest.fixture(scope="module")
def sender(identity: Callable[[str], SigningIdentity]) -> SigningIdentity:
    return identity(SENDER)


@pytest.fixture(scope="module")
def test_ca(pki_dir: Path) -> CertificateAuthority:
    key = serialization.load_pem_private_key((pki_dir / "ca.key.pem").read_bytes(), password=None)
    return CertificateAuthority(key, load_certificates(pki_dir / "ca.pem")[0])  # type: ignore[arg-type]


def test_the_unmodified_sample_verifies_with_signxml(signed: bytes, sender: SigningIdentity) -> None:
    """The baseline every attack is measured against: signxml accepts the gateway's own signature."""
    assert signxml_verifies(signed, sender).tag == qname("Envelope")


# --- tampering ------------------------------------------------------------------


def test_body_changed_after_signing_alters_one_payload_text_and_nothing_else(signed: bytes, sender: SigningIdentity) -> None:
    original, attacked = parse(signed), parse(attacks.body_changed_after_signing(signed))

    before, after = leaf_texts(original), leaf_texts(attacked)
    changed = [path for path in before if before[path] != after[path]]
    assert len(changed) == 1
    (element,) = attacked.xpath(changed[0])
    assert qname("Content") in [ancestor.tag for ancestor in element.iterancestors()]
    assert c14n(signatures(attacked)[0]) == c14n(signatures(original)[0])
    with pytest.raises(signxml.exceptions.InvalidDigest):
        signxml_verifies(attacks.body_changed_after_signing(signed), sender)


def test_body_changed_after_signing_can_lower_a_named_value(signed: bytes) -> None:
    attacked = parse(attacks.body_changed_after_signing(signed, "customsValueVND"))

    values = payload(attacked).xpath("//*[local-name()='customsValueVND']/text()")
    originals = payload(parse(signed)).xpath("//*[local-name()='customsValueVND']/text()")
    assert values[0] == str(int(originals[0]) // 10)
    assert values[1:] == originals[1:]


@pytest.mark.parametrize(
    ("field", "value", "expected"),
    [
        (("Subject", "reference"), None, "10701234567"),
        (("To", "identity"), "OTHERGW", "OTHERGW"),
    ],
)
def test_header_changed_after_signing_alters_exactly_that_field(
    signed: bytes, field: tuple[str, ...], value: str | None, expected: str
) -> None:
    original = parse(signed)
    attacked = parse(attacks.header_changed_after_signing(signed, field, value))

    path = "e:Header/" + "/".join(f"e:{local}" for local in field)
    assert original.findtext(path, namespaces=E) != expected
    assert attacked.findtext(path, namespaces=E) == expected
    before, after = leaf_texts(original), leaf_texts(attacked)
    assert sum(before[p] != after[p] for p in before) == 1


def test_comment_in_text_splits_a_signed_text_and_keeps_the_signature_valid(signed: bytes, sender: SigningIdentity) -> None:
    data = attacks.comment_in_text(signed)
    original, attacked = parse(signed), parse(data)

    path = f"{qname('Header')}/{qname('Reference')}/{qname('messageId')}"
    full = original.findtext(path)
    element = attacked.find(path)
    assert element.text == full[:8]  # what a careless reader sees
    assert "".join(element.itertext(etree.Comment, with_tail=False)) == "" and len(element) == 1
    assert element.xpath("string()") == full  # the value that was signed
    assert signxml_verifies(data, sender).tag == qname("Envelope")


def test_two_signatures_appends_a_second_valid_enveloped_signature(signed: bytes, sender: SigningIdentity) -> None:
    original = parse(signed)
    attacked = parse(attacks.two_signatures(signed, sender))

    first, second = signatures(attacked)
    assert c14n(first) == c14n(signatures(original)[0])
    assert enveloped_signature_is_valid(attacked, second, sender)
    # the second covers the first, so the first no longer matches: a verifier must refuse the pair outright
    assert not enveloped_signature_is_valid(attacked, first, sender)


def test_signature_removed_leaves_exactly_the_unsigned_envelope(
    unsigned: Callable[[], etree._Element], messages: MessageFactory
) -> None:
    envelope = unsigned()
    signed = messages.sign(copy.deepcopy(envelope), SENDER)

    attacked = parse(attacks.signature_removed(signed))

    assert signatures(attacked) == []
    assert c14n(attacked) == c14n(envelope)


def test_key_info_removed_keeps_a_valid_signature_without_a_certificate(signed: bytes, sender: SigningIdentity) -> None:
    data = attacks.key_info_removed(signed)
    attacked = parse(data)

    (signature,) = signatures(attacked)
    assert signature.find("ds:KeyInfo", DS) is None
    assert [child.tag for child in signature] == [f"{{{DSIG_NS}}}SignedInfo", f"{{{DSIG_NS}}}SignatureValue"]
    assert signxml_verifies(data, sender).tag == qname("Envelope")


# --- wrapping -------------------------------------------------------------------


def test_wrap_in_object_forges_the_top_level_and_keeps_the_signed_original(signed: bytes, sender: SigningIdentity) -> None:
    original = parse(signed)
    attacked = parse(attacks.wrap_signed_copy_in_object(signed))

    (signature,) = signatures(attacked)
    (hidden,) = signature.findall("ds:Object/*", DS)
    assert hidden.tag == qname("Envelope")
    assert c14n(payload(attacked)) != c14n(payload(original))
    # put the genuine signature back on the hidden copy: the original signed envelope, still valid
    restored = copy.deepcopy(hidden)
    genuine = copy.deepcopy(signature)
    genuine.remove(genuine.find("ds:Object", DS))
    restored.append(genuine)
    assert c14n(restored) == c14n(original)
    assert signxml_verifies(etree.tostring(restored), sender).tag == qname("Envelope")


def test_wrap_in_wrapper_puts_the_intact_signed_envelope_under_a_new_root(signed: bytes, sender: SigningIdentity) -> None:
    attacked = parse(attacks.wrap_signed_envelope_in_wrapper(signed))

    assert attacked.tag == f"{{{attacks.WRAPPER_NS}}}Wrapper"
    (inner,) = attacked
    assert c14n(inner) == c14n(parse(signed))
    assert signxml_verifies(etree.tostring(inner), sender).tag == qname("Envelope")


def test_wrap_in_forged_envelope_hides_the_signed_original_as_last_child(signed: bytes, sender: SigningIdentity) -> None:
    original = parse(signed)
    attacked = parse(attacks.wrap_signed_envelope_in_forged_envelope(signed))

    assert attacked.tag == qname("Envelope") and signatures(attacked) == []
    assert c14n(payload(attacked)) != c14n(payload(original))
    hidden = attacked[-1]
    assert c14n(hidden) == c14n(original)
    assert signxml_verifies(etree.tostring(hidden), sender).tag == qname("Envelope")


@pytest.mark.parametrize(("where", "xpath"), [("content", "e:Body/e:Content/*"), ("body", "e:Body")])
def test_second_unsigned_content_puts_a_forgery_before_the_signed_content(
    signed: bytes, where: str, xpath: str
) -> None:
    original = parse(signed)
    attacked = parse(attacks.second_unsigned_content(signed, where))  # type: ignore[arg-type]

    forged, genuine = attacked.xpath(xpath, namespaces=E)
    (original_element,) = original.xpath(xpath, namespaces=E)
    assert c14n(genuine) == c14n(original_element)
    assert c14n(forged) != c14n(original_element)
    assert forged.tag == original_element.tag
    assert c14n(signatures(attacked)[0]) == c14n(signatures(original)[0])


# --- hand-built signatures --------------------------------------------------------


def test_reference_by_id_signs_only_the_header(unsigned: Callable[[], etree._Element], sender: SigningIdentity) -> None:
    envelope = unsigned()
    data = attacks.reference_by_id(envelope, sender, "hdr")
    attacked = parse(data)

    reference = attacked.find("ds:Signature/ds:SignedInfo/ds:Reference", DS)
    assert reference.get("URI") == "#hdr"
    assert attacked.find(qname("Header")).get("Id") == "hdr"
    covered = signxml_verifies(data, sender, id_attribute="Id")
    assert covered.tag == qname("Header")  # a correct signature, over the header alone
    assert envelope.find(qname("Header")).get("Id") is None  # the input was not modified


@pytest.mark.parametrize(("party", "method"), [(SENDER, attacks.RSA_SHA1), (EC_PARTY, attacks.ECDSA_SHA1)])
def test_sha1_signature_is_correct_except_for_the_algorithm(
    messages: MessageFactory, identity: Callable[[str], SigningIdentity], party: str, method: str
) -> None:
    signer = identity(party)
    envelope = messages.envelope("ECOM_DECLARATION", party)
    data = attacks.sha1_signature(envelope, signer)
    attacked = parse(data)

    signed_info = attacked.find("ds:Signature/ds:SignedInfo", DS)
    assert signed_info.find("ds:SignatureMethod", DS).get("Algorithm") == method
    assert signed_info.find("ds:Reference/ds:DigestMethod", DS).get("Algorithm") == attacks.SHA1_DIGEST
    digest = base64.b64decode(signed_info.findtext("ds:Reference/ds:DigestValue", namespaces=DS))
    assert digest == hashlib.sha1(c14n(without_signatures(attacked))).digest()
    sha1_methods = {SignatureMethod.RSA_SHA1, SignatureMethod.ECDSA_SHA1}
    config = SignatureConfiguration(
        signature_methods=frozenset(sha1_methods), digest_algorithms=frozenset({DigestAlgorithm.SHA1})
    )
    assert signxml_verifies(data, signer, expect_config=config).tag == qname("Envelope")
    with pytest.raises(signxml.exceptions.InvalidInput):  # signxml's default profile refuses SHA-1 too
        signxml_verifies(data, signer)


def test_signed_with_other_key_presents_one_certificate_and_uses_another_key(
    unsigned: Callable[[], etree._Element], sender: SigningIdentity, identity: Callable[[str], SigningIdentity]
) -> None:
    other = identity(OTHER)
    data = attacks.signed_with_other_key(unsigned(), sender, other)
    attacked = parse(data)

    (presented,) = attacked.findall("ds:Signature/ds:KeyInfo/ds:X509Data/ds:X509Certificate", DS)
    assert base64.b64decode(presented.text) == sender.certificate.public_bytes(serialization.Encoding.DER)
    with pytest.raises(signxml.exceptions.InvalidSignature):
        signxml_verifies(data, sender)
    assert signxml_verifies(data, other, ignore_ambiguous_key_info=True).tag == qname("Envelope")


# --- the XML layer ----------------------------------------------------------------


def test_with_doctype_adds_a_doctype_and_keeps_the_tree(signed: bytes) -> None:
    attacked = parse(attacks.with_doctype(signed))

    assert attacked.getroottree().docinfo.doctype.startswith("<!DOCTYPE Envelope")
    assert c14n(attacked) == c14n(parse(signed))


def test_xxe_references_an_external_entity_in_a_text_node(signed: bytes) -> None:
    data = attacks.xxe(signed)
    attacked = parse(data)

    (entity,) = attacked.getroottree().docinfo.internalDTD.iterentities()
    assert (entity.name, entity.system_url) == ("xxe", "file:///etc/passwd")
    reference = attacked.find(f"{qname('Header')}/{qname('Subject')}/{qname('reference')}")
    assert [type(node) for node in reference] == [etree._Entity] and reference[0].name == "xxe"
    assert b"<reference>&xxe;</reference>" in data


def test_xxe_really_leaks_the_target_through_a_careless_parser(signed: bytes, tmp_path: Path) -> None:
    """The attack is real: a parser that resolves entities puts the file into Subject/reference."""
    secret = tmp_path / "secret.txt"
    secret.write_text("s3cr3t-from-disk", encoding="utf-8")

    careless = etree.XMLParser(resolve_entities=True, load_dtd=True, no_network=True)
    leaked = etree.fromstring(attacks.xxe(signed, target=secret.as_uri()), careless)

    assert leaked.findtext(f"{qname('Header')}/{qname('Subject')}/{qname('reference')}") == "s3cr3t-from-disk"


def test_entity_bomb_expands_exponentially_when_expanded() -> None:
    careless = etree.XMLParser(resolve_entities=True, huge_tree=True)
    small = etree.fromstring(attacks.entity_bomb(levels=3, fanout=4), careless)
    assert small.text == "lol" * 4**3

    default = attacks.entity_bomb()
    assert len(default) < 2048  # ~10^10 characters once expanded
    assert default.count(b"<!ENTITY") == 11


def test_deep_nesting_has_the_requested_depth() -> None:
    root = etree.fromstring(attacks.deep_nesting(1000), etree.XMLParser(huge_tree=True))

    depth = max(len(list(element.iterancestors())) + 1 for element in root.iter())
    assert depth == 1000 and root.tag == qname("Envelope")


def test_huge_attribute_adds_one_attribute_of_the_requested_size(signed: bytes) -> None:
    attacked = parse(attacks.huge_attribute(5000, signed))

    assert attacked.get("padding") == "A" * 5000
    del attacked.attrib["padding"]
    assert c14n(attacked) == c14n(parse(signed))
    assert parse(attacks.huge_attribute(10)).tag == qname("Envelope")


def test_wrong_encoding_latin1_declared_utf8_is_invalid_utf8(signed: bytes) -> None:
    data = attacks.wrong_encoding(signed, "latin-1-declared-utf-8")

    assert b"encoding='UTF-8'" in data[:60]
    with pytest.raises(UnicodeDecodeError):
        data.decode("utf-8")
    assert "Công ty" in data.decode("iso-8859-1")


def test_wrong_encoding_late_declaration_hides_latin1_past_the_head(signed: bytes) -> None:
    data = attacks.wrong_encoding(signed, "declared-latin-1-late")

    assert b"encoding" not in data[:256]
    data.decode("ascii")  # so valid UTF-8 as well
    root = etree.fromstring(data)
    assert root.getroottree().docinfo.encoding == "ISO-8859-1"
    assert c14n(root) == c14n(parse(signed))


def test_wrong_encoding_latin1_adds_a_latin1_letter_to_an_ascii_body() -> None:
    ascii_body = b'<?xml version="1.0" encoding="UTF-8"?><Envelope xmlns="urn:x"><a>plain</a></Envelope>'
    with pytest.raises(UnicodeDecodeError):
        attacks.wrong_encoding(ascii_body, "latin-1-declared-utf-8").decode("utf-8")


@pytest.mark.parametrize(
    ("kind", "codec", "declared"),
    [("utf-16", "utf-16", "UTF-16"), ("declared-latin-1", "iso-8859-1", "ISO-8859-1")],
)
def test_wrong_encoding_honest_other_encodings_keep_the_tree(signed: bytes, kind: str, codec: str, declared: str) -> None:
    data = attacks.wrong_encoding(signed, kind)  # type: ignore[arg-type]

    assert f"encoding='{declared}'" in data.decode(codec)[:60]
    if kind == "utf-16":
        assert data.startswith((b"\xff\xfe", b"\xfe\xff"))
    assert c14n(etree.fromstring(data)) == c14n(parse(signed))


def test_with_processing_instruction_puts_a_stylesheet_pi_before_the_root(signed: bytes) -> None:
    attacked = parse(attacks.with_processing_instruction(signed))

    instruction = attacked.getprevious()
    assert isinstance(instruction, etree._ProcessingInstruction) and instruction.target == "xml-stylesheet"
    assert c14n(attacked) == c14n(parse(signed))


def test_not_well_formed_is_a_truncated_prefix(signed: bytes) -> None:
    data = attacks.not_well_formed(signed)

    assert signed.startswith(data) and len(data) < len(signed)
    with pytest.raises(etree.XMLSyntaxError):
        parse(data)


# --- credentials ------------------------------------------------------------------


def test_expired_identity_is_issued_by_the_ca_and_expired(test_ca: CertificateAuthority) -> None:
    expired = attacks.expired_identity(test_ca, "Expired Co", SENDER)

    expired.certificate.verify_directly_issued_by(test_ca.certificate)
    assert expired.certificate.not_valid_after_utc < dt.datetime.now(dt.UTC)


def test_foreign_ca_identity_is_not_issued_by_the_test_ca(test_ca: CertificateAuthority) -> None:
    foreign = attacks.foreign_ca_identity("Foreign Co", SENDER)

    assert foreign.certificate.issuer != test_ca.certificate.subject
    with pytest.raises((InvalidSignature, ValueError)):
        foreign.certificate.verify_directly_issued_by(test_ca.certificate)


def test_weak_rsa_identity_has_a_1024_bit_key(test_ca: CertificateAuthority) -> None:
    weak = attacks.weak_rsa_identity(test_ca, "Weak Co", SENDER)

    assert weak.private_key.key_size == 1024
    weak.certificate.verify_directly_issued_by(test_ca.certificate)


# --- signatures to order -----------------------------------------------------------


@pytest.mark.parametrize(
    ("canonicalization", "transforms"),
    [
        (EXC_C14N, (attacks.ENVELOPED_SIGNATURE, EXC_C14N)),
        ("http://www.w3.org/TR/2001/REC-xml-c14n-20010315", (attacks.ENVELOPED_SIGNATURE,)),
        ("http://www.w3.org/2006/12/xml-c14n11", (attacks.ENVELOPED_SIGNATURE, "http://www.w3.org/2006/12/xml-c14n11")),
    ],
)
def test_a_recipe_in_another_allowed_profile_verifies_with_signxml(
    unsigned: Callable[[], etree._Element], sender: SigningIdentity, canonicalization: str, transforms: tuple[str, ...]
) -> None:
    recipe = attacks.SignatureRecipe(
        "http://www.w3.org/2001/04/xmldsig-more#rsa-sha512", hashes.SHA512(),
        "http://www.w3.org/2001/04/xmldsig-more#sha384", hashes.SHA384(), canonicalization, transforms,
    )
    certificates = [sender.certificate.public_bytes(serialization.Encoding.DER)]
    data = attacks.signed_to_recipe(unsigned(), sender.private_key, certificates, recipe)

    signed_info = parse(data).find("ds:Signature/ds:SignedInfo", DS)
    assert signed_info.find("ds:CanonicalizationMethod", DS).get("Algorithm") == canonicalization
    written = [t.get("Algorithm") for t in signed_info.iterfind("ds:Reference/ds:Transforms/ds:Transform", DS)]
    assert written == list(transforms)
    assert signxml_verifies(data, sender).tag == qname("Envelope")


def test_a_recipe_without_certificates_writes_no_key_info(
    unsigned: Callable[[], etree._Element], sender: SigningIdentity
) -> None:
    data = attacks.signed_to_recipe(unsigned(), sender.private_key, None, attacks.SignatureRecipe.profile("rsa"))

    assert parse(data).find("ds:Signature/ds:KeyInfo", DS) is None
    assert signxml_verifies(data, sender).tag == qname("Envelope")


def test_a_recipe_can_name_an_algorithm_it_did_not_use(
    unsigned: Callable[[], etree._Element], sender: SigningIdentity
) -> None:
    dsa = "http://www.w3.org/2000/09/xmldsig#dsa-sha1"
    transforms = (attacks.ENVELOPED_SIGNATURE, attacks.XPATH_TRANSFORM)
    recipe = attacks.SignatureRecipe(dsa, hashes.SHA256(), transforms=transforms)

    root = parse(attacks.signed_to_recipe(unsigned(), sender.private_key, [], recipe))

    assert root.find("ds:Signature/ds:SignedInfo/ds:SignatureMethod", DS).get("Algorithm") == dsa
    (xpath,) = root.iterfind(".//ds:Transform/ds:XPath", DS)
    assert xpath.text == "not(ancestor-or-self::ds:Signature)"


# --- more XML attacks and harmless variations --------------------------------------


def test_signature_moved_keeps_the_signature_intact_inside_the_header(signed: bytes) -> None:
    attacked = parse(attacks.signature_moved(signed))

    assert signatures(attacked) == []
    (moved,) = attacked.find(qname("Header")).findall(f"{{{DSIG_NS}}}Signature")
    assert c14n(moved) == c14n(signatures(parse(signed))[0])


def test_external_dtd_names_an_external_subset(signed: bytes) -> None:
    attacked = parse(attacks.external_dtd(signed, "http://attacker.invalid/e.dtd"))

    assert attacked.getroottree().docinfo.system_url == "http://attacker.invalid/e.dtd"
    assert c14n(attacked) == c14n(parse(signed))


def test_undeclared_entity_references_an_entity_no_dtd_declares(signed: bytes) -> None:
    data = attacks.undeclared_entity(signed, entity="nobody")

    assert b"<reference>&nobody;</reference>" in data and b"<!DOCTYPE" not in data
    with pytest.raises(etree.XMLSyntaxError, match="nobody"):
        parse(data)


def test_trailing_content_adds_a_second_root(signed: bytes) -> None:
    with pytest.raises(etree.XMLSyntaxError, match="Extra content"):
        parse(attacks.trailing_content(signed))


def test_huge_text_puts_a_text_of_the_size_asked(signed: bytes) -> None:
    attacked = parse(attacks.huge_text(signed, 5000))

    assert attacked.findtext(f"{qname('Header')}/{qname('Subject')}/{qname('reference')}") == "A" * 5000


@pytest.mark.parametrize("size", [0, 1, 7, 8, 2_500_001])
def test_padded_makes_a_body_of_exactly_the_size_and_keeps_the_signature(
    signed: bytes, sender: SigningIdentity, size: int
) -> None:
    target = len(signed.rstrip()) + size
    data = attacks.padded(signed, target)

    assert len(data) == target
    assert c14n(parse(data)) == c14n(parse(signed))
    assert signxml_verifies(data, sender).tag == qname("Envelope")


def test_padded_refuses_to_shrink(signed: bytes) -> None:
    with pytest.raises(ValueError, match="more than"):
        attacks.padded(signed, 10)


@pytest.mark.parametrize("transform", [attacks.with_utf8_bom, attacks.as_character_references, attacks.text_as_cdata])
def test_harmless_variations_keep_the_tree_and_the_signature(
    signed: bytes, sender: SigningIdentity, transform: Callable[[bytes], bytes]
) -> None:
    data = transform(signed)

    assert data != signed
    assert c14n(parse(data)) == c14n(parse(signed))
    assert signxml_verifies(data, sender).tag == qname("Envelope")


def test_as_character_references_is_ascii(signed: bytes) -> None:
    data = attacks.as_character_references(signed)

    data.decode("ascii")
    assert b"&#" in data and not data.startswith(b"<?xml")


def test_a_processing_instruction_can_go_inside_an_element(signed: bytes) -> None:
    attacked = parse(attacks.with_processing_instruction(signed, "php", "x", inside=("Body", "Content")))

    instruction = attacked.find(f"{qname('Body')}/{qname('Content')}")[0]
    assert isinstance(instruction, etree._ProcessingInstruction) and instruction.target == "php"
