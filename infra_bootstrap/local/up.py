"""``local up``: the whole multi-account system on one machine, in one command.

Starts the AWS endpoint (moto + our EventBridge data plane) in this process, runs the
bootstrap's ``create`` and ``subscribe`` against it through exactly the code used on
AWS (only ``AWS_ENDPOINT_URL`` differs), creates the services' functions in the Lambda
control plane (``deploy``, the local ``chalice deploy``: the endpoint's Lambda runtime
runs them from their deployment packages), starts a worker process for the service with
HTTP routes, prints ``ready: api=... aws=...`` and the account ids, then streams the global
bus's events until Ctrl-C or SIGTERM. ``--demo`` instead runs one order through the
system, prints its timeline across every bus and exits. Port 0 picks a free port; the
``ready`` line says which. A Lambda worker that dies (a crash, ``kill -9``) is replaced
by the runtime and its invocation retried; ``up`` prints one line about it and runs on.
Whatever happens (Ctrl-C, SIGTERM, a failed step, the API worker that dies), every
process started is stopped before ``up`` returns.

Example (what ``python -m infra_bootstrap local up --demo --delivery-delay 0`` runs; it
starts processes and listens on ports, so it is not a doctest)::

    up(UpOptions(demo=True, delivery_delay=0))
    # ready: api=http://127.0.0.1:8000 aws=http://127.0.0.1:4566
    # ...
"""

from __future__ import annotations

import contextlib
import errno
import json
import logging
import os
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from infra_bootstrap import configure, names
from infra_bootstrap.bootstrap import apply
from infra_bootstrap.errors import BackboneError, UsageError
from infra_bootstrap.local.deploy import (
    deploy,
    load_service,
    with_delivery_delay,
    worker_spec,
)
from infra_bootstrap.local.handoff import WorkerSpec
from infra_bootstrap.operate import trace
from infra_bootstrap.operate.lines import event_line
from infra_bootstrap.operate.logs import LogTail, bus_logs
from infra_bootstrap.operate.plain import terminal_safe
from infra_bootstrap.operate.records import LoggedEvent
from infra_bootstrap.sessions import LOCAL_BASE_CREDENTIALS, AccountSessions, new_session
from infra_bootstrap.subscribe import subscribe
from infra_bootstrap.topology import LOCAL_STAGE, Stage, load_stage
from localcloud.chaos import ChaosSettings
from localcloud.config import RouterConfig
from localcloud.control import SECRET_ENV, control_secret
from localcloud.drain import Leftovers, unkept_line
from localcloud.endpoint import DRAIN_SECONDS, Endpoint
from localcloud.persistence import StateFileError
from localcloud.ports import DEFAULT_HOST, DEFAULT_PORT, bind_error

HOST = DEFAULT_HOST
REPO_ROOT = Path(__file__).resolve().parents[2]
# Readiness waits are deadlines on a real condition (the worker's ready line), generous
# enough for a loaded 2-core machine: they only cost time when something is broken.
WORKER_READY_SECONDS = 120.0
STOP_GRACE_SECONDS = 5.0
STREAM_POLL_SECONDS = 0.25
DEMO_POLL_SECONDS = 0.05
# The demo waits for the delivery delay plus this much for each of its steps.
DEMO_MARGIN_SECONDS = 30.0


ENDPOINT_LOG = "endpoint.log"
# The loggers of the endpoint's request handling: werkzeug (the server, which logs a
# request's traceback), moto, and our own data plane.
ENDPOINT_LOGGERS = ("werkzeug", "moto", "localcloud")


def route_endpoint_logs(path: Path) -> logging.Handler:
    """Send the endpoint's log records (access lines, request tracebacks) to ``path``,
    not to the console."""
    handler = logging.FileHandler(path)
    handler.setFormatter(logging.Formatter("%(asctime)s %(name)s %(levelname)s %(message)s"))
    for name in ENDPOINT_LOGGERS:
        logger = logging.getLogger(name)
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)
        logger.propagate = False
    return handler


class PortInUse(UsageError):
    """A port local up needs is taken; the message names it."""


class StartupError(BackboneError):
    """A piece of the local cloud did not start; the message names it."""


class StateError(BackboneError):
    """The state in --state-dir cannot be used (exit 2); names the file and what to do."""

    exit_code = 2


class StateNotSaved(BackboneError):
    """The state could not be written to --state-dir at stop; the message says why."""


class WorkerExited(BackboneError):
    """A worker process died while the local cloud was running; names it and its log."""


class DemoStepFailed(BackboneError):
    """A step of the demo did not happen in time; the message names the step."""

    exit_code = 3


@dataclass(frozen=True)
class UpOptions:
    """The options of ``local up``."""

    demo: bool = False
    delivery_delay: float | None = None
    aws_port: int = DEFAULT_PORT  # 0: a free port
    api_port: int = 8000  # 0: a free port
    verbose: bool = False
    drain_seconds: float = DRAIN_SECONDS  # on SIGTERM / Ctrl-C; 0: stop at once
    state_dir: Path | None = None  # keeps the whole state across restarts; None: in memory
    chaos: ChaosSettings | None = None  # --chaos: at-least-once delivery on demand


# --- pure formatting ---------------------------------------------------------


def ready_line(api_port: int, aws_port: int) -> str:
    """The one line that says the local cloud accepts requests.

    >>> ready_line(8000, 4566)
    'ready: api=http://127.0.0.1:8000 aws=http://127.0.0.1:4566'
    """
    return f"ready: api=http://{HOST}:{api_port} aws=http://{HOST}:{aws_port}"


def accounts_line(stage: Stage) -> str:
    """The account ids, bus account first.

    >>> accounts_line(load_stage("local"))
    'accounts: bus=111111111111 order-service=222222222222 delivery-service=333333333333'
    """
    parts = [f"bus={stage.bus_account}"] + [f"{s.name}={s.account}" for s in stage.services]
    return "accounts: " + " ".join(parts)


def timeline(events: Iterable[LoggedEvent], since_ms: int) -> list[str]:
    """An order's events across every bus as its causal tree (``operate.trace``), each
    hop timed in ms from ``since_ms``.

    >>> print("\\n".join(timeline([LoggedEvent("global-bus", "111111111111", {
    ...     "detail-type": "Order.Created", "id": "e1", "source": "order-service",
    ...     "account": "222222222222"}, 1042, "1", "")], 1000)))
    Order.Created e1 from order-service (222222222222)
        +42 ms  global-bus                    111111111111
    """
    return trace.render(trace.build(events, []), origin_ms=since_ms)


def max_delay(stage: Stage) -> float:
    """The longest simulated delay of any service, in seconds.

    >>> max_delay(with_delivery_delay(load_stage("local"), 1.5))
    1.5
    """
    return max(float(configure.service_environment(stage, s).get(configure.DELAY_VARIABLE, 0))
               for s in stage.services)


def worker_environment(parent: Mapping[str, str], endpoint_url: str) -> dict[str, str]:
    """A worker's environment: ``parent``'s without any ``AWS_*`` variable (the worker
    acts only with its account's credentials), plus the endpoint. Pure.

    >>> worker_environment({"PATH": "/bin", "AWS_PROFILE": "prod"}, "http://127.0.0.1:1")
    {'PATH': '/bin', 'AWS_ENDPOINT_URL': 'http://127.0.0.1:1', 'PYTHONUNBUFFERED': '1'}
    """
    return {**{k: v for k, v in parent.items() if not k.startswith("AWS_")},
            "AWS_ENDPOINT_URL": endpoint_url, "PYTHONUNBUFFERED": "1"}


# --- I/O helpers ---------------------------------------------------------------


def check_port_free(port: int, option: str) -> None:
    """Raise PortInUse, naming the port, if something listens on 127.0.0.1:port.

    Port 0 (the system picks a free one) is always free.
    """
    error = bind_error(HOST, port)
    if error is not None:
        reason = "in use" if error.errno == errno.EADDRINUSE else error.strerror
        raise PortInUse(f"port {port} on {HOST} is {reason} ({option})")


@dataclass
class Worker:
    """A started API worker process and what it reported once ready.

    ``info`` is the worker's ready line: ``service`` and ``api_port``.
    """

    service: str
    process: subprocess.Popen[bytes]
    log_path: Path
    ready_fd: int
    info: dict[str, Any] = field(default_factory=dict)

    def exited(self, when: str) -> str:
        """One line: this worker exited (with its code and last log line)."""
        return (f"worker {self.service} exited with code {self.process.returncode} {when}: "
                f"{last_line(self.log_path)} (log: {self.log_path})")

    def hand_over(self, spec: WorkerSpec) -> None:
        """Write the worker's spec to its stdin, once, and close it."""
        assert self.process.stdin is not None
        try:
            with self.process.stdin as channel:
                channel.write(spec.to_json().encode())
        except BrokenPipeError:
            try:
                self.process.wait(timeout=STOP_GRACE_SECONDS)
            except subprocess.TimeoutExpired:
                raise StartupError(f"worker {self.service} closed its stdin before reading "
                                   f"its spec (log: {self.log_path})") from None
            raise StartupError(self.exited("before it read its spec")) from None


def start_worker(service: str, endpoint_url: str, log_dir: Path) -> Worker:
    """Start ``python -m infra_bootstrap.local.worker`` for one service; it waits on its
    stdin for the spec (``Worker.hand_over``) while its interpreter and imports start."""
    read_fd, write_fd = os.pipe()
    log_path = log_dir / f"{service}.log"
    command = [sys.executable, "-m", "infra_bootstrap.local.worker", "--service", service,
               "--parent-pid", str(os.getpid()), "--ready-fd", str(write_fd)]
    try:
        with open(log_path, "wb") as log:
            process = subprocess.Popen(
                command, cwd=REPO_ROOT, env=worker_environment(os.environ, endpoint_url),
                stdin=subprocess.PIPE, stdout=log, stderr=subprocess.STDOUT,
                pass_fds=(write_fd,))
    except BaseException:
        os.close(read_fd)
        raise
    finally:
        os.close(write_fd)
    return Worker(service, process, log_path, read_fd)


def account_credentials(stage: Stage, account: str) -> dict[str, str]:
    """The account's AssumeRole credentials, as the environment variables Lambda sets.

    The role is assumed from the local cloud's base credentials (against the endpoint in
    ``AWS_ENDPOINT_URL``), never from whatever the environment or an AWS config file holds.
    """
    base = new_session(region_name=stage.region, **LOCAL_BASE_CREDENTIALS)
    credentials = AccountSessions(stage, base).session(account).get_credentials()
    if credentials is None:
        raise StartupError(f"no credentials for account {account}")
    frozen = credentials.get_frozen_credentials()
    return {"AWS_ACCESS_KEY_ID": frozen.access_key,
            "AWS_SECRET_ACCESS_KEY": frozen.secret_key,
            **({"AWS_SESSION_TOKEN": frozen.token} if frozen.token else {})}


def wait_ready(workers: Sequence[Worker], timeout: float) -> None:
    """Wait until every worker wrote its ready line; name the one that did not."""
    deadline = time.monotonic() + timeout
    pending = {w.ready_fd: w for w in workers if not w.info}
    buffers: dict[int, bytes] = dict.fromkeys(pending, b"")
    while pending:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            late = ", ".join(sorted(w.service for w in pending.values()))
            raise StartupError(f"worker {late} not ready within {timeout:g} s "
                               f"(log: {next(iter(pending.values())).log_path})")
        readable, _, _ = select.select(list(pending), [], [], remaining)
        for fd in readable:
            chunk = os.read(fd, 65536)
            worker = pending[fd]
            if not chunk:
                try:
                    worker.process.wait(timeout=STOP_GRACE_SECONDS)
                except subprocess.TimeoutExpired:
                    raise StartupError(f"worker {worker.service} closed its ready channel "
                                       f"without a ready line (log: {worker.log_path})") from None
                raise StartupError(worker.exited("before it was ready"))
            buffers[fd] += chunk
            if not buffers[fd].endswith(b"\n"):
                continue
            try:
                worker.info = json.loads(buffers[fd])
            except ValueError:
                raise StartupError(f"worker {worker.service} sent a malformed ready line: "
                                   f"{buffers[fd][:200]!r}") from None
            os.close(fd)
            del pending[fd]


def last_line(path: Path) -> str:
    """The last non-empty line of a log file, for one-line error messages."""
    try:
        lines = [line for line in path.read_text(errors="replace").splitlines() if line.strip()]
    except OSError:
        return "(no log)"
    return lines[-1].strip() if lines else "(empty log)"


def stop_workers(workers: Iterable[Worker]) -> None:
    """SIGTERM every worker, then SIGKILL any still alive after the grace period."""
    workers = list(workers)
    for worker in workers:
        if worker.process.stdin is not None and not worker.process.stdin.closed:
            with contextlib.suppress(OSError):
                worker.process.stdin.close()
        if worker.process.poll() is None:
            worker.process.terminate()
    deadline = time.monotonic() + STOP_GRACE_SECONDS
    for worker in workers:
        try:
            worker.process.wait(timeout=max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            worker.process.kill()
            worker.process.wait()
        if not worker.info:
            with contextlib.suppress(OSError):
                os.close(worker.ready_fd)


def http_json(method: str, url: str, body: bytes | None = None,
              headers: Mapping[str, str] | None = None,
              timeout: float = 10.0) -> tuple[int, Any]:
    """One HTTP request; returns the status and the parsed JSON body (or None)."""
    request = urllib.request.Request(url, data=body, method=method, headers=dict(headers or {}))
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            status, payload = response.status, response.read()
    except urllib.error.HTTPError as exc:
        status, payload = exc.code, exc.read()
    try:
        return status, json.loads(payload) if payload else None
    except ValueError:
        return status, payload.decode(errors="replace")


# --- the local cloud ------------------------------------------------------------


class LocalCloud:
    """The endpoint, the bootstrap and the workers, started in order and stopped together.

    ``api_port`` and ``aws_port`` (and so the URLs) are the bound ports once ``start``
    returned: the options may ask for port 0.
    """

    def __init__(self, options: UpOptions, log: Callable[[str], None],
                 notice: Callable[[str], None] | None = None) -> None:
        self.options = options
        self._notice = notice or log
        self.stage = with_delivery_delay(load_stage(LOCAL_STAGE), options.delivery_delay)
        self._log = log
        self.endpoint: Endpoint | None = None
        self.workers: list[Worker] = []
        self.log_dir: Path | None = None
        self.endpoint_log: Path | None = None
        self._log_handler: logging.Handler | None = None
        self.api_port = 0
        self.aws_port = 0
        self._sessions: AccountSessions | None = None
        self._saved_endpoint_url: str | None = None
        self._saved_control_secret: str | None = None

    @property
    def api_url(self) -> str:
        return f"http://{HOST}:{self.api_port}"

    @property
    def aws_url(self) -> str:
        return f"http://{HOST}:{self.aws_port}"

    @property
    def sessions(self) -> AccountSessions:
        if self._sessions is None:
            self._sessions = AccountSessions(self.stage)
        return self._sessions

    def start(self) -> None:
        options = self.options
        check_port_free(options.aws_port, "--aws-port")
        check_port_free(options.api_port, "--api-port")
        started = time.monotonic()
        # The control routes' secret (LOCALCLOUD_CONTROL_SECRET if the user set one): only
        # this process and its children (they inherit the variable) know it.
        self._saved_control_secret = os.environ.get(SECRET_ENV)
        os.environ[SECRET_ENV] = control_secret()
        self.endpoint = Endpoint(host=HOST, port=options.aws_port,
                                 control_secret=os.environ[SECRET_ENV],
                                 config=RouterConfig(chaos=options.chaos),
                                 state_dir=options.state_dir)
        try:  # a state dir's state first, before anything else starts
            if self.endpoint.load_state() is not None:
                self._log(f"{time.monotonic() - started:5.2f} s  state of "
                          f"{options.state_dir} loaded")
        except StateFileError as exc:
            raise StateError(str(exc)) from None

        def step(what: str) -> None:
            self._log(f"{time.monotonic() - started:5.2f} s  {what}")

        # The endpoint's access log (werkzeug, one line per AWS call) would drown the output,
        # and its request tracebacks (moto's) belong in a file, named on stderr.
        self.log_dir = Path(tempfile.mkdtemp(prefix="backbone-local-"))
        self.endpoint_log = self.log_dir / ENDPOINT_LOG
        self._log_handler = route_endpoint_logs(self.endpoint_log)
        self.endpoint.start()
        self.aws_port = self.endpoint.port
        # The bootstrap below is the AWS code; only the standard endpoint variable differs.
        self._saved_endpoint_url = os.environ.get("AWS_ENDPOINT_URL")
        os.environ["AWS_ENDPOINT_URL"] = self.aws_url
        step(f"endpoint accepting on {self.aws_url}")
        chaos = self.endpoint.router.chaos if self.endpoint.router is not None else None
        if chaos is not None:
            self._notice(chaos.settings.describe())
        assert self.endpoint.runtime is not None
        self.endpoint.runtime.on_worker_lost = self._notice
        # The API worker starts its interpreter while this process resolves what it runs.
        services = [load_service(self.stage, s.name) for s in self.stage.services]
        api_service = next((s for s in services if s.app.routes), None)
        if api_service is None:
            raise StartupError("no service serves HTTP routes: nothing would listen on "
                               "--api-port")
        self.workers.append(start_worker(api_service.name, self.aws_url, self.log_dir))
        step(f"API worker started (log in {self.log_dir})")
        account = self.stage.service(api_service.name).account
        credentials = account_credentials(self.stage, account)
        # The worker's requests in flight finish while the endpoint drains.
        self.endpoint.gate.own(credentials["AWS_ACCESS_KEY_ID"])
        self.workers[0].hand_over(worker_spec(
            self.stage, api_service, endpoint=self.aws_url, credentials=credentials,
            api_port=options.api_port))
        step("API worker given its spec")
        apply(self.stage, self.sessions)
        step("create done")
        subscribe(self.stage, self.sessions,
                  function_arns=deploy(self.stage, self.sessions, services))
        step("functions deployed from their packages, subscribe done")
        wait_ready(self.workers, WORKER_READY_SECONDS)
        self.api_port = int(self.workers[0].info.get("api_port") or 0)
        if not self.api_port:
            raise StartupError(f"worker {api_service.name} does not serve its routes")
        step("API worker ready")

    def check_workers(self) -> None:
        """Raise WorkerExited if a worker died."""
        for worker in self.workers:
            if worker.process.poll() is not None:
                raise WorkerExited(worker.exited("while running"))

    def tail(self, bus: str, account: str) -> LogTail:
        self.own(account)
        return LogTail(self.sessions.client(account, "logs"), bus, account)

    def own(self, account: str) -> None:
        """This process's current credentials in ``account`` are the local cloud's own:
        its console reads to the end while the endpoint drains (a refreshed session has
        a new key: called again before each read)."""
        if self.endpoint is not None:
            credentials = self.sessions.session(account).get_credentials()
            if credentials is not None:
                self.endpoint.gate.own(credentials.get_frozen_credentials().access_key)

    def tails(self) -> list[LogTail]:
        return [self.tail(bus, account) for bus, account in bus_logs(self.stage)]

    def drain(self, seconds: float) -> Leftovers:
        """Stop taking requests (the order API and the endpoint answer 503) and let the
        accepted work finish for up to ``seconds``: the API worker's requests in flight,
        then the data plane's deliveries, invocations and retries due meanwhile."""
        deadline = time.monotonic() + seconds
        if self.endpoint is None:
            return Leftovers(0, 0)
        self.endpoint.gate.start()
        for worker in self.workers:
            if worker.process.poll() is None:
                worker.process.terminate()  # the worker drains, then exits
        for worker in self.workers:
            with contextlib.suppress(subprocess.TimeoutExpired):
                worker.process.wait(timeout=max(0.0, deadline - time.monotonic()))
        return self.endpoint.drain(max(0.0, deadline - time.monotonic()))

    def stop(self, *, keep_logs: bool) -> None:
        """Stop the workers and the endpoint (saving the state to the state dir, if
        any); remove the service logs unless kept."""
        stop_workers(self.workers)
        not_saved: Exception | None = None
        if self.endpoint is not None:
            try:
                self.endpoint.stop()
            except Exception as exc:  # raised once everything else is stopped
                not_saved = exc
            if self.endpoint.unkept and self.endpoint.state_file is not None:
                self._notice(unkept_line(self.endpoint.unkept, str(self.endpoint.state_file)))
        if self._saved_endpoint_url is None:
            os.environ.pop("AWS_ENDPOINT_URL", None)
        else:
            os.environ["AWS_ENDPOINT_URL"] = self._saved_endpoint_url
        if self._saved_control_secret is None:
            os.environ.pop(SECRET_ENV, None)
        else:
            os.environ[SECRET_ENV] = self._saved_control_secret
        if self._log_handler is not None:
            for name in ENDPOINT_LOGGERS:
                logging.getLogger(name).removeHandler(self._log_handler)
            self._log_handler.close()
        if self.log_dir is not None and (not keep_logs or not any(self.log_dir.iterdir())):
            shutil.rmtree(self.log_dir, ignore_errors=True)
        if not_saved is not None:
            raise StateNotSaved(f"the state was not saved to {self.options.state_dir}: "
                                f"{type(not_saved).__name__}: {not_saved}")


# --- the two modes ------------------------------------------------------------------


class Console:
    """Prints each global bus event once it is logged, and one line for each failed
    delivery, retry, dead letter and denied PutEvents entry (the data plane's notices),
    made safe for a terminal (what publishers chose is shown escaped, never obeyed)."""

    def __init__(self, cloud: LocalCloud, out: IO[str]) -> None:
        self.cloud = cloud
        self.out = out
        self.tail = cloud.tail(names.GLOBAL_BUS, cloud.stage.bus_account)
        self.seen = 0

    def flush(self) -> None:
        """Print what was logged since the last flush."""
        self.cloud.own(self.cloud.stage.bus_account)
        for logged in self.tail.poll():
            print(terminal_safe(event_line(logged)), file=self.out, flush=True)
        router = self.cloud.endpoint.router if self.cloud.endpoint is not None else None
        if router is not None:
            self.seen, fresh = router.notices.since(self.seen)
            for line in fresh:
                print(terminal_safe(line), file=self.out, flush=True)


def stream(cloud: LocalCloud, console: Console, stop: threading.Event) -> None:
    """Flush the console every poll interval until ``stop`` is set."""
    while not stop.is_set():
        console.flush()
        cloud.check_workers()
        stop.wait(STREAM_POLL_SECONDS)


def _poll(cloud: LocalCloud, condition: Callable[[], Any], budget: float,
          failure: Callable[[], str]) -> None:
    """Poll ``condition`` until truthy; DemoStepFailed(``failure()``) after ``budget`` s.

    A worker that dies meanwhile fails the demo at once (WorkerExited).
    """
    deadline = time.monotonic() + budget
    while not condition():
        if time.monotonic() > deadline:
            raise DemoStepFailed(failure())
        cloud.check_workers()
        time.sleep(DEMO_POLL_SECONDS)


def demo(cloud: LocalCloud, out: IO[str]) -> None:
    """POST one order, follow it to DELIVERED and Order.Updated, print its timeline."""
    budget = max_delay(cloud.stage) + DEMO_MARGIN_SECONDS
    posted_ms = int(time.time() * 1000)
    status, created = http_json("POST", f"{cloud.api_url}/orders")
    if status != 201 or not isinstance(created, dict) or "orderId" not in created:
        raise DemoStepFailed(f"step 'POST /orders': expected 201 with an orderId, got {status}: "
                             f"{created}")
    order_id = str(created["orderId"])
    print(f"POST /orders -> 201, order {order_id}", file=out, flush=True)

    order: Any = created

    def delivered() -> bool:
        nonlocal order
        _, order = http_json("GET", f"{cloud.api_url}/orders/{order_id}")
        return isinstance(order, dict) and order.get("status") == "DELIVERED"

    _poll(cloud, delivered, budget, lambda: (
        f"step 'order DELIVERED': order {order_id} still "
        f"{order.get('status') if isinstance(order, dict) else order} after {budget:g} s"))

    tails = cloud.tails()
    collected: list[LoggedEvent] = []

    def order_updated_logged() -> bool:
        for tail in tails:
            collected.extend(e for e in tail.poll() if order_id in e.raw)
        return any(e.bus == names.GLOBAL_BUS and e.detail_type == "Order.Updated"
                   for e in collected)

    _poll(cloud, order_updated_logged, budget, lambda: (
        f"step 'Order.Updated in the global bus log': not there {budget:g} s after order "
        f"{order_id} was DELIVERED"))

    print(f"timeline of order {order_id} (ms since the POST):", file=out)
    for line in timeline(collected, posted_ms):
        print(line, file=out)
    print(f"GET /orders/{order_id}:", file=out)
    print(json.dumps(order, indent=2, sort_keys=True), file=out, flush=True)


class _Signals:
    """SIGTERM and SIGINT (Ctrl-C) stop local up, even if started with SIGINT ignored.

    The first signal raises KeyboardInterrupt in the main thread; once stopping (after a
    signal, or when ``stopping`` is set) further signals are ignored, so the shutdown of
    the workers is never cut short.
    """

    def __init__(self) -> None:
        self.stopping = False

    def _handle(self, signum: int, frame: Any) -> None:
        if not self.stopping:
            self.stopping = True
            raise KeyboardInterrupt

    @contextlib.contextmanager
    def installed(self) -> Iterator[_Signals]:
        previous = {sig: signal.signal(sig, self._handle)
                    for sig in (signal.SIGTERM, signal.SIGINT)}
        try:
            yield self
        finally:
            for sig, old in previous.items():
                signal.signal(sig, old)


def up(options: UpOptions, out: IO[str] | None = None, err: IO[str] | None = None) -> int:
    """Run ``local up``; returns the exit code (0 after Ctrl-C / SIGTERM or a good demo).

    A failure raises its BackboneError (the CLI prints it as one line) after everything
    was stopped; the service logs are then kept, and their folder named on ``err``.
    """
    out = out or sys.stdout
    err = err or sys.stderr

    def log(message: str) -> None:
        if options.verbose:
            print(message, file=err, flush=True)

    def notice(message: str) -> None:
        print(message, file=err, flush=True)

    cloud = LocalCloud(options, log, notice)
    console: Console | None = None
    stop = threading.Event()
    failed = True  # service logs are kept when something went wrong
    with _Signals().installed() as signals:
        try:
            cloud.start()
            print(ready_line(cloud.api_port, cloud.aws_port), file=out)
            print(accounts_line(cloud.stage), file=out, flush=True)
            print(f"service logs: {cloud.log_dir} (removed on a clean exit)", file=err,
                  flush=True)
            print(f"endpoint log (AWS requests and their tracebacks): {cloud.endpoint_log}",
                  file=err, flush=True)
            if options.demo:
                demo(cloud, out)
            else:
                console = Console(cloud, out)
                stream(cloud, console, stop)
            failed = False
        except KeyboardInterrupt:
            failed = options.demo
            if cloud.endpoint is not None and cloud.endpoint.router is not None:
                leftovers = cloud.drain(options.drain_seconds)
                if console is not None:  # the events logged while draining
                    try:
                        console.flush()
                    except Exception as exc:
                        print(f"the last events could not be read: {exc}", file=err)
                kept_in = cloud.endpoint.state_file
                print(leftovers.line(kept_in=str(kept_in) if kept_in else None), file=err,
                      flush=True)
            return 130 if options.demo else 0
        finally:
            signals.stopping = True
            stop.set()
            cloud.stop(keep_logs=failed)
            if failed and cloud.log_dir is not None and cloud.log_dir.exists():
                print(f"service logs kept in {cloud.log_dir}", file=err, flush=True)
    return 0
