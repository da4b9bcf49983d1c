"""One service of the local cloud: its Chalice routes and its Lambda handlers, in one process.

``local up`` starts one worker per service and writes its resolved configuration (a
:class:`~infra_bootstrap.local.handoff.WorkerSpec`, JSON) to the worker's stdin::

    python -m infra_bootstrap.local.worker --service order-service \\
        --parent-pid 1234 --ready-fd 5 < order-service.json

The worker runs what the spec says, and derives nothing itself: it never reads the
topology or Chalice's configuration. It holds that service account's credentials only
(no profile, config file or instance metadata is consulted), runs with the environment
of the service's Chalice stage plus ``AWS_ENDPOINT_URL``, imports each function's handler
as Lambda does (``app.on_order_created``: module ``app`` from the service's folder),
serves the Chalice routes with Chalice's own local dev server (``chalice.local``) and
answers Lambda ``Invoke`` requests for its functions on a threaded server, so the
router's deliveries run concurrently. Each handler gets the event as the router posts it
and a Lambda context whose remaining time counts down from the function's deployed
timeout. Once both servers accept requests it writes one JSON line to ``--ready-fd`` (its
invoke URL, its API port, its function ARNs; ``local up`` registers them with the
router), and it exits when its parent dies or on SIGTERM.
"""

from __future__ import annotations

import argparse
import ctypes
import importlib
import json
import os
import signal
import sys
import threading
import time
import traceback
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import IO, Any

from infra_bootstrap.local.api_requests import handler_class
from infra_bootstrap.local.handoff import API_HANDLER, ApiSpec, FunctionSpec, WorkerSpec

HOST = "127.0.0.1"
INVOKE_PATH_PREFIX = "/2015-03-31/functions/"
INVOKE_PATH_SUFFIX = "/invocations"
# Linux prctl option: deliver this signal when the parent thread dies (prctl(2)).
PR_SET_PDEATHSIG = 1
PARENT_POLL_SECONDS = 0.5
LISTEN_BACKLOG = 256
# In the handlers' environment besides the account's keys: boto3 finds no other source of
# credentials (shared files, EC2 instance metadata) even if a handler drops those keys.
CREDENTIAL_ISOLATION = {"AWS_CONFIG_FILE": os.devnull,
                        "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
                        "AWS_EC2_METADATA_DISABLED": "true"}


@dataclass(frozen=True)
class InvokeResult:
    """What the Lambda Invoke API answers: status, headers and the JSON body."""

    status: int
    headers: Mapping[str, str]
    body: bytes


def invoke(handler: Callable[[Any, Any], Any], event: Any, context: Any) -> InvokeResult:
    """Run one handler as Lambda does; a raised exception becomes a function error.

    Lambda's Invoke answers 200 in both cases; a function error is flagged by the
    ``X-Amz-Function-Error: Unhandled`` header and a body with ``errorMessage``,
    ``errorType`` and ``stackTrace`` (Lambda API Reference, Invoke; Lambda Developer
    Guide, "AWS Lambda function errors in Python").

    >>> invoke(lambda e, c: {"ok": e}, 1, None).body
    b'{"ok": 1}'
    >>> invoke(lambda e, c: 1 / 0, 1, None).headers
    {'Content-Type': 'application/json', 'X-Amz-Function-Error': 'Unhandled'}
    """
    try:
        result = handler(event, context)
    except Exception as exc:  # the function's error, reported the way Lambda reports it
        stack = traceback.format_tb(exc.__traceback__)
        traceback.print_exc(file=sys.stderr)
        body = {"errorMessage": str(exc), "errorType": type(exc).__name__,
                "stackTrace": [line.rstrip("\n") for line in stack]}
        return InvokeResult(200, {"Content-Type": "application/json",
                                  "X-Amz-Function-Error": "Unhandled"},
                            json.dumps(body).encode())
    return InvokeResult(200, {"Content-Type": "application/json"},
                        json.dumps(result, default=str).encode())


def function_name_of(path: str) -> str | None:
    """The function named in an Invoke path, or None for any other path.

    >>> function_name_of("/2015-03-31/functions/order-service-local-on_x/invocations")
    'order-service-local-on_x'
    >>> function_name_of("/orders") is None
    True
    """
    path = path.split("?", 1)[0]
    if not (path.startswith(INVOKE_PATH_PREFIX) and path.endswith(INVOKE_PATH_SUFFIX)):
        return None
    name = path[len(INVOKE_PATH_PREFIX):-len(INVOKE_PATH_SUFFIX)]
    # The path may carry the full ARN instead of the name, as Lambda's API allows.
    return name.rsplit(":function:", 1)[-1].split(":", 1)[0] or None


def log_stream_name(now: float, instance: str) -> str:
    """A Lambda log stream name: ``YYYY/MM/DD/[$LATEST]<instance id>``. Pure.

    >>> log_stream_name(0, "0123abcd")
    '1970/01/01/[$LATEST]0123abcd'
    """
    return time.strftime("%Y/%m/%d/", time.gmtime(now)) + f"[$LATEST]{instance}"


@dataclass(frozen=True)
class Registered:
    """A function this worker serves: what was deployed, and the code behind it."""

    function: FunctionSpec
    handler: Callable[[Any, Any], Any]
    log_stream_name: str


class LambdaContext:
    """The context object a Python handler receives, for one invocation.

    Attributes and method as the Lambda Developer Guide lists them ("Lambda context
    object in Python"); the remaining time counts down from the function's timeout.

    >>> f = FunctionSpec("s-local-f", "arn:aws:lambda:eu-west-1:1:function:s-local-f",
    ...                  "app.f", 3, 256, "/aws/lambda/s-local-f")
    >>> c = LambdaContext(Registered(f, print, "x"), "r-1")
    >>> c.memory_limit_in_mb, 2900 < c.get_remaining_time_in_millis() <= 3000
    (256, True)
    """

    def __init__(self, registered: Registered, request_id: str) -> None:
        function = registered.function
        self.function_name = function.function_name
        self.function_version = "$LATEST"
        self.invoked_function_arn = function.arn
        self.memory_limit_in_mb = function.memory_mb
        self.aws_request_id = request_id
        self.log_group_name = function.log_group
        self.log_stream_name = registered.log_stream_name
        self.identity = None
        self.client_context = None
        self._deadline = time.monotonic() + function.timeout_seconds

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


def invoke_handler_class(functions: Mapping[str, Registered]) -> type[BaseHTTPRequestHandler]:
    """The request handler of the invoke server: Lambda's Invoke API for ``functions``
    (function name -> what runs it)."""
    class InvokeHandler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            name = function_name_of(self.path)
            length = int(self.headers.get("Content-Length") or 0)
            payload = self.rfile.read(length) if length else b""
            registered = functions.get(name or "")
            if registered is None:
                self._send(404, {"Content-Type": "application/json",
                                 "x-amzn-ErrorType": "ResourceNotFoundException"},
                           json.dumps({"Type": "User", "Message":
                                       f"Function not found: {name}"}).encode())
                return
            try:
                event = json.loads(payload or b"{}")
            except ValueError:
                self._send(400, {"Content-Type": "application/json",
                                 "x-amzn-ErrorType": "InvalidRequestContentException"},
                           b'{"Type": "User", "Message": "Could not parse request body"}')
                return
            request_id = self.headers.get("X-Amzn-RequestId") or str(uuid.uuid4())
            context = LambdaContext(registered, request_id)
            result = invoke(registered.handler, event, context)
            self._send(result.status, {**result.headers, "X-Amzn-RequestId": request_id},
                       result.body)

        def do_GET(self) -> None:
            if self.path == "/_local/health":
                self._send(200, {"Content-Type": "application/json"}, b'{"ok": true}')
            else:
                self._send(404, {"Content-Type": "application/json"}, b'{"message": "no route"}')

        def _send(self, status: int, headers: Mapping[str, str], body: bytes) -> None:
            self.send_response(status)
            for key, value in headers.items():
                self.send_header(key, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            sys.stderr.write(f"invoke: {format % args}\n")

    return InvokeHandler


class InvokeServer(ThreadingHTTPServer):
    # socketserver's default listen backlog is 5: a burst of concurrent deliveries
    # would see connection resets.
    request_queue_size = LISTEN_BACKLOG
    daemon_threads = True


def api_server(app: Any, stage: str, api: ApiSpec) -> Any:
    """Chalice's local dev server (as ``chalice local`` builds it), with a deeper backlog.

    Same steps as ``chalice.local.create_local_server``, with a server class whose listen
    backlog takes a burst of concurrent clients (socketserver's default is 5). The API
    handler's timeout and memory are the ones ``local up`` resolved.
    """
    from chalice.config import Config
    from chalice.local import (
        ChaliceRequestHandler,
        CustomLocalChalice,
        LocalChalice,
        LocalDevServer,
        ThreadedHTTPServer,
    )

    limits = {"lambda_timeout": api.lambda_timeout, "lambda_memory_size": api.lambda_memory_size}
    config = Config(chalice_stage=stage, user_provided_params={
        key: value for key, value in limits.items() if value is not None})

    class Server(ThreadedHTTPServer):
        request_queue_size = LISTEN_BACKLOG

    # Per-thread current_request, as create_local_server does, so requests run concurrently.
    CustomLocalChalice.__bases__ = (LocalChalice, app.__class__)
    app.__class__ = CustomLocalChalice
    # Bodies read as API Gateway reads them: chunked honoured, short ones a 400, not a hang.
    return LocalDevServer(app, config, HOST, api.port, server_cls=Server,
                          handler_cls=handler_class(ChaliceRequestHandler))


def die_with_parent(parent_pid: int, on_parent_death: Callable[[], None]) -> None:
    """Stop this process when ``parent_pid`` goes away, even if it was SIGKILLed.

    On Linux the kernel sends SIGTERM when the parent dies (prctl PR_SET_PDEATHSIG); a
    polling thread covers other systems and the window before prctl took effect.
    """
    if sys.platform.startswith("linux"):
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
        except (OSError, AttributeError):
            pass

    def watch() -> None:
        while True:
            if os.getppid() != parent_pid:
                on_parent_death()
                return
            time.sleep(PARENT_POLL_SECONDS)

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


def lambda_environment(current: Mapping[str, str], *, credentials: Mapping[str, str],
                       endpoint: str, region: str,
                       variables: Mapping[str, str]) -> dict[str, str]:
    """The handlers' environment: no ``AWS_*`` variable of ``current`` survives; the
    account's credentials, region and endpoint, the stage's variables. Pure.

    >>> env = lambda_environment({"PATH": "/bin", "AWS_PROFILE": "prod"},
    ...     credentials={"AWS_ACCESS_KEY_ID": "k"}, endpoint="http://127.0.0.1:1",
    ...     region="eu-west-1", variables={"TABLE_NAME": "t"})
    >>> "AWS_PROFILE" in env, env["AWS_ACCESS_KEY_ID"], env["TABLE_NAME"], env["PATH"]
    (False, 'k', 't', '/bin')
    """
    kept = {k: v for k, v in current.items() if not k.startswith("AWS_")}
    return {**kept, **CREDENTIAL_ISOLATION, **credentials, "AWS_ENDPOINT_URL": endpoint,
            "AWS_REGION": region, "AWS_DEFAULT_REGION": region, **variables}


def import_handler(app_dir: str, handler: str) -> Any:
    """A handler as Lambda finds it: ``module.attribute``, the module imported from the
    function's code folder (Lambda Developer Guide, "Define Lambda function handler in
    Python": the handler setting is ``file name.function name``)."""
    module_name, _, attribute = handler.rpartition(".")
    if not module_name:
        raise ValueError(f"handler {handler!r} is not module.attribute")
    if app_dir not in sys.path:
        sys.path.insert(0, app_dir)
    return getattr(importlib.import_module(module_name), attribute)


def registered_functions(spec: WorkerSpec) -> dict[str, Registered]:
    """Function name -> the deployed function and the handler that runs it."""
    instance = uuid.uuid4().hex
    return {function.function_name: Registered(
                function, import_handler(spec.app_dir, function.handler),
                log_stream_name(time.time(), instance))
            for function in spec.functions}


def read_spec(stream: IO[str], service: str) -> WorkerSpec:
    """The spec ``local up`` wrote to stdin, checked to be this worker's."""
    spec = WorkerSpec.from_json(stream.read())
    if spec.service != service:
        raise ValueError(f"the spec on stdin is for {spec.service}, not {service}")
    return spec


def run(args: argparse.Namespace, spec: WorkerSpec) -> int:
    """Start the servers, report readiness, serve until told to stop."""
    stop = threading.Event()
    if args.parent_pid:
        die_with_parent(args.parent_pid, stop.set)
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    # Ctrl-C in a terminal reaches the whole process group: `local up` handles it and
    # stops the workers itself (SIGTERM), so a worker never exits before its parent knows.
    signal.signal(signal.SIGINT, signal.SIG_IGN)

    # As Lambda (and `chalice local`) do: the stage's variables for the whole process,
    # set before the app module is imported.
    environment = lambda_environment(os.environ, credentials=spec.credentials,
                                     endpoint=spec.endpoint, region=spec.region,
                                     variables=spec.environment)
    os.environ.clear()
    os.environ.update(environment)
    functions = registered_functions(spec)

    invoke_server = InvokeServer((HOST, 0), invoke_handler_class(functions))
    servers: list[Any] = [invoke_server]
    api_port = None
    if spec.api is not None:
        try:
            api = api_server(import_handler(spec.app_dir, API_HANDLER), spec.stage, spec.api)
        except OSError as exc:
            print(f"error: port {spec.api.port} on {HOST} is in use ({exc.strerror})",
                  file=sys.stderr)
            return 1
        servers.append(api.server)
        api_port = api.server.server_address[1]
    for server in servers:
        threading.Thread(target=server.serve_forever, daemon=True).start()

    ready = {"service": spec.service,
             "invoke": f"http://{HOST}:{invoke_server.server_address[1]}",
             "api_port": api_port,
             "functions": [r.function.arn for r in functions.values()]}
    if args.ready_fd is not None:
        with os.fdopen(args.ready_fd, "w") as channel:
            channel.write(json.dumps(ready) + "\n")
    print(f"worker ready: {json.dumps(ready)}", file=sys.stderr, flush=True)
    stop.wait()
    for server in servers:
        server.shutdown()
        server.server_close()
    return 0


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m infra_bootstrap.local.worker",
                                     description=__doc__.split("\n")[0])
    parser.add_argument("--service", required=True,
                        help="the service this worker runs (names the process; the spec on "
                             "stdin must be for it)")
    parser.add_argument("--parent-pid", type=int, default=None,
                        help="exit when this process dies")
    parser.add_argument("--ready-fd", type=int, default=None,
                        help="write one JSON line here once serving")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``python -m infra_bootstrap.local.worker`` (the spec on stdin)."""
    args = parse_args(argv)
    try:
        spec = read_spec(sys.stdin, args.service)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return run(args, spec)


if __name__ == "__main__":
    sys.exit(main())
