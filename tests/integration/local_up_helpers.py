"""Helpers of the integration tests: `local up` in a subprocess, seen over HTTP and boto3.

Imported as ``local_up_helpers`` (pytest puts this folder on ``sys.path``).
"""

from __future__ import annotations

import json
import os
import queue
import re
import signal
import socket
import subprocess
import sys
import threading
import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import pytest

from infra_bootstrap import names
from tests.polling import wait_until
from tests.shared_local_cloud import (
    READY,
    READY_TIMEOUT,
    REPO_ROOT,
    STOP_TIMEOUT,
    SharedCloud,
    clean_env,
)

REGION = "eu-west-1"
BUS_ACCOUNT = "111111111111"
ORDER_ACCOUNT = "222222222222"
DELIVERY_ACCOUNT = "333333333333"
OUTSIDE_ACCOUNT = "444444444444"
GLOBAL_BUS = names.GLOBAL_BUS
GLOBAL_BUS_ARN = names.bus_arn(REGION, BUS_ACCOUNT, GLOBAL_BUS)
ORDER_BUS = names.local_bus("order-service")
DELIVERY_BUS = names.local_bus("delivery-service")
BUS_ACCOUNTS = {GLOBAL_BUS: BUS_ACCOUNT, ORDER_BUS: ORDER_ACCOUNT, DELIVERY_BUS: DELIVERY_ACCOUNT}
# How the local stage reaches each account (topology.toml, stage local).
ACCOUNT_ROLE = "OrganizationAccountAccessRole"
# Deadline for an event's effects on a loaded 2-core machine (a real condition is awaited).
EVENT_TIMEOUT = 90.0


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class Response:
    status: int
    headers: Mapping[str, str]
    body: Any


@dataclass
class LocalUp:
    """A running ``local up`` subprocess (ports picked by it: ``--*-port 0``), the lines
    it printed, and its stderr (read as it comes, so a full pipe never blocks it)."""

    process: subprocess.Popen[str]
    api: str = ""
    aws: str = ""
    lines: list[str] = field(default_factory=list)
    stderr: list[str] = field(default_factory=list)
    _queue: queue.Queue[str | None] = field(default_factory=queue.Queue)
    _stderr_done: threading.Event = field(default_factory=threading.Event)

    @classmethod
    def start(cls, *args: str, tmpdir: Path | None = None,
              own_process_group: bool = False) -> LocalUp:
        """``own_process_group``: as a terminal runs it, so that a test can press Ctrl-C
        (SIGINT to the whole group, workers included)."""
        command = [sys.executable, "-m", "infra_bootstrap", "local", "up",
                   "--aws-port", "0", "--api-port", "0", *args]
        process = subprocess.Popen(command, cwd=REPO_ROOT, env=clean_env(tmpdir), text=True,
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                   process_group=0 if own_process_group else None)
        up = cls(process)
        threading.Thread(target=up._read, daemon=True).start()
        threading.Thread(target=up._read_stderr, daemon=True).start()
        return up

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self._queue.put(line.rstrip("\n"))
        self._queue.put(None)

    def _read_stderr(self) -> None:
        assert self.process.stderr is not None
        for line in self.process.stderr:
            self.stderr.append(line.rstrip("\n"))
        self._stderr_done.set()

    def exit_stderr(self) -> list[str]:
        """Everything printed on stderr, once the process has exited."""
        self.process.wait(timeout=STOP_TIMEOUT)
        self._stderr_done.wait(timeout=STOP_TIMEOUT)
        return self.stderr

    def next_line(self, timeout: float) -> str | None:
        """The next stdout line, or None at EOF; fails the test after ``timeout``."""
        try:
            line = self._queue.get(timeout=timeout)
        except queue.Empty:
            pytest.fail(f"local up printed nothing for {timeout:.0f} s")
        if line is not None:
            self.lines.append(line)
        return line

    def wait_ready(self) -> str:
        """The ready line; ``api`` and ``aws`` are then the URLs it names."""
        line = self.next_line(READY_TIMEOUT)
        if line is None:
            stderr = "\n".join(self.exit_stderr())
            pytest.fail(f"local up exited {self.process.returncode} before ready: {stderr}")
        ready = READY.fullmatch(line)
        assert ready, f"not a ready line: {line!r}"
        self.api, self.aws = ready.groups()
        return line

    def __enter__(self) -> LocalUp:
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()

    def stop(self) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            self.process.kill()
            return self.process.wait()


def child_pids(pid: int) -> set[int]:
    """The direct children of a process (Linux /proc)."""
    children = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # Field 4 of /proc/<pid>/stat, after the parenthesised command name.
        if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
            children.add(int(entry.name))
    return children


def worker_pids(pid: int) -> dict[str, int]:
    """Service name -> pid of each worker process `local up` (``pid``) started."""
    workers = {}
    for child in child_pids(pid):
        argv = Path(f"/proc/{child}/cmdline").read_bytes().split(b"\0")
        if b"infra_bootstrap.local.worker" in argv:
            workers[argv[argv.index(b"--service") + 1].decode()] = child
    return workers


def lambda_worker_pids(pid: int) -> set[int]:
    """The Lambda runtime's worker processes of `local up` (``pid``): its children running
    localcloud/runtime/bootstrap.py."""
    found = set()
    for child in child_pids(pid):
        try:
            argv = Path(f"/proc/{child}/cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if any(arg.endswith(b"runtime/bootstrap.py") for arg in argv):
            found.add(child)
    return found


# x86-64 system calls a Python thread waits in for a socket's reply: poll(2), ppoll(2)
# (a socket with a timeout), read(2), recvfrom(2), recvmsg(2).
_POLLS = {"7", "271"}
_READS = {"0", "45", "47"}


def waiting_on_a_call(pid: int) -> bool:
    """Is this Lambda worker inside an invocation, waiting for the reply of an AWS call
    its handler made? Linux /proc: its main thread is blocked in poll(2) or in a read of
    a socket. (An idle worker reads the pipe of its stdin; one starting up imports.)"""
    try:
        call = Path(f"/proc/{pid}/syscall").read_text().split()
        if call[0] in _POLLS:
            return True
        if call[0] in _READS:
            return os.readlink(f"/proc/{pid}/fd/{int(call[1], 16)}").startswith("socket:")
    except (OSError, ValueError, IndexError):  # gone, or not ours to look at
        pass
    return False


class Cloud:
    """The shared local cloud, seen from the outside: HTTP, boto3, the event logs."""

    def __init__(self, shared: SharedCloud) -> None:
        self.shared = shared
        self.api = shared.api
        self.aws = shared.aws
        self._clients: dict[tuple[str, str], Any] = {}
        self._lock = threading.Lock()

    # HTTP
    def request(self, method: str, path: str, body: bytes | None = None,
                headers: Mapping[str, str] | None = None) -> Response:
        request = urllib.request.Request(self.api + path, data=body, method=method,
                                         headers=dict(headers or {}))
        try:
            with urllib.request.urlopen(request, timeout=60) as response:
                status, raw, got = response.status, response.read(), dict(response.headers)
        except urllib.error.HTTPError as exc:
            status, raw, got = exc.code, exc.read(), dict(exc.headers)
        try:
            parsed = json.loads(raw) if raw else None
        except ValueError:
            parsed = raw.decode(errors="replace")
        return Response(status, got, parsed)

    def post_order(self, order: Mapping[str, Any] | None = None) -> str:
        body = json.dumps(order).encode() if order is not None else None
        headers = {"Content-Type": "application/json"} if order is not None else {}
        response = self.request("POST", "/orders", body, headers)
        assert response.status == 201, response
        return str(response.body["orderId"])

    def order_status(self, order_id: str) -> str:
        response = self.request("GET", f"/orders/{order_id}")
        assert response.status == 200, response
        return str(response.body["status"])

    def wait_delivered(self, order_id: str) -> None:
        wait_until(lambda: self.order_status(order_id) == "DELIVERED",
                   EVENT_TIMEOUT, f"order {order_id} DELIVERED")

    # boto3, as a user of an account
    def client(self, account: str, service: str) -> Any:
        """A client acting in ``account`` via STS AssumeRole, as the services do."""
        key = (account, service)
        with self._lock:
            if key not in self._clients:
                sts = boto3.client("sts", region_name=REGION, endpoint_url=self.aws,
                                   aws_access_key_id="user", aws_secret_access_key="user")
                creds = sts.assume_role(
                    RoleArn=names.role_arn(account, ACCOUNT_ROLE),
                    RoleSessionName="integration-test")["Credentials"]
                self._clients[key] = boto3.client(
                    service, region_name=REGION, endpoint_url=self.aws,
                    aws_access_key_id=creds["AccessKeyId"],
                    aws_secret_access_key=creds["SecretAccessKey"],
                    aws_session_token=creds["SessionToken"])
            return self._clients[key]

    def bus_log(self, bus: str) -> list[dict[str, Any]]:
        """Every event in a bus's catch-all log group, in log order (parsed JSON)."""
        logs = self.client(BUS_ACCOUNTS[bus], "logs")
        events: list[dict[str, Any]] = []
        pages = logs.get_paginator("filter_log_events").paginate(
            logGroupName=names.event_log_group(bus))
        for page in pages:
            for item in page["events"]:
                events.append(json.loads(item["message"]))
        return events

    def events_about(self, bus: str, key: str) -> list[dict[str, Any]]:
        """The events of a bus's log whose JSON mentions ``key`` (an order id, a marker)."""
        return [e for e in self.bus_log(bus) if key in json.dumps(e)]


def detail_types(events: list[dict[str, Any]]) -> list[str]:
    return [e["detail-type"] for e in events]


UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def api_call(method: str, url: str, headers: dict[str, str] | None = None) -> tuple[int, Any]:
    """One JSON request (POST sends ``{}``) to the order API or a control route: (status, body)."""
    request = urllib.request.Request(url, data=b"{}" if method == "POST" else None,
                                     method=method, headers={
                                         "Content-Type": "application/json", **(headers or {})})
    try:
        with urllib.request.urlopen(request, timeout=120) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"null")


def order_id_of(data: dict[str, Any]) -> str | None:
    """The order an event's ``detail.data`` is about (``orderId``, or ``order.orderId``)."""
    return data.get("orderId") or (data.get("order") or {}).get("orderId")
