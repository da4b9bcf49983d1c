"""Diff desired against actual resources into an ordered list of API calls. Pure.

Like Chalice's ``deploy/planner.py``: the plan is data you can print, test and then
hand to the executor. Every call's params are complete up front (ARNs are predictable,
queue URLs and resource ARNs of existing resources come from the reader), so no call
depends on the output of an earlier one.

>>> from infra_bootstrap.resources import Resource
>>> bus = Resource("event_bus", "111111111111", "b", {"policy": None}, {"k": "v"})
>>> [c.operation for c in plan([bus], [], stage="test")]
['create_event_bus']
>>> plan([bus], [bus], stage="test")
[]
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from infra_bootstrap import resources as r
from infra_bootstrap.resources import Resource

WAIT_PREFIX = "wait:"


def api_name(service: str, operation: str) -> str:
    """``events:PutRule`` style, for messages: botocore's service name (the same as the
    IAM action prefix for every service used here) and the operation in CamelCase.

    >>> api_name("lambda", "put_function_event_invoke_config")
    'lambda:PutFunctionEventInvokeConfig'
    """
    camel = "".join(part.capitalize() for part in operation.split("_"))
    return f"{service}:{camel}"


@dataclass(frozen=True)
class Call:
    """One API call of a plan: ``sessions.client(account, service).<operation>(**params)``.

    ``operation`` ``wait:<waiter>`` runs a boto3 waiter (not mutating).
    """

    account: str
    service: str
    operation: str
    params: Mapping[str, Any]
    description: str
    resource: str
    mutating: bool = True

    @property
    def api_name(self) -> str:
        """``events:PutRule`` style, for messages.

        >>> Call("1", "events", "put_rule", {}, "", "x").api_name
        'events:PutRule'
        """
        return api_name(self.service, self.operation.removeprefix(WAIT_PREFIX))

    def to_json(self) -> dict[str, Any]:
        return {"account": self.account, "api": self.api_name, "operation": self.operation,
                "service": self.service, "params": dict(self.params),
                "description": self.description, "resource": self.resource,
                "mutating": self.mutating}


@dataclass
class _Plan:
    account: str
    resource: str
    calls: list[Call] = field(default_factory=list)

    def add(self, service: str, operation: str, description: str, mutating: bool = True,
            **params: Any) -> None:
        self.calls.append(Call(self.account, service, operation, params, description,
                               self.resource, mutating))


def _one(x: Resource, service: str, operation: str, description: str,
         **params: Any) -> list[Call]:
    """A plan step of exactly one mutating call on ``x``."""
    return [Call(x.account, service, operation, params, description, x.label)]


def plan(desired: Iterable[Resource], actual: Iterable[Resource], *, stage: str,
         kinds: Iterable[str] = r.INFRA_KINDS) -> list[Call]:
    """The calls turning ``actual`` into ``desired`` for the resource ``kinds`` managed.

    Creates and updates run in :data:`resources.PHASES` order, then deletions of owned
    resources that are no longer desired run in the reverse order (targets are removed
    before their rule, rules before their bus, a role after the targets naming it).
    """
    managed = set(kinds)
    wanted = {d.key: d for d in desired if d.kind in managed}
    found = {a.key: a for a in actual if a.kind in managed}
    calls: list[Call] = []
    for kind in r.PHASES:
        for key in sorted(k for k in wanted if k[0] == kind):
            before = found.get(key)
            handler = _HANDLERS[kind]
            calls += (handler.create(wanted[key]) if before is None
                      else handler.update(wanted[key], before))
    for kind in reversed(r.PHASES):
        for key in sorted(k for k in found if k[0] == kind and k not in wanted):
            if found[key].owned_by(stage):
                calls += _HANDLERS[kind].delete(found[key])
    return calls


def destroy_plan(actual: Iterable[Resource], *, stage: str,
                 kinds: Iterable[str] = r.DESTROY_KINDS) -> list[Call]:
    """Delete every resource of ``kinds`` the stage owns."""
    return plan([], actual, stage=stage, kinds=kinds)


# --- Comparison helpers ----------------------------------------------------------------


def normalize(value: Any, *, in_condition: bool = False) -> Any:
    """A canonical form of a policy or pattern, so equal documents compare equal.

    AWS may return one-element lists as scalars, reorder lists, or change the case of
    condition keys (``aws:SourceArn`` comes back as ``AWS:SourceArn`` from Lambda).

    >>> normalize({"A": ["x"], "Condition": {"ArnLike": {"AWS:SourceArn": "y"}}})
    {'A': 'x', 'Condition': {'ArnLike': {'aws:sourcearn': 'y'}}}
    """
    if isinstance(value, Mapping):
        out = {}
        for k, v in value.items():
            key = k.lower() if in_condition and _is_condition_key(k) else k
            out[key] = normalize(v, in_condition=in_condition or k == "Condition")
        return dict(sorted(out.items()))
    if isinstance(value, list | tuple):
        items = [normalize(v, in_condition=in_condition) for v in value]
        if len(items) == 1:
            return items[0]
        return sorted(items, key=lambda v: json.dumps(v, sort_keys=True))
    return value


def _is_condition_key(key: str) -> bool:
    return ":" in key


def _same(a: Any, b: Any) -> bool:
    return normalize(a) == normalize(b)


def _missing_tags(want: Resource, have: Resource) -> dict[str, str]:
    if want.tags is None:
        return {}
    current = have.tags or {}
    return {k: v for k, v in want.tags.items() if current.get(k) != v}


def _tag_list(tags: Mapping[str, str]) -> list[dict[str, str]]:
    return [{"Key": k, "Value": v} for k, v in tags.items()]


def _dumps(document: Any) -> str:
    return json.dumps(document, separators=(",", ":"))


# --- Per-kind handlers ---------------------------------------------------------------------


@dataclass(frozen=True)
class _Handler:
    create: Callable[[Resource], list[Call]]
    update: Callable[[Resource, Resource], list[Call]]
    delete: Callable[[Resource], list[Call]]


def _role_create(d: Resource) -> list[Call]:
    p = _Plan(d.account, d.label)
    p.add("iam", "create_role", f"create {d.label}", RoleName=d.name,
          AssumeRolePolicyDocument=_dumps(d.props["trust"]),
          Description=d.props.get("description", ""), Tags=_tag_list(d.tags or {}))
    for name, doc in sorted(d.props["policies"].items()):
        p.add("iam", "put_role_policy", f"put inline policy {name} on {d.label}",
              RoleName=d.name, PolicyName=name, PolicyDocument=_dumps(doc))
    return p.calls


def _role_update(d: Resource, a: Resource) -> list[Call]:
    p = _Plan(d.account, d.label)
    if not _same(d.props["trust"], a.props.get("trust")):
        p.add("iam", "update_assume_role_policy", f"update trust policy of {d.label}",
              RoleName=d.name, PolicyDocument=_dumps(d.props["trust"]))
    if d.props.get("description", "") != a.props.get("description", ""):
        p.add("iam", "update_role", f"update description of {d.label}",
              RoleName=d.name, Description=d.props.get("description", ""))
    have = a.props.get("policies", {})
    for name, doc in sorted(d.props["policies"].items()):
        if name not in have or not _same(doc, have[name]):
            what = "put" if name not in have else "update"
            p.add("iam", "put_role_policy", f"{what} inline policy {name} on {d.label}",
                  RoleName=d.name, PolicyName=name, PolicyDocument=_dumps(doc))
    for name in sorted(set(have) - set(d.props["policies"])):
        p.add("iam", "delete_role_policy", f"delete extra inline policy {name} of {d.label}",
              RoleName=d.name, PolicyName=name)
    if tags := _missing_tags(d, a):
        p.add("iam", "tag_role", f"tag {d.label}", RoleName=d.name, Tags=_tag_list(tags))
    return p.calls


def _role_delete(a: Resource) -> list[Call]:
    p = _Plan(a.account, a.label)
    for name in sorted(a.props.get("policies", {})):
        p.add("iam", "delete_role_policy", f"delete inline policy {name} of {a.label}",
              RoleName=a.name, PolicyName=name)
    p.add("iam", "delete_role", f"delete {a.label}", RoleName=a.name)
    return p.calls


def _queue_attributes(d: Resource) -> dict[str, str]:
    return {"Policy": _dumps(d.props["policy"]), **d.props.get("attributes", {})}


def _queue_create(d: Resource) -> list[Call]:
    return _one(d, "sqs", "create_queue", f"create {d.label}", QueueName=d.name,
                Attributes=_queue_attributes(d), tags=dict(d.tags or {}))


def _queue_update(d: Resource, a: Resource) -> list[Call]:
    p = _Plan(d.account, d.label)
    url = a.props["url"]
    changed: dict[str, str] = {}
    if not _same(d.props["policy"], a.props.get("policy")):
        changed["Policy"] = _dumps(d.props["policy"])
    have = a.props.get("attributes", {})
    changed.update({k: v for k, v in d.props.get("attributes", {}).items() if have.get(k) != v})
    if changed:
        p.add("sqs", "set_queue_attributes",
              f"update {', '.join(sorted(changed))} of {d.label}", QueueUrl=url,
              Attributes=changed)
    if tags := _missing_tags(d, a):
        p.add("sqs", "tag_queue", f"tag {d.label}", QueueUrl=url, Tags=tags)
    return p.calls


def _queue_delete(a: Resource) -> list[Call]:
    return _one(a, "sqs", "delete_queue", f"delete {a.label}", QueueUrl=a.props["url"])


def _log_group_create(d: Resource) -> list[Call]:
    p = _Plan(d.account, d.label)
    p.add("logs", "create_log_group", f"create {d.label}", logGroupName=d.name,
          tags=dict(d.tags or {}))
    p.add("logs", "put_retention_policy",
          f"set retention of {d.label} to {d.props['retention_days']} days",
          logGroupName=d.name, retentionInDays=d.props["retention_days"])
    return p.calls


def _log_group_update(d: Resource, a: Resource) -> list[Call]:
    p = _Plan(d.account, d.label)
    if d.props["retention_days"] != a.props.get("retention_days"):
        p.add("logs", "put_retention_policy",
              f"set retention of {d.label} to {d.props['retention_days']} days "
              f"(was {a.props.get('retention_days') or 'never expire'})",
              logGroupName=d.name, retentionInDays=d.props["retention_days"])
    if tags := _missing_tags(d, a):
        p.add("logs", "tag_resource", f"tag {d.label}", resourceArn=a.props["arn"], tags=tags)
    return p.calls


def _log_group_delete(a: Resource) -> list[Call]:
    return _one(a, "logs", "delete_log_group", f"delete {a.label}", logGroupName=a.name)


def _logs_policy_put(d: Resource, a: Resource | None = None) -> list[Call]:
    if a is not None and _same(d.props["document"], a.props.get("document")):
        return []
    return _one(d, "logs", "put_resource_policy",
                f"{'create' if a is None else 'update'} {d.label}",
                policyName=d.name, policyDocument=_dumps(d.props["document"]))


def _logs_policy_delete(a: Resource) -> list[Call]:
    return _one(a, "logs", "delete_resource_policy", f"delete {a.label}", policyName=a.name)


def _table_create(d: Resource) -> list[Call]:
    p = _Plan(d.account, d.label)
    hash_key, range_key = d.props["hash_key"], d.props["range_key"]
    p.add("dynamodb", "create_table", f"create {d.label} (on demand, {hash_key}/{range_key})",
          TableName=d.name, BillingMode="PAY_PER_REQUEST",
          AttributeDefinitions=[{"AttributeName": hash_key, "AttributeType": "S"},
                                {"AttributeName": range_key, "AttributeType": "S"}],
          KeySchema=[{"AttributeName": hash_key, "KeyType": "HASH"},
                     {"AttributeName": range_key, "KeyType": "RANGE"}],
          Tags=_tag_list(d.tags or {}))
    # TTL and backups can only be set once the table is ACTIVE.
    p.add("dynamodb", f"{WAIT_PREFIX}table_exists", f"wait until {d.label} is active",
          mutating=False, TableName=d.name)
    p.add("dynamodb", "update_time_to_live", f"expire items of {d.label} on "
          f"{d.props['ttl_attribute']}", TableName=d.name,
          TimeToLiveSpecification={"Enabled": True, "AttributeName": d.props["ttl_attribute"]})
    if d.props["point_in_time_recovery"]:
        # A table just ACTIVE may still be enabling continuous backups, and
        # UpdateContinuousBackups then fails with ContinuousBackupsUnavailableException
        # ("Backups are being enabled for the table"; DynamoDB API reference,
        # UpdateContinuousBackups errors): wait for ContinuousBackupsStatus ENABLED first.
        p.add("dynamodb", f"{WAIT_PREFIX}continuous_backups_enabled",
              f"wait until backups of {d.label} are available", mutating=False,
              TableName=d.name)
        p.add("dynamodb", "update_continuous_backups",
              f"turn on point-in-time recovery of {d.label}", TableName=d.name,
              PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": True})
    return p.calls


def _table_update(d: Resource, a: Resource) -> list[Call]:
    p = _Plan(d.account, d.label)
    if a.props.get("billing_mode") != "PAY_PER_REQUEST":
        p.add("dynamodb", "update_table", f"switch {d.label} to on-demand billing",
              TableName=d.name, BillingMode="PAY_PER_REQUEST")
    if a.props.get("ttl_attribute") != d.props["ttl_attribute"]:
        p.add("dynamodb", "update_time_to_live",
              f"expire items of {d.label} on {d.props['ttl_attribute']}", TableName=d.name,
              TimeToLiveSpecification={"Enabled": True,
                                       "AttributeName": d.props["ttl_attribute"]})
    if bool(a.props.get("point_in_time_recovery")) != d.props["point_in_time_recovery"]:
        state = "on" if d.props["point_in_time_recovery"] else "off"
        p.add("dynamodb", "update_continuous_backups",
              f"turn {state} point-in-time recovery of {d.label}", TableName=d.name,
              PointInTimeRecoverySpecification={
                  "PointInTimeRecoveryEnabled": d.props["point_in_time_recovery"]})
    if tags := _missing_tags(d, a):
        p.add("dynamodb", "tag_resource", f"tag {d.label}", ResourceArn=a.props["arn"],
              Tags=_tag_list(tags))
    return p.calls


def _table_delete(a: Resource) -> list[Call]:
    return _one(a, "dynamodb", "delete_table", f"delete {a.label} and its items",
                TableName=a.name)


def _bus_policy_calls(p: _Plan, d: Resource, current: Any) -> None:
    policy = d.props.get("policy")
    if _same(policy, current):
        return
    if policy is None:
        p.add("events", "remove_permission", f"remove the policy of {d.label}",
              EventBusName=d.name, RemoveAllPermissions=True)
        return
    # Remove the statements we do not want first, then put ours: correct whether
    # PutPermission(Policy=...) replaces the policy or merges statements by Sid (as moto
    # does); only a policy holding statements without Sid is removed whole first.
    have = _statement_list(current)
    wanted_sids = {s.get("Sid") for s in _statement_list(policy)}
    if any(not s.get("Sid") for s in have):
        p.add("events", "remove_permission", f"remove the unexpected policy of {d.label}",
              EventBusName=d.name, RemoveAllPermissions=True)
    else:
        for sid in sorted({s["Sid"] for s in have} - wanted_sids):
            p.add("events", "remove_permission",
                  f"remove unexpected statement {sid} from the policy of {d.label}",
                  EventBusName=d.name, StatementId=sid)
    verb = "set" if current is None else "replace"
    p.add("events", "put_permission", f"{verb} the resource policy of {d.label}",
          EventBusName=d.name, Policy=_dumps(policy))


def _statement_list(policy: Any) -> list[dict[str, Any]]:
    if not isinstance(policy, Mapping):
        return []
    statements = policy.get("Statement", [])
    return [dict(statements)] if isinstance(statements, Mapping) else list(statements)


def _bus_create(d: Resource) -> list[Call]:
    p = _Plan(d.account, d.label)
    p.add("events", "create_event_bus", f"create {d.label}", Name=d.name,
          Tags=_tag_list(d.tags or {}))
    _bus_policy_calls(p, d, None)
    return p.calls


def _bus_update(d: Resource, a: Resource) -> list[Call]:
    p = _Plan(d.account, d.label)
    _bus_policy_calls(p, d, a.props.get("policy"))
    if tags := _missing_tags(d, a):
        p.add("events", "tag_resource", f"tag {d.label}", ResourceARN=a.props["arn"],
              Tags=_tag_list(tags))
    return p.calls


def _bus_delete(a: Resource) -> list[Call]:
    return _one(a, "events", "delete_event_bus", f"delete {a.label}", Name=a.name)


def _archive_create(d: Resource) -> list[Call]:
    return _one(d, "events", "create_archive",
                f"create {d.label} of {d.props['source_arn']} "
                f"(retention {d.props['retention_days'] or 'indefinite'} days)",
                ArchiveName=d.name, EventSourceArn=d.props["source_arn"],
                Description=d.props.get("description", ""),
                RetentionDays=d.props["retention_days"])


def _archive_update(d: Resource, a: Resource) -> list[Call]:
    if d.props["source_arn"] != a.props.get("source_arn"):
        return _archive_delete(a) + _archive_create(d)
    if (d.props["retention_days"] == a.props.get("retention_days")
            and d.props.get("description", "") == a.props.get("description", "")):
        return []
    return _one(d, "events", "update_archive",
                f"set retention of {d.label} to {d.props['retention_days']} days "
                f"(was {a.props.get('retention_days')})", ArchiveName=d.name,
                Description=d.props.get("description", ""),
                RetentionDays=d.props["retention_days"])


def _archive_delete(a: Resource) -> list[Call]:
    return _one(a, "events", "delete_archive", f"delete {a.label}", ArchiveName=a.name)


def _put_rule(p: _Plan, d: Resource, description: str, *, tags: bool) -> None:
    params: dict[str, Any] = {
        "Name": d.props["rule"], "EventBusName": d.props["bus"],
        "EventPattern": _dumps(d.props["pattern"]), "State": "ENABLED",
        "Description": d.props.get("description", ""),
    }
    if tags:
        params["Tags"] = _tag_list(d.tags or {})
    p.add("events", "put_rule", description, **params)


def _rule_create(d: Resource) -> list[Call]:
    p = _Plan(d.account, d.label)
    _put_rule(p, d, f"create {d.label} with pattern {_dumps(d.props['pattern'])}", tags=True)
    p.add("events", "put_targets",
          f"add targets {', '.join(t['Id'] for t in d.props['targets'])} to {d.label}",
          Rule=d.props["rule"], EventBusName=d.props["bus"],
          Targets=[dict(t) for t in d.props["targets"]])
    return p.calls


def _rule_update(d: Resource, a: Resource) -> list[Call]:
    p = _Plan(d.account, d.label)
    drift = [what for what, same in (
        ("pattern", _same(d.props["pattern"], a.props.get("pattern"))),
        ("description", d.props.get("description", "") == a.props.get("description", "")),
        ("state", a.props.get("state", "ENABLED") == "ENABLED"),
    ) if not same]
    if drift:
        _put_rule(p, d, f"update {' and '.join(drift)} of {d.label}", tags=False)
    have = {t["Id"]: t for t in a.props.get("targets", ())}
    put = [t for t in d.props["targets"] if not _same(t, have.get(t["Id"]))]
    if put:
        words = [f"{t['Id']} ({'changed' if t['Id'] in have else 'missing'})" for t in put]
        p.add("events", "put_targets", f"put targets {', '.join(words)} on {d.label}",
              Rule=d.props["rule"], EventBusName=d.props["bus"], Targets=[dict(t) for t in put])
    extra = sorted(set(have) - {t["Id"] for t in d.props["targets"]})
    if extra:
        p.add("events", "remove_targets", f"remove extra targets {', '.join(extra)} "
              f"from {d.label}", Rule=d.props["rule"], EventBusName=d.props["bus"], Ids=extra)
    if tags := _missing_tags(d, a):
        p.add("events", "tag_resource", f"tag {d.label}", ResourceARN=a.props["arn"],
              Tags=_tag_list(tags))
    return p.calls


def _rule_delete(a: Resource) -> list[Call]:
    p = _Plan(a.account, a.label)
    ids = sorted(t["Id"] for t in a.props.get("targets", ()))
    if ids:
        p.add("events", "remove_targets", f"remove targets {', '.join(ids)} from {a.label}",
              Rule=a.props["rule"], EventBusName=a.props["bus"], Ids=ids)
    p.add("events", "delete_rule", f"delete {a.label}", Name=a.props["rule"],
          EventBusName=a.props["bus"])
    return p.calls


def _permission_create(d: Resource) -> list[Call]:
    return _one(d, "lambda", "add_permission",
                f"let {d.props['principal']} invoke {d.props['function_name']} "
                f"from {d.props['source_arn']}", FunctionName=d.props["function_name"],
                StatementId=d.props["statement_id"], Action=d.props["action"],
                Principal=d.props["principal"], SourceArn=d.props["source_arn"])


def _permission_update(d: Resource, a: Resource) -> list[Call]:
    keys = ("principal", "action", "source_arn")
    if all(d.props[k] == a.props.get(k) for k in keys):
        return []
    return _permission_delete(a) + _permission_create(d)


def _permission_delete(a: Resource) -> list[Call]:
    return _one(a, "lambda", "remove_permission", f"remove {a.label}",
                FunctionName=a.props["function_name"], StatementId=a.props["statement_id"])


_INVOKE_KEYS = ("maximum_retry_attempts", "maximum_event_age", "on_failure")


def _invoke_config_put(d: Resource, a: Resource | None = None) -> list[Call]:
    if a is not None and all(d.props[k] == a.props.get(k) for k in _INVOKE_KEYS):
        return []
    return _one(d, "lambda", "put_function_event_invoke_config",
                f"{'set' if a is None else 'update'} async invoke of {d.name}: "
                f"{d.props['maximum_retry_attempts']} retries, on failure to "
                f"{d.props['on_failure']}",
                FunctionName=d.props["function_name"],
                MaximumRetryAttempts=d.props["maximum_retry_attempts"],
                MaximumEventAgeInSeconds=d.props["maximum_event_age"],
                DestinationConfig={"OnFailure": {"Destination": d.props["on_failure"]}})


def _invoke_config_delete(a: Resource) -> list[Call]:
    return _one(a, "lambda", "delete_function_event_invoke_config", f"delete {a.label}",
                FunctionName=a.props["function_name"])


_RULE = _Handler(_rule_create, _rule_update, _rule_delete)
_HANDLERS: dict[str, _Handler] = {
    r.IAM_ROLE: _Handler(_role_create, _role_update, _role_delete),
    r.SQS_QUEUE: _Handler(_queue_create, _queue_update, _queue_delete),
    r.LOG_GROUP: _Handler(_log_group_create, _log_group_update, _log_group_delete),
    r.LOGS_RESOURCE_POLICY: _Handler(_logs_policy_put, _logs_policy_put, _logs_policy_delete),
    r.DYNAMODB_TABLE: _Handler(_table_create, _table_update, _table_delete),
    r.EVENT_BUS: _Handler(_bus_create, _bus_update, _bus_delete),
    r.ARCHIVE: _Handler(_archive_create, _archive_update, _archive_delete),
    r.RULE: _RULE,
    r.SUBSCRIPTION_RULE: _RULE,
    r.LAMBDA_PERMISSION: _Handler(_permission_create, _permission_update, _permission_delete),
    r.INVOKE_CONFIG: _Handler(_invoke_config_put, _invoke_config_put, _invoke_config_delete),
}


def mutating(calls: Sequence[Call]) -> list[Call]:
    """The calls that change something (a plan's waiters do not)."""
    return [c for c in calls if c.mutating]
