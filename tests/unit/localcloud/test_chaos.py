"""Specification of ``--chaos``: its parsing, and decisions that are seeded and exact at the
ends of the scale (probability 0: never; 1: always)."""

from __future__ import annotations

import pytest

from localcloud.chaos import Chaos, ChaosSettings, ChaosSpecError, FirstAttempt


def test_a_full_specification_is_parsed() -> None:
    assert ChaosSettings.parse("duplicates=0.3,delay=0.2,failures=0.2,seed=7") == \
        ChaosSettings(duplicates=0.3, delay_s=0.2, failures=0.2, seed=7)


def test_every_key_is_optional_and_spaces_are_allowed() -> None:
    assert ChaosSettings.parse(" failures = 1 ") == ChaosSettings(failures=1.0)
    assert ChaosSettings.parse("seed=0") == ChaosSettings(seed=0)


@pytest.mark.parametrize(("spec", "names"), [
    ("duplicates=1.5", "duplicates=1.5"),
    ("duplicates=-0.1", "duplicates=-0.1"),
    ("failures=often", "failures=often"),
    ("failures=nan", "failures=nan"),
    ("delay=-1", "delay=-1"),
    ("delay=inf", "delay=inf"),
    ("delay=soon", "delay=soon"),
    ("seed=1.5", "seed=1.5"),
    ("seed=-3", "seed=-3"),
    ("dupes=0.1", "dupes=0.1"),
    ("delay", "delay"),
    ("delay=", "delay="),
    ("delay=1,delay=2", "delay=2"),
    ("delay=1,,failures=0.1", "empty part"),
    ("", "empty part"),
])
def test_a_bad_specification_names_the_bad_key_or_value(spec: str, names: str) -> None:
    with pytest.raises(ChaosSpecError) as raised:
        ChaosSettings.parse(spec)
    assert names in str(raised.value)
    assert "\n" not in str(raised.value)


def test_the_same_seed_makes_the_same_decisions() -> None:
    settings = ChaosSettings(duplicates=0.5, delay_s=2.0, failures=0.5, seed=42)
    first, second = Chaos(settings), Chaos(settings)

    runs = [[(c.first_attempt(), c.fails()) for _ in range(200)] for c in (first, second)]

    assert runs[0] == runs[1]
    other = Chaos(ChaosSettings(duplicates=0.5, delay_s=2.0, failures=0.5, seed=43))
    assert [(other.first_attempt(), other.fails()) for _ in range(200)] != runs[0]


def test_without_a_seed_one_is_picked_and_kept() -> None:
    chaos = Chaos(ChaosSettings(duplicates=0.5))
    assert chaos.settings.seed is not None
    replay = Chaos(chaos.settings)
    assert [chaos.first_attempt() for _ in range(50)] == \
        [replay.first_attempt() for _ in range(50)]


def test_probability_zero_never_acts_and_one_always_does() -> None:
    never = Chaos(ChaosSettings(duplicates=0.0, failures=0.0, seed=1))
    always = Chaos(ChaosSettings(duplicates=1.0, failures=1.0, seed=1))

    assert all(never.first_attempt() == FirstAttempt(False, 0.0, 0.0) for _ in range(1000))
    assert not any(never.fails() for _ in range(1000))
    assert all(always.first_attempt().duplicate for _ in range(1000))
    assert all(always.fails() for _ in range(1000))


def test_delays_stay_between_zero_and_the_maximum_and_vary() -> None:
    chaos = Chaos(ChaosSettings(duplicates=1.0, delay_s=0.2, seed=5))

    decisions = [chaos.first_attempt() for _ in range(1000)]

    delays = [d.delay_s for d in decisions] + [d.duplicate_delay_s for d in decisions]
    assert all(0.0 <= delay <= 0.2 for delay in delays)
    assert len(set(delays)) > 900


def test_probabilities_act_about_as_often_as_asked() -> None:
    chaos = Chaos(ChaosSettings(duplicates=0.3, failures=0.2, seed=9))

    duplicates = sum(chaos.first_attempt().duplicate for _ in range(10_000))
    failures = sum(chaos.fails() for _ in range(10_000))

    # Binomial(10 000, p): these bounds are over 8 standard deviations wide.
    assert 2_600 < duplicates < 3_400
    assert 1_650 < failures < 2_350


def test_the_startup_line_names_every_setting_and_the_seed() -> None:
    line = ChaosSettings.parse("duplicates=0.3,delay=0.2,failures=0.2,seed=7").describe()
    assert line.startswith("chaos: on")
    assert line.endswith("duplicates=0.3 delay=0.2 s failures=0.2 seed=7")
