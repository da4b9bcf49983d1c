"""Cold-start cost of the services: importing each app, and the first span's tracer set-up.

Lambda runs a function's module imports in its init phase on every cold start; the
apps import no heavy library at import time (Powertools, fastjsonschema and the
OpenTelemetry SDK load at first use). Each figure is a fresh interpreter, as a cold
start is; the median of the runs is printed, with the core count. Figures are printed,
not asserted.

    .venv/bin/python bench/bench_import_time.py [--runs 7]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ENV = {"SERVICE_NAME": "order-service", "TABLE_NAME": "order-service-state",
       "GLOBAL_BUS_ARN": "arn:aws:events:eu-west-1:111111111111:event-bus/global-bus",
       "AWS_DEFAULT_REGION": "eu-west-1"}
TIMED = """
import time
start = time.perf_counter()
{code}
print(time.perf_counter() - start)
"""
CASES = {
    "import order_service.app": "import order_service.app",
    "import delivery_service.app": "import delivery_service.app",
    "import opentelemetry SDK (what the first span adds)":
        "import opentelemetry.sdk.trace, opentelemetry.sdk.trace.export",
    "first span (tracer set-up + one span)":
        "from backbone import tracing\nwith tracing.span('x'):\n    pass",
}


def measure(code: str) -> float:
    """Seconds one fresh interpreter spends running ``code`` (its own clock)."""
    out = subprocess.run([sys.executable, "-c", TIMED.format(code=code)], cwd=ROOT,
                         env={**os.environ, **ENV, "PYTHONDONTWRITEBYTECODE": "1"},
                         capture_output=True, text=True, check=True)
    return float(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    print(f"cores: {os.cpu_count()}, load average {os.getloadavg()[0]:.1f}; median of "
          f"{args.runs} fresh interpreters "
          "(bytecode cached after the first)")
    for label, code in CASES.items():
        times = [measure(code) for _ in range(args.runs)]
        print(f"  {label:55s} {statistics.median(times) * 1000:8.1f} ms "
              f"(min {min(times) * 1000:.1f})")


if __name__ == "__main__":
    main()
