"""localcloud: an AWS endpoint for one machine, on loopback.

moto serves every AWS API; a gateway in front of it takes over what moto does not do
faithfully: EventBridge's data plane (PutEvents, rule matching, cross-account delivery
through bus, queue, Logs and Lambda policies, one bus->bus hop, Lambda's asynchronous
invocation, RetryPolicy and dead-letter queues) and the pattern checks of PutRule and
TestEventPattern. It imports nothing of the project's other packages.

Run it: ``python -m localcloud --port 0`` prints ``listening: http://127.0.0.1:<port>``.
Embed it: :class:`localcloud.endpoint.Endpoint`. docs/local-cloud.md lists every
behaviour emulated, its AWS source and the known differences.

The modules, by job (each imports only modules listed before it):

- ``errors``, ``arns``, ``cache``, ``config``, ``ports``: typed errors, every ARN parsed
  or built, a bounded memo, the tuning, loopback and port checks;
- ``sigv4`` (Signature Version 4, verified), ``auth_errors`` (each protocol's answer to
  an unauthenticated request);
- ``patterns`` (EventBridge's pattern language), ``policy`` (IAM policy evaluation),
  ``permissions`` (the questions the data plane asks of policies), ``envelope``;
- ``state`` (the control plane as the data plane sees it) and ``moto_state`` (served
  from moto's backends: the only module that reads or writes them);
- ``trust`` (AssumeRole's trust decisions, the organization role);
- ``scheduling`` (routing thread, pool, timers, idle accounting), ``delivery`` (one
  delivery and its typed failures), ``queues`` (SQS sends), ``functions`` (the interface
  that invokes a Lambda function; worker processes today);
- ``admission`` (PutEvents validation, caller, bus, bus policies), ``matching`` (rules),
  ``lambda_async`` (Lambda's retries and destinations), ``retries`` (RetryPolicy, DLQs);
- ``targets/``: one class per target kind (bus, log group, SQS, Lambda, archive);
- ``identity`` (who signed a request), ``sts`` (the local STS's AssumeRole checks and
  service sessions), ``wire`` (a request as it arrived);
- ``control`` (the secret of the control routes ``/_local/*`` and ``/moto-api/*``);
- ``apigateway/``: REST APIs as Chalice imports them, served at their stage URLs
  ``/restapis/<id>/<stage>/_user_request_/<path>`` (route, permission, proxy event);
- ``router`` (orchestrates the above), ``gateway`` (the wire protocol), ``endpoint``
  (the server and its command line).

>>> import localcloud.ports
>>> localcloud.ports.DEFAULT_PORT
4566
"""
