"""A pure IAM policy evaluator for the local data plane (bus, queue, log and role policies).

It answers one question, the way AWS does for the policies EventBridge, SQS, CloudWatch Logs
and IAM roles use: may this principal perform this action on this resource, in this request
context? No I/O; parsed policies are cached by their JSON text, so the router can evaluate a
bus policy for every ``PutEvents`` entry.

>>> bus = "arn:aws:events:eu-west-1:111111111111:event-bus/global-bus"
>>> policy = {"Version": "2012-10-17", "Statement": [{
...     "Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::222222222222:root"},
...     "Action": "events:PutEvents", "Resource": bus,
...     "Condition": {"StringEquals": {"events:source": "order-service"}}}]}
>>> caller = Principal(account="222222222222")
>>> evaluate(policy, principal=caller, action="events:PutEvents", resource=bus,
...          context={"events:source": "order-service"})
<Decision.ALLOW: 'Allow'>
>>> evaluate(policy, principal=caller, action="events:PutEvents", resource=bus,
...          context={"events:source": "delivery-service"})
<Decision.IMPLICIT_DENY: 'ImplicitDeny'>

Semantics and sources (AWS IAM User Guide unless noted):
- Evaluation: an explicit Deny wins, otherwise any Allow, otherwise implicit deny
  (reference_policies_evaluation-logic.html).
- Action: case-insensitive, ``*`` and ``?`` wildcards (reference_policies_elements_action.html).
  Resource: case-sensitive; each of the six colon-separated ARN segments is matched on its own,
  and a wildcard in the last one may span colons (reference_policies_elements_resource.html).
  A statement without Resource/NotResource (a role trust policy) matches any resource.
- Principal: ``"*"`` and ``{"AWS": "*"}`` match everyone; an account id or its ``:root`` ARN
  matches every principal of that account; a role ARN matches that role and its assumed-role
  sessions; other ARNs match exactly; ``{"Service": ...}`` matches that service principal
  (reference_policies_elements_principal.html). Federated/CanonicalUser never match here.
- NotPrincipal is supported with Deny only ("Using it with Allow is not supported",
  reference_policies_elements_notprincipal.html): an Allow with NotPrincipal never allows. A
  caller is excluded only when every identity AWS may check is listed: its account and its
  own ARN, and for an assumed-role session also its role (that page: AWS "might validate the
  account first, then the role, and then the assumed-role user", and a missing role ARN
  "might ... explicitly deny access to the role"; a Deny fails closed here).
- Conditions: every operator and every key must hold (AND); several values for one key are
  OR'ed. A missing key fails a positive operator, satisfies a negated one (``StringNot*``,
  ``ArnNot*``, ``NumericNotEquals``) and ``...IfExists``; ``ForAllValues`` is true for a
  missing key, ``ForAnyValue`` false (reference_policies_elements_condition_operators.html,
  reference_policies_condition-single-vs-multi-valued-context-keys.html). Without a set
  qualifier, a multivalued key satisfies a positive operator if any value matches and a
  negated one if no value matches. Condition keys are case-insensitive; values are not,
  except for ``...IgnoreCase`` and ``Bool``. ``ArnEquals`` and ``ArnLike`` are the same
  per-segment wildcard match, as the condition-operators page says.
- Policy variables (``${aws:SourceAccount}``, ``${key, 'default'}``, ``${*}``, ``${?}``,
  ``${$}``) are substituted in Resource and condition values when Version is ``2012-10-17``;
  otherwise they are literal text (reference_policies_variables.html).
- Fail closed: an operator this module does not implement (``Date*``, ``IpAddress``,
  ``Binary*``, an unknown name) or a policy variable with no value makes the condition
  *indeterminate*: an Allow statement then does not apply, and a Deny statement does.
  (AWS itself rejects unknown operators when the policy is written.)

Condition keys EventBridge evaluates on ``PutEvents``: ``events:source`` (ArrayOfString),
``events:detail-type``, ``events:eventBusInvocation`` ("true" when the event comes from a
rule on another bus), plus global keys such as ``aws:PrincipalOrgID`` / ``aws:PrincipalAccount``
(Service Authorization Reference, "Actions, resources, and condition keys for Amazon
EventBridge", PutEvents row: https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazoneventbridge.html;
EventBridge User Guide, "Using IAM policy conditions in Amazon EventBridge":
https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-use-conditions.html).
"""

from __future__ import annotations

import enum
import json
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from localcloud import arns
from localcloud.errors import LocalCloudError

__all__ = [
    "Decision",
    "PolicyError",
    "Principal",
    "evaluate",
    "is_allowed_by_identity",
    "is_allowed_cross_account",
]

PolicyInput = str | Mapping[str, Any] | None
ContextValue = str | bool | Sequence[str]

_VARIABLES_VERSION = "2012-10-17"
# Wildcards from the policy text are carried as these private characters, so that values
# substituted from policy variables (and ${*}, ${?}) stay literal when patterns are compiled.
_STAR, _QMARK = "\x00", "\x01"
_VARIABLE = re.compile(r"\$\{([^}]*)\}")


class PolicyError(LocalCloudError):
    """A policy document is not valid policy JSON (for example no Effect or no Action)."""


@dataclass(frozen=True)
class Principal:
    """Who is asking: an account, an IAM/STS ARN, or an AWS service principal.

    >>> Principal(arn="arn:aws:sts::222222222222:assumed-role/Admin/s1").account_id
    '222222222222'
    """

    account: str | None = None
    arn: str | None = None
    service: str | None = None

    @property
    def account_id(self) -> str | None:
        """The principal's account: ``account``, or the account field of ``arn``."""
        return self.account or arns.account_of(self.arn)

    @property
    def role_arn(self) -> str | None:
        """For an assumed-role session, the role's ARN (as ``aws:PrincipalArn`` reports it)."""
        session = arns.assumed_role(self.arn)
        return session.role_arn if session is not None else None


class Decision(enum.Enum):
    """The outcome of evaluating one request against a policy."""

    ALLOW = "Allow"
    EXPLICIT_DENY = "ExplicitDeny"
    IMPLICIT_DENY = "ImplicitDeny"


# --- public API ---------------------------------------------------------------


def evaluate(
    policy: PolicyInput,
    *,
    principal: Principal | None,
    action: str,
    resource: str,
    context: Mapping[str, ContextValue] | None = None,
) -> Decision:
    """Evaluate one policy document; ``principal=None`` evaluates an identity policy.

    Raises PolicyError when the document is not a valid policy.

    >>> trust = {"Statement": {"Effect": "Allow", "Action": "sts:AssumeRole",
    ...          "Principal": {"Service": "events.amazonaws.com"}}}
    >>> evaluate(trust, principal=Principal(service="events.amazonaws.com"),
    ...          action="sts:AssumeRole", resource="arn:aws:iam::1:role/r").name
    'ALLOW'
    """
    if policy is None or (isinstance(policy, str) and not policy.strip()):
        return Decision.IMPLICIT_DENY
    parsed = _parse(policy)
    ctx = _request_context(principal, context)
    allowed = False
    for statement in parsed.statements:
        applies = statement.applies(principal, action, resource, ctx, parsed.variables)
        if statement.deny:
            if applies is not False:  # True, or indeterminate: fail closed
                return Decision.EXPLICIT_DENY
        elif applies is True:
            allowed = True
    return Decision.ALLOW if allowed else Decision.IMPLICIT_DENY


def is_allowed_cross_account(
    resource_policy: PolicyInput,
    *,
    principal: Principal,
    action: str,
    resource: str,
    context: Mapping[str, ContextValue] | None = None,
) -> bool:
    """May ``principal`` act on a resource of another account, per the resource's policy?

    Cross-account access needs an Allow in the resource policy
    (IAM User Guide, reference_policies_evaluation-logic-cross-account.html). A caller in the
    resource's own account is assumed to hold identity permissions (every local account acts
    as its administrator), so for it only an explicit Deny in the resource policy refuses.

    >>> bus = "arn:aws:events:eu-west-1:111111111111:event-bus/global-bus"
    >>> is_allowed_cross_account(None, principal=Principal(account="222222222222"),
    ...                          action="events:PutEvents", resource=bus)
    False
    """
    decision = evaluate(
        resource_policy, principal=principal, action=action, resource=resource, context=context
    )
    owner = arns.account_of(resource)
    if owner is not None and owner == principal.account_id:
        return decision is not Decision.EXPLICIT_DENY
    return decision is Decision.ALLOW


def is_allowed_by_identity(
    identity_policies: Iterable[PolicyInput],
    *,
    action: str,
    resource: str,
    context: Mapping[str, ContextValue] | None = None,
) -> bool:
    """Do a principal's identity policies (e.g. a role's inline policies) allow the action?

    An explicit Deny in any policy wins; otherwise one Allow in any policy suffices.

    >>> inline = {"Statement": [{"Effect": "Allow", "Action": "events:PutEvents",
    ...           "Resource": "arn:aws:events:eu-west-1:2:event-bus/local-bus-a"}]}
    >>> is_allowed_by_identity([inline], action="events:PutEvents",
    ...                        resource="arn:aws:events:eu-west-1:2:event-bus/local-bus-b")
    False
    """
    allowed = False
    for policy in identity_policies:
        decision = evaluate(
            policy, principal=None, action=action, resource=resource, context=context
        )
        if decision is Decision.EXPLICIT_DENY:
            return False
        allowed = allowed or decision is Decision.ALLOW
    return allowed


# --- parsing ------------------------------------------------------------------


@dataclass(frozen=True)
class _PrincipalSpec:
    anyone: bool = False
    aws: tuple[str, ...] = ()
    services: tuple[str, ...] = ()

    def matches(self, who: Principal) -> bool:
        if self.anyone:
            return True
        if who.service and who.service.lower() in self.services:
            return True
        return any(_aws_entry_matches(entry, who) for entry in self.aws)

    def excludes(self, who: Principal) -> bool:
        """NotPrincipal: is ``who`` one of the listed exceptions?"""
        if self.anyone:
            return True
        if who.service:
            return who.service.lower() in self.services
        account = who.account_id
        if account is None or not any(_is_account_entry(e, account) for e in self.aws):
            return False
        if who.arn is None or arns.is_account_root(who.arn):
            return True
        if who.arn not in self.aws:
            return False
        session = arns.assumed_role(who.arn)
        return session is None or any(_is_role_of(entry, session) for entry in self.aws)


@dataclass(frozen=True)
class _Statement:
    deny: bool
    principal: _PrincipalSpec | None
    not_principal: _PrincipalSpec | None
    actions: tuple[str, ...]
    negate_action: bool
    resources: tuple[str, ...] | None
    negate_resource: bool
    conditions: tuple[tuple[str, str, tuple[str, ...]], ...]

    def applies(
        self,
        who: Principal | None,
        action: str,
        resource: str,
        ctx: Mapping[str, tuple[str, ...]],
        variables: bool,
    ) -> bool | None:
        """True/False, or None when it cannot be decided (fail-closed cases)."""
        if who is not None and not self._principal_matches(who):
            return False
        action_hit = any(_glob(p, ignore_case=True).fullmatch(action) for p in self.actions)
        if action_hit == self.negate_action:
            return False
        undecided = False
        if self.resources is not None:
            hit = _any_resource_matches(self.resources, resource, ctx, variables)
            if hit is None:
                undecided = True
            elif hit == self.negate_resource:
                return False
        for operator, key, values in self.conditions:
            result = _condition(operator, key, values, ctx, variables)
            if result is False:
                return False
            undecided = undecided or result is None
        return None if undecided else True

    def _principal_matches(self, who: Principal) -> bool:
        if self.principal is not None:
            return self.principal.matches(who)
        if self.not_principal is not None:
            # NotPrincipal is only supported with Deny; an Allow with it never allows.
            return self.deny and not self.not_principal.excludes(who)
        return False  # a resource policy statement needs a principal


@dataclass(frozen=True)
class _Policy:
    statements: tuple[_Statement, ...]
    variables: bool


def _parse(policy: str | Mapping[str, Any]) -> _Policy:
    if isinstance(policy, str):
        return _parse_text(policy)
    return _parse_text(json.dumps(policy, sort_keys=True, separators=(",", ":")))


@lru_cache(maxsize=1024)
def _parse_text(text: str) -> _Policy:
    try:
        document = json.loads(text)
    except ValueError as exc:
        raise PolicyError(f"policy is not valid JSON: {exc}") from exc
    if not isinstance(document, dict) or "Statement" not in document:
        raise PolicyError("policy must be a JSON object with a Statement")
    raw = document["Statement"]
    raw_statements = raw if isinstance(raw, list) else [raw]
    return _Policy(
        statements=tuple(_parse_statement(s) for s in raw_statements),
        variables=document.get("Version") == _VARIABLES_VERSION,
    )


def _parse_statement(raw: Any) -> _Statement:
    if not isinstance(raw, dict):
        raise PolicyError(f"statement must be an object, got {raw!r}")
    sid = raw.get("Sid", "<no Sid>")
    effect = raw.get("Effect")
    if effect not in ("Allow", "Deny"):
        raise PolicyError(f"statement {sid}: Effect must be Allow or Deny, got {effect!r}")
    actions, negate_action = _either(raw, "Action", "NotAction", sid, required=True)
    resources, negate_resource = _either(raw, "Resource", "NotResource", sid, required=False)
    if "Principal" in raw and "NotPrincipal" in raw:
        raise PolicyError(f"statement {sid}: both Principal and NotPrincipal")
    condition = raw.get("Condition", {})
    if not isinstance(condition, dict):
        raise PolicyError(f"statement {sid}: Condition must be an object")
    conditions = []
    for operator, block in condition.items():
        if not isinstance(block, dict):
            raise PolicyError(f"statement {sid}: condition {operator} must map keys to values")
        for key, value in block.items():
            conditions.append((operator, key.lower(), _strings(value)))
    return _Statement(
        deny=effect == "Deny",
        principal=_parse_principal(raw["Principal"], sid) if "Principal" in raw else None,
        not_principal=(
            _parse_principal(raw["NotPrincipal"], sid) if "NotPrincipal" in raw else None
        ),
        actions=actions or (),
        negate_action=negate_action,
        resources=resources,
        negate_resource=negate_resource,
        conditions=tuple(conditions),
    )


def _either(
    raw: dict[str, Any], name: str, negated: str, sid: str, *, required: bool
) -> tuple[tuple[str, ...] | None, bool]:
    if name in raw and negated in raw:
        raise PolicyError(f"statement {sid}: both {name} and {negated}")
    if name in raw:
        return _strings(raw[name]), False
    if negated in raw:
        return _strings(raw[negated]), True
    if required:
        raise PolicyError(f"statement {sid}: needs {name} or {negated}")
    return None, False


def _parse_principal(raw: Any, sid: str) -> _PrincipalSpec:
    if raw == "*":
        return _PrincipalSpec(anyone=True)
    if not isinstance(raw, dict):
        raise PolicyError(f"statement {sid}: Principal must be \"*\" or an object")
    aws = _strings(raw.get("AWS", ()))
    # Federated and CanonicalUser principals are accepted but never match a local caller.
    return _PrincipalSpec(
        anyone="*" in aws,
        aws=aws,
        services=tuple(s.lower() for s in _strings(raw.get("Service", ()))),
    )


def _strings(value: Any) -> tuple[str, ...]:
    items = value if isinstance(value, list) else [value]
    return tuple(_to_str(item) for item in items)


def _to_str(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


# --- principals ---------------------------------------------------------------


def _is_account_entry(entry: str, account: str) -> bool:
    return entry == account or (arns.is_account_root(entry) and arns.account_of(entry) == account)


def _aws_entry_matches(entry: str, who: Principal) -> bool:
    account = who.account_id
    if who.service and not who.arn and not who.account:
        return False  # a service principal is not an AWS account principal
    if _is_account_entry(entry, account or ""):
        return True
    if who.arn is None:
        return False
    if entry == who.arn:
        return True
    session = arns.assumed_role(who.arn)
    return session is not None and _is_role_of(entry, session)


def _is_role_of(entry: str, session: arns.AssumedRole) -> bool:
    """Is ``entry`` the role ARN (any path) of this assumed-role session?"""
    return arns.role_parts(entry) == (session.partition, session.account, session.role)


def _request_context(
    who: Principal | None, context: Mapping[str, ContextValue] | None
) -> dict[str, tuple[str, ...]]:
    """Lower-cased keys, tuple values; global principal keys derived when not given."""
    ctx: dict[str, tuple[str, ...]] = {}
    if who is not None:
        if who.service:
            ctx["aws:principalservicename"] = (who.service,)
        if who.account_id:
            ctx["aws:principalaccount"] = (who.account_id,)
        principal_arn = who.role_arn or who.arn
        if principal_arn:
            ctx["aws:principalarn"] = (principal_arn,)
    for key, value in (context or {}).items():
        if isinstance(value, str | bool):
            ctx[key.lower()] = (_to_str(value),)
        else:
            ctx[key.lower()] = tuple(_to_str(v) for v in value)
    return ctx


# --- patterns and policy variables -------------------------------------------


def _expand(
    template: str, ctx: Mapping[str, tuple[str, ...]], variables: bool, *, glob: bool
) -> str | None:
    """Substitute policy variables; in glob mode, the text's own wildcards become markers.

    Returns None when a variable has no value (and no default).
    """

    def literal(text: str) -> str:
        return text.replace("*", _STAR).replace("?", _QMARK) if glob else text

    if not variables or "${" not in template:
        return literal(template)
    out: list[str] = []
    position = 0
    for found in _VARIABLE.finditer(template):
        out.append(literal(template[position : found.start()]))
        position = found.end()
        name, _, default = found.group(1).partition(",")
        name = name.strip()
        if name in ("*", "?", "$"):
            out.append(name)
            continue
        values = ctx.get(name.lower())
        if values is not None and len(values) == 1:
            out.append(values[0])
        elif default.strip().startswith("'") and default.strip().endswith("'"):
            out.append(default.strip()[1:-1])
        else:
            return None
    out.append(literal(template[position:]))
    return "".join(out)


@lru_cache(maxsize=4096)
def _compile(pattern: str, ignore_case: bool) -> re.Pattern[str]:
    """Compile a marker pattern (``_STAR``/``_QMARK`` are wildcards, all else literal)."""
    regex = "".join(
        ".*" if ch == _STAR else "." if ch == _QMARK else re.escape(ch) for ch in pattern
    )
    return re.compile(regex, re.DOTALL | (re.IGNORECASE if ignore_case else 0))


def _glob(text: str, *, ignore_case: bool) -> re.Pattern[str]:
    """``*``/``?`` glob over plain policy text (Action elements carry no variables)."""
    return _compile(text.replace("*", _STAR).replace("?", _QMARK), ignore_case)


def _arn_matches(pattern: str, value: str) -> bool:
    """Match a marker pattern against an ARN, segment by segment (six segments)."""
    if pattern == _STAR:
        return True
    pattern_parts = pattern.split(":", 5)
    value_parts = value.split(":", 5)
    if len(pattern_parts) != 6 or len(value_parts) != 6:
        return _compile(pattern, False).fullmatch(value) is not None
    return all(
        _compile(p, False).fullmatch(v) is not None
        for p, v in zip(pattern_parts, value_parts, strict=True)
    )


def _any_resource_matches(
    patterns: tuple[str, ...], resource: str, ctx: Mapping[str, tuple[str, ...]], variables: bool
) -> bool | None:
    undecided = False
    for template in patterns:
        pattern = _expand(template, ctx, variables, glob=True)
        if pattern is None:
            undecided = True
        elif _arn_matches(pattern, resource):
            return True
    return None if undecided else False


# --- conditions ---------------------------------------------------------------

# Each matcher: (expanded policy value, context value) -> bool. Glob-based matchers receive
# the policy value in marker form (see _expand).
_Matcher = Callable[[str, str], bool]


def _numeric(compare: Callable[[float, float], bool]) -> _Matcher:
    def match(policy_value: str, value: str) -> bool:
        try:
            return compare(float(value), float(policy_value))
        except ValueError:
            return False

    return match


# name -> (matcher, negated, policy value in glob form)
_OPERATORS: dict[str, tuple[_Matcher, bool, bool]] = {
    "stringequals": (lambda p, v: p == v, False, False),
    "stringnotequals": (lambda p, v: p == v, True, False),
    "stringequalsignorecase": (lambda p, v: p.lower() == v.lower(), False, False),
    "stringnotequalsignorecase": (lambda p, v: p.lower() == v.lower(), True, False),
    "stringlike": (lambda p, v: _compile(p, False).fullmatch(v) is not None, False, True),
    "stringnotlike": (lambda p, v: _compile(p, False).fullmatch(v) is not None, True, True),
    "arnequals": (_arn_matches, False, True),
    "arnlike": (_arn_matches, False, True),
    "arnnotequals": (_arn_matches, True, True),
    "arnnotlike": (_arn_matches, True, True),
    "bool": (lambda p, v: p.lower() == v.lower(), False, False),
    "numericequals": (_numeric(lambda a, b: a == b), False, False),
    "numericnotequals": (_numeric(lambda a, b: a == b), True, False),
    "numericlessthan": (_numeric(lambda a, b: a < b), False, False),
    "numericlessthanequals": (_numeric(lambda a, b: a <= b), False, False),
    "numericgreaterthan": (_numeric(lambda a, b: a > b), False, False),
    "numericgreaterthanequals": (_numeric(lambda a, b: a >= b), False, False),
}


@lru_cache(maxsize=256)
def _split_operator(operator: str) -> tuple[str | None, str, bool]:
    """``ForAnyValue:StringLikeIfExists`` -> ("foranyvalue", "stringlike", True)."""
    qualifier, _, name = operator.rpartition(":")
    qualifier_key = qualifier.lower() or None
    if qualifier_key not in (None, "foranyvalue", "forallvalues"):
        qualifier_key = "unknown"
    name = name.lower()
    if_exists = name.endswith("ifexists") and name != "ifexists"
    if if_exists:
        name = name[: -len("ifexists")]
    return qualifier_key, name, if_exists


def _condition(
    operator: str,
    key: str,
    policy_values: tuple[str, ...],
    ctx: Mapping[str, tuple[str, ...]],
    variables: bool,
) -> bool | None:
    """One (operator, key) pair; None when it cannot be evaluated (fail closed)."""
    qualifier, name, if_exists = _split_operator(operator)
    present = ctx.get(key)
    if name == "null" and qualifier is None and not if_exists:
        # Null: "true" holds when the key is absent, "false" when it is present.
        return any((p.lower() == "true") == (present is None) for p in policy_values)
    spec = _OPERATORS.get(name)
    if spec is None or qualifier == "unknown":
        return None
    matcher, negated, glob = spec
    if present is None:
        if qualifier == "forallvalues":
            return True
        if qualifier == "foranyvalue":
            return if_exists
        return if_exists or negated
    expanded = [_expand(p, ctx, variables, glob=glob) for p in policy_values]
    if any(p is None for p in expanded):
        return None
    patterns = [p for p in expanded if p is not None]

    def holds(value: str) -> bool:
        return any(matcher(p, value) for p in patterns) != negated

    if qualifier == "forallvalues" or (qualifier is None and negated):
        return all(holds(v) for v in present)
    return any(holds(v) for v in present)
