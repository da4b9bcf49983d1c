"""EventBridge wildcard patterns: parsed once, matched in linear time, complexity bounded.

Pure logic, no regular expressions: a wildcard ``*`` is any run of characters, ``\\*`` a
literal star and ``\\\\`` a literal backslash ([filtering] "Wildcard matching"). A
pattern splits at its stars into literal segments; a value matches when it starts with
the first segment, ends with the last, and holds the middle ones in order between them.
Taking each middle segment at its leftmost place is always right for stars alone (no
``?``, no classes), so matching never backtracks: at most ``len(value) * len(pattern)``
character comparisons, whatever the pair. A regular expression made the same test
exponential (``*a*a*a*a*a*b`` against 150 characters held the routing thread and the
interpreter's lock for 18 s).

>>> star = parse_wildcard("*a*a*a*a*a*b")
>>> star.matches("a" * 150)
False
>>> parse_wildcard("arn:*:s3:::bucket/\\\\*").matches("arn:aws:s3:::bucket/*")
True

EventBridge also refuses rules whose wildcards could keep too many states of its byte
machine alive at once ([ruler] ``MachineComplexityEvaluator``; AWS answers "Rule is too
complex - try using fewer wildcard characters or fewer repeating character sequences
after a wildcard character"). :func:`complexity` computes that figure for the wildcards
of one field the way event-ruler builds them, one state per UTF-8 byte of the quoted
value, a star making the state before it loop on every byte:

>>> complexity([parse_wildcard("*a*a*a*a*a*b")])
7
>>> complexity([parse_wildcard("*a" * 10 + "*b")]) > MAX_COMPLEXITY
True

Sources: [filtering] EventBridge User Guide, "Content filtering in Amazon EventBridge
event patterns"; [ruler] aws/event-ruler ``WildcardParser`` (escapes, positions) and
``MachineComplexityEvaluator`` (the figure); the limit of 10 and the error text are
AWS's as recorded by its users (a Terraform module's note quoting the PutRule error for
four wildcard filters in one field; an independent emulator's admission check, "more than
ten simultaneously reachable wildcard prefixes").
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

__all__ = ["MAX_COMPLEXITY", "TOO_COMPLEX", "Wildcard", "WildcardError", "complexity",
           "parse_wildcard"]

MAX_COMPLEXITY = 10
TOO_COMPLEX = ("Rule is too complex - try using fewer wildcard characters or fewer "
               "repeating character sequences after a wildcard character")
# Past this many distinct state sets the machine is too complex anyway: a bound on the
# work of the check itself, which runs on every PutRule.
_MAX_STATE_SETS = 16384
_OTHER = -1  # stands for every byte that no literal of the patterns holds


class WildcardError(ValueError):
    """A wildcard text PutRule refuses; ``reason`` is event-ruler's text."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)


@dataclass(frozen=True)
class Wildcard:
    """A parsed wildcard: the literal segments between its stars.

    >>> parse_wildcard("a*b*c").segments
    ('a', 'b', 'c')
    """

    segments: tuple[str, ...]

    @property
    def stars(self) -> int:
        return len(self.segments) - 1

    def matches(self, value: str) -> bool:
        """Whole-value match, leftmost placement of each middle segment (no backtracking).

        >>> w = parse_wildcard("*.png")
        >>> w.matches("cat.png"), w.matches("cat.png.gz")
        (True, False)
        """
        segments = self.segments
        if len(segments) == 1:
            return value == segments[0]
        first, last = segments[0], segments[-1]
        end = len(value) - len(last)
        if end < len(first) or not value.startswith(first) or not value.endswith(last):
            return False
        position = len(first)
        for segment in segments[1:-1]:
            found = value.find(segment, position, end)
            if found < 0:
                return False
            position = found + len(segment)
        return True


def parse_wildcard(text: str) -> Wildcard:
    """Split ``text`` at its unescaped stars; raise WildcardError as event-ruler does.

    Positions in the errors are UTF-8 byte offsets in the quoted value, as on AWS.

    >>> parse_wildcard("a**")
    Traceback (most recent call last):
    ...
    localcloud.wildcards.WildcardError: Consecutive wildcard characters at pos 2
    """
    segments: list[str] = []
    current: list[str] = []
    index = 0
    while index < len(text):
        char = text[index]
        if char == "*":
            if index + 1 < len(text) and text[index + 1] == "*":
                raise WildcardError(
                    f"Consecutive wildcard characters at pos {_byte_pos(text, index)}")
            segments.append("".join(current))
            current = []
        elif char == "\\":
            if index + 1 < len(text) and text[index + 1] in "*\\":
                current.append(text[index + 1])
                index += 2
                continue
            raise WildcardError(f"Invalid escape character at pos {_byte_pos(text, index)}")
        else:
            current.append(char)
        index += 1
    segments.append("".join(current))
    return Wildcard(tuple(segments))


def _byte_pos(text: str, index: int) -> int:
    return len(text[:index].encode("utf-8")) + 1  # +1: the opening quote


# --- complexity -----------------------------------------------------------------------


@dataclass(frozen=True)
class _Machine:
    """One wildcard as event-ruler's byte machine: state i follows byte i of the quoted
    value; ``loops[i]`` when a star follows that byte."""

    data: tuple[int, ...]
    loops: tuple[bool, ...]


def _machine(wildcard: Wildcard) -> _Machine:
    data: list[int] = []
    loops: list[bool] = []
    quoted = ('"' + wildcard.segments[0], *wildcard.segments[1:-1], wildcard.segments[-1] + '"'
              ) if wildcard.stars else ('"' + wildcard.segments[0] + '"',)
    for number, segment in enumerate(quoted):
        encoded = segment.encode("utf-8")
        data.extend(encoded)
        loops.extend([False] * len(encoded))
        if number < len(quoted) - 1:
            loops[-1] = True  # the byte before a star loops on every byte
    return _Machine(tuple(data), tuple(loops))


def complexity(wildcards: Iterable[Wildcard]) -> int:
    """The most states the wildcards of one field keep alive at once for any input value,
    counted as event-ruler counts them (capped just above :data:`MAX_COMPLEXITY`).

    >>> complexity([parse_wildcard("prefix-*")]), complexity([parse_wildcard("plain")])
    (2, 0)
    """
    machines = [_machine(w) for w in wildcards if w.stars]
    if not machines:
        return 0
    alphabet = [*sorted({byte for m in machines for byte in m.data}), _OTHER]
    # A state is (machine, bytes consumed); every machine starts before its first byte.
    start = frozenset((number, 0) for number in range(len(machines)))
    seen = {start}
    pending = [start]
    worst = 0
    while pending:
        active = pending.pop()
        for byte in alphabet:
            following = _step(machines, active, byte)
            if not following:
                continue
            worst = max(worst, len(following))
            if worst > MAX_COMPLEXITY:
                return worst
            if following not in seen:
                if len(seen) >= _MAX_STATE_SETS:
                    return MAX_COMPLEXITY + 1
                seen.add(following)
                pending.append(following)
    return worst


def _step(machines: Sequence[_Machine], active: frozenset[tuple[int, int]], byte: int
          ) -> frozenset[tuple[int, int]]:
    following = set()
    for number, consumed in active:
        machine = machines[number]
        if consumed and machine.loops[consumed - 1]:
            following.add((number, consumed))
        if consumed < len(machine.data) and machine.data[consumed] == byte:
            following.add((number, consumed + 1))
    return frozenset(following)
