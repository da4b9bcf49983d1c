"""The rule targets the data plane delivers to: one small class per kind, behind one
interface (:class:`~localcloud.targets.base.TargetKind`).

- :mod:`~localcloud.targets.bus`: another event bus (one hop, a role, the receiving
  bus's policy);
- :mod:`~localcloud.targets.log_group`: a CloudWatch Logs log group (the Logs resource
  policy);
- :mod:`~localcloud.targets.queue`: an SQS queue (the queue policy);
- :mod:`~localcloud.targets.function`: a Lambda function (its resource policy, then
  Lambda's asynchronous invocation);
- :mod:`~localcloud.targets.archive`: an archive (the rule moto's CreateArchive makes).

A new kind (SNS, Step Functions, API destinations) is one more module and one more entry
in the router's list.
"""
