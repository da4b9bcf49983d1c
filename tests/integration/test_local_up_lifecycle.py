"""Stopping and restarting `local up`: SIGTERM drains (no acknowledged order is lost when
the window is long enough; what a short window leaves is said in one line); with
``--state-dir`` the whole state and the work not done survive a restart; a state file
that cannot be used is one line and exit 2."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest
from local_up_helpers import (
    EVENT_TIMEOUT,
    READY_TIMEOUT,
    REPO_ROOT,
    STOP_TIMEOUT,
    LocalUp,
    clean_env,
    wait_until,
)

pytestmark = pytest.mark.integration

ORDERS = 20
# Long enough for 20 orders' chains on a loaded 2-core machine: the drain ends as soon as
# nothing is left, so a generous window costs nothing when all goes well.
LONG_DRAIN_SECONDS = "120"
LEFTOVERS = re.compile(r"stopped with (\d+) deliver(?:y|ies) pending, (\d+) retr(?:y|ies) "
                       r"scheduled \(lost: run with --state-dir to keep them\)")


def post_orders(api: str, count: int) -> list[str]:
    """POST ``count`` orders; the ids of those answered 201 (every one, or the test fails)."""
    ids = []
    for _ in range(count):
        request = urllib.request.Request(f"{api}/orders", data=b"{}", method="POST",
                                         headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=60) as response:
            assert response.status == 201
            ids.append(json.loads(response.read())["orderId"])
    return ids


def get_order(api: str, order_id: str) -> dict[str, str]:
    with urllib.request.urlopen(f"{api}/orders/{order_id}", timeout=60) as response:
        return dict(json.loads(response.read()))


def wait_delivered(api: str, order_id: str) -> None:
    wait_until(lambda: get_order(api, order_id)["status"] == "DELIVERED", EVENT_TIMEOUT,
               f"order {order_id} DELIVERED")


def cli(aws: str, *args: str) -> subprocess.CompletedProcess[str]:
    """``python -m infra_bootstrap ARGS`` against the endpoint, as a user with no AWS setup."""
    return subprocess.run([sys.executable, "-m", "infra_bootstrap", *args], cwd=REPO_ROOT,
                          env={**clean_env(), "AWS_ENDPOINT_URL": aws}, capture_output=True,
                          text=True, timeout=READY_TIMEOUT)


def read_to_exit(running: LocalUp) -> tuple[int, list[str], list[str]]:
    """Everything `local up` printed until it exited: (exit code, stdout, stderr)."""
    while running.next_line(STOP_TIMEOUT + float(LONG_DRAIN_SECONDS)) is not None:
        pass
    code = running.process.wait(timeout=STOP_TIMEOUT)
    return code, running.lines, running.exit_stderr()


def test_sigterm_right_after_the_201s_drains_every_acknowledged_order_to_order_updated(
        tmp_path: Path) -> None:
    with LocalUp.start("--delivery-delay", "1.5", "--drain-seconds", LONG_DRAIN_SECONDS,
                       tmpdir=tmp_path) as running:
        running.wait_ready()
        acknowledged = post_orders(running.api, ORDERS)

        running.process.send_signal(signal.SIGTERM)
        code, stdout, stderr = read_to_exit(running)

    # The console shows each global bus event once logged, the drain's ones included: the
    # last event of an order's chain is Order.Updated (order DELIVERED).
    updated = {line.split(" order=")[1].split()[0] for line in stdout
               if " Order.Updated " in line and " order=" in line}
    assert code == 0
    assert stderr[-1] == "drained: 0 left"
    assert set(acknowledged) <= updated


def test_a_drain_window_too_short_says_what_was_left_in_one_line(tmp_path: Path) -> None:
    with LocalUp.start("--delivery-delay", "5", "--drain-seconds", "0",
                       tmpdir=tmp_path) as running:
        running.wait_ready()
        post_orders(running.api, 3)

        running.process.send_signal(signal.SIGTERM)
        code, _, stderr = read_to_exit(running)

    assert code == 0
    left = LEFTOVERS.fullmatch(stderr[-1])
    assert left, stderr[-1]
    # Each order's delivery handler runs for 5 s: none was done when the window closed.
    assert int(left.group(1)) + int(left.group(2)) >= 1


def test_state_dir_keeps_orders_logs_and_resources_across_a_restart(tmp_path: Path) -> None:
    state = tmp_path / "state"
    with LocalUp.start("--delivery-delay", "0", "--state-dir", str(state),
                       tmpdir=tmp_path) as first:
        first.wait_ready()
        [order] = post_orders(first.api, 1)
        wait_delivered(first.api, order)
        first.process.send_signal(signal.SIGTERM)
        code, _, stderr = read_to_exit(first)
    assert code == 0
    assert stderr[-1] == "drained: 0 left"

    with LocalUp.start("--delivery-delay", "0", "--state-dir", str(state),
                       tmpdir=tmp_path) as second:  # new ports: nothing kept depends on them
        second.wait_ready()
        kept = get_order(second.api, order)
        verified = cli(second.aws, "verify", "--stage", "local")
        traced = cli(second.aws, "events", "trace", order)
        [new] = post_orders(second.api, 1)
        wait_delivered(second.api, new)

    assert kept["status"] == "DELIVERED"
    assert verified.returncode == 0, verified.stdout + verified.stderr
    # The first order's chain, from the bus logs kept in the state.
    assert traced.returncode == 0, traced.stderr
    for detail_type in ("Order.Created", "Delivery.Updated", "Order.Updated"):
        assert detail_type in traced.stdout


def test_a_delivery_pending_at_stop_completes_after_the_restart(tmp_path: Path) -> None:
    state = tmp_path / "state"
    with LocalUp.start("--delivery-delay", "3", "--drain-seconds", "0", "--state-dir",
                       str(state), tmpdir=tmp_path) as first:
        first.wait_ready()
        [order] = post_orders(first.api, 1)
        first.process.send_signal(signal.SIGTERM)  # during the 3 s of delivery work
        code, _, stderr = read_to_exit(first)
    assert code == 0
    assert re.fullmatch(r"stopped with \d+ deliver(y|ies) pending, \d+ retr(y|ies) scheduled "
                        rf"\(kept in {re.escape(str(state))}/\S+\)", stderr[-1]), stderr[-1]

    with LocalUp.start("--delivery-delay", "3", "--state-dir", str(state),
                       tmpdir=tmp_path) as second:
        second.wait_ready()
        wait_delivered(second.api, order)


@pytest.mark.parametrize("content", [b"", b"not a state file", b"\x80\x05K\x01."],
                         ids=["empty", "text", "another-pickle"])
def test_a_state_file_that_cannot_be_used_is_one_line_and_exit_2(
        tmp_path: Path, content: bytes) -> None:
    state = tmp_path / "state"
    state.mkdir()
    (state / "localcloud-state.pickle").write_bytes(content)

    result = subprocess.run(
        [sys.executable, "-m", "infra_bootstrap", "local", "up", "--aws-port", "0",
         "--api-port", "0", "--state-dir", str(state)], cwd=REPO_ROOT,
        env=clean_env(tmp_path), capture_output=True, text=True, timeout=READY_TIMEOUT)

    assert result.returncode == 2
    [line] = result.stderr.strip().splitlines()
    assert line.startswith(f"error: state file {state / 'localcloud-state.pickle'} ")
    assert "move the file away" in line
    assert result.stdout == ""
    assert (state / "localcloud-state.pickle").read_bytes() == content  # never discarded
