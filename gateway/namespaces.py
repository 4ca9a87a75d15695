"""The gateway's own XML namespace: the envelope's (payload namespaces come from the document types' definitions)."""

ENVELOPE_NS = "urn:customs.gov.vn:ecom:envelope:1"
