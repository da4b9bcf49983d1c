"""Tuning of the local data plane (one frozen value, passed down to every part).

>>> RouterConfig().time_scale * 60      # one AWS minute, in local seconds
0.1
"""

from __future__ import annotations

from dataclasses import dataclass

from localcloud.chaos import ChaosSettings


@dataclass(frozen=True)
class RouterConfig:
    """Tuning of the local data plane.

    ``time_scale``: local seconds per AWS second for every delay and event age (retry
    back-off, Lambda's 1 and 2 minute retry waits, MaximumEventAgeInSeconds). The default
    turns a minute into 0.1 s.
    """

    time_scale: float = 1 / 600
    lambda_concurrency: int = 64
    eb_backoff_base_s: float = 1.0
    eb_backoff_cap_s: float = 300.0
    max_recorded_failures: int = 1000
    # Back-pressure: beyond this many events queued, in delivery or waiting for a retry,
    # PutEvents fails further entries with ThrottlingException (retryable, as on AWS)
    # instead of letting memory grow without bound.
    max_pending: int = 100_000
    # Entries kept by each memo of decisions, policies and compiled patterns.
    cache_size: int = 4096
    # At-least-once delivery on demand (duplicates, delays, transient failures);
    # None: every event delivered once (localcloud.chaos).
    chaos: ChaosSettings | None = None
