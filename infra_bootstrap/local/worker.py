"""One service of the local cloud: its Chalice routes and its Lambda handlers, in one process.

``local up`` starts one worker per service::

    python -m infra_bootstrap.local.worker --service order-service \\
        --endpoint http://127.0.0.1:4566 --api-port 8000 --parent-pid 1234 --ready-fd 5

The worker holds that service account's credentials only (STS AssumeRole against the
endpoint from the local cloud's base credentials, as on AWS; no profile, config file or
instance metadata is consulted), runs with the environment of the service's Chalice
stage config plus ``AWS_ENDPOINT_URL``, serves the Chalice routes with Chalice's own
local dev server (``chalice.local``) and answers Lambda ``Invoke`` requests for its
functions on a threaded server, so the router's deliveries run concurrently. Each
handler gets the event as the router posts it and a Lambda context whose remaining time
counts down from the function's deployed timeout. Once both servers accept requests it
writes one JSON line to ``--ready-fd`` (its invoke URL, its API port, its function
ARNs; ``local up`` registers them with the router), and it exits when its parent dies
or on SIGTERM. ``--api-port 0`` picks a free port.
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
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from infra_bootstrap import names
from infra_bootstrap.local.deploy import (
    FunctionLimits,
    LocalFunction,
    LocalService,
    chalice_config,
    function_limits,
    load_service,
    with_delivery_delay,
)
from infra_bootstrap.service_apps import service_dir
from infra_bootstrap.topology import Stage, load_stage

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

    function: LocalFunction
    handler: Callable[[Any, Any], Any]
    limits: FunctionLimits
    log_stream_name: str


class LambdaContext:
    """The context object a Python handler receives, for one invocation.

    Attributes and method as the Lambda Developer Guide lists them ("Lambda context
    object in Python"); the remaining time counts down from the function's timeout.

    >>> f = LocalFunction("s", "f", "s-local-f", "arn:aws:lambda:eu-west-1:1:function:s-local-f")
    >>> c = LambdaContext(Registered(f, print, FunctionLimits(3, 256), "x"), "r-1")
    >>> c.memory_limit_in_mb, 2900 < c.get_remaining_time_in_millis() <= 3000
    (256, True)
    """

    def __init__(self, registered: Registered, request_id: str) -> None:
        function = registered.function
        self.function_name = function.function_name
        self.function_version = "$LATEST"
        self.invoked_function_arn = function.arn
        self.memory_limit_in_mb = registered.limits.memory_mb
        self.aws_request_id = request_id
        self.log_group_name = names.lambda_log_group(function.function_name)
        self.log_stream_name = registered.log_stream_name
        self.identity = None
        self.client_context = None
        self._deadline = time.monotonic() + registered.limits.timeout_seconds

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
    return LocalDevServer(app, config, HOST, port, server_cls=Server)


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


def account_credentials(stage: Stage, account: str) -> dict[str, str]:
    """The account's AssumeRole credentials, as the environment variables Lambda sets.

    The role is assumed from the local cloud's base credentials (against the endpoint in
    ``AWS_ENDPOINT_URL``), never from whatever the environment or an AWS config file holds.
    """
    from infra_bootstrap.sessions import LOCAL_BASE_CREDENTIALS, AccountSessions, new_session

    base = new_session(region_name=stage.region, **LOCAL_BASE_CREDENTIALS)
    credentials = AccountSessions(stage, base).session(account).get_credentials()
    if credentials is None:
        raise RuntimeError(f"no credentials for account {account}")
    frozen = credentials.get_frozen_credentials()
    return {"AWS_ACCESS_KEY_ID": frozen.access_key,
            "AWS_SECRET_ACCESS_KEY": frozen.secret_key,
            **({"AWS_SESSION_TOKEN": frozen.token} if frozen.token else {})}


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


def registered_functions(local: LocalService, stage: str) -> dict[str, Registered]:
    """Function name -> the deployed function and the handler that runs it."""
    instance = uuid.uuid4().hex
    return {
        function.function_name: Registered(
            function, subscription.handler,
            function_limits(local.config, stage, function.subscription),
            log_stream_name(time.time(), instance))
        for function, subscription in zip(local.functions, local.subscriptions, strict=True)}


def run(args: argparse.Namespace) -> int:
    """Start the servers, report readiness, serve until told to stop."""
    stop = threading.Event()
    if args.parent_pid:
        die_with_parent(args.parent_pid, stop.set)
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    # Ctrl-C in a terminal reaches the whole process group: `local up` handles it and
    # stops the workers itself (SIGTERM), so a worker never exits before its parent knows.
    signal.signal(signal.SIGINT, signal.SIG_IGN)

    stage = with_delivery_delay(load_stage(args.stage), args.delivery_delay)
    service = stage.service(args.service)
    os.environ["AWS_ENDPOINT_URL"] = args.endpoint
    credentials = account_credentials(stage, service.account)
    config = chalice_config(stage, service.name, service_dir(service.name))
    # As Lambda (and `chalice local`) do: the stage's variables for the whole process,
    # set before the app module is imported.
    environment = lambda_environment(os.environ, credentials=credentials,
                                     endpoint=args.endpoint, region=stage.region,
                                     variables=config.environment_variables)
    os.environ.clear()
    os.environ.update(environment)
    local = load_service(stage, service.name)
    functions = registered_functions(local, stage.name)

    invoke_server = InvokeServer((HOST, 0), invoke_handler_class(functions))
    servers: list[Any] = [invoke_server]
    api_port = None
    if args.api_port is not None and local.app.routes:
        try:
            api = api_server(local.app, local.config, args.api_port)
        except OSError as exc:
            print(f"error: port {args.api_port} on {HOST} is in use ({exc.strerror})",
                  file=sys.stderr)
            return 1
        servers.append(api.server)
        api_port = api.server.server_address[1]
    for server in servers:
        threading.Thread(target=server.serve_forever, daemon=True).start()

    ready = {"service": service.name,
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
    parser.add_argument("--service", required=True)
    parser.add_argument("--endpoint", required=True, help="the local AWS endpoint URL")
    parser.add_argument("--stage", default="local")
    parser.add_argument("--api-port", type=int, default=None,
                        help="serve the app's Chalice routes on this port (0: a free one)")
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
