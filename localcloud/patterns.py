"""EventBridge's event-pattern language: validate a pattern like PutRule, match events fast.

Pure logic, no I/O. A pattern is compiled once into small closures; matching walks the
event dict that was already parsed, never JSON text.

>>> p = compile_pattern('{"source": [{"anything-but": "order-service"}]}')
>>> p.matches({"source": "delivery-service", "detail": {}})
True
>>> p.matches({"source": "order-service", "detail": {}})
False

Sources (EventBridge User Guide) cited below by short name:
- [patterns]  "Amazon EventBridge event patterns" (eb-event-patterns.html)
- [filtering] "Content filtering in Amazon EventBridge event patterns"
              (eb-event-patterns-content-based-filtering.html)
- [operators] "Comparison operators for use in event patterns in Amazon EventBridge"
              (eb-create-pattern-operators.html)
- [arrays]    "Arrays in Amazon EventBridge event patterns" (eb-event-patterns-arrays.html)
- [considerations] "Creating event patterns", section "Considerations when creating event
              patterns" (eb-create-pattern.html): dot is the joining character of field
              names, so dotted and nested names are the same field, in patterns and events.
- [ruler]     aws/event-ruler, the open-source matcher those pages describe: README.md and
              JsonRuleCompiler.java give the validation rules and the exact error texts that
              PutRule returns as InvalidEventPatternException ("Event pattern is not valid.
              Reason: ...").
"""

from __future__ import annotations

import ipaddress
import json
import math
import re
from collections.abc import Callable, Mapping
from typing import Any

from localcloud.wildcards import (
    MAX_COMPLEXITY,
    TOO_COMPLEX,
    Wildcard,
    WildcardError,
    complexity,
    parse_wildcard,
)

__all__ = ["EventPattern", "InvalidEventPattern", "compile_pattern", "expand_dotted_keys"]


class InvalidEventPattern(ValueError):
    """A pattern PutRule would reject with InvalidEventPatternException.

    >>> str(InvalidEventPattern("Empty arrays are not allowed"))
    'Event pattern is not valid. Reason: Empty arrays are not allowed'
    """

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(f"Event pattern is not valid. Reason: {reason}")


# --------------------------------------------------------------------------------------
# Constants
# --------------------------------------------------------------------------------------

_MISSING: Any = object()
_OR = "$or"

# [ruler] Constants.RESERVED_FIELD_NAMES_IN_OR_RELATIONSHIP: these cannot be field names
# inside a "$or" branch.
_RESERVED_IN_OR = frozenset({
    "exactly", "equals-ignore-case", "prefix", "suffix", "anything-but", "exists",
    "wildcard", "numeric", "cidr", "=", "<", "<=", ">", ">=", "regex", "not-wildcard",
    "not-equals-ignore-case", "date-after", "date-on-or-after", "date-before",
    "date-on-or-before", "in-date-range", "ip-address-in-range", "ip-address-not-in-range",
})

# [ruler] README "Numeric matching" / ComparableNumber: numbers are compared within
# -5.0e9..+5.0e9 inclusive, to 6 digits right of the decimal point. We use the same
# comparable key, so 5 == 5.0 and 0.1 + 0.2 == 0.3 behave as on AWS.
_FIVE_BILLION = 5e9
_NUMERIC_RANGE_ERROR = "Value must be between -5.0E9 and 5.0E9, inclusive"

# [ruler] Constants.IPv4_REGEX ([0-9]+\.[0-9]+\.[0-9]+\.[0-9]+) and IPv6_REGEX
# ([0-9a-fA-F:]*:[0-9a-fA-F:]*): what counts as an IP address literal. Checked by
# character sets, not those regular expressions: the IPv6 one backtracks quadratically
# on a long run of colons, and event values are attacker-sized (256 KB).
_DIGITS = frozenset("0123456789")
_IPV6_CHARS = frozenset("0123456789abcdefABCDEF:")
_LONGEST_IP = 64  # longer than any IPv4/IPv6 literal ipaddress accepts


def _ip_literal(text: str) -> bool:
    """True if ``text`` has the shape of [ruler]'s IPv4 or IPv6 literal. Linear.

    >>> _ip_literal("10.0.0.1"), _ip_literal("fe80::1"), _ip_literal("10.0.0")
    (True, True, False)
    """
    return len(text) <= _LONGEST_IP and _ip_shape(text)


def _ip_shape(text: str) -> bool:
    parts = text.split(".")
    if len(parts) == 4 and all(part and _DIGITS.issuperset(part) for part in parts):
        return True
    return ":" in text and _IPV6_CHARS.issuperset(text)

_TOO_MANY_NUMERIC = "Too many elements in numeric expression"
_ONE_KEY = "Only one key allowed in match expression"


def _num_key(value: int | float) -> int | None:
    """The comparable integer form of a JSON number, or None outside +-5e9 ([ruler])."""
    if -_FIVE_BILLION <= value <= _FIVE_BILLION:
        return int(1e6 * (_FIVE_BILLION + value))
    return None


def _is_number(value: object) -> bool:
    return type(value) in (int, float) and not (
        isinstance(value, float) and not math.isfinite(value))


def _token_text(value: object) -> str:
    """What Jackson's getText() would print for the token that starts this value."""
    if isinstance(value, Mapping):
        return "{"
    if isinstance(value, list):
        return "["
    if value is _MISSING:
        return "]"
    if isinstance(value, str):
        return value
    return json.dumps(value)


def _parse_ip(text: str) -> tuple[int, int] | None:
    """(version, integer) for an IPv4/IPv6 literal as [ruler] CIDR recognises it, else None."""
    if not _ip_literal(text):
        return None
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    return address.version, int(address)


# --------------------------------------------------------------------------------------
# Leaf matching: one pattern field whose value is an array of matchers
# --------------------------------------------------------------------------------------

StrPred = Callable[[str], bool]
NumPred = Callable[[Any, "int | None"], bool]


class _Leaf:
    """Accumulates the matchers of one leaf field, then builds its predicate.

    Each matcher contributes to the event value types it can match: strings, numbers,
    and the literals null/true/false. A field matches if ANY matcher matches ANY of the
    field's leaf values ([patterns], [arrays]).
    """

    def __init__(self) -> None:
        self.str_exact: set[str] = set()
        self.str_preds: list[StrPred] = []
        self.str_any = False
        self.num_keys: set[int] = set()
        self.num_raw: list[int | float] = []
        self.num_preds: list[NumPred] = []
        self.num_any = False
        self.null_ok = False
        self.true_ok = False
        self.false_ok = False
        self.ip_exact: set[tuple[int, int]] = set()
        self.cidrs: list[tuple[int, int, int]] = []
        self.exists_true = False
        self.exists_false = False
        self.wildcards: list[Wildcard] = []

    def everything_but_strings(self) -> None:
        # [ruler] ByteMachine: an anything-but fails only on an excluded value of its own
        # type, so every present leaf of another type (number, null, boolean) matches.
        self.num_any = True
        self.null_ok = self.true_ok = self.false_ok = True

    def build(self) -> Callable[[Any], bool]:
        if complexity(self.wildcards) > MAX_COMPLEXITY:
            raise InvalidEventPattern(TOO_COMPLEX)
        value_pred = self._value_predicate()
        absent_ok = self.exists_false
        exists_true = self.exists_true

        def field(value: Any) -> bool:
            if value is _MISSING:
                return absent_ok
            kind = type(value)
            if kind is list or kind is tuple:
                leaves = _leaf_values(value)
                if not leaves:
                    return absent_ok  # [] or only objects: no leaf here ([filtering] Exists)
                if exists_true:
                    return True
                for leaf in leaves:  # noqa: SIM110 (hot path: a loop beats any() + genexpr)
                    if value_pred(leaf):
                        return True
                return False
            if kind is dict or isinstance(value, Mapping):
                # [filtering] "Exists matching only works on leaf nodes": an object here
                # is not a value, so only {"exists": false} can match.
                return absent_ok
            return exists_true or value_pred(value)

        return field

    def _value_predicate(self) -> Callable[[Any], bool]:
        str_pred = self._str_predicate()
        num_pred = self._num_predicate()
        null_ok, true_ok, false_ok = self.null_ok, self.true_ok, self.false_ok

        def value_pred(value: Any) -> bool:
            kind = type(value)
            if kind is str:
                return str_pred(value)
            if kind is int or kind is float:
                return num_pred(value)
            if value is None:
                return null_ok
            if kind is bool:
                return true_ok if value else false_ok
            return False

        return value_pred

    def _str_predicate(self) -> StrPred:
        if self.str_any:
            return lambda _value: True
        exact = frozenset(self.str_exact)
        preds = list(self.str_preds)
        if self.ip_exact or self.cidrs:
            preds.append(_ip_predicate(frozenset(self.ip_exact), tuple(self.cidrs)))
        if not preds:
            return exact.__contains__
        if not exact and len(preds) == 1:
            return preds[0]
        preds_t = tuple(preds)

        def str_pred(value: str) -> bool:
            if value in exact:
                return True
            for pred in preds_t:  # noqa: SIM110
                if pred(value):
                    return True
            return False

        return str_pred

    def _num_predicate(self) -> Callable[[Any], bool]:
        if self.num_any:
            return lambda _value: True
        keys = frozenset(self.num_keys)
        raw = tuple(self.num_raw)
        preds = tuple(self.num_preds)
        if not keys and not raw and not preds:
            return lambda _value: False

        def num_pred(value: int | float) -> bool:
            key = _num_key(value)  # None for NaN, infinities and beyond +-5e9
            if key is not None:
                if key in keys:
                    return True
            elif value in raw:
                # [ruler] a number outside +-5e9 (an account id, say) still matches an
                # identical literal in the pattern.
                return True
            for pred in preds:  # noqa: SIM110
                if pred(value, key):
                    return True
            return False

        return num_pred


def _leaf_values(values: list | tuple) -> list:
    """The scalar leaves of an event array; nested arrays flattened, objects skipped."""
    out: list = []
    for item in values:
        kind = type(item)
        if kind is list or kind is tuple:
            out.extend(_leaf_values(item))
        elif kind is not dict and not isinstance(item, Mapping):
            out.append(item)
    return out


def _ip_predicate(exact: frozenset[tuple[int, int]],
                  cidrs: tuple[tuple[int, int, int], ...]) -> StrPred:
    def ip_pred(value: str) -> bool:
        parsed = _parse_ip(value)
        if parsed is None:
            return False
        if parsed in exact:
            return True
        version, number = parsed
        for cidr_version, low, high in cidrs:
            if version == cidr_version and low <= number <= high:
                return True
        return False

    return ip_pred


# --------------------------------------------------------------------------------------
# Compiling
# --------------------------------------------------------------------------------------

ObjectMatcher = Callable[[Mapping], bool]
_EMPTY: Mapping = {}


def _compile_object(pattern: Mapping, in_or: bool) -> ObjectMatcher:
    """Compile one pattern object: every field must match (AND) ([patterns])."""
    if not pattern:
        raise InvalidEventPattern("Empty objects are not allowed")
    fields: list[tuple[str, Callable[[Any], bool]]] = []
    or_groups: list[tuple[ObjectMatcher, ...]] = []
    for name, spec in pattern.items():
        if name == _OR:
            or_groups.append(_compile_or(spec))
            continue
        if in_or and name in _RESERVED_IN_OR:
            raise InvalidEventPattern(
                f"{name} is Ruler reserved fieldName which cannot be used inside $or.")
        if "." in name:
            # [considerations]: dot is the joining character, so {"state.status": [..]}
            # is {"state": {"status": [..]}}; events are expanded alike (expand_dotted_keys).
            head, rest = name.split(".", 1)
            fields.append((head, _nested_field(_compile_object({rest: spec}, in_or))))
        elif isinstance(spec, Mapping):
            fields.append((name, _nested_field(_compile_object(spec, in_or))))
        elif isinstance(spec, list):
            fields.append((name, _compile_leaf(spec)))
        else:
            raise InvalidEventPattern(f'"{name}" must be an object or an array')

    fields_t = tuple(fields)
    or_t = tuple(or_groups)

    def match_object(event: Mapping) -> bool:
        get = event.get
        for name, field in fields_t:
            if not field(get(name, _MISSING)):
                return False
        for branches in or_t:
            for branch in branches:
                if branch(event):
                    break
            else:
                return False
        return True

    return match_object


def _nested_field(sub: ObjectMatcher) -> Callable[[Any], bool]:
    """A field whose pattern is an object: match the event's object at that key.

    [arrays] + [ruler] README "JSON Array Matching": an array of objects matches if one
    element object matches the whole nested pattern (fields from one element, never
    mixed across elements). A missing or non-object value behaves as an object without
    those fields, so only {"exists": false} leaves can still match.
    """
    on_empty = sub(_EMPTY)

    def field(value: Any) -> bool:
        kind = type(value)
        if kind is dict:
            return sub(value)
        if kind is list or kind is tuple:
            objects = _object_elements(value)
            if not objects:
                return on_empty
            for obj in objects:  # noqa: SIM110
                if sub(obj):
                    return True
            return False
        if value is not _MISSING and isinstance(value, Mapping):
            return sub(value)
        return on_empty

    return field


def _object_elements(values: list | tuple) -> list[Mapping]:
    out: list[Mapping] = []
    for item in values:
        if isinstance(item, Mapping):
            out.append(item)
        elif isinstance(item, list | tuple):
            out.extend(_object_elements(item))
    return out


def _compile_or(spec: object) -> tuple[ObjectMatcher, ...]:
    """[operators] "$or": an array of at least two sub-patterns, any of which may match."""
    if not isinstance(spec, list):
        raise InvalidEventPattern("It must be an Array followed with $or.")
    branches = []
    for item in spec:
        if not isinstance(item, Mapping):
            raise InvalidEventPattern("Only JSON object is allowed in array of $or relationship.")
        branches.append(_compile_object(item, in_or=True))
    if len(branches) < 2:
        raise InvalidEventPattern("There must have at least 2 Objects in $or relationship.")
    return tuple(branches)


def _compile_leaf(values: list) -> Callable[[Any], bool]:
    """A field whose pattern is an array of matchers; any one may match (OR) ([patterns])."""
    leaf = _Leaf()
    for value in values:
        if isinstance(value, Mapping):
            _add_match_expression(leaf, value)
        elif isinstance(value, str):
            # [filtering] "IP address matching": a string that is an IP literal matches
            # the same address however it is written (e.g. IPv6 zero compression).
            ip = _parse_ip(value)
            if ip is not None:
                leaf.ip_exact.add(ip)
            leaf.str_exact.add(value)
        elif value is None:
            leaf.null_ok = True
        elif value is True:
            leaf.true_ok = True
        elif value is False:
            leaf.false_ok = True
        elif _is_number(value):
            # [ruler] writeRules: a number matches numerically (5 == 5.0) and, when it
            # cannot be compared numerically, as the same literal.
            key = _num_key(value)
            if key is not None:
                leaf.num_keys.add(key)
            else:
                leaf.num_raw.append(value)
        else:
            raise InvalidEventPattern("Match value must be String, number, true, false, or null")
    if not values:
        raise InvalidEventPattern("Empty arrays are not allowed")
    return leaf.build()


def _add_match_expression(leaf: _Leaf, expression: Mapping) -> None:
    if not expression:
        raise InvalidEventPattern("Match expression name not found")
    items = list(expression.items())
    operator, operand = items[0]
    extra = len(items) > 1
    handler = _OPERATORS.get(operator)
    if handler is None:
        raise InvalidEventPattern(f"Unrecognized match type {operator}")
    handler(leaf, operand)
    if extra:
        raise InvalidEventPattern(
            _TOO_MANY_NUMERIC if operator in ("numeric", "anything-but") else _ONE_KEY)


# --- prefix / suffix / equals-ignore-case / wildcard ----------------------------------


def _single_inner(operand: Mapping, kind: str) -> str:
    """The string of {"equals-ignore-case": "..."} nested in prefix or suffix."""
    if not operand:
        raise InvalidEventPattern(f"{kind.capitalize()} expression name not found")
    items = list(operand.items())
    name, text = items[0]
    if name != "equals-ignore-case":
        raise InvalidEventPattern(f"Unsupported {kind} pattern: {name}")
    if not isinstance(text, str):
        raise InvalidEventPattern("equals-ignore-case match pattern must be a string")
    if len(items) > 1:
        raise InvalidEventPattern(_ONE_KEY)
    return text


def _op_prefix(leaf: _Leaf, operand: object) -> None:
    # [filtering] "Prefix matching", and "Prefix matching while ignoring case".
    if isinstance(operand, Mapping):
        lowered = _single_inner(operand, "prefix").lower()
        leaf.str_preds.append(lambda value: value.lower().startswith(lowered))
        return
    if not isinstance(operand, str):
        raise InvalidEventPattern("prefix match pattern must be a string")
    prefix = operand
    leaf.str_preds.append(lambda value: value.startswith(prefix))


def _op_suffix(leaf: _Leaf, operand: object) -> None:
    # [filtering] "Suffix matching", and "Suffix matching while ignoring case".
    if isinstance(operand, Mapping):
        lowered = _single_inner(operand, "suffix").lower()
        leaf.str_preds.append(lambda value: value.lower().endswith(lowered))
        return
    if not isinstance(operand, str):
        raise InvalidEventPattern("suffix match pattern must be a string")
    suffix = operand
    leaf.str_preds.append(lambda value: value.endswith(suffix))


def _op_equals_ignore_case(leaf: _Leaf, operand: object) -> None:
    # [filtering] "Equals-ignore-case matching".
    if not isinstance(operand, str):
        raise InvalidEventPattern("equals-ignore-case match pattern must be a string")
    lowered = operand.lower()
    leaf.str_preds.append(lambda value: value.lower() == lowered)


def _wildcard(leaf: _Leaf, text: str) -> Wildcard:
    """[filtering] "Wildcard matching", parsed and matched without backtracking by
    :mod:`localcloud.wildcards`; the leaf keeps it for the complexity check."""
    try:
        wildcard = parse_wildcard(text)
    except WildcardError as exc:
        raise InvalidEventPattern(exc.reason) from None
    leaf.wildcards.append(wildcard)
    return wildcard


def _op_wildcard(leaf: _Leaf, operand: object) -> None:
    if not isinstance(operand, str):
        raise InvalidEventPattern("wildcard match pattern must be a string")
    leaf.str_preds.append(_wildcard(leaf, operand).matches)


# --- anything-but ---------------------------------------------------------------------

_ANYTHING_BUT_VALUE = "Value of anything-but must be an array or single string/number value."
_ANYTHING_BUT_MIXED = ("Inside anything but list, either all values are number or string, "
                       "mixed type is not supported")
_ANYTHING_BUT_TYPE = "Inside anything but list, start|null|boolean is not supported."
_ANYTHING_BUT_IGNORE_CASE_TYPE = (
    "Inside anything-but/equals-ignore-case list, number|start|null|boolean is not supported.")


def _op_anything_but(leaf: _Leaf, operand: object) -> None:
    """[filtering] "Anything-but matching": values, lists, prefix, suffix, wildcard and
    equals-ignore-case. The field must be present; a value of another type than the
    excluded ones always matches ([ruler] ByteMachine)."""
    if isinstance(operand, Mapping):
        _anything_but_modifier(leaf, operand)
        return
    if isinstance(operand, list):
        values = operand
    elif isinstance(operand, str) or _is_number(operand):
        values = [operand]
    else:
        raise InvalidEventPattern(_ANYTHING_BUT_VALUE)
    strings: set[str] = set()
    keys: set[int] = set()
    for value in values:
        if isinstance(value, str):
            strings.add(value)
        elif _is_number(value):
            key = _num_key(value)
            if key is None:
                raise InvalidEventPattern(_NUMERIC_RANGE_ERROR)
            keys.add(key)
        else:
            raise InvalidEventPattern(_ANYTHING_BUT_TYPE)
    if bool(strings) == bool(keys):
        raise InvalidEventPattern(_ANYTHING_BUT_MIXED)
    leaf.null_ok = leaf.true_ok = leaf.false_ok = True
    if strings:
        excluded = frozenset(strings)
        leaf.str_preds.append(lambda value: value not in excluded)
        leaf.num_any = True
    else:
        excluded_keys = frozenset(keys)
        leaf.str_any = True
        leaf.num_preds.append(lambda _value, key: key is None or key not in excluded_keys)


def _anything_but_modifier(leaf: _Leaf, operand: Mapping) -> None:
    if not operand:
        raise InvalidEventPattern("Anything-But expression name not found")
    items = list(operand.items())
    kind, inner = items[0]
    if kind not in ("prefix", "suffix", "wildcard", "equals-ignore-case"):
        raise InvalidEventPattern(f"Unsupported anything-but pattern: {kind}")
    if not (isinstance(inner, list | str) or _is_number(inner)):
        raise InvalidEventPattern(_ANYTHING_BUT_VALUE)
    texts = inner if isinstance(inner, list) else [inner]
    for text in texts:
        if not isinstance(text, str):
            if kind == "equals-ignore-case":
                raise InvalidEventPattern(_ANYTHING_BUT_IGNORE_CASE_TYPE)
            if kind == "wildcard":
                raise InvalidEventPattern("wildcard match pattern must be a string")
            raise InvalidEventPattern("prefix/suffix match pattern must be a string")
        if kind in ("prefix", "suffix") and not text:
            raise InvalidEventPattern("Null prefix/suffix not allowed")
    if len(items) > 1:
        raise InvalidEventPattern(_TOO_MANY_NUMERIC)

    leaf.everything_but_strings()
    if kind == "prefix":
        prefixes = tuple(texts)
        leaf.str_preds.append(lambda value: not value.startswith(prefixes))
    elif kind == "suffix":
        suffixes = tuple(texts)
        leaf.str_preds.append(lambda value: not value.endswith(suffixes))
    elif kind == "equals-ignore-case":
        lowered = frozenset(text.lower() for text in texts)
        leaf.str_preds.append(lambda value: value.lower() not in lowered)
    else:
        matchers = tuple(_wildcard(leaf, text).matches for text in texts)
        leaf.str_preds.append(
            lambda value: not any(matches(value) for matches in matchers))


# --- numeric --------------------------------------------------------------------------


def _numeric_operand(values: list, index: int, operator: str) -> int:
    value = values[index] if index < len(values) else _MISSING
    if not _is_number(value):
        name = "equals" if operator == "=" else operator
        raise InvalidEventPattern(f"Value of {name} must be numeric")
    key = _num_key(value)
    if key is None:
        raise InvalidEventPattern(_NUMERIC_RANGE_ERROR)
    return key


def _op_numeric(leaf: _Leaf, operand: object) -> None:
    """[filtering] "Numeric matching": ["=", x], ["<"|"<=", x], [">"|">=", x], or
    [">"|">=", low, "<"|"<=", high]; only JSON numbers match ([ruler] grammar)."""
    if not isinstance(operand, list):
        raise InvalidEventPattern("Value of numeric must be an array.")
    first = operand[0] if operand else _MISSING
    if not isinstance(first, str):
        raise InvalidEventPattern(f"Invalid member in numeric match: {_token_text(first)}")
    low: int | None = None
    high: int | None = None
    low_open = high_open = False
    if first == "=":
        low = high = _numeric_operand(operand, 1, first)
        if len(operand) > 2:
            raise InvalidEventPattern(_TOO_MANY_NUMERIC)
    elif first in ("<", "<="):
        high, high_open = _numeric_operand(operand, 1, first), first == "<"
        if len(operand) > 2:
            raise InvalidEventPattern(_TOO_MANY_NUMERIC)
    elif first in (">", ">="):
        low, low_open = _numeric_operand(operand, 1, first), first == ">"
        if len(operand) > 2:
            second = operand[2]
            if not isinstance(second, str):
                raise InvalidEventPattern(f"Bad value in numeric range: {_token_text(second)}")
            if second not in ("<", "<="):
                raise InvalidEventPattern(f"Bad numeric range operator: {second}")
            high, high_open = _numeric_operand(operand, 3, second), second == "<"
            if len(operand) > 4:
                raise InvalidEventPattern("Too many terms in numeric range expression")
            if low >= high:
                raise InvalidEventPattern("Bottom must be less than top")
    else:
        raise InvalidEventPattern(f"Unrecognized numeric range operator: {first}")
    leaf.num_preds.append(_range_predicate(low, low_open, high, high_open))


def _range_predicate(low: int | None, low_open: bool,
                     high: int | None, high_open: bool) -> NumPred:
    if low is not None and low == high:
        return lambda _value, key: key == low

    def in_range(_value: Any, key: int | None) -> bool:
        if key is None:
            return False
        if low is not None and (key < low or (low_open and key == low)):
            return False
        return not (high is not None and (key > high or (high_open and key == high)))

    return in_range


# --- exists / cidr --------------------------------------------------------------------


def _op_exists(leaf: _Leaf, operand: object) -> None:
    # [filtering] "Exists matching": true = the leaf is present, false = it is absent.
    if operand is True:
        leaf.exists_true = True
    elif operand is False:
        leaf.exists_false = True
    else:
        raise InvalidEventPattern("exists match pattern must be either true or false.")


def _op_cidr(leaf: _Leaf, operand: object) -> None:
    """[filtering] "IP address matching" for IPv4 and IPv6; checks as [ruler] CIDR.cidr."""
    if not isinstance(operand, str):
        # Sic: this is the text AWS returns for a non-string cidr ([ruler]).
        raise InvalidEventPattern("prefix match pattern must be a string")
    parts = operand.split("/")
    while parts and parts[-1] == "":  # Java's String.split drops trailing empty strings
        parts.pop()
    if len(parts) != 2:
        raise InvalidEventPattern("Malformed CIDR, one '/' required")
    if re.fullmatch(r"[+-]?[0-9]+", parts[1]) is None:
        raise InvalidEventPattern("Malformed CIDR, mask bits must be an integer")
    bits = int(parts[1])
    if bits < 0:
        raise InvalidEventPattern("Malformed CIDR, mask bits must not be negative")
    text = parts[0]
    if not _ip_shape(text):
        raise InvalidEventPattern(f"Nonstandard IP address: {text}")
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        raise InvalidEventPattern(f"Invalid IP address: {text}") from None
    width = address.max_prefixlen
    if bits > width - 1:
        raise InvalidEventPattern(f"IPv{address.version} mask bits must be < {width}")
    base = int(address)
    # [ruler] the range runs from the address as written to it with all host bits set.
    leaf.cidrs.append((address.version, base, base | ((1 << (width - bits)) - 1)))


_OPERATORS: dict[str, Callable[[_Leaf, Any], None]] = {
    "prefix": _op_prefix,
    "suffix": _op_suffix,
    "equals-ignore-case": _op_equals_ignore_case,
    "wildcard": _op_wildcard,
    "anything-but": _op_anything_but,
    "numeric": _op_numeric,
    "exists": _op_exists,
    "cidr": _op_cidr,
}


# --------------------------------------------------------------------------------------
# Public API
# --------------------------------------------------------------------------------------


class EventPattern:
    """A compiled, validated event pattern.

    >>> compile_pattern({"detail": {"n": [{"numeric": [">", 0, "<=", 5]}]}}).matches(
    ...     {"detail": {"n": 5.0}})
    True
    """

    __slots__ = ("_match", "pattern")

    def __init__(self, pattern: Mapping, match: ObjectMatcher) -> None:
        self.pattern = pattern
        self._match = match

    def matches(self, event: Mapping) -> bool:
        """True if the event envelope (source, detail-type, detail, ...) matches."""
        return self._match(event if isinstance(event, Mapping) else _EMPTY)

    def __repr__(self) -> str:
        return f"EventPattern({json.dumps(self.pattern, separators=(',', ':'))})"


def expand_dotted_keys(event: Any) -> Any:
    """The event with every dotted field name nested, as EventBridge joins names with dots
    ([considerations]); the same object when no name holds a dot (the usual case).

    A dotted name whose head is already a value of another kind than an object stays as
    it is (the two cannot both be nested).

    >>> expand_dotted_keys({"detail": {"state.status": "running", "state": {"code": 16}}})
    {'detail': {'state': {'status': 'running', 'code': 16}}}
    """
    if not _may_hold_dotted_key(event):
        return event
    if isinstance(event, Mapping):
        expanded: dict[str, Any] | None = None
        for key, value in event.items():
            inner = expand_dotted_keys(value)
            if "." in key or inner is not value:
                expanded = {}
                break
        if expanded is None:
            return event
        for key, value in event.items():
            _put_path(expanded, key, expand_dotted_keys(value))
        return expanded
    if isinstance(event, list):
        items = [expand_dotted_keys(item) for item in event]
        return items if any(a is not b for a, b in zip(items, event, strict=True)) else event
    return event


_JSON_SCALARS = (str, int, float, bool, type(None))


def _may_hold_dotted_key(event: Any) -> bool:
    """False only if ``event`` is plain JSON (dicts, lists, scalars) with no dotted name:
    one quick walk, without the object building of the expansion (an event rarely has
    such a name, and every rule match of every event asked)."""
    pending = [event]
    while pending:
        value = pending.pop()
        kind = type(value)
        if kind is dict:
            for key, inner in value.items():
                if "." in key:
                    return True
                if type(inner) not in _JSON_SCALARS:
                    pending.append(inner)
        elif kind is list:
            pending.extend(item for item in value if type(item) not in _JSON_SCALARS)
        elif kind not in _JSON_SCALARS:
            return True  # another kind of mapping or sequence: the full walk decides
    return False


def _put_path(target: dict[str, Any], key: str, value: Any) -> None:
    head, dot, rest = key.partition(".")
    if not dot or not head or not rest:
        _merge(target, key, value)
        return
    existing = target.get(head, _MISSING)
    if existing is _MISSING:
        existing = target[head] = {}
    if not isinstance(existing, dict):
        _merge(target, key, value)  # "a": 5 and "a.b": 1 cannot both nest
        return
    existing = target[head] = dict(existing)  # never change the caller's event
    _put_path(existing, rest, value)


def _merge(target: dict[str, Any], key: str, value: Any) -> None:
    existing = target.get(key, _MISSING)
    if isinstance(existing, dict) and isinstance(value, dict):
        merged = target[key] = dict(existing)
        for inner_key, inner_value in value.items():
            _merge(merged, inner_key, inner_value)
    else:
        target[key] = value


def _reject_constant(name: str) -> Any:
    raise ValueError(f"Non-standard token '{name}'")


def compile_pattern(pattern: str | Mapping) -> EventPattern:
    """Validate a pattern as PutRule does and compile it; raise InvalidEventPattern if not.

    >>> try:
    ...     compile_pattern('{"source": []}')
    ... except InvalidEventPattern as exc:
    ...     print(exc)
    Event pattern is not valid. Reason: Empty arrays are not allowed
    """
    if isinstance(pattern, str | bytes):
        try:
            parsed = json.loads(pattern, parse_constant=_reject_constant)
        except ValueError as exc:  # JSONDecodeError is a ValueError
            raise InvalidEventPattern(str(exc)) from None
    else:
        parsed = pattern
    if not isinstance(parsed, Mapping):
        raise InvalidEventPattern("Filter is not an object")
    return EventPattern(parsed, _compile_object(parsed, in_or=False))
