"""Processing handlers: one module per business capability.

A handler is a callable ``(message: InboundMessage, tx: Connection) -> str``. It
does its work inside the worker's transaction `tx` and returns a short outcome
text; the worker records that the handler has processed the message in the same
transaction, so an effect is committed exactly once however often the broker
delivers the message.
"""
