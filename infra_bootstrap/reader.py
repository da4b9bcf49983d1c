"""Reads the actual state of each account with boto3: the only I/O of planning.

It reports, as :class:`resources.Resource`, every resource that is either desired (same
kind, account and name, whoever owns it) or owned by the stage, in the shapes that
``desired.py`` produces, so that the planner can compare them directly. Each carries
what ``ownership.py`` needs to decide whether the stage owns it (tags, the tags of its
parent, its Sids and description) and what it is made of beyond the stage's part (every
rule on a bus, every target, statement and inline or managed policy), so that a
same-named resource made by someone else is a conflict rather than something to take
over. With ``destroying`` it also reads what each resource holds (:class:`Data`).

>>> from infra_bootstrap.desired import desired_resources
>>> from infra_bootstrap.topology import load_stage
>>> stage = load_stage("local")
>>> read_actual(stage, AccountSessions(stage), desired_resources(stage))  # nothing yet
[]
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping
from typing import Any
from urllib.parse import unquote

import botocore.exceptions

from infra_bootstrap import alarms, names, ownership
from infra_bootstrap import resources as r
from infra_bootstrap.errors import AwsCallError
from infra_bootstrap.planner import api_name
from infra_bootstrap.resources import Data, Resource, rule_name, split_rule_name
from infra_bootstrap.sessions import AccountSessions
from infra_bootstrap.topology import Stage

# Name shapes of what we create, to find owned leftovers without reading every resource.
_ROLE_PREFIX = names.forward_role_name("")
_QUEUE_SUFFIX = names.service_dlq("")
_TABLE_SUFFIX = names.service_table("")
# The SQS attributes that count messages: visible, in flight, and delayed
# (SQS API reference, GetQueueAttributes).
QUEUE_MESSAGE_COUNTS = ("ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible",
                        "ApproximateNumberOfMessagesDelayed")


def read_actual(stage: Stage, sessions: AccountSessions, desired: Iterable[Resource],
                kinds: Iterable[str] = r.INFRA_KINDS, *,
                functions: Mapping[str, Iterable[str]] | None = None,
                destroying: bool = False) -> list[Resource]:
    """The actual resources of ``kinds`` in every account of the stage.

    Lambda permissions and invoke configs are read for the functions of desired
    resources plus ``functions`` (account -> function names). ``destroying`` also reads
    what each resource holds (messages, items, events) and the archives of each bus.
    """
    desired_list = list(desired)
    wanted = {d.key for d in desired_list}
    managed = set(kinds)
    out: list[Resource] = []
    for account in stage.accounts:
        reader = _AccountReader(stage, sessions, account, wanted, destroying)
        if managed & {r.EVENT_BUS, r.RULE, r.SUBSCRIPTION_RULE}:
            out += reader.buses_and_rules(managed)
        for kind, read in ((r.ARCHIVE, reader.archives), (r.LOG_GROUP, reader.log_groups),
                           (r.LOGS_RESOURCE_POLICY, reader.logs_policies),
                           (r.IAM_ROLE, reader.roles), (r.SQS_QUEUE, reader.queues),
                           (r.DYNAMODB_TABLE, reader.tables)):
            if kind in managed:
                out += read()
        if managed & {r.ALARM, r.SUBSCRIPTION_ALARM}:
            out += [a for a in reader.alarms() if a.kind in managed]
        if managed & {r.LAMBDA_PERMISSION, r.INVOKE_CONFIG}:
            names_here = {d.props["function_name"] for d in desired_list
                          if d.account == account
                          and d.kind in {r.LAMBDA_PERMISSION, r.INVOKE_CONFIG}}
            names_here |= set((functions or {}).get(account, ()))
            out += reader.lambda_configs(sorted(names_here))
    return out


def refresh(stage: Stage, sessions: AccountSessions, resource: Resource) -> Resource | None:
    """``resource`` as it is now (with what it holds), or None if it is gone.

    ``destroy`` calls this right before deleting, to check the marker once more.
    """
    reader = _AccountReader(stage, sessions, resource.account, set(), destroying=True)
    return reader.one(resource.kind, resource.name)


FunctionTags = dict[tuple[str, str], dict[str, str] | None]


def function_tags(stage: Stage, sessions: AccountSessions,
                  functions: Mapping[str, Iterable[str]]) -> FunctionTags:
    """(account, function name) -> the function's tags, None if there is no such function."""
    out: FunctionTags = {}
    for account, function_names in functions.items():
        reader = _AccountReader(stage, sessions, account, set(), destroying=False)
        for function in function_names:
            out[(account, function)] = reader.function_tags(function)
    return out


class _AccountReader:
    def __init__(self, stage: Stage, sessions: AccountSessions, account: str,
                 wanted: set[tuple[str, str, str]], destroying: bool) -> None:
        self.stage = stage
        self.sessions = sessions
        self.account = account
        self.wanted = wanted
        self.destroying = destroying
        self._bus_tags: dict[str, dict[str, str]] = {}

    # -- plumbing ----------------------------------------------------------------

    def _call(self, service: str, operation: str, resource: str, **params: Any) -> Any:
        return self._optional(service, operation, resource, None, **params)

    def _optional(self, service: str, operation: str, resource: str, missing: str | None,
                  **params: Any) -> Any | None:
        """Make one read call; None when AWS answers with the error code ``missing``."""
        client = self.sessions.client(self.account, service)
        try:
            return getattr(client, operation)(**params)
        except botocore.exceptions.ClientError as exc:
            if missing is not None and exc.response.get("Error", {}).get("Code") == missing:
                return None
            raise self._error(service, operation, resource, exc) from None
        except botocore.exceptions.BotoCoreError as exc:
            raise self._error(service, operation, resource, exc) from None

    def _error(self, service: str, operation: str, resource: str,
               exc: Exception) -> AwsCallError:
        return AwsCallError(self.account, api_name(service, operation), resource,
                            " ".join(str(exc).split()))

    def _pages(self, service: str, operation: str, key: str, token: str, resource: str,
               next_param: str | None = None, **params: Any) -> Iterator[Any]:
        while True:
            page = self._call(service, operation, resource, **params)
            yield from page.get(key, [])
            if not page.get(token):
                return
            params[next_param or token] = page[token]

    def _wanted_or_mine(self, kind: str, name: str, tags: Mapping[str, str] | None) -> bool:
        """Worth reading in full: desired under this name, or tagged with the stage."""
        return ((kind, self.account, name) in self.wanted
                or ownership.has_stage_tags(tags, self.stage.name))

    def _needs_data(self, kind: str, name: str) -> bool:
        """What a resource holds matters when it may be deleted: by `destroy`, or as a
        leftover the stage no longer desires."""
        return self.destroying or (kind, self.account, name) not in self.wanted

    def one(self, kind: str, name: str) -> Resource | None:
        """The one resource ``kind``/``name`` of this account, or None."""
        found: list[Resource]
        if kind == r.EVENT_BUS:
            found = self.buses_and_rules({r.EVENT_BUS}, only_bus=name)
        elif kind in {r.RULE, r.SUBSCRIPTION_RULE}:
            bus, rule = split_rule_name(name)
            found = self._rules(bus, {kind}, only=rule)[1]
        elif kind == r.ARCHIVE:
            found = self.archives(only=name)
        elif kind == r.LOG_GROUP:
            found = self.log_groups(only=name)
        elif kind == r.LOGS_RESOURCE_POLICY:
            found = self.logs_policies(only=name)
        elif kind == r.IAM_ROLE:
            role = self._role(name)
            found = [role] if role is not None else []
        elif kind == r.SQS_QUEUE:
            found = self.queues(only=name)
        elif kind == r.DYNAMODB_TABLE:
            table = self._table(name)
            found = [table] if table is not None else []
        elif kind in {r.ALARM, r.SUBSCRIPTION_ALARM}:
            found = self.alarms(only=name)
        else:
            raise ValueError(f"cannot re-read a {kind}")
        return next((x for x in found if x.key == (kind, self.account, name)), None)

    # -- EventBridge ----------------------------------------------------------------

    def _event_tags(self, arn: str) -> dict[str, str]:
        tags = self._call("events", "list_tags_for_resource", arn, ResourceARN=arn)["Tags"]
        return {t["Key"]: t["Value"] for t in tags}

    def _source_bus_tags(self, arn: str) -> dict[str, str]:
        """The tags of the bus an archive records; {} for a bus gone or elsewhere."""
        if arn not in self._bus_tags:
            tags: dict[str, str] = {}
            if arn.split(":")[4:5] == [self.account]:
                got = self._optional("events", "list_tags_for_resource", arn,
                                     "ResourceNotFoundException", ResourceARN=arn)
                tags = {t["Key"]: t["Value"] for t in (got or {}).get("Tags", [])}
            self._bus_tags[arn] = tags
        return self._bus_tags[arn]

    def buses_and_rules(self, kinds: set[str], only_bus: str | None = None) -> list[Resource]:
        out: list[Resource] = []
        prefix = {"NamePrefix": only_bus} if only_bus else {}
        for bus in self._pages("events", "list_event_buses", "EventBuses", "NextToken",
                               "event buses", **prefix):
            name = bus["Name"]
            if name == "default" or (only_bus is not None and name != only_bus):
                continue
            tags = self._event_tags(bus["Arn"])
            self._bus_tags[bus["Arn"]] = tags
            if only_bus is None and not self._wanted_or_mine(r.EVENT_BUS, name, tags):
                continue
            rule_tags, rules = self._rules(name, kinds if only_bus is None else set())
            if r.EVENT_BUS in kinds:
                described = self._call("events", "describe_event_bus", name, Name=name)
                policy = json.loads(described["Policy"]) if described.get("Policy") else None
                props: dict[str, Any] = {"policy": policy, "arn": bus["Arn"],
                                         "rules": rule_tags}
                if self.destroying:
                    props["archives"] = sorted(a["ArchiveName"] for a in self._pages(
                        "events", "list_archives", "Archives", "NextToken", f"archives of {name}",
                        EventSourceArn=bus["Arn"]))
                out.append(Resource(r.EVENT_BUS, self.account, name, props, tags))
            out += rules
        return out

    def _rules(self, bus: str, kinds: set[str],
               only: str | None = None) -> tuple[dict[str, dict[str, str]], list[Resource]]:
        """Every rule on ``bus`` with its tags, and the rules of ``kinds`` worth reporting."""
        every: dict[str, dict[str, str]] = {}
        out = []
        prefix = {"NamePrefix": only} if only else {}
        for rule in self._pages("events", "list_rules", "Rules", "NextToken",
                                f"rules of {bus}", EventBusName=bus, **prefix):
            if rule.get("ManagedBy"):
                continue  # e.g. the rule EventBridge adds for an archive: goes with it
            if only is not None and rule["Name"] != only:
                continue
            tags = self._event_tags(rule["Arn"])
            every[rule["Name"]] = tags
            kind = (r.SUBSCRIPTION_RULE
                    if rule["Name"].startswith(names.SUBSCRIPTION_RULE_PREFIX) else r.RULE)
            name = rule_name(bus, rule["Name"])
            if kind not in kinds or (only is None and not self._wanted_or_mine(kind, name, tags)):
                continue
            targets = self._pages("events", "list_targets_by_rule", "Targets", "NextToken",
                                  name, Rule=rule["Name"], EventBusName=bus)
            pattern = rule.get("EventPattern")
            out.append(Resource(kind, self.account, name, {
                "bus": bus, "rule": rule["Name"], "arn": rule["Arn"],
                "pattern": json.loads(pattern) if pattern else None,
                "description": rule.get("Description", ""),
                "state": rule.get("State", "ENABLED"),
                # Every field: ListTargetsByRule returns only what was set, so a field
                # added out of band (an InputTransformer, say) is drift to repair.
                "targets": tuple(dict(t) for t in targets),
            }, tags))
        return every, out

    def archives(self, only: str | None = None) -> list[Resource]:
        out = []
        prefix = {"NamePrefix": only} if only else {}
        for archive in self._pages("events", "list_archives", "Archives", "NextToken",
                                   "archives", **prefix):
            name = archive["ArchiveName"]
            if only is not None and name != only:
                continue
            described = self._call("events", "describe_archive", name, ArchiveName=name)
            source = described.get("EventSourceArn") or ""
            count, size = described.get("EventCount", 0), described.get("SizeBytes", 0)
            resource = Resource(r.ARCHIVE, self.account, name, {
                "source_arn": source,
                "retention_days": described.get("RetentionDays", 0),
                "description": described.get("Description", ""),
                "size_bytes": size,
            }, None, parent_tags=self._source_bus_tags(source),
                # EventCount and SizeBytes are AWS's figures; either one means data.
                data=Data(max(count, 1 if size else 0), "event", at_least=not count and size > 0))
            if (only is not None or (r.ARCHIVE, self.account, name) in self.wanted
                    or ownership.owned(resource, self.stage.name)):
                out.append(resource)
        return out

    # -- CloudWatch Logs --------------------------------------------------------------

    def log_groups(self, only: str | None = None) -> list[Resource]:
        out = []
        for group in self._pages("logs", "describe_log_groups", "logGroups", "nextToken",
                                 "log groups",
                                 logGroupNamePrefix=only or names.EVENT_LOG_GROUP_PREFIX):
            name = group["logGroupName"]
            if only is not None and name != only:
                continue
            arn = group.get("logGroupArn") or names.log_group_arn(
                self.stage.region, self.account, name)
            tags = self._call("logs", "list_tags_for_resource", name, resourceArn=arn)["tags"]
            if only is None and not self._wanted_or_mine(r.LOG_GROUP, name, tags):
                continue
            out.append(Resource(r.LOG_GROUP, self.account, name, {
                "retention_days": group.get("retentionInDays"), "arn": arn}, tags,
                data=self._log_events(name) if self._needs_data(r.LOG_GROUP, name) else None))
        return out

    def _log_events(self, group: str) -> Data:
        """Whether the group holds any log event: one FilterLogEvents result is enough.

        storedBytes is not: it is updated with a delay. FilterLogEvents "can return empty
        results while there are more log events available through the token"
        (CloudWatch Logs API reference), so the pages are followed until one event.
        """
        params: dict[str, Any] = {"logGroupName": group, "limit": 1}
        while True:
            page = self._call("logs", "filter_log_events", group, **params)
            if page.get("events"):
                return Data(1, "log event", at_least=True)
            if not page.get("nextToken"):
                return Data(0, "log event")
            params["nextToken"] = page["nextToken"]

    def logs_policies(self, only: str | None = None) -> list[Resource]:
        out = []
        for policy in self._pages("logs", "describe_resource_policies", "resourcePolicies",
                                  "nextToken", "Logs resource policies"):
            name = policy["policyName"]
            resource = Resource(r.LOGS_RESOURCE_POLICY, self.account, name,
                                {"document": json.loads(policy["policyDocument"])}, None)
            if only is not None:
                if name == only:
                    out.append(resource)
            elif ((r.LOGS_RESOURCE_POLICY, self.account, name) in self.wanted
                  or ownership.owned(resource, self.stage.name)):
                out.append(resource)
        return out

    # -- IAM --------------------------------------------------------------------------

    def roles(self) -> list[Resource]:
        out = []
        for role in self._pages("iam", "list_roles", "Roles", "Marker", "roles"):
            name = role["RoleName"]
            if not name.startswith(_ROLE_PREFIX) and name != names.REDRIVE_ROLE and (
                    r.IAM_ROLE, self.account, name) \
                    not in self.wanted:
                continue
            tags = self._role_tags(name)
            if not self._wanted_or_mine(r.IAM_ROLE, name, tags):
                continue
            full = self._role(name, tags)
            if full is not None:
                out.append(full)
        return out

    def _role_tags(self, name: str) -> dict[str, str]:
        return {t["Key"]: t["Value"] for t in self._pages(
            "iam", "list_role_tags", "Tags", "Marker", name, RoleName=name)}

    def _role(self, name: str, tags: dict[str, str] | None = None) -> Resource | None:
        got = self._optional("iam", "get_role", name, "NoSuchEntity", RoleName=name)
        if got is None:
            return None
        full = got["Role"]
        policies = {}
        for policy in self._pages("iam", "list_role_policies", "PolicyNames", "Marker",
                                  name, RoleName=name):
            policies[policy] = _document(self._call(
                "iam", "get_role_policy", name, RoleName=name,
                PolicyName=policy)["PolicyDocument"])
        managed = [p["PolicyArn"] for p in self._pages(
            "iam", "list_attached_role_policies", "AttachedPolicies", "Marker", name,
            RoleName=name)]
        return Resource(r.IAM_ROLE, self.account, name, {
            "trust": _document(full["AssumeRolePolicyDocument"]),
            "policies": policies, "managed_policies": managed,
            "description": full.get("Description", ""),
        }, tags if tags is not None else self._role_tags(name))

    # -- SQS ----------------------------------------------------------------------------

    def queues(self, only: str | None = None) -> list[Resource]:
        out = []
        prefix = {"QueueNamePrefix": only} if only else {}
        for url in self._pages("sqs", "list_queues", "QueueUrls", "NextToken", "queues",
                               MaxResults=1000, **prefix):
            name = url.rstrip("/").rsplit("/", 1)[-1]
            if only is not None:
                if name != only:
                    continue
            elif (name != names.FORWARD_DLQ and not name.endswith(_QUEUE_SUFFIX)
                    and (r.SQS_QUEUE, self.account, name) not in self.wanted):
                continue
            tags = self._call("sqs", "list_queue_tags", name, QueueUrl=url).get("Tags", {})
            if only is None and not self._wanted_or_mine(r.SQS_QUEUE, name, tags):
                continue
            attributes = self._call("sqs", "get_queue_attributes", name, QueueUrl=url,
                                    AttributeNames=["All"])["Attributes"]
            policy = attributes.pop("Policy", None)
            messages = sum(int(attributes.get(k, 0)) for k in QUEUE_MESSAGE_COUNTS)
            out.append(Resource(r.SQS_QUEUE, self.account, name, {
                "url": url, "policy": json.loads(policy) if policy else None,
                "attributes": attributes}, tags, data=Data(messages, "message")))
        return out

    # -- CloudWatch alarms ------------------------------------------------------------------

    def alarms(self, only: str | None = None) -> list[Resource]:
        """The stage's alarms (by their name prefix) that are desired or carry its tags.

        DescribeAlarms without AlarmTypes returns metric alarms only (CloudWatch API
        reference, DescribeAlarms); tags come from ListTagsForResource on the alarm ARN.
        """
        out = []
        select = ({"AlarmNames": [only]} if only is not None
                  else {"AlarmNamePrefix": names.alarm_prefix(self.stage.name)})
        subscription_prefix = names.subscription_alarm_prefix(self.stage.name)
        for alarm in self._pages("cloudwatch", "describe_alarms", "MetricAlarms", "NextToken",
                                 "alarms", **select):
            name = alarm["AlarmName"]
            kind = r.SUBSCRIPTION_ALARM if name.startswith(subscription_prefix) else r.ALARM
            arn = alarm.get("AlarmArn") or names.alarm_arn(self.stage.region, self.account,
                                                            name)
            tags = {t["Key"]: t["Value"] for t in self._call(
                "cloudwatch", "list_tags_for_resource", name, ResourceARN=arn)["Tags"]}
            if only is None and not self._wanted_or_mine(kind, name, tags):
                continue
            out.append(Resource(kind, self.account, name,
                                {**alarms.settings_of(alarm), "arn": arn}, tags))
        return out

    # -- DynamoDB -----------------------------------------------------------------------

    def tables(self) -> list[Resource]:
        out = []
        for name in self._pages("dynamodb", "list_tables", "TableNames",
                                "LastEvaluatedTableName", "tables",
                                next_param="ExclusiveStartTableName"):
            if not name.endswith(_TABLE_SUFFIX) and (r.DYNAMODB_TABLE, self.account, name) \
                    not in self.wanted:
                continue
            table = self._table(name, only_if_relevant=True)
            if table is not None:
                out.append(table)
        return out

    def _table(self, name: str, only_if_relevant: bool = False) -> Resource | None:
        got = self._optional("dynamodb", "describe_table", name, "ResourceNotFoundException",
                             TableName=name)
        if got is None:
            return None
        table = got["Table"]
        tags = {t["Key"]: t["Value"] for t in self._pages(
            "dynamodb", "list_tags_of_resource", "Tags", "NextToken", name,
            ResourceArn=table["TableArn"])}
        if only_if_relevant and not self._wanted_or_mine(r.DYNAMODB_TABLE, name, tags):
            return None
        ttl = self._call("dynamodb", "describe_time_to_live", name,
                         TableName=name)["TimeToLiveDescription"]
        backups = self._call("dynamodb", "describe_continuous_backups", name,
                             TableName=name)["ContinuousBackupsDescription"]
        pitr = backups.get("PointInTimeRecoveryDescription", {})
        keys = {k["KeyType"]: k["AttributeName"] for k in table["KeySchema"]}
        return Resource(r.DYNAMODB_TABLE, self.account, name, {
            "arn": table["TableArn"],
            "hash_key": keys.get("HASH"), "range_key": keys.get("RANGE"),
            "billing_mode": table.get("BillingModeSummary", {}).get(
                "BillingMode", "PROVISIONED"),
            "ttl_attribute": ttl.get("AttributeName")
            if ttl.get("TimeToLiveStatus") in {"ENABLED", "ENABLING"} else None,
            "point_in_time_recovery":
                pitr.get("PointInTimeRecoveryStatus") == "ENABLED",
        }, tags, data=self._items(name, table) if self._needs_data(r.DYNAMODB_TABLE, name)
            else None)

    def _items(self, name: str, table: Mapping[str, Any]) -> Data:
        """Whether the table holds items: a Scan for one item.

        DescribeTable's ItemCount is no proof of emptiness: "DynamoDB updates this value
        approximately every six hours. Recent changes might not be reflected in this
        value." (DynamoDB API reference, TableDescription.ItemCount.)
        """
        found = self._call("dynamodb", "scan", name, TableName=name, Limit=1)
        if not found.get("Items"):
            return Data(0, "item")
        return Data(max(int(table.get("ItemCount", 0)), 1), "item", at_least=True)

    # -- Lambda (subscribe) ---------------------------------------------------------------

    def function_tags(self, function: str) -> dict[str, str] | None:
        arn = names.lambda_function_arn(self.stage.region, self.account, function)
        got = self._optional("lambda", "list_tags", function, "ResourceNotFoundException",
                             Resource=arn)
        return None if got is None else dict(got.get("Tags", {}))

    def lambda_configs(self, functions: Iterable[str]) -> list[Resource]:
        out = []
        for function in functions:
            tags = self.function_tags(function)
            if tags is None:
                continue
            got = self._optional("lambda", "get_policy", function,
                                 "ResourceNotFoundException", FunctionName=function)
            statements = json.loads(got["Policy"])["Statement"] if got else []
            for statement in statements:
                sid = statement.get("Sid", "")
                name = f"{function}/{sid}"
                resource = Resource(r.LAMBDA_PERMISSION, self.account, name, {
                    "function_name": function, "statement_id": sid,
                    "principal": (statement.get("Principal") or {}).get("Service"),
                    "action": statement.get("Action"),
                    "source_arn": _condition_value(statement, "aws:sourcearn"),
                }, None, parent_tags=tags)
                if ((r.LAMBDA_PERMISSION, self.account, name) in self.wanted
                        or ownership.owned(resource, self.stage.name)):
                    out.append(resource)
            config = self._optional("lambda", "get_function_event_invoke_config", function,
                                    "ResourceNotFoundException", FunctionName=function)
            if config:
                out.append(Resource(r.INVOKE_CONFIG, self.account, function, {
                    "function_name": function,
                    "maximum_retry_attempts": config.get("MaximumRetryAttempts"),
                    "maximum_event_age": config.get("MaximumEventAgeInSeconds"),
                    "on_failure": config.get("DestinationConfig", {}).get(
                        "OnFailure", {}).get("Destination"),
                }, None, parent_tags=tags))
        return out


def _document(value: Any) -> Any:
    """IAM documents arrive decoded by boto3, or as (URL-encoded) JSON text."""
    if isinstance(value, str):
        return json.loads(unquote(value))
    return value


def _condition_value(statement: dict[str, Any], key: str) -> Any:
    for block in (statement.get("Condition") or {}).values():
        for k, v in block.items():
            if k.lower() == key:
                return v
    return None
