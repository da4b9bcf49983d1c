"""The ownership rule: which resources, and which parts of them, a stage owns. Pure.

A stage owns a resource only if the resource carries the stage's marker; a name alone
proves nothing (someone may have made a same-named resource by hand). The markers:

- **Tags** (``names.tags(stage)``: ``backbone:project`` and ``backbone:stage``) on
  every kind that takes tags: event buses, rules (forwarding, log and subscription
  rules), IAM roles, SQS queues, log groups, DynamoDB tables, CloudWatch alarms (tagged
  by PutMetricAlarm's ``Tags``, read back with ListTagsForResource on the alarm ARN).
  In EventBridge only rules and event buses take tags ("In EventBridge, rules and event
  buses can be tagged", EventBridge API reference, TagResource), so the kinds below
  carry other markers.
- **Policy statements** (bus policy, queue policy, Logs resource policy): the Sid names
  the stage (``backbone-<stage>-...``, ``names.statement_sid``) *and* the policy belongs
  to a resource the stage owns. Any other statement is someone else's.
- **Logs resource policy** (one per account, no tags): named after the stage
  (``names.logs_resource_policy``) and holding at least one statement with the stage's
  Sid.
- **Archive**: its source is an event bus carrying the stage's tags, and its
  description carries ``names.stage_marker(stage)``.
- **Lambda permission**: its Sid names the stage, on a function carrying the stage's
  tags (Chalice tags the functions from the ``tags`` that `configure` writes).
- **Event invoke config**: on a function carrying the stage's tags (the config is a
  setting of that one function).
- **Parts of an owned resource**: rule targets with the stage's target ids, the role's
  inline policy of the stage's name. Anything else on an owned resource (a rule on an
  owned bus without the stage's tags, another target, statement, inline or managed
  policy) is a *foreign addition*: `create` leaves it in place, `verify` reports it,
  `destroy` keeps the resource that carries it.

>>> from infra_bootstrap.resources import Resource
>>> bus = Resource("event_bus", "111111111111", "global-bus", {}, names.tags("prod"))
>>> owned(bus, "prod"), owned(bus, "test")
(True, False)
>>> owned(Resource("event_bus", "111111111111", "global-bus", {}, {}), "prod")
False
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from infra_bootstrap import names
from infra_bootstrap import resources as r
from infra_bootstrap.resources import Resource

# The target ids the stage gives the targets of its rules.
STAGE_TARGET_IDS = frozenset(
    {names.FORWARD_TARGET_ID, names.LOG_TARGET_ID, names.SUBSCRIPTION_TARGET_ID})
# The inline policies the stage puts on its roles.
STAGE_ROLE_POLICIES = frozenset({names.FORWARD_ROLE_POLICY, names.REDRIVE_ROLE_POLICY})
TAGGED_KINDS = frozenset({r.EVENT_BUS, r.RULE, r.SUBSCRIPTION_RULE, r.IAM_ROLE, r.SQS_QUEUE,
                          r.LOG_GROUP, r.DYNAMODB_TABLE, r.ALARM, r.SUBSCRIPTION_ALARM})


def has_stage_tags(tags: Mapping[str, str] | None, stage: str) -> bool:
    """Both ownership tags of ``stage``, whatever other tags there are.

    >>> has_stage_tags({**names.tags("prod"), "aws-chalice": "x"}, "prod")
    True
    >>> has_stage_tags({"backbone:stage": "prod"}, "prod")
    False
    """
    if not tags:
        return False
    return all(tags.get(k) == v for k, v in names.tags(stage).items())


def is_stage_sid(sid: Any, stage: str) -> bool:
    """A statement id the stage writes.

    >>> is_stage_sid("backbone-prod-ForwardFromGlobalBus", "prod")
    True
    >>> is_stage_sid("backbone-prod2-ForwardFromGlobalBus", "prod"), is_stage_sid(None, "prod")
    (False, False)
    """
    return isinstance(sid, str) and sid.startswith(names.statement_sid_prefix(stage))


def owned(resource: Resource, stage: str) -> bool:
    """Whether ``stage`` owns ``resource`` (as the reader reports it).

    >>> from infra_bootstrap.resources import Resource
    >>> archive = Resource("archive", "1", "a", {"description": "x [backbone:stage=prod]"},
    ...                    parent_tags=names.tags("prod"))
    >>> owned(archive, "prod")
    True
    >>> owned(Resource("archive", "1", "a", {"description": "x"},
    ...                parent_tags=names.tags("prod")), "prod")
    False
    """
    kind = resource.kind
    if kind in TAGGED_KINDS:
        return has_stage_tags(resource.tags, stage)
    if kind == r.ARCHIVE:
        return (has_stage_tags(resource.parent_tags, stage)
                and names.stage_marker(stage) in str(resource.props.get("description") or ""))
    if kind == r.LOGS_RESOURCE_POLICY:
        ours, _ = split_policy(resource.props.get("document"), stage)
        return resource.name == names.logs_resource_policy(stage) and bool(ours)
    if kind == r.LAMBDA_PERMISSION:
        return (has_stage_tags(resource.parent_tags, stage)
                and is_stage_sid(resource.props.get("statement_id"), stage))
    if kind == r.INVOKE_CONFIG:
        return has_stage_tags(resource.parent_tags, stage)
    raise ValueError(f"no ownership rule for kind {kind!r}")


def statements(policy: Any) -> list[dict[str, Any]]:
    """The statements of a policy document (a single statement may be an object).

    >>> statements({"Statement": {"Sid": "a"}}), statements(None)
    ([{'Sid': 'a'}], [])
    """
    if not isinstance(policy, Mapping):
        return []
    found = policy.get("Statement", [])
    return [dict(found)] if isinstance(found, Mapping) else [dict(s) for s in found]


def split_policy(policy: Any, stage: str) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The statements of ``policy`` the stage wrote, and the others.

    >>> ours, others = split_policy({"Statement": [{"Sid": "backbone-prod-A"}, {"Sid": "B"}]},
    ...                             "prod")
    >>> [s["Sid"] for s in ours], [s["Sid"] for s in others]
    (['backbone-prod-A'], ['B'])
    """
    ours: list[dict[str, Any]] = []
    others: list[dict[str, Any]] = []
    for statement in statements(policy):
        (ours if is_stage_sid(statement.get("Sid"), stage) else others).append(statement)
    return ours, others


def _policy_of(resource: Resource) -> Any:
    return resource.props.get("document" if resource.kind == r.LOGS_RESOURCE_POLICY
                              else "policy")


def foreign_additions(resource: Resource, stage: str) -> list[str]:
    """What is on an owned ``resource`` that the stage did not put there, described.

    >>> from infra_bootstrap.resources import Resource
    >>> rule = Resource("rule", "1", "b/r", {"targets": [{"Id": "event-log", "Arn": "a"},
    ...                                                  {"Id": "audit", "Arn": "arn:x"}]})
    >>> foreign_additions(rule, "prod")
    ['target audit (arn:x)']
    """
    found: list[str] = []
    if resource.kind in {r.EVENT_BUS, r.SQS_QUEUE, r.LOGS_RESOURCE_POLICY}:
        _, others = split_policy(_policy_of(resource), stage)
        found += [f"policy statement {s.get('Sid') or '(without Sid)'}" for s in others]
    if resource.kind == r.EVENT_BUS:
        rules: Mapping[str, Any] = resource.props.get("rules") or {}
        found += [f"rule {name}" for name, tags in sorted(rules.items())
                  if not has_stage_tags(tags, stage)]
    if resource.kind in {r.RULE, r.SUBSCRIPTION_RULE}:
        found += [f"target {t.get('Id')} ({t.get('Arn')})"
                  for t in resource.props.get("targets", ())
                  if t.get("Id") not in STAGE_TARGET_IDS]
    if resource.kind == r.IAM_ROLE:
        found += [f"inline policy {name}" for name in sorted(resource.props.get("policies", {}))
                  if name not in STAGE_ROLE_POLICIES]
        found += [f"managed policy {arn}"
                  for arn in sorted(resource.props.get("managed_policies", ()))]
    return found
