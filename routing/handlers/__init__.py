"""Handlers: thin adapters from a stored message to a customs function, named in routes.toml.

A handler is a plain function `(message, context) -> str`: `message` is the
accepted message read back from the store (gateway.inbound.InboundMessage),
`context` the one transaction's world a customs function may use
(customs.context.Context). It returns a short description of what it did, which
the worker records with the processing in the same transaction, so an effect is
committed exactly once however often the broker delivers the message.

Nothing imports from this package: the worker loads handlers by the names in
routes.toml (their type is routing.processing.Handler).
"""
