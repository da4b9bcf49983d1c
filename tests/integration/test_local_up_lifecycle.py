"""Stopping and restarting `local up`: SIGTERM drains (no acknowledged order is lost when
the window is long enough; what a short window leaves is said in one line)."""

from __future__ import annotations

import json
import re
import signal
import urllib.request
from pathlib import Path

import pytest
from local_up_helpers import STOP_TIMEOUT, LocalUp

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
