"""The Python runtime inside one worker process: imports the handler, runs invocations.

Started by :mod:`localcloud.runtime.process` as ``python -I bootstrap.py`` with the
function's environment and the extracted deployment package as its working directory
(``LAMBDA_TASK_ROOT``). Standard library only: nothing of the local cloud is importable
from the function's code, as on Lambda.

Protocol (one JSON object per line): the worker writes ``{"ready": ...}`` once the
handler module is imported (or failed to import: the error is answered to every
invocation, as Lambda reports ``Runtime.ImportModuleError``), then reads invocations
``{"requestId", "payload", "remainingMs", "functionArn"}`` from stdin, acknowledges each
with ``{"started": requestId}`` as it takes it, and writes one reply each:
``{"requestId", "result"}`` or ``{"requestId", "error"}``, with the log lines the
invocation printed (``logs``) and the process's peak memory (``maxMemoryMb``).
Replies go to a private copy of the original stdout; the handler's ``print`` and logging
are captured for the function's log stream, as Lambda's runtime does.

>>> handler_parts("app.app")
('app', 'app')
>>> handler_parts("chalicelib/handlers.on_event")
('chalicelib.handlers', 'on_event')
>>> error_body(ValueError("boom"))["errorType"]
'ValueError'
"""

from __future__ import annotations

import importlib
import io
import json
import logging
import os
import resource
import sys
import threading
import time
import traceback
from typing import Any, TextIO

PARENT_POLL_S = 0.5


def handler_parts(handler: str) -> tuple[str, str]:
    """(module, attribute) of Lambda's handler setting ``file.function``; a path form
    ``dir/file.function`` names a module in a package, as Lambda accepts it."""
    module, _, attribute = handler.rpartition(".")
    if not module or not attribute:
        raise ValueError(f"Bad handler '{handler}': not enough values to unpack "
                         "(expected 2, got 1)")
    return module.replace("/", "."), attribute


def error_body(exc: BaseException, error_type: str | None = None) -> dict[str, Any]:
    """A function error as Lambda's Python runtime reports it (errorMessage, errorType,
    stackTrace; Lambda Developer Guide, "AWS Lambda function errors in Python")."""
    stack = traceback.format_tb(exc.__traceback__)
    return {"errorMessage": str(exc), "errorType": error_type or type(exc).__name__,
            "requestId": "", "stackTrace": [line.rstrip("\n") for line in stack]}


class LambdaContext:
    """The context object of one invocation (Lambda Developer Guide, "Using the Lambda
    context object to retrieve Python function information")."""

    def __init__(self, request: dict[str, Any]) -> None:
        self.function_name = os.environ.get("AWS_LAMBDA_FUNCTION_NAME", "")
        self.function_version = os.environ.get("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        self.invoked_function_arn = str(request.get("functionArn", ""))
        self.memory_limit_in_mb = int(os.environ.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128"))
        self.aws_request_id = str(request["requestId"])
        self.log_group_name = os.environ.get("AWS_LAMBDA_LOG_GROUP_NAME", "")
        self.log_stream_name = os.environ.get("AWS_LAMBDA_LOG_STREAM_NAME", "")
        self.identity = None
        self.client_context = None
        self._deadline = time.monotonic() + float(request.get("remainingMs", 3000)) / 1000

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


class Capture(io.TextIOBase):
    """stdout/stderr of the function: lines kept for the current invocation's log."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self._partial = ""
        self._lock = threading.Lock()

    def write(self, text: str) -> int:
        with self._lock:
            self._partial += text
            *complete, self._partial = self._partial.split("\n")
            self.lines.extend(complete)
        return len(text)

    def take(self) -> list[str]:
        with self._lock:
            if self._partial:
                self.lines.append(self._partial)
                self._partial = ""
            lines, self.lines = self.lines, []
        return lines


class _RequestIdFilter(logging.Filter):
    request_id = ""

    def filter(self, record: logging.LogRecord) -> bool:
        record.aws_request_id = self.request_id
        return True


def _logging(capture: Capture) -> _RequestIdFilter:
    """Lambda's Python runtime logs ``[LEVEL]\\t<time>\\t<request id>\\t<message>``."""
    handler = logging.StreamHandler(capture)
    request_filter = _RequestIdFilter()
    handler.addFilter(request_filter)
    handler.setFormatter(logging.Formatter(
        "[%(levelname)s]\t%(asctime)s.%(msecs)03dZ\t%(aws_request_id)s\t%(message)s",
        "%Y-%m-%dT%H:%M:%S"))
    logging.Formatter.converter = time.gmtime
    root = logging.getLogger()
    root.handlers = [handler]
    root.setLevel(logging.WARNING)
    return request_filter


def _max_memory_mb() -> int:
    return int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)


def _die_with_parent() -> None:
    """Exit when the process that started this one is gone, even mid-invocation.

    Polled, not prctl(PR_SET_PDEATHSIG): that signal fires when the parent *thread*
    exits, and the local cloud starts workers from short-lived request threads.
    """
    parent = os.getppid()

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(PARENT_POLL_S)
        os._exit(1)

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


def _load(handler: str) -> Any:
    try:
        module_name, attribute = handler_parts(handler)
    except ValueError as exc:
        return error_body(exc, "Runtime.MalformedHandlerName")
    try:
        module = importlib.import_module(module_name)
    except Exception as exc:
        body = error_body(exc, "Runtime.ImportModuleError")
        body["errorMessage"] = f"Unable to import module '{module_name}': {exc}"
        return body
    try:
        return getattr(module, attribute)
    except AttributeError:
        return {"errorMessage": f"Handler '{attribute}' missing on module '{module_name}'",
                "errorType": "Runtime.HandlerNotFound", "requestId": "", "stackTrace": []}


def _run(function: Any, request: dict[str, Any]) -> dict[str, Any]:
    try:
        event = json.loads(request["payload"])
    except ValueError as exc:
        return {"error": error_body(exc, "Runtime.UnmarshalError")}
    try:
        result = function(event, LambdaContext(request))
    except Exception as exc:  # the function's error, as Lambda reports it
        traceback.print_exc()
        return {"error": error_body(exc)}
    try:
        return {"result": json.dumps(result)}
    except (TypeError, ValueError) as exc:
        return {"error": {"errorMessage": f"Unable to marshal response: {exc}",
                          "errorType": "Runtime.MarshalError", "requestId": "",
                          "stackTrace": []}}


def main() -> int:
    """Serve invocations on stdin/stdout until stdin closes."""
    _die_with_parent()
    replies: TextIO = os.fdopen(os.dup(1), "w", encoding="utf-8")
    requests: TextIO = os.fdopen(os.dup(0), "r", encoding="utf-8")
    os.dup2(2, 1)  # C-level writes to stdout cannot corrupt the replies
    sys.stdin = open(os.devnull, encoding="utf-8")  # noqa: SIM115
    capture = Capture()
    sys.stdout = sys.stderr = capture
    request_filter = _logging(capture)
    task_root = os.environ.get("LAMBDA_TASK_ROOT", os.getcwd())
    sys.path[0:1] = [task_root]  # not this file's folder: the function's code
    started = time.monotonic()
    loaded = _load(os.environ.get("_HANDLER", ""))
    init_failed = isinstance(loaded, dict)
    if init_failed:
        print(json.dumps(loaded))
    replies.write(json.dumps({"ready": {"initMs": (time.monotonic() - started) * 1000,
                                        "logs": capture.take()}}) + "\n")
    replies.flush()
    for line in requests:
        request = json.loads(line)
        # Taken (Lambda's runtime has fetched the invocation): a worker that dies before
        # this line never saw it, and the invocation goes to another worker.
        replies.write(json.dumps({"started": request["requestId"]}) + "\n")
        replies.flush()
        request_filter.request_id = str(request["requestId"])
        started = time.monotonic()
        reply: dict[str, Any] = {"error": {**loaded}} if init_failed \
            else _run(loaded, request)
        if "error" in reply:
            reply["error"]["requestId"] = request["requestId"]
        reply.update(requestId=request["requestId"], logs=capture.take(),
                     durationMs=(time.monotonic() - started) * 1000,
                     maxMemoryMb=_max_memory_mb())
        replies.write(json.dumps(reply) + "\n")
        replies.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
