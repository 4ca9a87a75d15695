"""Which queues the AMQP door may publish a receipt to: only one the sender may own.

A `reply_to` is a queue name on the default exchange, and any queue reachable by name would
do: the gateway's own inbound, route and dead-letter queues, or another gateway's on a shared
broker. The door therefore replies only to names the broker itself gives out, which no client
can declare (RabbitMQ refuses to declare a name beginning with ``amq.``) and nobody can guess:

- ``amq.rabbitmq.reply-to.…``: RabbitMQ's direct reply-to, as the broker rewrites it on delivery;
- ``amq.gen-…``: a server-named queue (``queue_declare("", exclusive=True)``), as the client uses.
"""

from __future__ import annotations

DIRECT_REPLY_TO = "amq.rabbitmq.reply-to."
SERVER_NAMED = "amq.gen-"


def may_reply_to(queue: str) -> bool:
    """Whether a receipt may be published to `queue` (deny by default)."""
    return any(queue.startswith(prefix) and len(queue) > len(prefix) for prefix in (DIRECT_REPLY_TO, SERVER_NAMED))
