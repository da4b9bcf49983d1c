"""Findings for `verify`: pure checks of the actual resources.

- a same-named resource the stage does not own (a conflict: `create` refuses);
- a foreign addition: something on an owned resource the stage did not put there (a
  rule on its bus, a target on its rule, a statement in its policy, a role policy);
- a wildcard principal in any policy we manage;
- a rule target that is an event bus without a role or a dead-letter queue;
- a log-group target that EventBridge cannot write to (missing group, a name outside
  ``/aws/events/``, or no Logs resource policy statement letting events.amazonaws.com
  put log events there);
- a declared subscription whose events the global bus would not forward to the
  service's local bus (no forwarding rule, or its pattern does not match them).

>>> from infra_bootstrap.resources import Resource
>>> bus = Resource("event_bus", "1", "b", {"policy": {"Statement": [
...     {"Sid": "Open", "Effect": "Allow", "Principal": "*", "Action": "events:PutEvents"}]}})
>>> [f.message for f in policy_findings([bus])]
['statement Open allows any principal (*)']
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from fnmatch import fnmatchcase
from typing import Any

from infra_bootstrap import names, ownership
from infra_bootstrap import resources as r
from infra_bootstrap.declared import SubscriptionLike
from infra_bootstrap.resources import Resource, rule_name
from infra_bootstrap.topology import Stage
from localcloud.patterns import InvalidEventPattern, compile_pattern


@dataclass(frozen=True)
class Finding:
    account: str
    resource: str
    message: str

    def __str__(self) -> str:
        return f"account {self.account}: {self.resource}: {self.message}"


def ownership_findings(actual: Iterable[Resource], conflicts: Iterable[Resource],
                       stage: str) -> list[Finding]:
    """Conflicts, then the foreign additions on what the stage owns.

    >>> from infra_bootstrap import names
    >>> rule = Resource("rule", "1", "b/r", {"targets": [{"Id": "spy", "Arn": "arn:x"}]},
    ...                 names.tags("s"))
    >>> [f.message for f in ownership_findings([rule], [], "s")]
    ['foreign addition: target spy (arn:x), not made by stage s (`create` leaves it in place)']
    """
    found = [Finding(c.account, c.label,
                     f"exists, not owned by stage {stage}: a conflict, `create` refuses "
                     f"(take it over with `create --adopt {c.account}:{c.ref}`)")
             for c in conflicts]
    for resource in actual:
        if ownership.owned(resource, stage):
            found += [Finding(resource.account, resource.label,
                              f"foreign addition: {what}, not made by stage {stage} "
                              "(`create` leaves it in place)")
                      for what in ownership.foreign_additions(resource, stage)]
    return found


def policy_findings(actual: Iterable[Resource], stage: str | None = None) -> list[Finding]:
    """Every policy finding about ``actual`` (only what ``stage`` owns, if given), in a
    stable order."""
    resources = list(actual)
    found: list[Finding] = []
    for resource in resources:
        if stage is not None and not ownership.owned(resource, stage):
            continue
        for statement in _statements(resource):
            if statement.get("Effect") == "Allow" and _any_principal(statement):
                sid = statement.get("Sid") or "without Sid"
                found.append(Finding(resource.account, resource.label,
                                     f"statement {sid} allows any principal (*)"))
        if resource.kind in {r.RULE, r.SUBSCRIPTION_RULE}:
            found += _target_findings(resource, resources)
    return found


def _statements(resource: Resource) -> Iterator[dict[str, Any]]:
    documents = [resource.props.get(k) for k in ("policy", "document", "trust")]
    documents += list(resource.props.get("policies", {}).values())
    for document in documents:
        if not isinstance(document, dict):
            continue
        statements = document.get("Statement", [])
        yield from [statements] if isinstance(statements, dict) else statements
    if resource.kind == r.LAMBDA_PERMISSION and resource.props.get("principal") == "*":
        yield {"Sid": resource.props.get("statement_id"), "Effect": "Allow", "Principal": "*"}


def _any_principal(statement: dict[str, Any]) -> bool:
    principal = statement.get("Principal")
    if principal == "*":
        return True
    if isinstance(principal, dict):
        for value in principal.values():
            values = value if isinstance(value, list) else [value]
            if "*" in values:
                return True
    return False


def _target_findings(rule: Resource, resources: list[Resource]) -> list[Finding]:
    out = []
    for target in rule.props.get("targets", ()):
        arn = target.get("Arn", "")
        what = f"target {target.get('Id')}"
        if names.event_bus_of(arn) is not None:
            if not target.get("RoleArn"):
                out.append(Finding(rule.account, rule.label,
                                   f"{what} forwards to {arn} without a role (RoleArn)"))
            if not target.get("DeadLetterConfig", {}).get("Arn"):
                out.append(Finding(rule.account, rule.label,
                                   f"{what} forwards to {arn} without a dead-letter queue"))
        elif (log_group := names.log_group_of(arn)) is not None:
            problem = _log_target_problem(arn, log_group, rule.account, resources)
            if problem:
                out.append(Finding(rule.account, rule.label,
                                   f"{what}: EventBridge cannot write to {arn}: {problem}"))
    return out


def _log_target_problem(arn: str, name: str, account: str,
                        resources: list[Resource]) -> str | None:
    if not name.startswith(names.EVENTBRIDGE_LOG_GROUP_PREFIX):
        return f"log-group targets must be named {names.EVENTBRIDGE_LOG_GROUP_PREFIX}..."
    if not any(x.kind == r.LOG_GROUP and x.account == account and x.name == name
               for x in resources):
        return "the log group does not exist"
    for policy in (x for x in resources
                   if x.kind == r.LOGS_RESOURCE_POLICY and x.account == account):
        for statement in _statements(policy):
            if _allows_events_to_log(statement, arn):
                return None
    return "no Logs resource policy lets events.amazonaws.com put log events there"


def _allows_events_to_log(statement: dict[str, Any], arn: str) -> bool:
    if statement.get("Effect") != "Allow":
        return False
    services = (statement.get("Principal") or {}).get("Service", [])
    services = services if isinstance(services, list) else [services]
    actions = statement.get("Action", [])
    actions = actions if isinstance(actions, list) else [actions]
    patterns = statement.get("Resource", [])
    patterns = patterns if isinstance(patterns, list) else [patterns]
    stream = f"{arn}:log-stream:any"
    return (names.EVENTS_SERVICE in services
            and any(fnmatchcase("logs:PutLogEvents", a) for a in actions)
            and any(fnmatchcase(stream, p) for p in patterns))


def forwarding_findings(stage: Stage, actual: Iterable[Resource],
                        declared: Mapping[str, Sequence[SubscriptionLike]]) -> list[Finding]:
    """Each declared subscription whose events would not reach the service's local bus.

    A subscription names its events by exact sources and detail-types (``@subscribe``);
    each pair is tested against the forwarding rule on the global bus as it is now, with
    EventBridge's pattern language. Events of the service's own source are never
    forwarded to it, whatever the rule.

    >>> from infra_bootstrap.topology import load_stage
    >>> from backbone.subscriptions import Subscription
    >>> sub = Subscription("on_order_created", {"source": ["order-service"],
    ...                    "detail-type": ["Order.Created"]}, handler=print)
    >>> [f.message for f in forwarding_findings(load_stage("local"), [],
    ...                                         {"delivery-service": [sub]})]
    ['subscription on_order_created: Order.Created from order-service is not forwarded \
to local-bus-delivery-service: no rule global-to-delivery-service on global-bus']
    """
    rules = {x.name: x for x in actual if x.kind == r.RULE and x.account == stage.bus_account}
    found: list[Finding] = []
    for service in stage.services:
        name = names.forward_rule_name(service.name)
        rule = rules.get(rule_name(names.GLOBAL_BUS, name))
        for sub in declared.get(service.name, ()):
            for source, detail_type in _named_events(sub.event_pattern):
                why = _not_forwarded(service.name, source, detail_type, rule, name)
                if why:
                    found.append(Finding(
                        stage.bus_account, f"rule {names.GLOBAL_BUS}/{name}",
                        f"subscription {sub.name}: {detail_type} from {source} is not "
                        f"forwarded to {names.local_bus(service.name)}: {why}"))
    return found


def _named_events(pattern: Mapping[str, Any]) -> list[tuple[str, str]]:
    """(source, detail-type) pairs a pattern names exactly; none for other matchers."""
    sources, detail_types = pattern.get("source"), pattern.get("detail-type")
    if not (isinstance(sources, list) and isinstance(detail_types, list)):
        return []
    return [(s, d) for s in sources for d in detail_types
            if isinstance(s, str) and isinstance(d, str)]


def _not_forwarded(service: str, source: str, detail_type: str, rule: Resource | None,
                   name: str) -> str | None:
    if source == service:
        return "a service's own events never come back to its own bus"
    if rule is None:
        return f"no rule {name} on {names.GLOBAL_BUS}"
    if rule.props.get("state", "ENABLED") not in {"ENABLED",
                                                  "ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS"}:
        return f"rule {name} is {rule.props.get('state')}"
    try:
        matches = compile_pattern(rule.props.get("pattern") or {}).matches(
            {"source": source, "detail-type": detail_type})
    except InvalidEventPattern:
        matches = False
    return None if matches else (f"the pattern of rule {name} does not match it "
                                 "(run `create` to widen it)")
