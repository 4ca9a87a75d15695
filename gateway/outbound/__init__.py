"""What the gateway sends on its own account: signed envelopes stored in the outbox, then delivered."""
