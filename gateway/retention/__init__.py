"""Retention: signed archives of what the store may forget, and the purge that removes it after archiving."""
