"""The conformance material: sample envelopes, the attack library, and the message suite (manifest.toml, suite/)."""

from pathlib import Path

SAMPLES_DIR = Path(__file__).resolve().parent / "samples"

# Who sends each sample: a party of config/parties.toml whose roles allow the document type.
SAMPLE_SENDERS: dict[str, str] = {
    "ECOM_ORDER": "0101234567",
    "ECOM_DECLARATION": "0309876543",
    "INSPECTION_RESULT": "BYT",
    "PLATFORM_REGISTRATION": "0101234567",
    "POLICY_NOTICE": "BYT",
    "ATIGA_FORM_D": "SG-ASW",
    "ACDD": "SG-ASW",
    "RECEIPT": "VNSW",
    "LANE_NOTICE": "VNSW",
    "RESULT_NOTICE": "VNSW",
    "RISK_ALERT": "VNSW",
    "CUSTOMS_RESPONSE": "SG-ASW",
    "MESSAGE_QUERY": "0101234567",
    "MESSAGE_ACK": "0101234567",
}
