"""`local up` as a command: the demo, port conflicts, stopping every process it started
on every way out (SIGTERM, Ctrl-C, SIGKILL, the API worker that dies), and a Lambda worker
killed under load: replaced, its invocation retried, nothing lost or duplicated."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest
from local_up_helpers import (
    READY_TIMEOUT,
    REPO_ROOT,
    STOP_TIMEOUT,
    LocalUp,
    child_pids,
    clean_env,
    free_port,
    lambda_worker_pids,
    wait_until,
    worker_pids,
)

from tests.shared_local_cloud import alive

pytestmark = pytest.mark.integration


def _local_up(*args: str, timeout: float, tmpdir: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "infra_bootstrap", "local", "up", *args],
                          cwd=REPO_ROOT, env=clean_env(tmpdir), capture_output=True,
                          text=True, timeout=timeout)


def test_demo_prints_one_orders_timeline_and_exits_0(tmp_path: Path) -> None:
    aws_port, api_port = free_port(), free_port()
    result = _local_up("--demo", "--delivery-delay", "0", "--aws-port", str(aws_port),
                       "--api-port", str(api_port), timeout=READY_TIMEOUT + 30,
                       tmpdir=tmp_path)

    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == f"ready: api=http://127.0.0.1:{api_port} aws=http://127.0.0.1:{aws_port}"
    assert lines[1] == ("accounts: bus=111111111111 order-service=222222222222 "
                        "delivery-service=333333333333")
    # The timeline is the order's causal tree (operate.trace): each event caused the next.
    headings = [line.strip() for line in lines if " from " in line and " ms " not in line]
    assert [h.removeprefix("└─ ").split()[0] for h in headings] == [
        "Order.Created", "Delivery.Updated", "Order.Updated"]
    assert [len(h) - len(h.lstrip()) for h in lines if h.strip() in headings] == [0, 2, 4]
    global_rows = [line.split() for line in lines if " global-bus " in line]
    assert [row[3] for row in global_rows] == ["111111111111"] * 3
    delays = [int(row[0]) for row in global_rows]
    assert delays == sorted(delays) and delays[0] >= 0
    final = json.loads("\n".join(lines[lines.index(next(
        line for line in lines if line.startswith("GET /orders/"))) + 1:]))
    assert final["status"] == "DELIVERED"


def test_a_port_in_use_is_named_and_exits_1(tmp_path: Path) -> None:
    with LocalUp.start("--delivery-delay", "0", tmpdir=tmp_path) as running:
        running.wait_ready()
        aws_port = running.aws.rsplit(":", 1)[1]
        api_port = running.api.rsplit(":", 1)[1]

        taken_aws = _local_up("--aws-port", aws_port, "--api-port", "0",
                              timeout=READY_TIMEOUT, tmpdir=tmp_path)
        taken_api = _local_up("--aws-port", "0", "--api-port", api_port,
                              timeout=READY_TIMEOUT, tmpdir=tmp_path)

        assert taken_aws.returncode == 1
        assert taken_aws.stderr.strip().splitlines() == [
            f"error: port {aws_port} on 127.0.0.1 is in use (--aws-port)"]
        assert taken_aws.stdout == ""
        assert taken_api.returncode == 1
        assert taken_api.stderr.strip().splitlines() == [
            f"error: port {api_port} on 127.0.0.1 is in use (--api-port)"]

        # SIGTERM: every child stops, local up exits 0 and leaves no temporary folder.
        workers = child_pids(running.process.pid)
        assert set(worker_pids(running.process.pid).values()) <= workers
        running.process.send_signal(signal.SIGTERM)
        assert running.process.wait(timeout=STOP_TIMEOUT) == 0
        assert not any(alive(pid) for pid in workers)
        assert list(tmp_path.glob("backbone-local-*")) == []


def test_ctrl_c_stops_every_process_and_exits_0(tmp_path: Path) -> None:
    with LocalUp.start("--delivery-delay", "0", tmpdir=tmp_path,
                       own_process_group=True) as running:
        running.wait_ready()
        workers = worker_pids(running.process.pid)
        assert sorted(workers) == ["order-service"]     # the API; functions: the runtime

        # A terminal's Ctrl-C: SIGINT to the whole process group.
        os.killpg(running.process.pid, signal.SIGINT)

        assert running.process.wait(timeout=STOP_TIMEOUT) == 0
        assert not any(alive(pid) for pid in workers.values())
        assert list(tmp_path.glob("backbone-local-*")) == []


def test_the_api_worker_that_dies_stops_local_up_with_one_line_naming_it(
        tmp_path: Path) -> None:
    with LocalUp.start("--delivery-delay", "0", tmpdir=tmp_path) as running:
        running.wait_ready()
        workers = worker_pids(running.process.pid)

        os.kill(workers["order-service"], signal.SIGKILL)

        assert running.process.wait(timeout=STOP_TIMEOUT) == 1
        [kept] = tmp_path.glob("backbone-local-*")
        log = kept / "order-service.log"
        *_, kept_line, error = running.exit_stderr()
        assert kept_line == f"service logs kept in {kept}"
        assert error.startswith("error: worker order-service exited with code -9 while "
                                "running: ")
        assert error.endswith(f" (log: {log})")
        assert log.read_text().strip()


def test_workers_die_with_local_up_even_on_sigkill(tmp_path: Path) -> None:
    with LocalUp.start("--delivery-delay", "0", tmpdir=tmp_path) as running:
        running.wait_ready()
        order = json.loads(urllib.request.urlopen(urllib.request.Request(
            f"{running.api}/orders", data=b"{}", method="POST",
            headers={"Content-Type": "application/json"}), timeout=30).read())["orderId"]
        wait_until(lambda: json.loads(urllib.request.urlopen(
            f"{running.api}/orders/{order}", timeout=30).read())["status"] == "DELIVERED",
            READY_TIMEOUT, "the order to be DELIVERED")
        workers = child_pids(running.process.pid)
        assert lambda_worker_pids(running.process.pid) and worker_pids(running.process.pid)

        running.process.send_signal(signal.SIGKILL)
        running.process.wait(timeout=STOP_TIMEOUT)

        wait_until(lambda: not any(alive(pid) for pid in workers), STOP_TIMEOUT,
                   "the workers to exit after local up was killed")
