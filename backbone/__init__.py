"""The shared library of every backbone service.

Small modules with one job each; none of them needs an environment variable,
credentials or network at import time (heavy libraries are imported at first use):

- ``settings``       the environment variables a service reads, read lazily;
- ``envelope``       ``detail = {"data": ..., "meta": {"correlationId": ...}}`` and the
                     parsed :class:`~backbone.envelope.Event` handlers receive;
- ``validation``     JSON Schema checks of every detail-type (``schemas/*.json``);
- ``catalog``        the detail-types, their producers, schema files and examples;
- ``publisher``      batched ``PutEvents`` to the global bus with bounded retries;
- ``subscriptions``  ``@subscribe``: a Lambda function fed by a rule on the local bus;
- ``store``          the service's single DynamoDB table (``pk``/``sk``);
- ``idempotency``    ``claim``: change state once, publish once, under duplicates;
- ``observability``  Powertools Logger (JSON) and Metrics (EMF);
- ``tracing``        OpenTelemetry spans, one per hop; W3C ``traceparent`` in ``meta``;
- ``trace_file``     spans as OTLP JSON lines in a file (written and read).
"""
