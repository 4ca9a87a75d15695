"""RabbitMQ: the topology, confirmed publishing, and the outbox relay."""
