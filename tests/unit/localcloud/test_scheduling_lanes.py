"""Routing lanes: one account's backlog does not make another account's work wait."""

from __future__ import annotations

import threading

from localcloud.scheduling import Scheduler


def test_a_second_account_s_work_runs_after_one_piece_of_a_backlogged_account() -> None:
    scheduler = Scheduler(time_scale=1 / 1000, pool_size=1)
    gate = threading.Event()
    order: list[str] = []
    try:
        scheduler.enqueue(gate.wait, lane="busy")  # holds the routing thread
        for number in range(50):
            scheduler.enqueue(lambda n=number: order.append(f"busy-{n}"), lane="busy")
        scheduler.enqueue(lambda: order.append("quiet"), lane="quiet")
        gate.set()

        assert scheduler.wait_idle(10)
    finally:
        scheduler.stop()
    assert order.index("quiet") <= 1
    assert [o for o in order if o != "quiet"] == [f"busy-{n}" for n in range(50)]


def test_stop_ends_the_routing_thread_with_work_still_queued() -> None:
    scheduler = Scheduler(time_scale=1 / 1000, pool_size=1)
    gate = threading.Event()
    scheduler.enqueue(gate.wait, lane="a")
    scheduler.enqueue(lambda: None, lane="a")

    scheduler.stop()
    gate.set()

    assert scheduler.pending >= 1
