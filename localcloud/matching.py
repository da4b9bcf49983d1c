"""Which rules an event matches, and the pattern checks of PutRule and TestEventPattern.

The pattern language itself is :mod:`localcloud.patterns` (pure); here are the EventBridge
rules around it: a rule matches only when enabled, a schedule rule never matches an event,
each pattern text is compiled once.

>>> evaluate_test_event('{"source": ["s"]}', '{"id": "1", "account": "1", "source": "s", '
...     '"time": "t", "region": "r", "resources": [], "detail-type": "d"}')
True
>>> try:
...     validate_pattern('{"source": []}')
... except AwsApiError as error:
...     print(error.code, "/", error.message)
InvalidEventPatternException / Event pattern is not valid. Reason: Empty arrays are not allowed
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from typing import Any

from localcloud.cache import BoundedCache
from localcloud.errors import AwsApiError
from localcloud.patterns import EventPattern, InvalidEventPattern, compile_pattern
from localcloud.state import Rule

log = logging.getLogger(__name__)

# Disabled rules do not match (API Reference, DisableRule: "A disabled rule won't match
# any events"); a rule enabled with CloudTrail management events matches custom events too.
ENABLED_STATES = frozenset({"ENABLED", "ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS"})
# TestEventPattern: "the following fields are mandatory: id, account, source, time,
# region, resources, detail-type" (EventBridge API Reference, TestEventPattern).
_TEST_EVENT_FIELDS = ("id", "account", "source", "time", "region", "resources", "detail-type")


# EventPattern: at most 4,096 characters in the API's model (botocore events
# service-2.json, shape EventPattern, "max": 4096), and the service quota "Event pattern
# size" of 2,048 characters by default (EventBridge User Guide, "Amazon EventBridge
# quotas"; raising it is a quota request). Both are enforced: the quota as PutRule's
# LimitExceededException (its documented error for a quota), wording ours.
MAX_PATTERN_LENGTH = 4096
PATTERN_SIZE_QUOTA = 2048


def check_pattern_size(pattern: str) -> None:
    """Refuse a pattern longer than the API allows or than the default quota.

    >>> try:
    ...     check_pattern_size("{" + " " * 3000 + "}")
    ... except AwsApiError as error:
    ...     print(error.code)
    LimitExceededException
    """
    if len(pattern) > MAX_PATTERN_LENGTH:
        raise AwsApiError("ValidationException", "1 validation error detected: Value at "
                          "'eventPattern' failed to satisfy constraint: Member must have "
                          f"length less than or equal to {MAX_PATTERN_LENGTH}")
    if len(pattern) > PATTERN_SIZE_QUOTA:
        raise AwsApiError("LimitExceededException", f"Event pattern size {len(pattern)} "
                          f"exceeds the quota of {PATTERN_SIZE_QUOTA} characters.")


def validate_pattern(pattern: Any) -> EventPattern:
    """PutRule/TestEventPattern pattern validation -> InvalidEventPatternException, or the
    size limits above."""
    if isinstance(pattern, str):
        check_pattern_size(pattern)
    try:
        return compile_pattern(pattern)
    except InvalidEventPattern as exc:
        raise AwsApiError("InvalidEventPatternException", str(exc)) from None


def evaluate_test_event(pattern: str, event: str) -> bool:
    """TestEventPattern with our matcher; raises AwsApiError as AWS does."""
    compiled = validate_pattern(pattern)
    try:
        parsed = json.loads(event)
    except ValueError:
        parsed = None
    if not isinstance(parsed, dict) or any(k not in parsed for k in _TEST_EVENT_FIELDS):
        raise AwsApiError("ValidationException", "Parameter Event is not valid.")
    return compiled.matches(parsed)


class RuleMatcher:
    """Matches events against rules, compiling each pattern text once (bounded memo)."""

    def __init__(self, cache_size: int = 4096) -> None:
        self._patterns = BoundedCache(cache_size)

    def matching(self, rules: list[Rule], envelope: Mapping[str, Any]) -> list[Rule]:
        """The enabled rules whose pattern matches ``envelope``, in rule order."""
        matched = []
        for rule in rules:
            try:
                if rule.state not in ENABLED_STATES:
                    continue
                pattern = self.pattern(rule.pattern)
                if pattern is not None and pattern.matches(envelope):
                    matched.append(rule)
            except Exception:  # a surprise in one rule must not stop the others
                log.exception("cannot match rule %s", rule.arn)
        return matched

    def pattern(self, text: str | None) -> EventPattern | None:
        """The compiled pattern; None for a schedule rule or a pattern that cannot compile
        (written before validation, straight into the control plane)."""
        if not text:
            return None

        def compiled() -> EventPattern | None:
            try:
                return compile_pattern(text)
            except InvalidEventPattern:
                return None
        pattern: EventPattern | None = self._patterns.memo(text, compiled)
        return pattern
