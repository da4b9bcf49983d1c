"""The Lambda runtime: every Python function, run from its deployment package.

:class:`LambdaRuntime` is a :class:`~localcloud.functions.FunctionInvoker`: the router's
Lambda targets, the Invoke API and API Gateway all invoke through it. Per function
version (code, handler, role, memory, variables) it keeps a :class:`Pool` of up to
``pool_size`` worker processes started from the extracted zip, with the function's
environment and its execution role's credentials (the role assumed by
``lambda.amazonaws.com``, session named after the function, as on AWS). Each invocation's
log (START, output, END, REPORT) goes to CloudWatch Logs ``/aws/lambda/<name>``.

>>> from localcloud.moto_state import MotoState
>>> runtime = LambdaRuntime(MotoState(), endpoint_url="http://127.0.0.1:4566")
>>> runtime.unavailable("arn:aws:lambda:eu-west-1:999999999999:function:nothing")
'function arn:aws:lambda:eu-west-1:999999999999:function:nothing does not exist'
>>> runtime.stop()
"""

from __future__ import annotations

import json
import logging
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from localcloud.errors import AwsApiError
from localcloud.functions import FunctionUnreachable, InvocationResult
from localcloud.runtime.logs import invocation_log
from localcloud.runtime.packages import BadPackage, PackageStore
from localcloud.runtime.pool import Pool, PoolExhausted
from localcloud.runtime.process import WorkerProcess, WorkerStartError
from localcloud.runtime.spec import (
    Credentials,
    DeployedFunction,
    LambdaState,
    function_environment,
    log_stream_name,
)
from localcloud.sts import LocalSts

log = logging.getLogger(__name__)

LAMBDA_PRINCIPAL = "lambda.amazonaws.com"
DEFAULT_POOL_SIZE = 4
# How long an interpreter may take to import the handler's module (Lambda's init phase
# is limited to 10 s for on-demand functions; a loaded machine needs more locally).
READY_TIMEOUT_S = 60.0
# How long an invocation waits for a busy pool before it counts as throttled.
ACQUIRE_TIMEOUT_S = 120.0
# How many workers one invocation is handed to when each dies before taking it.
MAX_HANDOVERS = 3
# A worker keeps its execution role's session for its whole life; Lambda refreshes the
# credentials of a long-lived environment, here the session simply lasts STS's maximum.
EXECUTION_ROLE_SESSION_S = 43200


class LambdaRuntime:
    """Runs invocations in pools of worker processes, one pool per function version."""

    def __init__(self, state: LambdaState, *, endpoint_url: str,
                 pool_size: int = DEFAULT_POOL_SIZE, workdir: Path | None = None,
                 on_worker_lost: Callable[[str], None] | None = None,
                 on_credentials: Callable[[str], None] | None = None) -> None:
        self.state = state
        # Told the access key of every execution role session a worker gets (the
        # endpoint serves them while draining: localcloud.drain).
        self.on_credentials = on_credentials or (lambda _access_key: None)
        self._sts = LocalSts(state)
        self.endpoint_url = endpoint_url
        self.pool_size = pool_size
        self._workdir = workdir
        self._packages: PackageStore | None = None
        self._pools: dict[str, tuple[tuple[object, ...], Pool[WorkerProcess]]] = {}
        self._lock = threading.Lock()
        self.on_worker_lost = on_worker_lost or (lambda line: log.warning("%s", line))
        self.workers_lost = 0

    # -- FunctionInvoker ----------------------------------------------------------------

    def unavailable(self, function_arn: str) -> str | None:
        function = self.state.deployed_function(function_arn)
        if function is None:
            return f"function {function_arn} does not exist"
        return function.unrunnable()

    def invoke(self, function_arn: str, payload: str, *, timeout_s: float,
               request_id: str) -> InvocationResult:
        function = self.state.deployed_function(function_arn)
        if function is None:
            raise FunctionUnreachable("function", function_arn, "it does not exist")
        why_not = function.unrunnable()
        if why_not is not None:
            raise FunctionUnreachable("function", function_arn, why_not)
        pool = self._pool(function)
        for attempt in range(1, MAX_HANDOVERS + 1):
            try:
                worker = self._live_worker(pool, function,
                                           max(ACQUIRE_TIMEOUT_S, 2 * timeout_s))
            except PoolExhausted as exc:
                raise FunctionUnreachable("function", function_arn,
                                          f"throttled: {exc}") from None
            except (WorkerStartError, BadPackage, RoleNotAssumable) as exc:
                error = {"errorMessage": f"RequestId: {request_id} Error: {exc}",
                         "errorType": "Runtime.ExitError" if isinstance(exc, WorkerStartError)
                         else type(exc).__name__}
                return InvocationResult(200, error, "Unhandled", [str(exc)])
            cold = worker.invocations == 0
            reply = worker.invoke(request_id=request_id, function_arn=function_arn,
                                  payload=payload, timeout_s=timeout_s)
            pool.release(worker, healthy=not reply.worker_lost)
            if reply.never_started and attempt < MAX_HANDOVERS:
                self._lost(function, worker, f"exited while idle (before it took {request_id}, "
                                             "which goes to another worker)")
                continue
            if reply.worker_lost and not reply.timed_out:
                self._lost(function, worker, f"exited during {request_id}: "
                                             f"{(reply.error or {}).get('errorMessage')}")
            break
        lines = invocation_log(
            request_id, function.version,
            [*(worker.init_logs if cold else ()), *reply.logs],
            duration_ms=reply.duration_ms, memory_mb=function.memory_mb,
            max_memory_mb=reply.max_memory_mb, init_ms=worker.init_ms if cold else None,
            timed_out_after=timeout_s if reply.timed_out else None)
        self._write_logs(function, worker.log_stream, lines)
        if reply.error is not None:
            return InvocationResult(200, reply.error, "Unhandled", lines)
        return InvocationResult(200, json.loads(reply.result or "null"), None, lines)

    def _live_worker(self, pool: Pool[WorkerProcess], function: DeployedFunction,
                     timeout_s: float) -> WorkerProcess:
        """A worker of the pool that is still alive: one that died while idle (a crash, a
        ``kill -9``) is replaced before it is given an invocation, and said so."""
        while True:
            worker = pool.acquire(timeout_s)
            if worker.alive:
                return worker
            pool.release(worker, healthy=False)
            self._lost(function, worker,
                       f"exited while idle (code {worker.process.returncode})")

    def _lost(self, function: DeployedFunction, worker: WorkerProcess, how: str) -> None:
        self.workers_lost += 1
        self.on_worker_lost(f"lambda: the worker of {function.name} (pid {worker.pid}) "
                            f"{how}; replaced")

    def stop(self) -> None:
        """Stop every worker and remove the extracted packages."""
        with self._lock:
            pools, self._pools = list(self._pools.values()), {}
        for _, pool in pools:
            pool.close()
        if self._packages is not None:
            self._packages.clear()

    # -- workers --------------------------------------------------------------------------

    def _pool(self, function: DeployedFunction) -> Pool[WorkerProcess]:
        """The pool of this exact function version; a changed one replaces the old pool."""
        key = f"{function.arn}:{function.version}"
        with self._lock:
            current = self._pools.get(key)
            if current is not None and current[0] == function.revision:
                return current[1]
            pool: Pool[WorkerProcess] = Pool(lambda: self._start(function),
                                             size=self.pool_size, stop=WorkerProcess.stop)
            self._pools[key] = (function.revision, pool)
        if current is not None:
            current[1].close()
        return pool

    def _start(self, function: DeployedFunction) -> WorkerProcess:
        root = self._store().extracted(function.code_key,
                                       lambda: self.state.function_zip(function))
        try:
            session = self._sts.assume_role_as_service(
                function.role, LAMBDA_PRINCIPAL, source_arn=function.arn,
                source_account=function.account, session_name=function.name[:64],
                duration_s=EXECUTION_ROLE_SESSION_S)
        except AwsApiError as exc:
            raise RoleNotAssumable(f"The role defined for the function cannot be assumed "
                                   f"by Lambda: {function.role}") from exc
        credentials = Credentials(session.access_key, session.secret,
                                  session.session_token or "")
        self.on_credentials(credentials.access_key_id)
        stream = log_stream_name(time.time(), function.version, uuid.uuid4().hex)
        environment = function_environment(function, credentials=credentials,
                                           endpoint=self.endpoint_url, task_root=str(root),
                                           log_stream=stream)
        return WorkerProcess.start(task_root=root, environment=environment, log_stream=stream,
                                   ready_timeout_s=READY_TIMEOUT_S)

    def _store(self) -> PackageStore:
        with self._lock:
            if self._packages is None:
                root = self._workdir or Path(tempfile.mkdtemp(prefix="localcloud-lambda-"))
                self._packages = PackageStore(root)
            return self._packages

    def _write_logs(self, function: DeployedFunction, stream: str, lines: list[str]) -> None:
        try:
            self.state.write_function_logs(function.region, function.account,
                                           function.log_group, stream, lines)
        except Exception:  # logs are best effort: the invocation's outcome stands
            log.exception("cannot write the log of %s", function.name)


class RoleNotAssumable(Exception):
    """The execution role is missing or does not trust lambda.amazonaws.com."""


def result_body(result: InvocationResult) -> bytes:
    """The Invoke API's response body: the function's JSON result or error body.

    >>> result_body(InvocationResult(200, {"ok": 1}))
    b'{"ok": 1}'
    """
    payload: Any = result.payload
    return json.dumps(payload).encode("utf-8")
