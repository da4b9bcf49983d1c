"""Wildcard matching without backtracking, and event-ruler's complexity limit."""

from __future__ import annotations

import itertools
import re

import pytest

from localcloud.patterns import InvalidEventPattern, compile_pattern
from localcloud.wildcards import (
    MAX_COMPLEXITY,
    TOO_COMPLEX,
    complexity,
    parse_wildcard,
)


def reference(pattern: str, value: str) -> bool:
    """The textbook meaning of a star-only glob, by regular expression (small inputs)."""
    parts = [re.escape(p) for p in pattern.split("*")]
    return re.fullmatch(".*".join(parts), value, re.DOTALL) is not None


PATTERNS = ["*", "a*", "*a", "a*b", "*a*", "ab*ba", "*a*a*b", "a*a*a", "*ab*ab*", "b*a*b*a"]
VALUES = ["".join(chars) for n in range(7) for chars in itertools.product("ab", repeat=n)]


@pytest.mark.parametrize("pattern", PATTERNS)
def test_leftmost_segment_matching_agrees_with_the_glob_meaning_on_every_short_value(
        pattern: str) -> None:
    wildcard = parse_wildcard(pattern)
    disagreements = [v for v in VALUES if wildcard.matches(v) != reference(pattern, v)]
    assert disagreements == []


def test_the_issue_s_adversarial_pair_is_answered_and_a_near_miss_still_matches() -> None:
    wildcard = parse_wildcard("*a*a*a*a*a*b")

    assert wildcard.matches("a" * 150) is False
    assert wildcard.matches("a" * 200_000) is False
    assert wildcard.matches("a" * 150 + "b") is True


def test_escaped_stars_and_backslashes_are_literals() -> None:
    wildcard = parse_wildcard("a\\*b*\\\\")

    assert wildcard.segments == ("a*b", "\\")
    assert wildcard.matches("a*bxyz\\") is True
    assert wildcard.matches("aXbxyz\\") is False


@pytest.mark.parametrize(("text", "reason"), [
    ("a**b", "Consecutive wildcard characters at pos 2"),
    ("é\\x", "Invalid escape character at pos 3"),
])
def test_invalid_wildcards_name_event_ruler_s_byte_position(text: str, reason: str) -> None:
    with pytest.raises(InvalidEventPattern) as raised:
        compile_pattern({"f": [{"wildcard": text}]})
    assert raised.value.reason == reason


def test_the_issue_s_49_character_rule_is_within_the_complexity_limit() -> None:
    rule = {"detail": {"value": [{"wildcard": "*a*a*a*a*a*b"}]}}

    pattern = compile_pattern(rule)

    assert complexity([parse_wildcard("*a*a*a*a*a*b")]) <= MAX_COMPLEXITY
    assert pattern.matches({"detail": {"value": "a" * 150}}) is False


@pytest.mark.parametrize("rule", [
    {"f": [{"wildcard": "*a" * 10 + "*b"}]},                       # many stars on one value
    {"f": [{"wildcard": "x*" + "abcdefghij" * 20}]},              # a repeating sequence
    {"f": [{"wildcard": f"*{c}*{c}*{c}*"} for c in "abcd"]},       # four filters, one field
    {"f": [{"anything-but": {"wildcard": ["*a*a*a*a*a*a*a*a*a*a*a*"]}}]},
])
def test_rules_whose_wildcards_keep_too_many_states_alive_are_refused_as_aws_words_it(
        rule: dict) -> None:
    with pytest.raises(InvalidEventPattern) as raised:
        compile_pattern(rule)
    assert raised.value.reason == TOO_COMPLEX
    assert str(raised.value) == f"Event pattern is not valid. Reason: {TOO_COMPLEX}"


def test_wildcards_of_different_fields_are_judged_separately() -> None:
    rule = {f"f{n}": [{"wildcard": "*a*b*c*"}] for n in range(6)}

    assert compile_pattern(rule).matches({f"f{n}": "xaybzc" for n in range(6)})


def test_ip_literal_checks_stay_linear_on_a_long_run_of_colons() -> None:
    # [ruler]'s IPv6 regular expression backtracks quadratically on this value.
    pattern = compile_pattern({"ip": [{"cidr": "10.0.0.0/24"}, "10.0.0.1"]})

    assert pattern.matches({"ip": ":" * 200_000 + "x"}) is False
    assert pattern.matches({"ip": "10.0.0.7"}) is True
