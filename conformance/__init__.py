"""The conformance material: the samples, the attack library, and the message suite (manifest.toml, suite/).

The samples are the built-in document types' own (gateway/schemas/packs/<type>/sample.xml),
read through the gateway's catalogue, which compiles nothing: the suite also runs
against remote gateways. `conformance/samples/<type>.xml` links to each of them.
"""

from pathlib import Path

from gateway.schemas.catalogue import Sample, builtin

SAMPLES_DIR = Path(__file__).resolve().parent / "samples"

SAMPLE_SENDERS: dict[str, str] = {
    name: definition.sample.sender for name, definition in builtin().items() if definition.sample is not None
}
"""Who sends each sample (its From/identity): a party of config/parties.toml whose roles allow the type."""


def sample(document_type: str) -> Sample:
    """The sample of a built-in document type; KeyError when there is none."""
    found = builtin()[document_type].sample
    if found is None:
        raise KeyError(f"the document type {document_type} has no sample")
    return found
