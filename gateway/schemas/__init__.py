"""Document schemas: the built-in catalogue, operator schema packs, and validation."""
