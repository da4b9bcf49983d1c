"""One service of the local cloud: its Chalice routes and its Lambda handlers, in one process.

``local up`` starts one worker per service::

    python -m infra_bootstrap.local.worker --service order-service \\
        --endpoint http://127.0.0.1:4566 --api-port 8000 --parent-pid 1234 --ready-fd 5

The worker holds that service account's credentials (STS AssumeRole against the
endpoint, as on AWS), runs with the environment of the service's Chalice stage config
plus ``AWS_ENDPOINT_URL``, serves the Chalice routes with Chalice's own local dev server
(``chalice.local``) and answers Lambda ``Invoke`` requests for its functions on a
threaded server, so the router's deliveries run concurrently. It registers each
function ARN with the endpoint, writes one JSON line to ``--ready-fd`` once both
servers accept requests, and exits when its parent dies or on SIGTERM/SIGINT.
"""

from __future__ import annotations

import argparse
import ctypes
import json
import os
import signal
import sys
import threading
import time
import traceback
import urllib.request
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from infra_bootstrap.local.deploy import (
    LocalFunction,
    chalice_config,
    local_functions,
    with_delivery_delay,
)

INVOKE_PATH_PREFIX = "/2015-03-31/functions/"
INVOKE_PATH_SUFFIX = "/invocations"
LAMBDA_ROUTES_PATH = "/_local/lambda-routes"
# Linux prctl option: deliver this signal when the parent thread dies (prctl(2)).
PR_SET_PDEATHSIG = 1
PARENT_POLL_SECONDS = 0.5
LISTEN_BACKLOG = 256


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


class LambdaContext:
    """The context object a Python handler receives (Lambda Developer Guide, "Lambda
    context object in Python"), for one invocation."""

    def __init__(self, function: LocalFunction, timeout_seconds: int, memory_mb: int,
                 request_id: str) -> None:
        self.function_name = function.function_name
        self.function_version = "$LATEST"
        self.invoked_function_arn = function.arn
        self.memory_limit_in_mb = memory_mb
        self.aws_request_id = request_id
        self.log_group_name = f"/aws/lambda/{function.function_name}"
        self.log_stream_name = "local"
        self.identity = None
        self.client_context = None
        self._deadline = time.monotonic() + timeout_seconds

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


@dataclass(frozen=True)
class _Registered:
    function: LocalFunction
    handler: Callable[[Any, Any], Any]
    timeout_seconds: int
    memory_mb: int


def _invoke_handler_class(functions: Mapping[str, _Registered]) -> type[BaseHTTPRequestHandler]:
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
            request_id = self.headers.get("X-Amzn-RequestId") or _request_id()
            context = LambdaContext(registered.function, registered.timeout_seconds,
                                    registered.memory_mb, request_id)
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


class _InvokeServer(ThreadingHTTPServer):
    # socketserver's default listen backlog is 5: a burst of concurrent deliveries
    # would see connection resets.
    request_queue_size = LISTEN_BACKLOG
    daemon_threads = True


def api_server(app: Any, config: Any, port: int) -> Any:
    """Chalice's local dev server (as ``chalice local`` builds it), with a deeper backlog.

    Same steps as ``chalice.local.create_local_server``, with a server class whose listen
    backlog takes a burst of concurrent clients (socketserver's default is 5).
    """
    from chalice.local import CustomLocalChalice, LocalChalice, LocalDevServer, ThreadedHTTPServer

    class Server(ThreadedHTTPServer):
        request_queue_size = LISTEN_BACKLOG

    # Per-thread current_request, as create_local_server does, so requests run concurrently.
    CustomLocalChalice.__bases__ = (LocalChalice, app.__class__)
    app.__class__ = CustomLocalChalice
    return LocalDevServer(app, config, "127.0.0.1", port, server_cls=Server)


def _request_id() -> str:
    return str(uuid.uuid4())


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


def register_routes(endpoint: str, functions: Sequence[LocalFunction], url: str) -> None:
    """Tell the endpoint's router where to deliver each function's invocations."""
    for function in functions:
        body = json.dumps({"functionArn": function.arn, "url": url}).encode()
        request = urllib.request.Request(endpoint.rstrip("/") + LAMBDA_ROUTES_PATH, data=body,
                                         headers={"Content-Type": "application/json"},
                                         method="POST")
        with urllib.request.urlopen(request, timeout=10) as response:
            response.read()


def assume_account(stage: Any, account: str) -> None:
    """Put the account's AssumeRole credentials in the environment, as Lambda does."""
    from infra_bootstrap.sessions import AccountSessions

    credentials = AccountSessions(stage).session(account).get_credentials()
    if credentials is None:
        raise RuntimeError(f"no credentials for account {account}")
    frozen = credentials.get_frozen_credentials()
    os.environ["AWS_ACCESS_KEY_ID"] = frozen.access_key
    os.environ["AWS_SECRET_ACCESS_KEY"] = frozen.secret_key
    if frozen.token:
        os.environ["AWS_SESSION_TOKEN"] = frozen.token
    for name in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE"):
        os.environ.pop(name, None)


def run(args: argparse.Namespace) -> int:
    """Start the servers, report readiness, serve until told to stop."""
    stop = threading.Event()
    if args.parent_pid:
        die_with_parent(args.parent_pid, stop.set)
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    # Ctrl-C in a terminal reaches the whole process group: `local up` handles it and
    # stops the workers itself (SIGTERM), so a worker never exits before its parent knows.
    signal.signal(signal.SIGINT, signal.SIG_IGN)

    from backbone.subscriptions import subscriptions_of
    from infra_bootstrap.service_apps import load_app, service_dir
    from infra_bootstrap.topology import load_stage

    stage = with_delivery_delay(load_stage(args.stage), args.delivery_delay)
    service = stage.service(args.service)
    os.environ["AWS_ENDPOINT_URL"] = args.endpoint
    os.environ["AWS_REGION"] = os.environ["AWS_DEFAULT_REGION"] = stage.region
    assume_account(stage, service.account)

    project_dir = service_dir(service.name)
    config = chalice_config(stage, service.name, project_dir)
    # As `chalice local` does: the stage's environment variables for the whole process.
    os.environ.update(config.environment_variables)
    app = load_app(service.name)
    subscriptions = subscriptions_of(app)
    functions = local_functions(stage, service.name, app.app_name,
                                [s.name for s in subscriptions])
    registered: dict[str, _Registered] = {}
    for function, subscription in zip(functions, subscriptions, strict=True):
        scoped = config.scope(stage.name, function.subscription)
        registered[function.function_name] = _Registered(
            function, subscription.handler, scoped.lambda_timeout or 60,
            scoped.lambda_memory_size or 128)

    invoke_server = _InvokeServer(("127.0.0.1", 0), _invoke_handler_class(registered))
    invoke_url = f"http://127.0.0.1:{invoke_server.server_address[1]}"
    servers: list[Any] = [invoke_server]
    api_url = None
    if args.api_port is not None and app.routes:
        try:
            api = api_server(app, config, args.api_port)
        except OSError as exc:
            print(f"error: port {args.api_port} on 127.0.0.1 is in use ({exc.strerror})",
                  file=sys.stderr)
            return 1
        servers.append(api.server)
        api_url = f"http://127.0.0.1:{args.api_port}"
    for server in servers:
        threading.Thread(target=server.serve_forever, daemon=True).start()
    register_routes(args.endpoint, functions, invoke_url)

    ready = {"service": service.name, "invoke": invoke_url, "api": api_url,
             "functions": [f.arn for f in functions]}
    if args.ready_fd is not None:
        with os.fdopen(args.ready_fd, "w") as channel:
            channel.write(json.dumps(ready) + "\n")
    print(f"worker ready: {json.dumps(ready)}", file=sys.stderr, flush=True)
    stop.wait()
    for server in servers:
        server.shutdown()
    return 0


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m infra_bootstrap.local.worker",
                                     description=__doc__.split("\n")[0])
    parser.add_argument("--service", required=True)
    parser.add_argument("--endpoint", required=True, help="the local AWS endpoint URL")
    parser.add_argument("--stage", default="local")
    parser.add_argument("--api-port", type=int, default=None,
                        help="serve the app's Chalice routes on this port")
    parser.add_argument("--delivery-delay", type=float, default=None)
    parser.add_argument("--parent-pid", type=int, default=None,
                        help="exit when this process dies")
    parser.add_argument("--ready-fd", type=int, default=None,
                        help="write one JSON line here once serving")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``python -m infra_bootstrap.local.worker``."""
    return run(parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
