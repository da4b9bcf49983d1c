"""How long `python -m infra_bootstrap local up` takes from launch to its `ready:` line.

Target: <= 10 s on a 2-core machine, so that `local up` is a command one runs often.
Figures are printed, not asserted.

    .venv/bin/python bench/bench_startup.py [--runs 5]
"""

from __future__ import annotations

import argparse
import os
import statistics

from _localup import LocalUpProcess


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    print(f"cores: {os.cpu_count()}", flush=True)
    times = []
    for run in range(args.runs):
        # -v prints each startup step with its time on stderr; show the first run's.
        cloud = LocalUpProcess("--delivery-delay", "0", "-v")
        times.append(cloud.ready_s)
        steps = [line for line in cloud.stop().splitlines() if " s  " in line]
        if run == 0:
            print("startup steps of run 1 (seconds since local up began starting):")
            for step in steps:
                print(f"  {step}")
        print(f"run {run + 1}: launch -> ready {cloud.ready_s:.2f} s")
    print(f"local up -> ready over {len(times)} runs: min {min(times):.2f} s, "
          f"median {statistics.median(times):.2f} s, max {max(times):.2f} s (target <= 10 s)")


if __name__ == "__main__":
    main()
