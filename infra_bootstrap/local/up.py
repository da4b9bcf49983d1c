"""``local up``: the whole multi-account system on one machine, in one command.

Starts the AWS endpoint (moto + our EventBridge data plane) in this process, runs the
bootstrap's ``create`` and ``subscribe`` against it through exactly the code used on
AWS (only ``AWS_ENDPOINT_URL`` differs), creates the services' functions in the Lambda
control plane (``deploy``, the local ``chalice deploy``), starts one worker process per
service, prints ``ready: api=... aws=...`` and the account ids, then streams the global
bus's events until Ctrl-C or SIGTERM. ``--demo`` instead runs one order through the
system, prints its timeline across every bus and exits.

>>> up(UpOptions(demo=True, delivery_delay=0))                       # doctest: +SKIP
ready: api=http://127.0.0.1:8000 aws=http://127.0.0.1:4566
...
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
import socket
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
from infra_bootstrap.errors import BackboneError, UsageError
from infra_bootstrap.local.deploy import deploy, with_delivery_delay
from infra_bootstrap.sessions import AccountSessions
from infra_bootstrap.topology import LOCAL_STAGE, Stage, load_stage

HOST = "127.0.0.1"
REPO_ROOT = Path(__file__).resolve().parents[2]
WORKER_READY_SECONDS = 20.0
STOP_GRACE_SECONDS = 5.0
STREAM_POLL_SECONDS = 0.25
DEMO_POLL_SECONDS = 0.05
# The demo waits for the delivery delay plus this much for each of its steps.
DEMO_MARGIN_SECONDS = 30.0


class PortInUse(UsageError):
    """A port local up needs is taken; the message names it."""


class StartupError(BackboneError):
    """A piece of the local cloud did not start; the message names it."""


class DemoStepFailed(BackboneError):
    """A step of the demo did not happen in time; the message names the step."""

    exit_code = 3


@dataclass(frozen=True)
class UpOptions:
    """The options of ``local up``."""

    demo: bool = False
    delivery_delay: float | None = None
    aws_port: int = 4566
    api_port: int = 8000
    verbose: bool = False


@dataclass(frozen=True)
class LoggedEvent:
    """One EventBridge event as a bus's catch-all log group holds it."""

    bus: str
    account: str
    event: Mapping[str, Any]
    ingestion_ms: int
    log_event_id: str
    raw: str

    @property
    def detail_type(self) -> str:
        return str(self.event.get("detail-type", "?"))


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


def event_line(logged: LoggedEvent) -> str:
    """One readable line for a streamed event.

    >>> event_line(LoggedEvent("global-bus", "111111111111", {"detail-type": "Order.Created",
    ...     "source": "order-service", "account": "222222222222", "id": "e1",
    ...     "detail": {"meta": {"correlationId": "c1"}}}, 0, "1", ""))
    '00:00:00.000 global-bus Order.Created from order-service (222222222222) id=e1 correlation=c1'
    """
    event = logged.event
    stamp = time.strftime("%H:%M:%S", time.gmtime(logged.ingestion_ms / 1000))
    line = (f"{stamp}.{logged.ingestion_ms % 1000:03d} {logged.bus} {logged.detail_type} "
            f"from {event.get('source', '?')} ({event.get('account', '?')}) "
            f"id={event.get('id', '?')}")
    detail = event.get("detail")
    meta = detail.get("meta") if isinstance(detail, dict) else None
    if isinstance(meta, dict) and meta.get("correlationId"):
        line += f" correlation={meta['correlationId']}"
    return line


def timeline(events: Iterable[LoggedEvent], since_ms: int) -> list[str]:
    """An order's events across every bus, in arrival order, timed from ``since_ms``.

    >>> timeline([LoggedEvent("global-bus", "111111111111", {"detail-type": "Order.Created",
    ...     "source": "order-service"}, 1042, "1", "")], 1000)[1]
    '    +42 ms  global-bus                    111111111111  Order.Created     from order-service'
    """
    rows = sorted(events, key=lambda e: (e.ingestion_ms, e.bus))
    lines = [f"{'':12}{'bus':<29} {'account':<13} {'detail-type':<17} source"]
    for e in rows:
        lines.append(f"{e.ingestion_ms - since_ms:>+7} ms  {e.bus:<29} {e.account:<13} "
                     f"{e.detail_type:<17} from {e.event.get('source', '?')}")
    return lines


def max_delay(stage: Stage) -> float:
    """The longest simulated delay of any service, in seconds.

    >>> max_delay(with_delivery_delay(load_stage("local"), 1.5))
    1.5
    """
    return max(float(configure.service_environment(stage, s).get(configure.DELAY_VARIABLE, 0))
               for s in stage.services)


def bus_logs(stage: Stage) -> list[tuple[str, str]]:
    """``(bus, account)`` of every bus with a catch-all log: global first, then local."""
    return [(names.GLOBAL_BUS, stage.bus_account)] + [
        (names.local_bus(s.name), s.account) for s in stage.services]


# --- I/O helpers ---------------------------------------------------------------


def check_port_free(port: int, option: str) -> None:
    """Raise PortInUse, naming the port, if something listens on 127.0.0.1:port."""
    probe = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        # Same flag as the servers: a port in TIME_WAIT is free, a listener is not.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        probe.bind((HOST, port))
    except OSError as exc:
        reason = "in use" if exc.errno == errno.EADDRINUSE else exc.strerror
        raise PortInUse(f"port {port} on {HOST} is {reason} ({option})") from None
    finally:
        probe.close()


class LogTail:
    """Reads a bus's catch-all log group, returning each log event once.

    >>> tail = LogTail(logs_client, "global-bus", "111111111111")   # doctest: +SKIP
    >>> [e.detail_type for e in tail.poll()]                       # doctest: +SKIP
    ['Order.Created']
    """

    def __init__(self, logs: Any, bus: str, account: str, start_ms: int = 0) -> None:
        self._logs = logs
        self.bus = bus
        self.account = account
        self.log_group = names.event_log_group(bus)
        self._start_ms = start_ms
        self._seen: set[tuple[str, str]] = set()

    def poll(self) -> list[LoggedEvent]:
        """New log events since the last poll, oldest first."""
        fresh: list[LoggedEvent] = []
        try:
            pages = self._logs.get_paginator("filter_log_events").paginate(
                logGroupName=self.log_group, startTime=self._start_ms)
            for page in pages:
                for item in page.get("events", []):
                    key = (item.get("logStreamName", ""), item["eventId"])
                    if key in self._seen:
                        continue
                    self._seen.add(key)
                    fresh.append(self._parse(item))
        except self._logs.exceptions.ResourceNotFoundException:
            return []
        return sorted(fresh, key=lambda e: e.ingestion_ms)

    def _parse(self, item: Mapping[str, Any]) -> LoggedEvent:
        raw = str(item.get("message", ""))
        try:
            event = json.loads(raw)
        except ValueError:
            event = {"detail-type": "(not JSON)", "raw": raw}
        if not isinstance(event, dict):
            event = {"detail-type": "(not an object)", "raw": raw}
        ingestion = int(item.get("ingestionTime") or item.get("timestamp") or 0)
        return LoggedEvent(self.bus, self.account, event, ingestion, str(item["eventId"]), raw)


@dataclass
class Worker:
    """A started worker process and what it reported once ready."""

    service: str
    process: subprocess.Popen[bytes]
    log_path: Path
    ready_fd: int
    info: dict[str, Any] = field(default_factory=dict)


def start_worker(service: str, endpoint_url: str, api_port: int | None,
                 delivery_delay: float | None, log_dir: Path) -> Worker:
    """Start ``python -m infra_bootstrap.local.worker`` for one service."""
    read_fd, write_fd = os.pipe()
    log_path = log_dir / f"{service}.log"
    command = [sys.executable, "-m", "infra_bootstrap.local.worker", "--service", service,
               "--endpoint", endpoint_url, "--parent-pid", str(os.getpid()),
               "--ready-fd", str(write_fd)]
    if api_port is not None:
        command += ["--api-port", str(api_port)]
    if delivery_delay is not None:
        command += ["--delivery-delay", repr(delivery_delay)]
    env = {**os.environ, "AWS_ENDPOINT_URL": endpoint_url, "PYTHONUNBUFFERED": "1"}
    with open(log_path, "wb") as log:
        process = subprocess.Popen(command, cwd=REPO_ROOT, env=env, stdin=subprocess.DEVNULL,
                                   stdout=log, stderr=subprocess.STDOUT, pass_fds=(write_fd,))
    os.close(write_fd)
    return Worker(service, process, log_path, read_fd)


def wait_ready(workers: Sequence[Worker], timeout: float) -> None:
    """Wait until every worker wrote its ready line; name the one that did not."""
    deadline = time.monotonic() + timeout
    pending = {w.ready_fd: w for w in workers if not w.info}
    buffers: dict[int, bytes] = dict.fromkeys(pending, b"")
    while pending:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            late = ", ".join(sorted(w.service for w in pending.values()))
            raise StartupError(f"worker {late} not ready within {timeout:.0f} s "
                               f"(log: {next(iter(pending.values())).log_path})")
        readable, _, _ = select.select(list(pending), [], [], remaining)
        for fd in readable:
            chunk = os.read(fd, 65536)
            worker = pending[fd]
            if chunk:
                buffers[fd] += chunk
                if not buffers[fd].endswith(b"\n"):
                    continue
                worker.info = json.loads(buffers[fd])
            else:
                code = worker.process.wait(timeout=STOP_GRACE_SECONDS)
                raise StartupError(f"worker {worker.service} exited with code {code} before "
                                   f"it was ready: {last_line(worker.log_path)} "
                                   f"(log: {worker.log_path})")
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


# --- the bootstrap, in process ------------------------------------------------


def run_create(stage: Stage, sessions: AccountSessions) -> None:
    """``infra_bootstrap create``: the same code as on AWS."""
    from infra_bootstrap.bootstrap import apply

    apply(stage, sessions)


def run_subscribe(stage: Stage, sessions: AccountSessions,
                  function_arns: Mapping[str, Mapping[str, str]]) -> None:
    """``infra_bootstrap subscribe`` with the locally deployed function ARNs."""
    from infra_bootstrap.subscribe import subscribe

    subscribe(stage, sessions, function_arns=function_arns)


# --- the local cloud ------------------------------------------------------------


class LocalCloud:
    """The endpoint, the bootstrap and the workers, started in order and stopped together."""

    def __init__(self, options: UpOptions, log: Callable[[str], None]) -> None:
        self.options = options
        self.stage = with_delivery_delay(load_stage(LOCAL_STAGE), options.delivery_delay)
        self._log = log
        self.endpoint: Any = None
        self.workers: list[Worker] = []
        self.log_dir = Path(tempfile.mkdtemp(prefix="backbone-local-"))
        self.api_url = f"http://{HOST}:{options.api_port}"
        self.aws_url = f"http://{HOST}:{options.aws_port}"
        self._sessions: AccountSessions | None = None

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

        def step(what: str) -> None:
            self._log(f"{time.monotonic() - started:5.2f} s  {what}")

        from infra_bootstrap.local.endpoint import Endpoint

        # The endpoint's access log (werkzeug, one line per AWS call) would drown the output.
        logging.getLogger("werkzeug").setLevel(logging.WARNING)
        self.endpoint = Endpoint(host=HOST, port=options.aws_port)
        self.endpoint.start()
        os.environ["AWS_ENDPOINT_URL"] = self.endpoint.url
        step(f"endpoint accepting on {self.endpoint.url}")
        # The workers only need the endpoint; they start while the bootstrap runs.
        api_port: int | None = options.api_port
        for service in self.stage.services:
            self.workers.append(start_worker(service.name, self.endpoint.url, api_port,
                                             options.delivery_delay, self.log_dir))
            api_port = None if _has_routes(service.name) else api_port
        step(f"workers started (logs in {self.log_dir})")
        run_create(self.stage, self.sessions)
        step("create done")
        arns = deploy(self.stage, self.sessions)
        step("functions deployed")
        run_subscribe(self.stage, self.sessions, arns)
        step("subscribe done")
        wait_ready(self.workers, WORKER_READY_SECONDS)
        if not any(w.info.get("api") for w in self.workers):
            raise StartupError("no service serves HTTP routes: nothing listens on --api-port")
        step("workers ready")

    def check_workers(self) -> None:
        """Raise StartupError if a worker died."""
        for worker in self.workers:
            code = worker.process.poll()
            if code is not None:
                raise StartupError(f"worker {worker.service} exited with code {code}: "
                                   f"{last_line(worker.log_path)} (log: {worker.log_path})")

    def tails(self) -> list[LogTail]:
        return [LogTail(self.sessions.client(account, "logs"), bus, account)
                for bus, account in bus_logs(self.stage)]

    def stop(self, *, keep_logs: bool) -> None:
        stop_workers(self.workers)
        if self.endpoint is not None:
            self.endpoint.stop()
        if not keep_logs or not any(self.log_dir.iterdir()):
            shutil.rmtree(self.log_dir, ignore_errors=True)


def _has_routes(service: str) -> bool:
    from infra_bootstrap.service_apps import load_app

    return bool(load_app(service).routes)


# --- the two modes ------------------------------------------------------------------


def stream(cloud: LocalCloud, out: IO[str], stop: threading.Event) -> None:
    """Print each global bus event as it is logged, until ``stop`` is set."""
    tail = cloud.tails()[0]
    while not stop.is_set():
        for logged in tail.poll():
            print(event_line(logged), file=out, flush=True)
        cloud.check_workers()
        stop.wait(STREAM_POLL_SECONDS)


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

    deadline = time.monotonic() + budget
    order: Any = created
    while not (isinstance(order, dict) and order.get("status") == "DELIVERED"):
        if time.monotonic() > deadline:
            last = order.get("status") if isinstance(order, dict) else order
            raise DemoStepFailed(f"step 'order DELIVERED': order {order_id} still {last} "
                                 f"after {budget:g} s")
        time.sleep(DEMO_POLL_SECONDS)
        cloud.check_workers()
        _, order = http_json("GET", f"{cloud.api_url}/orders/{order_id}")

    tails = cloud.tails()
    collected: list[LoggedEvent] = []
    deadline = time.monotonic() + budget
    while not any(e.bus == names.GLOBAL_BUS and e.detail_type == "Order.Updated"
                  for e in collected):
        if time.monotonic() > deadline:
            raise DemoStepFailed(f"step 'Order.Updated in the global bus log': not there "
                                 f"{budget:g} s after order {order_id} was DELIVERED")
        for tail in tails:
            collected += [e for e in tail.poll() if order_id in e.raw]
        time.sleep(DEMO_POLL_SECONDS)
    for tail in tails:  # whatever else reached the other buses by now
        collected += [e for e in tail.poll() if order_id in e.raw]

    print(f"timeline of order {order_id} (ms since the POST):", file=out)
    for line in timeline(collected, posted_ms):
        print(line, file=out)
    print(f"GET /orders/{order_id}:", file=out)
    print(json.dumps(order, indent=2, sort_keys=True), file=out, flush=True)


@contextlib.contextmanager
def _stop_on_signals() -> Iterator[None]:
    """SIGTERM and SIGINT (Ctrl-C) stop local up, even if started with SIGINT ignored."""
    def handler(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


def up(options: UpOptions, out: IO[str] | None = None, err: IO[str] | None = None) -> int:
    """Run ``local up``; returns the exit code (0 after Ctrl-C / SIGTERM or a good demo)."""
    out = out or sys.stdout
    err = err or sys.stderr

    def log(message: str) -> None:
        if options.verbose:
            print(message, file=err, flush=True)

    cloud = LocalCloud(options, log)
    stop = threading.Event()
    failed = True  # service logs are kept when something went wrong
    with _stop_on_signals():
        try:
            cloud.start()
            print(ready_line(options.api_port, options.aws_port), file=out)
            print(accounts_line(cloud.stage), file=out, flush=True)
            print(f"service logs: {cloud.log_dir} (removed on a clean exit)", file=err,
                  flush=True)
            if options.demo:
                demo(cloud, out)
            else:
                stream(cloud, out, stop)
            failed = False
        except KeyboardInterrupt:
            failed = options.demo
            return 130 if options.demo else 0
        finally:
            stop.set()
            with contextlib.suppress(KeyboardInterrupt):
                cloud.stop(keep_logs=failed)
    return 0
