"""Metrics of concurrent invocations in one process (the local worker runs handlers on
threads): each count is emitted exactly once and flushing never fails an invocation."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator

import pytest

from backbone import observability


@pytest.fixture(autouse=True)
def fresh_observability() -> Iterator[None]:
    observability.reset()
    yield
    observability.reset()


def emitted_counts(stdout: str, name: str) -> float:
    """The sum of one metric over every EMF document printed."""
    total = 0.0
    for line in stdout.splitlines():
        document = json.loads(line)
        if name in document:
            value = document[name]
            total += sum(value) if isinstance(value, list) else value
    return total


def test_concurrent_invocations_emit_every_count_exactly_once(
        capsys: pytest.CaptureFixture[str]) -> None:
    threads, invocations = 8, 300
    errors: list[BaseException] = []

    def handle_many() -> None:
        for _ in range(invocations):
            try:
                with observability.invocation(correlation_id="c-1"):
                    observability.count(observability.EVENTS_PUBLISHED)
            except Exception as exc:  # a metrics failure would fail the handler
                errors.append(exc)

    workers = [threading.Thread(target=handle_many) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()

    assert errors == []
    out = capsys.readouterr().out
    assert emitted_counts(out, observability.EVENTS_PUBLISHED) == threads * invocations
