"""Findings for `verify`: pure checks of the actual resources.

- a same-named resource the stage does not own (a conflict: `create` refuses);
- a foreign addition: something on an owned resource the stage did not put there (a
  rule on its bus, a target on its rule, a statement in its policy, a role policy);
- a wildcard principal in any policy we manage;
- a rule target that is an event bus without a role or a dead-letter queue;
- a log-group target that EventBridge cannot write to (missing group, a name outside
  ``/aws/events/``, or no Logs resource policy statement letting events.amazonaws.com
  put log events there).

>>> from infra_bootstrap.resources import Resource
>>> bus = Resource("event_bus", "1", "b", {"policy": {"Statement": [
...     {"Sid": "Open", "Effect": "Allow", "Principal": "*", "Action": "events:PutEvents"}]}})
>>> [f.message for f in policy_findings([bus])]
['statement Open allows any principal (*)']
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from fnmatch import fnmatchcase
from typing import Any

from infra_bootstrap import names, ownership
from infra_bootstrap import resources as r
from infra_bootstrap.resources import Resource


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
