"""Interop with xmlsec1 (the reference C implementation): what it signs, the gateway accepts.

The template uses exclusive C14N with an InclusiveNamespaces PrefixList naming `#default`
(the XML-DSig and Exclusive C14N recommendations define it as the default namespace), in
SignedInfo's CanonicalizationMethod and in the Reference's transform, over documents shaped
so that `#default` changes the canonical bytes of SignedInfo or of the document.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
from lxml import etree
from support import MessageFactory

from gateway.envelope import DSIG_NS
from gateway.pipeline import Pipeline, Transport
from gateway.signing.algorithms import ENVELOPED_SIGNATURE, EXC_C14N_NS, SHA256_DIGEST, signature_algorithm_for
from gateway.signing.keys import SigningIdentity
from gateway.signing.sign import serialize

pytestmark = [
    pytest.mark.stores("sqlite"),
    pytest.mark.skipif(shutil.which("xmlsec1") is None, reason="xmlsec1 is not installed (scripts/install installs it)"),
]

SENDER = "0309876543"


def as_sent(root: etree._Element) -> etree._Element:
    """The sample as it is: the envelope's namespace is the default, in scope (unused) at SignedInfo."""
    return root


def prefixed_with_payload_default(root: etree._Element) -> etree._Element:
    """The envelope's namespace on the prefix `env`, the payload's declared as the default on the root.

    Exclusive C14N renders that default namespace only where the payload uses it; with
    `#default` in the PrefixList it is rendered on the root instead: different bytes.
    """
    namespace = etree.QName(root).namespace
    payload = root.find(f"{{{namespace}}}Body/{{{namespace}}}Content/*")
    nsmap = {"env": namespace, None: etree.QName(payload).namespace}
    copy = etree.Element(f"{{{namespace}}}{etree.QName(root).localname}", nsmap=nsmap)
    copy.text = root.text
    copy.extend(list(root))
    return etree.fromstring(etree.tostring(copy))


def template(root: etree._Element, key_type: str, prefix_list: str) -> etree._Element:
    ds = lambda parent, local, **attrs: etree.SubElement(parent, f"{{{DSIG_NS}}}{local}", attrs, nsmap={"ds": DSIG_NS})  # noqa: E731
    signature = ds(root, "Signature")
    signed_info = ds(signature, "SignedInfo")
    method = ds(signed_info, "CanonicalizationMethod", Algorithm=EXC_C14N_NS)
    etree.SubElement(method, f"{{{EXC_C14N_NS}}}InclusiveNamespaces", PrefixList=prefix_list, nsmap={"ec": EXC_C14N_NS})
    ds(signed_info, "SignatureMethod", Algorithm=signature_algorithm_for(key_type).uri)
    reference = ds(signed_info, "Reference", URI="")
    transforms = ds(reference, "Transforms")
    ds(transforms, "Transform", Algorithm=ENVELOPED_SIGNATURE)
    c14n = ds(transforms, "Transform", Algorithm=EXC_C14N_NS)
    etree.SubElement(c14n, f"{{{EXC_C14N_NS}}}InclusiveNamespaces", PrefixList=prefix_list, nsmap={"ec": EXC_C14N_NS})
    ds(reference, "DigestMethod", Algorithm=SHA256_DIGEST)
    ds(reference, "DigestValue")
    ds(signature, "SignatureValue")
    ds(ds(signature, "KeyInfo"), "X509Data")
    return root


def xmlsec_sign(document: bytes, pki_dir: Path, party: str, directory: Path) -> bytes:
    unsigned = directory / "template.xml"
    unsigned.write_bytes(document)
    signed = directory / "signed.xml"
    key = f"{pki_dir / f'{party}.key.pem'},{pki_dir / f'{party}.cert.pem'}"
    subprocess.run(
        ["xmlsec1", "--sign", "--privkey-pem", key, "--output", str(signed), str(unsigned)],
        check=True, capture_output=True, timeout=60,
    )
    return signed.read_bytes()


@pytest.mark.parametrize("shape", [as_sent, prefixed_with_payload_default], ids=lambda shape: shape.__name__)
@pytest.mark.parametrize("prefix_list", ["#default", "#default ds", "ds"])
def test_a_document_signed_by_xmlsec1_with_default_in_the_prefix_list_is_accepted(
    prefix_list: str,
    shape: Callable[[etree._Element], etree._Element],
    messages: MessageFactory,
    identity: Callable[[str], SigningIdentity],
    pki_dir: Path,
    tmp_path: Path,
    pipeline: Pipeline,
) -> None:
    root = shape(messages.envelope("ECOM_DECLARATION", SENDER))
    document = serialize(template(root, identity(SENDER).key_type, prefix_list))

    body = xmlsec_sign(document, pki_dir, SENDER, tmp_path)
    outcome = pipeline.submit(body, Transport("http"))

    assert (outcome.status, outcome.codes) == (200, ()), outcome.codes


def test_default_with_an_attribute_prefix_that_cannot_be_known_is_a_profile_error(
    messages: MessageFactory, identity: Callable[[str], SigningIdentity], pki_dir: Path, tmp_path: Path, pipeline: Pipeline
) -> None:
    root = messages.envelope("ECOM_DECLARATION", SENDER)
    header = root[0]
    header.set("{urn:x}a", "1")
    document = serialize(template(root, identity(SENDER).key_type, "#default"))
    document = document.replace(b'xmlns:ns0="urn:x"', b'xmlns:ns0="urn:x" xmlns:other="urn:x"')

    outcome = pipeline.submit(xmlsec_sign(document, pki_dir, SENDER, tmp_path), Transport("http"))

    assert (outcome.status, outcome.codes) == (403, ("SIGNATURE_PROFILE",)), outcome.codes
