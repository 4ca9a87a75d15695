"""The AMQP door: partners publish signed envelopes to the inbound exchange.

A partner publishes to the fanout exchange ``{namespace}.inbound`` with
``reply_to`` naming its own queue (and ideally a ``correlation_id``); the
gateway runs the same pipeline as for HTTP and publishes the signed receipt to
that queue with the same correlation id. The inbound message is acknowledged
only after its receipt has been published (or, with no reply_to, after intake).
"""

from __future__ import annotations

import pika
import pika.exceptions
import structlog
from pika.adapters.blocking_connection import BlockingChannel
from pika.spec import Basic, BasicProperties

from gateway.adapters.http import XML_TYPES
from gateway.adapters.reply_to import may_reply_to
from gateway.broker.consumer import ConsumerLoop
from gateway.broker.publisher import Published
from gateway.errors import ErrorCode, Problem
from gateway.pipeline import Outcome, Pipeline, Transport

log = structlog.get_logger(__name__)


class AmqpDoor:
    def __init__(self, pipeline: Pipeline) -> None:
        self.pipeline = pipeline
        services = pipeline.services
        self._loop = ConsumerLoop(services.settings.broker, services.topology, "amqp-door")

    def run(self) -> None:
        self._loop.run(self._start)

    def stop(self, *_: object) -> None:
        self._loop.stop()

    def _start(self, connection: pika.BlockingConnection) -> None:
        services = self.pipeline.services
        channel = connection.channel()
        channel.basic_qos(prefetch_count=services.settings.broker.prefetch)
        channel.basic_consume(services.topology.inbound_queue, self._on_message)

    def _on_message(self, channel: BlockingChannel, method: Basic.Deliver, properties: BasicProperties, body: bytes) -> None:
        if self._loop.stopping.is_set():
            return  # left unacknowledged: the broker requeues it when the connection closes
        correlation_id = properties.correlation_id or properties.message_id
        # The connection's peer address is not known here; RabbitMQ refuses a user_id that is not the connection's user.
        transport = Transport("amqp", correlation_id, properties.user_id or properties.app_id)
        outcome = self._intake(body, properties, transport)
        if properties.reply_to and not may_reply_to(properties.reply_to):
            log.warning(
                "reply_to refused: not a queue the sender may own; receipt kept in the store only",
                reply_to=properties.reply_to[:255], correlation_id=correlation_id, message_id=outcome.message_id,
            )
        elif properties.reply_to:
            delivered = Published.OK is self.pipeline.services.publisher().publish(
                "",
                properties.reply_to,
                outcome.receipt,
                correlation_id=correlation_id,
                headers={"x-receipt-status": "accepted" if outcome.accepted else "rejected", "x-http-status": outcome.status},
            )
            if not delivered:
                log.warning("receipt could not be delivered to reply_to", reply_to=properties.reply_to, correlation_id=correlation_id)
        else:
            log.info("inbound AMQP message had no reply_to; receipt kept in the store only", correlation_id=correlation_id)
        channel.basic_ack(method.delivery_tag)

    def _intake(self, body: bytes, properties: BasicProperties, transport: Transport) -> Outcome:
        content_type = (properties.content_type or "").split(";")[0].strip().lower()
        if content_type and content_type not in XML_TYPES:
            problem = Problem(
                ErrorCode.CONTENT_TYPE_UNSUPPORTED,
                f"content type {properties.content_type!r} is not accepted; send application/xml",
            )
            return self.pipeline.refuse(transport, problem)
        return self.pipeline.submit(body, transport)
