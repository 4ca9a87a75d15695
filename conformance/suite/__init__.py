"""The conformance message suite: the manifest of cases, their generator, and the runner that drives a gateway.

manifest.toml ──► manifest (cases + generated families) ──► builder (sign as a party) ──► door ──► verdict
                                                                                                  │
                                                             progress, summary, JUnit, HTML ◄── runner
"""
