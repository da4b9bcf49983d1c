"""The local AWS endpoint: moto's server app behind our EventBridge gateway, on loopback.

One process, one port. Everything moto serves (STS, IAM, EventBridge control plane,
Logs, SQS, DynamoDB, Lambda control plane, ...) goes to moto unchanged; the EventBridge
data plane is ours (see gateway.py and router.py).

>>> with Endpoint(port=0) as endpoint:
...     endpoint.url.startswith("http://127.0.0.1:"), endpoint.wait_idle(5)
(True, True)

Run it in the foreground: ``python -m localcloud --port 4566`` (``--port 0``: a free one).
"""

from __future__ import annotations

import argparse
import errno
import signal
import sys
import threading
import time
from pathlib import Path
from types import FrameType

from moto.moto_server.werkzeug_app import create_backend_app
from werkzeug.serving import BaseWSGIServer, make_server

from localcloud import fast_headers, keepalive, moto_fixes, moto_speedups, replays
from localcloud.chaos import ChaosSettings, ChaosSpecError
from localcloud.config import RouterConfig
from localcloud.control import ControlGuard, control_secret
from localcloud.dispatch import Dispatcher
from localcloud.drain import DrainGate, Leftovers, unkept_line, wait_drained
from localcloud.errors import LocalCloudError
from localcloud.functions import FunctionInvoker
from localcloud.gateway import Gateway
from localcloud.moto_state import MotoState, moto_backends, restore_moto_backends
from localcloud.persistence import STATE_FILE, Snapshot, StateFileError, load, save
from localcloud.ports import DEFAULT_HOST, DEFAULT_PORT, bind_error, check_loopback
from localcloud.router import Router
from localcloud.runtime.invoker import LambdaRuntime
from localcloud.sts import LocalSts

# How long a stop lets accepted work finish, by default (``--drain-seconds``).
DRAIN_SECONDS = 5.0
# How long a stop with a state dir waits for invocations still running to return, so
# that nothing changes moto's models while they are saved.
STOP_JOIN_S = 2.0


class _RequestHandler(keepalive.KeepAliveRequestHandler):
    """moto's handler, with keep-alive connections and without a log line per request."""

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        pass


class PortInUseError(LocalCloudError):
    """The endpoint's port is taken (exit code 1).

    >>> str(PortInUseError("127.0.0.1", 4566))
    'port 4566 on 127.0.0.1 is already in use: stop what uses it or pick another port'
    """

    def __init__(self, host: str, port: int) -> None:
        self.host = host
        self.port = port
        super().__init__(f"port {port} on {host} is already in use: stop what uses it or "
                         "pick another port")


class Endpoint:
    """The local AWS endpoint, served from a background thread of this process.

    ``port=0`` picks a free port; ``url`` tells which once started. The control routes
    (``/_local/*``, ``/moto-api/*``) need ``control_secret`` in the ``X-Localcloud-Secret``
    header (``control_headers``); by default ``LOCALCLOUD_CONTROL_SECRET`` or a random one.
    """

    def __init__(self, host: str = DEFAULT_HOST, port: int = DEFAULT_PORT, *,
                 config: RouterConfig | None = None, control_secret: str | None = None,
                 invoker: FunctionInvoker | None = None,
                 state_dir: Path | None = None) -> None:
        check_loopback(host)
        # Where the state survives a restart (None: it ends with the process).
        self.state_file = Path(state_dir) / STATE_FILE if state_dir is not None else None
        self.unkept = 0  # pending work the last stop could not keep (replays)
        self._snapshot: Snapshot | None = None
        self._loaded = False
        self.host = host
        self.port = port
        self.config = config or RouterConfig()
        self.control = ControlGuard(control_secret or _default_secret())
        self.gate = DrainGate()
        self.runtime: LambdaRuntime | None = None
        # What runs Lambda functions for EventBridge targets, the Invoke API and API
        # Gateway alike: the Lambda runtime unless a test gives its own.
        self._invoker = invoker
        self.router: Router | None = None
        self.sts: LocalSts | None = None
        self._server: BaseWSGIServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def control_secret(self) -> str:
        return self.control.secret

    @property
    def control_headers(self) -> dict[str, str]:
        """The header that opens the control routes: ``{"X-Localcloud-Secret": ...}``."""
        return self.control.headers()

    def start(self) -> Endpoint:
        """Bind, start serving, return once the port accepts requests."""
        if self._server is not None:
            return self
        if self.port:
            _check_port_free(self.host, self.port)
        snapshot = self.load_state()
        moto_speedups.install()  # same responses, less per-request work (see the module)
        moto_fixes.install()     # a JSON body is data, not also a query string
        fast_headers.install()   # the same header parse, without the email package
        state = MotoState(self.config.cache_size)
        runtime = LambdaRuntime(state, endpoint_url=self.url, on_credentials=self.gate.own)
        router = Router(self.config, state=state,
                        invoker=self._invoker or runtime)
        app = Gateway(Dispatcher(create_backend_app), router, state=state,
                      control=self.control, gate=self.gate)
        try:
            server = make_server(self.host, self.port, app, threaded=True,
                                 request_handler=_RequestHandler)
        except OSError as exc:
            router.stop()
            runtime.stop()
            if exc.errno == errno.EADDRINUSE:
                raise PortInUseError(self.host, self.port) from None
            raise
        except SystemExit:  # werkzeug exits when the port is taken on some versions
            router.stop()
            runtime.stop()
            raise PortInUseError(self.host, self.port) from None
        replays.install(router.replay)  # replays run through this router, not moto's code
        self.router = router
        self.sts = app.sts
        self.runtime = runtime
        self._server = server
        self.port = server.server_address[1]
        runtime.endpoint_url = self.url
        if snapshot is not None:
            router.resume(snapshot.pending,
                          clock_shift_s=time.monotonic() - snapshot.saved_monotonic)
        self._thread = threading.Thread(target=server.serve_forever, name="local-endpoint",
                                        kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and routing (in-memory state stays in moto's backends); with a
        state dir, save the state and the work not done (after ``drain``, if any)."""
        if self._server is not None:
            self._server.shutdown()
            keepalive.end_connections(self._server)  # no request served after stop
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        pending = None
        if self.router is not None:
            self.router.stop()
            if self.state_file is not None and self._server is not None:
                pending, self.unkept = self.router.pending_work()
        if self.runtime is not None:
            self.runtime.stop()
        if pending is not None and self.state_file is not None:
            assert self.router is not None
            self.router.scheduler.join(STOP_JOIN_S)
            save(self.state_file, Snapshot(moto_backends(), pending))
        self._server = self._thread = None

    def load_state(self) -> Snapshot | None:
        """The saved state, restored into moto's backends once (None: nothing saved yet);
        StateFileError when the file cannot be used. ``start`` calls it; call it first
        to fail before anything else starts."""
        if self.state_file is None or self._loaded:
            return self._snapshot
        self._loaded = True
        folder = self.state_file.parent
        if folder.exists() and not folder.is_dir():
            raise StateFileError(folder, "is not a folder", kind="state dir")
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StateFileError(folder, f"cannot be created ({exc.strerror})",
                                 kind="state dir") from None
        if not self.state_file.exists():
            return None
        self._snapshot = load(self.state_file)
        restore_moto_backends(self._snapshot.backends)
        return self._snapshot

    def drain(self, seconds: float) -> Leftovers:
        """Refuse new requests (503, ``localcloud.drain``) and let the accepted work finish
        for up to ``seconds``: queued and running deliveries, Lambda invocations, retries
        due within the window. Returns what is left; ``stop`` comes next.

        >>> with Endpoint(port=0) as endpoint:
        ...     endpoint.drain(1).line()
        'drained: 0 left'
        """
        self.gate.start()
        if self.router is None:
            return Leftovers(0, 0)
        return wait_drained(self.router.scheduler.backlog, seconds)

    def wait_idle(self, timeout: float = 10.0) -> bool:
        """True once no event is queued, in delivery or waiting for a retry."""
        return self.router.wait_idle(timeout) if self.router is not None else True

    def __enter__(self) -> Endpoint:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()


def _default_secret() -> str:
    return control_secret()


def _check_port_free(host: str, port: int) -> None:
    """Raise PortInUseError before werkzeug would print its own message and exit."""
    error = bind_error(host, port)
    if error is None:
        return
    if error.errno == errno.EADDRINUSE:
        raise PortInUseError(host, port)
    raise error


def _chaos_spec(text: str) -> ChaosSettings:
    try:
        return ChaosSettings.parse(text)
    except ChaosSpecError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def main(argv: list[str] | None = None) -> int:
    """Serve in the foreground until SIGTERM or SIGINT."""
    parser = argparse.ArgumentParser(prog="python -m localcloud",
                                     description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--host", default=DEFAULT_HOST)
    parser.add_argument("--port", type=int, default=DEFAULT_PORT,
                        help=f"default {DEFAULT_PORT}; 0 picks a free port")
    parser.add_argument("--time-scale", type=float, default=RouterConfig.time_scale,
                        help="local seconds per AWS second for retry delays and event ages")
    parser.add_argument("--drain-seconds", type=_seconds, default=DRAIN_SECONDS,
                        help="on SIGTERM/SIGINT, answer new requests 503 and let accepted "
                             f"work finish for up to this long (default {DRAIN_SECONDS:g}; "
                             "0: stop at once)")
    parser.add_argument("--state-dir", type=Path, default=None,
                        help="keep the whole state in this folder across restarts "
                             "(default: it ends with the process)")
    parser.add_argument("--chaos", type=_chaos_spec, default=None, metavar="SPEC",
                        help="at-least-once delivery: duplicates=P,delay=S,failures=P"
                             "[,seed=N] (see docs/local-cloud.md)")
    args = parser.parse_args(argv)
    endpoint = Endpoint(args.host, args.port, config=RouterConfig(time_scale=args.time_scale,
                                                                  chaos=args.chaos),
                        state_dir=args.state_dir)
    try:
        endpoint.start()
    except StateFileError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except (PortInUseError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    stopped = threading.Event()

    def on_signal(_signum: int, _frame: FrameType | None) -> None:
        stopped.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    # The secret first: a client that has read the listening line knows both.
    print(f"control secret: {endpoint.control_secret}", flush=True)
    if endpoint.router is not None and endpoint.router.chaos is not None:
        print(endpoint.router.chaos.settings.describe(), flush=True)
    print(f"listening: {endpoint.url}", flush=True)
    while not stopped.wait(0.5):
        pass
    leftovers = endpoint.drain(args.drain_seconds)
    try:
        endpoint.stop()
    except Exception as exc:  # the state could not be saved: say so, never silently
        print(f"error: the state was not saved to {endpoint.state_file}: "
              f"{type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    print(leftovers.line(kept_in=str(endpoint.state_file) if endpoint.state_file else None),
          flush=True)
    if endpoint.unkept and endpoint.state_file is not None:
        print(unkept_line(endpoint.unkept, str(endpoint.state_file)), flush=True)
    return 0


def _seconds(text: str) -> float:
    """A non-negative number of seconds (argparse type)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not value >= 0:
        raise argparse.ArgumentTypeError(f"{text} is not a number of seconds >= 0")
    return value


if __name__ == "__main__":
    sys.exit(main())
