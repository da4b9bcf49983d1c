"""Micro-benchmark: EventBridge pattern matches per second (figures printed, not asserted).

Run: .venv/bin/python bench/bench_patterns.py [--seconds 1.0]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from localcloud.patterns import compile_pattern

EVENT = {
    "version": "0",
    "id": "6a7e8feb-b491-4cf7-a9f1-bf3703467718",
    "detail-type": "Order.Created",
    "source": "order-service",
    "account": "222222222222",
    "time": "2024-05-01T12:00:00Z",
    "region": "eu-west-1",
    "resources": [],
    "detail": {
        "data": {"order_id": "o-123", "total": 42.5, "items": [{"sku": "A-1", "qty": 2}]},
        "meta": {"correlation_id": "c-1"},
    },
}

PATTERNS = {
    "forwarding (anything-but source)": {"source": [{"anything-but": "order-service"}]},
    "detail-type + numeric": {
        "detail-type": ["Order.Created"],
        "detail": {"data": {"total": [{"numeric": [">", 0, "<=", 100]}]}},
    },
    "catch-all (prefix '')": {"source": [{"prefix": ""}]},
    "$or + wildcard + array of objects": {
        "$or": [
            {"detail-type": [{"wildcard": "Order.*"}]},
            {"detail": {"data": {"items": {"sku": ["A-1"]}}}},
        ],
    },
}


def measure(pattern: dict, seconds: float) -> tuple[float, bool]:
    """Matches per second of one compiled pattern against EVENT for about `seconds`."""
    matches = compile_pattern(pattern).matches
    result = matches(EVENT)
    batch = 10_000
    done = 0
    start = time.perf_counter()
    elapsed = 0.0
    while elapsed < seconds:
        for _ in range(batch):
            matches(EVENT)
        done += batch
        elapsed = time.perf_counter() - start
    return done / elapsed, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=1.0, help="time per pattern")
    args = parser.parse_args()
    print(f"cores: {os.cpu_count()}", flush=True)
    compile_start = time.perf_counter()
    for _ in range(1000):
        for pattern in PATTERNS.values():
            compile_pattern(pattern)
    compile_rate = 1000 * len(PATTERNS) / (time.perf_counter() - compile_start)
    print(f"{'compile_pattern':40s} {compile_rate:>12,.0f} patterns/s")
    for name, pattern in PATTERNS.items():
        rate, matched = measure(pattern, args.seconds)
        print(f"{name:40s} {rate:>12,.0f} matches/s  (matched={matched})")


if __name__ == "__main__":
    main()
