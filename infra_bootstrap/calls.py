"""The API calls of each resource kind: create, update, delete, and strip. Pure.

Like Chalice's ``deploy/planner.py``: calls are data you can print, test and then hand
to the executor. Every call's params are complete up front (ARNs are predictable, queue
URLs and resource ARNs of existing resources come from the reader), so no call depends
on the output of an earlier one.

Updates change only the stage's part of a resource (``ownership.py``): statements with
the stage's Sids, targets with its ids, its inline policy. What someone else added stays:
a policy is written back with their statements in it, their targets and policies are
not removed. ``strip`` removes the stage's part from a resource that must stay.

>>> from infra_bootstrap.resources import Resource
>>> bus = Resource("event_bus", "111111111111", "b", {"policy": None}, {"k": "v"})
>>> [c.operation for c in create_calls(bus)]
['create_event_bus']
>>> update_calls(bus, bus, "test")
[]
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from infra_bootstrap import alarms, ownership
from infra_bootstrap import resources as r
from infra_bootstrap.desired import POLICY_VERSION
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




def _tag_words(tags: Mapping[str, str]) -> str:
    return ", ".join(f"{k}={v}" for k, v in tags.items())


def _sids(found: Sequence[Mapping[str, Any]]) -> str:
    return ", ".join(str(s.get("Sid") or "(without Sid)") for s in found)


@dataclass(frozen=True)
class _PolicyChange:
    """How to make the stage's statements of a policy as desired, everyone else's kept."""

    document: dict[str, Any] | None  # the whole policy to write; None: no statement left
    stale: list[dict[str, Any]]  # the stage's statements no longer wanted
    changed: bool  # a wanted statement is new or differs
    text: str  # what changes, in words; "" when nothing does


def _merged_policy(want: Any, current: Any, stage: str) -> _PolicyChange:
    ours, others = ownership.split_policy(current, stage)
    wanted = ownership.statements(want)
    have = {s.get("Sid"): s for s in ours}
    wanted_sids = {s.get("Sid") for s in wanted}
    stale = [s for s in ours if s.get("Sid") not in wanted_sids]
    changed = [s for s in wanted if not _same(s, have.get(s.get("Sid")))]
    document = ({"Version": POLICY_VERSION, "Statement": wanted + others}
                if wanted or others else None)
    if not changed and not stale:
        return _PolicyChange(document, [], False, "")
    words = [f"{s.get('Sid')} ({'changed' if s.get('Sid') in have else 'new'})"
             for s in changed]
    words += [f"{s.get('Sid')} (removed)" for s in stale]
    text = f"statements {', '.join(words)}"
    if others:
        text += f"; keeps {len(others)} statement(s) not the stage's: {_sids(others)}"
    return _PolicyChange(document, stale, bool(changed), text)


def _only_others(policy: Any, stage: str) -> dict[str, Any] | None:
    """``policy`` without the stage's statements; None when nothing else is left."""
    _, others = ownership.split_policy(policy, stage)
    return {"Version": POLICY_VERSION, "Statement": others} if others else None


# --- Per-kind handlers ---------------------------------------------------------------------


@dataclass(frozen=True)
class _Handler:
    create: Callable[[Resource], list[Call]]
    update: Callable[[Resource, Resource, str], list[Call]]
    delete: Callable[[Resource], list[Call]]
    strip: Callable[[Resource, str], list[Call]] | None = None


def _tag_call(p: _Plan, d: Resource, a: Resource, service: str, operation: str, *,
              param: str, as_list: bool, **params: Any) -> None:
    """Tag ``a`` with what it lacks of ``d``'s tags (``param``: the API's tags parameter)."""
    tags = _missing_tags(d, a)
    if tags:
        params[param] = _tag_list(tags) if as_list else dict(tags)
        p.add(service, operation, f"tag {d.label} with {_tag_words(tags)}", **params)


def _role_create(d: Resource) -> list[Call]:
    p = _Plan(d.account, d.label)
    p.add("iam", "create_role", f"create {d.label}", RoleName=d.name,
          AssumeRolePolicyDocument=_dumps(d.props["trust"]),
          Description=d.props.get("description", ""), Tags=_tag_list(d.tags or {}))
    for name, doc in sorted(d.props["policies"].items()):
        p.add("iam", "put_role_policy", f"put inline policy {name} on {d.label}",
              RoleName=d.name, PolicyName=name, PolicyDocument=_dumps(doc))
    return p.calls


def _role_update(d: Resource, a: Resource, stage: str) -> list[Call]:
    p = _Plan(d.account, d.label)
    if not _same(d.props["trust"], a.props.get("trust")):
        p.add("iam", "update_assume_role_policy", f"update trust policy of {d.label}",
              RoleName=d.name, PolicyDocument=_dumps(d.props["trust"]))
    if d.props.get("description", "") != a.props.get("description", ""):
        p.add("iam", "update_role", f"update description of {d.label} to "
              f"{d.props.get('description', '')!r}",
              RoleName=d.name, Description=d.props.get("description", ""))
    have = a.props.get("policies", {})
    for name, doc in sorted(d.props["policies"].items()):
        if name not in have or not _same(doc, have[name]):
            what = "put" if name not in have else "update"
            p.add("iam", "put_role_policy", f"{what} inline policy {name} on {d.label}",
                  RoleName=d.name, PolicyName=name, PolicyDocument=_dumps(doc))
    # Only the stage's own inline policies go; anyone else's stay (ownership.py).
    for name in sorted((set(have) & ownership.STAGE_ROLE_POLICIES) - set(d.props["policies"])):
        p.add("iam", "delete_role_policy", f"delete inline policy {name} of {d.label}",
              RoleName=d.name, PolicyName=name)
    _tag_call(p, d, a, "iam", "tag_role", param="Tags", as_list=True, RoleName=d.name)
    return p.calls


def _role_delete(a: Resource) -> list[Call]:
    p = _Plan(a.account, a.label)
    for name in sorted(a.props.get("policies", {})):
        p.add("iam", "delete_role_policy", f"delete inline policy {name} of {a.label}",
              RoleName=a.name, PolicyName=name)
    p.add("iam", "delete_role", f"delete {a.label}", RoleName=a.name)
    return p.calls


def _role_strip(a: Resource, stage: str) -> list[Call]:
    p = _Plan(a.account, a.label)
    for name in sorted(set(a.props.get("policies", {})) & ownership.STAGE_ROLE_POLICIES):
        p.add("iam", "delete_role_policy", f"delete inline policy {name} of {a.label}",
              RoleName=a.name, PolicyName=name)
    return p.calls


def _queue_attributes(d: Resource) -> dict[str, str]:
    return {"Policy": _dumps(d.props["policy"]), **d.props.get("attributes", {})}


def _queue_create(d: Resource) -> list[Call]:
    return _one(d, "sqs", "create_queue", f"create {d.label}", QueueName=d.name,
                Attributes=_queue_attributes(d), tags=dict(d.tags or {}))


def _queue_update(d: Resource, a: Resource, stage: str) -> list[Call]:
    p = _Plan(d.account, d.label)
    url = a.props["url"]
    changed: dict[str, str] = {}
    words = []
    policy = _merged_policy(d.props["policy"], a.props.get("policy"), stage)
    if policy.text:
        changed["Policy"] = _dumps(policy.document) if policy.document is not None else ""
        words.append(f"Policy ({policy.text})")
    have = a.props.get("attributes", {})
    for key, value in sorted(d.props.get("attributes", {}).items()):
        if have.get(key) != value:
            changed[key] = value
            words.append(f"{key} to {value} (was {have.get(key)})")
    if changed:
        p.add("sqs", "set_queue_attributes", f"set {'; '.join(words)} of {d.label}",
              QueueUrl=url, Attributes=changed)
    _tag_call(p, d, a, "sqs", "tag_queue", param="Tags", as_list=False, QueueUrl=url)
    return p.calls


def _queue_delete(a: Resource) -> list[Call]:
    return _one(a, "sqs", "delete_queue", f"delete {a.label}", QueueUrl=a.props["url"])


def _queue_strip(a: Resource, stage: str) -> list[Call]:
    ours, others = ownership.split_policy(a.props.get("policy"), stage)
    if not ours:
        return []
    remaining = _only_others(a.props.get("policy"), stage)
    return _one(a, "sqs", "set_queue_attributes",
                f"remove statements {_sids(ours)} (the stage's) from the policy of {a.label}; "
                f"keep {_sids(others)}", QueueUrl=a.props["url"],
                Attributes={"Policy": _dumps(remaining) if remaining else ""})


def _log_group_create(d: Resource) -> list[Call]:
    p = _Plan(d.account, d.label)
    p.add("logs", "create_log_group", f"create {d.label}", logGroupName=d.name,
          tags=dict(d.tags or {}))
    p.add("logs", "put_retention_policy",
          f"set retention of {d.label} to {d.props['retention_days']} days",
          logGroupName=d.name, retentionInDays=d.props["retention_days"])
    return p.calls


def _log_group_update(d: Resource, a: Resource, stage: str) -> list[Call]:
    p = _Plan(d.account, d.label)
    if d.props["retention_days"] != a.props.get("retention_days"):
        p.add("logs", "put_retention_policy",
              f"set retention of {d.label} to {d.props['retention_days']} days "
              f"(was {a.props.get('retention_days') or 'never expire'})",
              logGroupName=d.name, retentionInDays=d.props["retention_days"])
    _tag_call(p, d, a, "logs", "tag_resource", param="tags", as_list=False,
              resourceArn=a.props.get("arn"))
    return p.calls


def _log_group_delete(a: Resource) -> list[Call]:
    return _one(a, "logs", "delete_log_group", f"delete {a.label}", logGroupName=a.name)


def _logs_policy_create(d: Resource) -> list[Call]:
    return _one(d, "logs", "put_resource_policy",
                f"create {d.label}: statements {_sids(ownership.statements(d.props['document']))}",
                policyName=d.name, policyDocument=_dumps(d.props["document"]))


def _logs_policy_update(d: Resource, a: Resource, stage: str) -> list[Call]:
    policy = _merged_policy(d.props["document"], a.props.get("document"), stage)
    if not policy.text or policy.document is None:
        return []
    return _one(d, "logs", "put_resource_policy", f"update {d.label}: {policy.text}",
                policyName=d.name, policyDocument=_dumps(policy.document))


def _logs_policy_delete(a: Resource) -> list[Call]:
    return _one(a, "logs", "delete_resource_policy", f"delete {a.label}", policyName=a.name)


def _logs_policy_strip(a: Resource, stage: str) -> list[Call]:
    ours, others = ownership.split_policy(a.props.get("document"), stage)
    remaining = _only_others(a.props.get("document"), stage)
    if not ours or remaining is None:
        return []
    return _one(a, "logs", "put_resource_policy",
                f"remove statements {_sids(ours)} (the stage's) from {a.label}; "
                f"keep {_sids(others)}", policyName=a.name, policyDocument=_dumps(remaining))


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


def _table_update(d: Resource, a: Resource, stage: str) -> list[Call]:
    p = _Plan(d.account, d.label)
    if a.props.get("billing_mode") != "PAY_PER_REQUEST":
        p.add("dynamodb", "update_table", f"switch {d.label} to on-demand billing "
              f"(was {a.props.get('billing_mode')})", TableName=d.name,
              BillingMode="PAY_PER_REQUEST")
    if a.props.get("ttl_attribute") != d.props["ttl_attribute"]:
        p.add("dynamodb", "update_time_to_live",
              f"expire items of {d.label} on {d.props['ttl_attribute']} "
              f"(was {a.props.get('ttl_attribute') or 'no expiry'})", TableName=d.name,
              TimeToLiveSpecification={"Enabled": True,
                                       "AttributeName": d.props["ttl_attribute"]})
    if bool(a.props.get("point_in_time_recovery")) != d.props["point_in_time_recovery"]:
        state = "on" if d.props["point_in_time_recovery"] else "off"
        p.add("dynamodb", "update_continuous_backups",
              f"turn {state} point-in-time recovery of {d.label}", TableName=d.name,
              PointInTimeRecoverySpecification={
                  "PointInTimeRecoveryEnabled": d.props["point_in_time_recovery"]})
    _tag_call(p, d, a, "dynamodb", "tag_resource", param="Tags", as_list=True,
              ResourceArn=a.props.get("arn"))
    return p.calls


def _table_delete(a: Resource) -> list[Call]:
    return _one(a, "dynamodb", "delete_table", f"delete {a.label} and its items",
                TableName=a.name)


def _bus_policy_calls(p: _Plan, d: Resource, current: Any, stage: str) -> None:
    policy = _merged_policy(d.props.get("policy"), current, stage)
    # Remove the stage's statements no longer wanted by id, then put the policy with
    # everyone else's statements in it: right whether PutPermission(Policy=...) replaces
    # the policy or merges statements by Sid (as moto does).
    for statement in policy.stale:
        p.add("events", "remove_permission",
              f"remove statement {statement['Sid']} from the policy of {d.label}",
              EventBusName=d.name, StatementId=statement["Sid"])
    if policy.changed and policy.document is not None:
        p.add("events", "put_permission", f"put {policy.text} in the policy of {d.label}",
              EventBusName=d.name, Policy=_dumps(policy.document))


def _bus_create(d: Resource) -> list[Call]:
    p = _Plan(d.account, d.label)
    p.add("events", "create_event_bus", f"create {d.label}", Name=d.name,
          Tags=_tag_list(d.tags or {}))
    _bus_policy_calls(p, d, None, "")
    return p.calls


def _bus_update(d: Resource, a: Resource, stage: str) -> list[Call]:
    p = _Plan(d.account, d.label)
    _bus_policy_calls(p, d, a.props.get("policy"), stage)
    _tag_call(p, d, a, "events", "tag_resource", param="Tags", as_list=True,
              ResourceARN=a.props.get("arn"))
    return p.calls


def _bus_delete(a: Resource) -> list[Call]:
    return _one(a, "events", "delete_event_bus", f"delete {a.label}", Name=a.name)


def _bus_strip(a: Resource, stage: str) -> list[Call]:
    ours, _ = ownership.split_policy(a.props.get("policy"), stage)
    p = _Plan(a.account, a.label)
    for statement in ours:
        p.add("events", "remove_permission",
              f"remove statement {statement['Sid']} (the stage's) from the policy of {a.label}",
              EventBusName=a.name, StatementId=statement["Sid"])
    return p.calls


def _archive_create(d: Resource) -> list[Call]:
    return _one(d, "events", "create_archive",
                f"create {d.label} of {d.props['source_arn']} "
                f"(retention {d.props['retention_days'] or 'indefinite'} days)",
                ArchiveName=d.name, EventSourceArn=d.props["source_arn"],
                Description=d.props.get("description", ""),
                RetentionDays=d.props["retention_days"])


def _archive_update(d: Resource, a: Resource, stage: str) -> list[Call]:
    if d.props["source_arn"] != a.props.get("source_arn"):
        # An archive's source cannot change; recreating it loses its events, so only an
        # empty one is recreated (verify reports the other case).
        if a.data is not None and a.data.holds:
            return []
        return _archive_delete(a) + _archive_create(d)
    changes = []
    if d.props.get("description", "") != a.props.get("description", ""):
        changes.append(f"description to {d.props.get('description', '')!r} "
                       f"(was {a.props.get('description', '')!r})")
    if d.props["retention_days"] != a.props.get("retention_days"):
        changes.append(f"retention to {d.props['retention_days']} days "
                       f"(was {a.props.get('retention_days')})")
    if not changes:
        return []
    return _one(d, "events", "update_archive", f"set {' and '.join(changes)} of {d.label}",
                ArchiveName=d.name, Description=d.props.get("description", ""),
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


def _rule_update(d: Resource, a: Resource, stage: str) -> list[Call]:
    p = _Plan(d.account, d.label)
    drift = [what for what, same in (
        ("pattern", _same(d.props["pattern"], a.props.get("pattern"))),
        ("description", d.props.get("description", "") == a.props.get("description", "")),
        ("state", a.props.get("state", "ENABLED") == "ENABLED"),
    ) if not same]
    if drift:
        shown = f" to {_dumps(d.props['pattern'])}" if "pattern" in drift else ""
        _put_rule(p, d, f"update {' and '.join(drift)} of {d.label}{shown}", tags=False)
    have = {t["Id"]: t for t in a.props.get("targets", ())}
    put = [t for t in d.props["targets"] if not _same(t, have.get(t["Id"]))]
    if put:
        words = [f"{t['Id']} ({'changed' if t['Id'] in have else 'missing'})" for t in put]
        p.add("events", "put_targets", f"put targets {', '.join(words)} on {d.label}",
              Rule=d.props["rule"], EventBusName=d.props["bus"], Targets=[dict(t) for t in put])
    # Only targets with the stage's ids go; anyone else's stay (ownership.py).
    extra = sorted((set(have) & ownership.STAGE_TARGET_IDS)
                   - {t["Id"] for t in d.props["targets"]})
    if extra:
        p.add("events", "remove_targets", f"remove extra targets {', '.join(extra)} "
              f"from {d.label}", Rule=d.props["rule"], EventBusName=d.props["bus"], Ids=extra)
    _tag_call(p, d, a, "events", "tag_resource", param="Tags", as_list=True,
              ResourceARN=a.props.get("arn"))
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


def _rule_strip(a: Resource, stage: str) -> list[Call]:
    ids = sorted({t["Id"] for t in a.props.get("targets", ())} & ownership.STAGE_TARGET_IDS)
    if not ids:
        return []
    return _one(a, "events", "remove_targets",
                f"remove targets {', '.join(ids)} (the stage's) from {a.label}",
                Rule=a.props["rule"], EventBusName=a.props["bus"], Ids=ids)


def _permission_create(d: Resource) -> list[Call]:
    return _one(d, "lambda", "add_permission",
                f"let {d.props['principal']} invoke {d.props['function_name']} "
                f"from {d.props['source_arn']}", FunctionName=d.props["function_name"],
                StatementId=d.props["statement_id"], Action=d.props["action"],
                Principal=d.props["principal"], SourceArn=d.props["source_arn"])


def _permission_update(d: Resource, a: Resource, stage: str) -> list[Call]:
    keys = ("principal", "action", "source_arn")
    if all(d.props[k] == a.props.get(k) for k in keys):
        return []
    return _permission_delete(a) + _permission_create(d)


def _permission_delete(a: Resource) -> list[Call]:
    return _one(a, "lambda", "remove_permission", f"remove {a.label}",
                FunctionName=a.props["function_name"], StatementId=a.props["statement_id"])


_INVOKE_KEYS = ("maximum_retry_attempts", "maximum_event_age", "on_failure")


def _invoke_config_create(d: Resource) -> list[Call]:
    return _invoke_config_put(d, None)


def _invoke_config_update(d: Resource, a: Resource, stage: str) -> list[Call]:
    return _invoke_config_put(d, a)


def _invoke_config_put(d: Resource, a: Resource | None) -> list[Call]:
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


def _alarm_watches(d: Resource) -> str:
    dims = ", ".join(f"{k}={v}" for k, v in d.props["dimensions"].items())
    return f"{d.props['namespace']} {d.props['metric']} ({dims}) > {d.props['threshold']:g}"


def _alarm_create(d: Resource) -> list[Call]:
    return _one(d, "cloudwatch", "put_metric_alarm",
                f"create {d.label} on {_alarm_watches(d)}",
                **alarms.put_params(d), Tags=_tag_list(d.tags or {}))


def _alarm_update(d: Resource, a: Resource, stage: str) -> list[Call]:
    p = _Plan(d.account, d.label)
    changed = alarms.differences(d.props, a.props)
    if changed:
        # On an existing alarm PutMetricAlarm ignores Tags ("To change the tags of an
        # existing alarm, use TagResource", CloudWatch API reference, PutMetricAlarm).
        p.add("cloudwatch", "put_metric_alarm", f"set {'; '.join(changed)} of {d.label}",
              **alarms.put_params(d))
    _tag_call(p, d, a, "cloudwatch", "tag_resource", param="Tags", as_list=True,
              ResourceARN=a.props.get("arn"))
    return p.calls


def _alarm_delete(a: Resource) -> list[Call]:
    return _one(a, "cloudwatch", "delete_alarms", f"delete {a.label}", AlarmNames=[a.name])


_ALARM = _Handler(_alarm_create, _alarm_update, _alarm_delete)
_RULE = _Handler(_rule_create, _rule_update, _rule_delete, _rule_strip)
_HANDLERS: dict[str, _Handler] = {
    r.IAM_ROLE: _Handler(_role_create, _role_update, _role_delete, _role_strip),
    r.SQS_QUEUE: _Handler(_queue_create, _queue_update, _queue_delete, _queue_strip),
    r.LOG_GROUP: _Handler(_log_group_create, _log_group_update, _log_group_delete),
    r.LOGS_RESOURCE_POLICY: _Handler(_logs_policy_create, _logs_policy_update,
                                     _logs_policy_delete, _logs_policy_strip),
    r.DYNAMODB_TABLE: _Handler(_table_create, _table_update, _table_delete),
    r.EVENT_BUS: _Handler(_bus_create, _bus_update, _bus_delete, _bus_strip),
    r.ARCHIVE: _Handler(_archive_create, _archive_update, _archive_delete),
    r.RULE: _RULE,
    r.SUBSCRIPTION_RULE: _RULE,
    r.LAMBDA_PERMISSION: _Handler(_permission_create, _permission_update, _permission_delete),
    r.INVOKE_CONFIG: _Handler(_invoke_config_create, _invoke_config_update,
                              _invoke_config_delete),
    r.ALARM: _ALARM,
    r.SUBSCRIPTION_ALARM: _ALARM,
}


def create_calls(desired: Resource) -> list[Call]:
    """The calls creating ``desired`` from nothing."""
    return _HANDLERS[desired.kind].create(desired)


def update_calls(desired: Resource, actual: Resource, stage: str) -> list[Call]:
    """The calls making the stage's part of ``actual`` as ``desired``; [] when it is."""
    return _HANDLERS[desired.kind].update(desired, actual, stage)


def delete_calls(actual: Resource) -> list[Call]:
    """The calls deleting ``actual`` (and the parts that must go first)."""
    return _HANDLERS[actual.kind].delete(actual)


def strip_calls(actual: Resource, stage: str) -> list[Call]:
    """The calls removing the stage's part of ``actual``, which stays for someone else."""
    strip = _HANDLERS[actual.kind].strip
    return strip(actual, stage) if strip is not None else []


def mutating(calls: Sequence[Call]) -> list[Call]:
    """The calls that change something (a plan's waiters do not)."""
    return [c for c in calls if c.mutating]
