"""Revocation of signing certificates: CRLs fetched on a timer and checked in memory, OCSP on a miss.

See checker.py for the order of the sources and policy.py for what each policy makes of the answer.
"""
