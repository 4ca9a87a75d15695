"""The doors of the gateway: HTTP, SOAP and AMQP in. They read, then hand bytes to the pipeline."""
