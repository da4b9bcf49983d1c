"""At-least-once delivery on demand (``--chaos``): duplicates, delays, transient failures.

EventBridge delivers at least once: "an event might be delivered to a target more than
once" and handlers must be idempotent (EventBridge User Guide); events also arrive late
and out of order, and an attempt may fail and be retried. The local data plane delivers
exactly once, in order, unless chaos is on: then each delivery to a rule target is
decided here, from a seeded random generator (the same seed, the same decisions for the
same sequence of deliveries):

- ``duplicates=P``: with probability P the same event (same ``id``) is delivered a second
  time to the same target, with its own delay;
- ``delay=S``: each delivery (and each duplicate) waits a random 0..S seconds (real
  seconds), so events overtake each other;
- ``failures=P``: with probability P an attempt fails transiently and goes through the
  target's RetryPolicy (EventBridge retries it with back-off), never on the last attempt
  the policy allows, so chaos alone never dead-letters an event.

Pure: parsing and decisions only; the router applies them (``Router._deliver``).

>>> settings = ChaosSettings.parse("duplicates=1,delay=0,failures=0,seed=7")
>>> settings
ChaosSettings(duplicates=1.0, delay_s=0.0, failures=0.0, seed=7)
>>> chaos = Chaos(settings)
>>> chaos.first_attempt()
FirstAttempt(duplicate=True, delay_s=0.0, duplicate_delay_s=0.0)
>>> chaos.fails()
False
>>> ChaosSettings.parse("failures=2")
Traceback (most recent call last):
...
localcloud.chaos.ChaosSpecError: failures=2: not a probability (a number from 0 to 1)
"""

from __future__ import annotations

import math
import random
import secrets
import threading
from dataclasses import dataclass, replace

KEYS = ("duplicates", "delay", "failures", "seed")


class ChaosSpecError(ValueError):
    """A ``--chaos`` specification that cannot be used; the message names the bad part."""


def _probability(key: str, text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not 0.0 <= value <= 1.0:
        raise ChaosSpecError(f"{key}={text}: not a probability (a number from 0 to 1)")
    return value


def _seconds(key: str, text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not (value >= 0.0 and math.isfinite(value)):
        raise ChaosSpecError(f"{key}={text}: not a number of seconds >= 0")
    return value


def _seed(key: str, text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise ChaosSpecError(f"{key}={text}: not a whole number") from None
    if value < 0:
        raise ChaosSpecError(f"{key}={text}: not a whole number >= 0")
    return value


@dataclass(frozen=True)
class ChaosSettings:
    """What ``--chaos`` asked for; ``seed`` None until :meth:`seeded` picks one."""

    duplicates: float = 0.0
    delay_s: float = 0.0
    failures: float = 0.0
    seed: int | None = None

    @classmethod
    def parse(cls, spec: str) -> ChaosSettings:
        """``duplicates=P,delay=S,failures=P,seed=N``, each key optional and at most once.

        >>> ChaosSettings.parse("delay=0.5")
        ChaosSettings(duplicates=0.0, delay_s=0.5, failures=0.0, seed=None)
        >>> ChaosSettings.parse("delay=0.5,typo=1")  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        localcloud.chaos.ChaosSpecError: typo=1: unknown key (known: duplicates, delay, ...
        """
        given: dict[str, str] = {}
        for part in spec.split(","):
            part = part.strip()
            if not part:
                raise ChaosSpecError(f"{spec!r}: an empty part (write key=value,key=value)")
            key, equals, value = (s.strip() for s in part.partition("="))
            if key not in KEYS:
                raise ChaosSpecError(f"{part}: unknown key (known: {', '.join(KEYS)})")
            if not equals or not value:
                raise ChaosSpecError(f"{part}: no value (write {key}=VALUE)")
            if key in given:
                raise ChaosSpecError(f"{part}: {key} is given twice")
            given[key] = value
        return cls(
            duplicates=_probability("duplicates", given["duplicates"])
            if "duplicates" in given else 0.0,
            delay_s=_seconds("delay", given["delay"]) if "delay" in given else 0.0,
            failures=_probability("failures", given["failures"])
            if "failures" in given else 0.0,
            seed=_seed("seed", given["seed"]) if "seed" in given else None)

    def seeded(self) -> ChaosSettings:
        """These settings with a seed: the given one, else a random one (to be printed, so
        that a run can be repeated).

        >>> ChaosSettings(seed=3).seeded().seed
        3
        >>> ChaosSettings().seeded().seed is not None
        True
        """
        if self.seed is not None:
            return self
        return replace(self, seed=secrets.randbelow(2**31))

    def describe(self) -> str:
        """The one startup line that says chaos is on, with its settings and seed.

        >>> ChaosSettings(0.3, 0.2, 0.2, 7).describe()
        'chaos: on (at-least-once delivery): duplicates=0.3 delay=0.2 s failures=0.2 seed=7'
        """
        return (f"chaos: on (at-least-once delivery): duplicates={self.duplicates:g} "
                f"delay={self.delay_s:g} s failures={self.failures:g} seed={self.seed}")


@dataclass(frozen=True)
class FirstAttempt:
    """What chaos does to a delivery before its first attempt."""

    duplicate: bool
    delay_s: float
    duplicate_delay_s: float


class Chaos:
    """The decisions, one per call, from a random generator seeded with the settings'
    seed (thread-safe: the router's threads share it).

    >>> settings = ChaosSettings(duplicates=0.5, delay_s=1.0, failures=0.5, seed=1)
    >>> a, b = Chaos(settings), Chaos(settings)
    >>> [a.first_attempt() for _ in range(3)] == [b.first_attempt() for _ in range(3)]
    True
    """

    def __init__(self, settings: ChaosSettings) -> None:
        self.settings = settings.seeded()
        self._random = random.Random(self.settings.seed)
        self._lock = threading.Lock()

    def first_attempt(self) -> FirstAttempt:
        """Duplicate this delivery? How long do it (and its duplicate) wait first?"""
        settings = self.settings
        with self._lock:
            duplicate = self._random.random() < settings.duplicates
            delay = self._random.uniform(0.0, settings.delay_s)
            duplicate_delay = self._random.uniform(0.0, settings.delay_s)
        return FirstAttempt(duplicate, delay if settings.delay_s else 0.0,
                            duplicate_delay if duplicate and settings.delay_s else 0.0)

    def fails(self) -> bool:
        """Does this attempt fail (transiently)? Ask only when a retry is still allowed."""
        with self._lock:
            return self._random.random() < self.settings.failures
