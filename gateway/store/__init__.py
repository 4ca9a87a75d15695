"""Durable storage of messages, parties and processing records (SQLAlchemy Core)."""
