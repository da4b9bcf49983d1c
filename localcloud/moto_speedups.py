"""Per-request costs of moto's request handling, removed without changing a response.

Profiled under ``local up`` (300 orders, delivery delay 0), half of the endpoint's CPU
time went to moto's DynamoDB handler, and most of that to work whose result never
changes (moto 5.2.5):

- **DynamoDB items walked by the generic serializer.** moto's JSON response serializer
  walks every attribute value of an item against the 10 members of botocore's
  ``AttributeValue`` shape, each through six alias providers, although moto's models
  hold items in wire form already (``Item.to_json()``). :class:`DynamoDBJSONSerializer`
  copies a wire-form value of the kinds S, N, BOOL, NULL, SS, NS, M and L (M and L
  recursively) exactly as the generic walk would write it, and leaves anything else
  (binary B/BS, ``None``, an object) to the generic walk. It is registered the way moto
  registers its own per-service serializers (``SERVICE_SPECIFIC_SERIALIZERS``, as for S3
  and SQS).
- **The action's method looked up with ``inspect.getmembers`` on every request**
  (``BaseResponse.call_action`` lists the handler class's functions each time): the list
  is remembered per class.
- **A regular expression over every response body** to put the request id into an XML
  ``<RequestId>`` element (``BaseResponse._enrich_response``), also run on JSON bodies:
  skipped when the body has no ``<RequestId>``, where it cannot match.
- **Every UpdateExpression tokenized and parsed twice per UpdateItem** (by the handler
  and again by the backend). The parse tree of an expression text is remembered
  (``UpdateExpressionParser.make``, bounded): nothing changes a parse tree in place, the
  validator works on its own deep copy (``Validator.__init__``), and an expression that
  does not parse raises every time, as before.
- **The expression's static checks run on every UpdateItem**: of the validators moto runs
  on an update's parse tree, the leading ones (clause counts, overlapping paths, no key
  attribute updated) depend only on the tree, the attribute names and the table's keys,
  and raise or pass the tree on unchanged; one that passed for this very parse tree
  (``UpdateExpressionParser.make``'s, see above) with the same names and keys is not run
  again. One that fails is run every time, so the error is the same.
- **Every tree walk rebuilding its processing map per node**
  (``DepthFirstTraverser.nodes_to_be_processed`` and ``process`` call
  ``_processing_map()``, which builds a new dict, for every node): built once per walker.
- **Every ConditionExpression tokenized twice per conditional write** (by the handler,
  which checks the names it uses, and again by the backend), with its regular
  expressions looked up in ``re``'s cache for every token. The token list depends on
  the expression text alone (``ConditionExpressionParser._lex_condition_expression``
  reads nothing else), and its tokens are immutable named tuples whose (empty) child
  lists nothing fills in place: the tokens of a text are remembered (bounded), and each
  parse gets its own deque of them. A text that does not tokenize raises every time.
- **That deep copy made through pickling's generic protocol** (``copy._reconstruct``
  for every node). Parse-tree nodes are plain objects, so :func:`_copy_node` copies
  each node's attributes directly (the memo keeps the parent links right), as moto
  already does for its ``DynamoType`` and ``Item`` (their ``__deepcopy__``).

:func:`install` applies them, once per process; the tests compare every DynamoDB
response shape with moto's own serializer.

>>> install()
>>> from moto.core import serialize
>>> serialize.get_serializer_class("dynamodb", "json").__name__
'DynamoDBJSONSerializer'
"""

from __future__ import annotations

import copy
import functools
import threading
import weakref
from collections import deque
from typing import Any

from moto.core import responses, serialize
from moto.dynamodb.comparisons import ConditionExpressionParser
from moto.dynamodb.parsing import validators
from moto.dynamodb.parsing.ast_nodes import (  # type: ignore[attr-defined]
    DepthFirstTraverser,
    Node,
)
from moto.dynamodb.parsing.expressions import (  # type: ignore[attr-defined]
    UpdateExpressionParser,
)

ATTRIBUTE_VALUE_SHAPE = "AttributeValue"
_COPIED = frozenset({"S", "N"})
_AS_IS = frozenset({"BOOL", "NULL"})
_STRING_SETS = frozenset({"SS", "NS"})

_installed = False
_install_lock = threading.Lock()


def wire_attribute_value(value: Any) -> dict[str, Any] | None:
    """The JSON of one DynamoDB AttributeValue already in wire form, as moto's serializer
    writes it; None for a value the generic serializer must walk (binary, ``None``,
    several kinds, not a plain dict).

    >>> wire_attribute_value({"M": {"n": {"N": "1"}, "l": {"L": [{"BOOL": True}]}}})
    {'M': {'n': {'N': '1'}, 'l': {'L': [{'BOOL': True}]}}}
    >>> wire_attribute_value({"B": "AAE="}) is None
    True
    """
    if type(value) is not dict or len(value) != 1:
        return None
    ((kind, inner),) = value.items()
    if kind in _COPIED:
        return {kind: inner} if type(inner) is str else None
    if kind in _AS_IS:
        return None if inner is None else {kind: inner}
    if kind in _STRING_SETS:
        if type(inner) is not list or any(type(item) is not str for item in inner):
            return None
        return {kind: list(inner)}
    if kind == "M":
        if type(inner) is not dict:
            return None
        members: dict[str, Any] = {}
        for name, member in inner.items():
            wire = wire_attribute_value(member)
            if wire is None:
                return None
            members[name] = wire
        return {"M": members}
    if kind == "L":
        if type(inner) is not list:
            return None
        items: list[Any] = []
        for member in inner:
            wire = wire_attribute_value(member)
            if wire is None:
                return None
            items.append(wire)
        return {"L": items}
    return None


class DynamoDBJSONSerializer(serialize.JSONSerializer):
    """moto's JSON serializer, copying wire-form AttributeValues instead of walking them."""

    def _serialize_type_structure(self, serialized: Any, value: Any, shape: Any,
                                  key: str) -> None:
        if key and shape.name == ATTRIBUTE_VALUE_SHAPE:
            wire = wire_attribute_value(value)
            if wire is not None:
                self._default_serialize(serialized, wire, shape, key)
                return
        super()._serialize_type_structure(serialized, value, shape, key)


@functools.cache
def _method_names(clazz: type) -> frozenset[str]:
    return frozenset(_UNCACHED_METHOD_NAMES(clazz))


_UNCACHED_METHOD_NAMES = responses.method_names_from_class
_UNCACHED_ENRICH = responses.BaseResponse._enrich_response


def _enrich_response(headers: dict[str, str], body: Any) -> tuple[dict[str, str], Any]:
    if isinstance(body, str) and "<RequestId>" not in body:
        if "status" in headers:
            headers["status"] = str(headers["status"])
        responses.gen_amzn_requestid_long(headers)
        return headers, body
    return _UNCACHED_ENRICH(headers, body)


PARSED_EXPRESSIONS = 1024
_UNCACHED_PARSE = UpdateExpressionParser.make.__func__


@functools.lru_cache(maxsize=PARSED_EXPRESSIONS)
def _parse_update_expression(parser: type, expression: str) -> Any:
    return _UNCACHED_PARSE(parser, expression)


def _make(parser: type, expression: str) -> Any:
    if not isinstance(expression, str):  # unhashable or odd input: moto's own path
        return _UNCACHED_PARSE(parser, expression)
    return _parse_update_expression(parser, expression)


_UNCACHED_LEX = ConditionExpressionParser._lex_condition_expression


@functools.lru_cache(maxsize=PARSED_EXPRESSIONS)
def _condition_tokens(expression: str) -> tuple[Any, ...]:
    return tuple(_UNCACHED_LEX(ConditionExpressionParser(expression, None, None)))


def _lex_condition_expression(self: Any) -> deque[Any]:
    """``ConditionExpressionParser._lex_condition_expression``, tokens remembered per text."""
    if not isinstance(self.condition_expression, str):
        return _UNCACHED_LEX(self)
    return deque(_condition_tokens(self.condition_expression))


def _copy_node(node: Any, memo: dict[int, Any]) -> Any:
    """``copy.deepcopy`` of a parse-tree node: what the generic protocol makes of an
    object with a plain ``__dict__``, without going through it."""
    done = memo.get(id(node))
    if done is not None:
        return done
    result = node.__class__.__new__(node.__class__)
    memo[id(node)] = result
    result.__dict__.update({name: copy.deepcopy(value, memo)
                            for name, value in node.__dict__.items()})
    return result


# The validators that read nothing but the tree, the names and the table's keys.
_STATIC_CHECKS = (validators.ActionCountValidator, validators.OverlappingPathsValidator,
                  validators.UpdateHashRangeKeyValidator)
_UNCACHED_VALIDATOR_INIT = validators.UpdateExpressionValidator.__init__
# parse tree -> the (names, table keys) it passed the static checks with. Weak: a tree
# the parse cache drops takes its entry with it (an id() could be reused).
_statically_valid: weakref.WeakKeyDictionary[Any, set[Any]] = weakref.WeakKeyDictionary()
_valid_lock = threading.Lock()


def _validator_init(self: Any, expression: Any, *args: Any, **kwargs: Any) -> None:
    _UNCACHED_VALIDATOR_INIT(self, expression, *args, **kwargs)
    self.parsed_tree = expression


def _validate(self: Any) -> Any:
    """``UpdateExpressionValidator.validate``, skipping static checks already passed."""
    context = (tuple(sorted((self.expression_attribute_names or {}).items())),
               tuple(self.table.table_key_attrs))
    with _valid_lock:
        passed = context in _statically_valid.get(self.parsed_tree, ())
    processors = list(self.processors)
    static = 0
    while static < len(processors) and type(processors[static]) in _STATIC_CHECKS:
        static += 1
    node = self.node_to_validate
    for processor in processors[static:] if passed else processors:
        node = processor.traverse(node)
    if not passed:
        with _valid_lock:
            _statically_valid.setdefault(self.parsed_tree, set()).add(context)
    return node


def _processing_map_once(walker: Any) -> dict[Any, Any]:
    known = walker.__dict__.get("_processing_map_built")
    if known is None:
        known = walker.__dict__["_processing_map_built"] = walker._processing_map()
    return known


def _nodes_to_be_processed(self: Any) -> tuple[Any, ...]:
    return tuple(_processing_map_once(self))


def _process(self: Any, node: Any) -> Any:
    for class_key, processor in _processing_map_once(self).items():
        if isinstance(node, class_key):
            return processor(node)
    return None


def install() -> None:
    """Apply the changes to moto in this process (idempotent)."""
    global _installed
    with _install_lock:
        if _installed:
            return
        serialize.SERVICE_SPECIFIC_SERIALIZERS.setdefault("dynamodb", {})["json"] = \
            DynamoDBJSONSerializer
        # Replaced where moto's request handling looks them up (call_action).
        setattr(responses, "method_names_from_class", _method_names)  # noqa: B010
        setattr(responses.BaseResponse, "_enrich_response",  # noqa: B010
                staticmethod(_enrich_response))
        setattr(UpdateExpressionParser, "make", classmethod(_make))  # noqa: B010
        setattr(ConditionExpressionParser, "_lex_condition_expression",  # noqa: B010
                _lex_condition_expression)
        setattr(Node, "__deepcopy__", _copy_node)  # noqa: B010
        setattr(validators.UpdateExpressionValidator, "__init__", _validator_init)  # noqa: B010
        setattr(validators.UpdateExpressionValidator, "validate", _validate)  # noqa: B010
        setattr(DepthFirstTraverser, "nodes_to_be_processed",  # noqa: B010
                _nodes_to_be_processed)
        setattr(DepthFirstTraverser, "process", _process)  # noqa: B010
        _installed = True
