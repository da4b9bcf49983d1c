"""One service's HTTP routes for the local cloud: its Chalice app, in its own process.

``local up`` starts one worker per service that has routes and writes its resolved
configuration (a :class:`~infra_bootstrap.local.handoff.WorkerSpec`, JSON) to the
worker's stdin::

    python -m infra_bootstrap.local.worker --service order-service \\
        --parent-pid 1234 --ready-fd 5 < order-service.json

The worker runs what the spec says, and derives nothing itself: it never reads the
topology or Chalice's configuration. It holds that service account's credentials only
(no profile, config file or instance metadata is consulted), runs with the environment
of the service's Chalice stage plus ``AWS_ENDPOINT_URL``, imports the app as Lambda does
(``app.app``: module ``app`` from the service's folder) and serves its routes with
Chalice's own local dev server (``chalice.local``). The service's Lambda functions (its
subscriptions) do not run here: the local cloud's Lambda runtime runs them from their
deployment packages. Once serving it writes one JSON line to ``--ready-fd`` (its API
port), and it exits when its parent dies, or on SIGTERM once the requests in flight are
answered (new ones get 503 meanwhile: :mod:`infra_bootstrap.local.api_drain`).
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
from collections.abc import Callable, Mapping, Sequence
from typing import IO, Any

from infra_bootstrap.local.api_drain import ApiDrain, draining_handler
from infra_bootstrap.local.api_requests import handler_class
from infra_bootstrap.local.handoff import API_HANDLER, ApiSpec, WorkerSpec

HOST = "127.0.0.1"
# Linux prctl option: deliver this signal when the parent thread dies (prctl(2)).
PR_SET_PDEATHSIG = 1
PARENT_POLL_SECONDS = 0.5
LISTEN_BACKLOG = 256
# In the handlers' environment besides the account's keys: boto3 finds no other source of
# credentials (shared files, EC2 instance metadata) even if a handler drops those keys.
CREDENTIAL_ISOLATION = {"AWS_CONFIG_FILE": os.devnull,
                        "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
                        "AWS_EC2_METADATA_DISABLED": "true"}


def api_server(app: Any, stage: str, api: ApiSpec, drain: ApiDrain | None = None) -> Any:
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
    handler = handler_class(ChaliceRequestHandler)
    return LocalDevServer(app, config, HOST, api.port, server_cls=Server,
                          handler_cls=draining_handler(handler, drain or ApiDrain()))


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


def read_spec(stream: IO[str], service: str) -> WorkerSpec:
    """The spec ``local up`` wrote to stdin, checked to be this worker's."""
    spec = WorkerSpec.from_json(stream.read())
    if spec.service != service:
        raise ValueError(f"the spec on stdin is for {spec.service}, not {service}")
    return spec


def run(args: argparse.Namespace, spec: WorkerSpec) -> int:
    """Start the servers, report readiness, serve until told to stop."""
    stop = threading.Event()
    drain = ApiDrain()
    if args.parent_pid:
        die_with_parent(args.parent_pid, stop.set)

    def drained() -> None:
        drain.wait_idle()
        stop.set()

    def on_sigterm(*_: object) -> None:
        # `local up` is stopping: refuse new requests (503), finish those in flight.
        drain.start()
        threading.Thread(target=drained, daemon=True, name="drain").start()

    signal.signal(signal.SIGTERM, on_sigterm)
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
    try:
        api = api_server(import_handler(spec.app_dir, API_HANDLER), spec.stage, spec.api,
                         drain)
    except OSError as exc:
        print(f"error: port {spec.api.port} on {HOST} is in use ({exc.strerror})",
              file=sys.stderr)
        return 1
    server = api.server
    threading.Thread(target=server.serve_forever, daemon=True).start()
    ready = {"service": spec.service, "api_port": server.server_address[1]}
    if args.ready_fd is not None:
        with os.fdopen(args.ready_fd, "w") as channel:
            channel.write(json.dumps(ready) + "\n")
    print(f"worker ready: {json.dumps(ready)}", file=sys.stderr, flush=True)
    stop.wait()
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
