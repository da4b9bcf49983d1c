"""A Docker-less Lambda runtime for Python functions: each function version runs from its
deployment package in a small pool of worker processes.

One module per job: ``packages`` (zips extracted once, keyed by CodeSha256), ``spec``
(the function as the Lambda API holds it, and its environment), ``bootstrap`` (the
runtime inside a worker: handler import, invocations, log capture), ``process`` (one
worker over pipes, with timeouts and crashes), ``pool`` (workers per function version),
``logs`` (START/END/REPORT lines), ``invoker`` (:class:`LambdaRuntime`, the
FunctionInvoker the data plane uses).
"""
