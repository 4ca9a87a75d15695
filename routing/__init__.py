"""Routing accepted messages to their handlers: the routing table and the workers."""
