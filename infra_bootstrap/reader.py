"""Reads the actual state of each account with boto3: the only I/O of planning.

It reports, as :class:`resources.Resource`, every resource that is either desired (same
kind, account and name, ours or not: `create` then adopts and tags it) or owned by the
stage (tagged with it; for untaggable kinds, our fixed names), in the shapes that
``desired.py`` produces, so that the planner can compare them directly.

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

from infra_bootstrap import names
from infra_bootstrap import resources as r
from infra_bootstrap.errors import AwsCallError
from infra_bootstrap.planner import api_name
from infra_bootstrap.resources import Resource, rule_name
from infra_bootstrap.sessions import AccountSessions
from infra_bootstrap.topology import Stage

# Name shapes of what we create, to find owned leftovers without reading every resource.
_ROLE_PREFIX = names.forward_role_name("")
_QUEUE_SUFFIX = names.service_dlq("")
_TABLE_SUFFIX = names.service_table("")
_PERMISSION_PREFIX = names.subscription_permission_sid("")


def read_actual(stage: Stage, sessions: AccountSessions, desired: Iterable[Resource],
                kinds: Iterable[str] = r.INFRA_KINDS, *,
                functions: Mapping[str, Iterable[str]] | None = None) -> list[Resource]:
    """The actual resources of ``kinds`` in every account of the stage.

    Lambda permissions and invoke configs are read for the functions of desired
    resources plus ``functions`` (account -> function names).
    """
    desired_list = list(desired)
    wanted = {d.key for d in desired_list}
    managed = set(kinds)
    out: list[Resource] = []
    for account in stage.accounts:
        reader = _AccountReader(stage, sessions, account, wanted)
        if managed & {r.EVENT_BUS, r.RULE, r.SUBSCRIPTION_RULE}:
            out += reader.buses_and_rules(managed)
        for kind, read in ((r.ARCHIVE, reader.archives), (r.LOG_GROUP, reader.log_groups),
                           (r.LOGS_RESOURCE_POLICY, reader.logs_policies),
                           (r.IAM_ROLE, reader.roles), (r.SQS_QUEUE, reader.queues),
                           (r.DYNAMODB_TABLE, reader.tables)):
            if kind in managed:
                out += read()
        if managed & {r.LAMBDA_PERMISSION, r.INVOKE_CONFIG}:
            names_here = {d.props["function_name"] for d in desired_list
                          if d.account == account
                          and d.kind in {r.LAMBDA_PERMISSION, r.INVOKE_CONFIG}}
            names_here |= set((functions or {}).get(account, ()))
            out += reader.lambda_configs(sorted(names_here))
    return out


class _AccountReader:
    def __init__(self, stage: Stage, sessions: AccountSessions, account: str,
                 wanted: set[tuple[str, str, str]]) -> None:
        self.stage = stage
        self.sessions = sessions
        self.account = account
        self.wanted = wanted

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

    def _relevant(self, kind: str, name: str, tags: dict[str, str] | None) -> bool:
        mine = Resource(kind, self.account, name, {}, tags).owned_by(self.stage.name)
        return mine or (kind, self.account, name) in self.wanted

    # -- EventBridge ----------------------------------------------------------------

    def _event_tags(self, arn: str) -> dict[str, str]:
        tags = self._call("events", "list_tags_for_resource", arn, ResourceARN=arn)["Tags"]
        return {t["Key"]: t["Value"] for t in tags}

    def buses_and_rules(self, kinds: set[str]) -> list[Resource]:
        out: list[Resource] = []
        for bus in self._pages("events", "list_event_buses", "EventBuses", "NextToken",
                               "event buses"):
            name = bus["Name"]
            if name == "default":
                continue
            tags = self._event_tags(bus["Arn"])
            if not self._relevant(r.EVENT_BUS, name, tags):
                continue
            if r.EVENT_BUS in kinds:
                described = self._call("events", "describe_event_bus", name, Name=name)
                policy = json.loads(described["Policy"]) if described.get("Policy") else None
                out.append(Resource(r.EVENT_BUS, self.account, name,
                                    {"policy": policy, "arn": bus["Arn"]}, tags))
            out += self._rules(name, kinds)
        return out

    def _rules(self, bus: str, kinds: set[str]) -> list[Resource]:
        out = []
        for rule in self._pages("events", "list_rules", "Rules", "NextToken",
                                f"rules of {bus}", EventBusName=bus):
            if rule.get("ManagedBy"):
                continue  # e.g. the rule EventBridge adds for an archive: not ours to touch
            kind = (r.SUBSCRIPTION_RULE
                    if rule["Name"].startswith(names.SUBSCRIPTION_RULE_PREFIX) else r.RULE)
            name = rule_name(bus, rule["Name"])
            if kind not in kinds:
                continue
            tags = self._event_tags(rule["Arn"])
            if not self._relevant(kind, name, tags):
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
        return out

    def archives(self) -> list[Resource]:
        out = []
        for archive in self._pages("events", "list_archives", "Archives", "NextToken",
                                   "archives"):
            name = archive["ArchiveName"]
            # Untaggable: ours by name (ARCHIVE is only ever desired in the bus account).
            if name != names.GLOBAL_ARCHIVE and (r.ARCHIVE, self.account, name) not in self.wanted:
                continue
            described = self._call("events", "describe_archive", name, ArchiveName=name)
            out.append(Resource(r.ARCHIVE, self.account, name, {
                "source_arn": described.get("EventSourceArn"),
                "retention_days": described.get("RetentionDays", 0),
                "description": described.get("Description", ""),
            }, None))
        return out

    # -- CloudWatch Logs --------------------------------------------------------------

    def log_groups(self) -> list[Resource]:
        out = []
        for group in self._pages("logs", "describe_log_groups", "logGroups", "nextToken",
                                 "log groups", logGroupNamePrefix=names.EVENT_LOG_GROUP_PREFIX):
            name = group["logGroupName"]
            arn = group.get("logGroupArn") or names.log_group_arn(
                self.stage.region, self.account, name)
            tags = self._call("logs", "list_tags_for_resource", name, resourceArn=arn)["tags"]
            if self._relevant(r.LOG_GROUP, name, tags):
                out.append(Resource(r.LOG_GROUP, self.account, name, {
                    "retention_days": group.get("retentionInDays"), "arn": arn}, tags))
        return out

    def logs_policies(self) -> list[Resource]:
        policies = self._pages("logs", "describe_resource_policies", "resourcePolicies",
                               "nextToken", "Logs resource policies")
        return [Resource(r.LOGS_RESOURCE_POLICY, self.account, p["policyName"],
                         {"document": json.loads(p["policyDocument"])}, None)
                for p in policies if p["policyName"] == names.LOGS_RESOURCE_POLICY]

    # -- IAM --------------------------------------------------------------------------

    def roles(self) -> list[Resource]:
        out = []
        for role in self._pages("iam", "list_roles", "Roles", "Marker", "roles"):
            name = role["RoleName"]
            if not name.startswith(_ROLE_PREFIX) and (r.IAM_ROLE, self.account, name) \
                    not in self.wanted:
                continue
            tags = {t["Key"]: t["Value"] for t in self._pages(
                "iam", "list_role_tags", "Tags", "Marker", name, RoleName=name)}
            if not self._relevant(r.IAM_ROLE, name, tags):
                continue
            full = self._call("iam", "get_role", name, RoleName=name)["Role"]
            policies = {}
            for policy in self._pages("iam", "list_role_policies", "PolicyNames", "Marker",
                                      name, RoleName=name):
                policies[policy] = _document(self._call(
                    "iam", "get_role_policy", name, RoleName=name,
                    PolicyName=policy)["PolicyDocument"])
            out.append(Resource(r.IAM_ROLE, self.account, name, {
                "trust": _document(full["AssumeRolePolicyDocument"]),
                "policies": policies, "description": full.get("Description", ""),
            }, tags))
        return out

    # -- SQS ----------------------------------------------------------------------------

    def queues(self) -> list[Resource]:
        out = []
        for url in self._pages("sqs", "list_queues", "QueueUrls", "NextToken", "queues",
                               MaxResults=1000):
            name = url.rstrip("/").rsplit("/", 1)[-1]
            if (name != names.FORWARD_DLQ and not name.endswith(_QUEUE_SUFFIX)
                    and (r.SQS_QUEUE, self.account, name) not in self.wanted):
                continue
            tags = self._call("sqs", "list_queue_tags", name, QueueUrl=url).get("Tags", {})
            if not self._relevant(r.SQS_QUEUE, name, tags):
                continue
            attributes = self._call("sqs", "get_queue_attributes", name, QueueUrl=url,
                                    AttributeNames=["All"])["Attributes"]
            policy = attributes.pop("Policy", None)
            out.append(Resource(r.SQS_QUEUE, self.account, name, {
                "url": url, "policy": json.loads(policy) if policy else None,
                "attributes": attributes}, tags))
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
            table = self._call("dynamodb", "describe_table", name, TableName=name)["Table"]
            tags = {t["Key"]: t["Value"] for t in self._pages(
                "dynamodb", "list_tags_of_resource", "Tags", "NextToken", name,
                ResourceArn=table["TableArn"])}
            if not self._relevant(r.DYNAMODB_TABLE, name, tags):
                continue
            ttl = self._call("dynamodb", "describe_time_to_live", name,
                             TableName=name)["TimeToLiveDescription"]
            backups = self._call("dynamodb", "describe_continuous_backups", name,
                                 TableName=name)["ContinuousBackupsDescription"]
            pitr = backups.get("PointInTimeRecoveryDescription", {})
            keys = {k["KeyType"]: k["AttributeName"] for k in table["KeySchema"]}
            out.append(Resource(r.DYNAMODB_TABLE, self.account, name, {
                "arn": table["TableArn"],
                "hash_key": keys.get("HASH"), "range_key": keys.get("RANGE"),
                "billing_mode": table.get("BillingModeSummary", {}).get(
                    "BillingMode", "PROVISIONED"),
                "ttl_attribute": ttl.get("AttributeName")
                if ttl.get("TimeToLiveStatus") in {"ENABLED", "ENABLING"} else None,
                "point_in_time_recovery":
                    pitr.get("PointInTimeRecoveryStatus") == "ENABLED",
            }, tags))
        return out

    # -- Lambda (subscribe) ---------------------------------------------------------------

    def lambda_configs(self, functions: Iterable[str]) -> list[Resource]:
        out = []
        for function in functions:
            got = self._optional("lambda", "get_policy", function,
                                 "ResourceNotFoundException", FunctionName=function)
            statements = json.loads(got["Policy"])["Statement"] if got else []
            for statement in statements:
                sid = statement.get("Sid", "")
                if not sid.startswith(_PERMISSION_PREFIX):
                    continue
                out.append(Resource(r.LAMBDA_PERMISSION, self.account, f"{function}/{sid}", {
                    "function_name": function, "statement_id": sid,
                    "principal": (statement.get("Principal") or {}).get("Service"),
                    "action": statement.get("Action"),
                    "source_arn": _condition_value(statement, "aws:sourcearn"),
                }, None))
            config = self._optional("lambda", "get_function_event_invoke_config", function,
                                    "ResourceNotFoundException", FunctionName=function)
            if config:
                out.append(Resource(r.INVOKE_CONFIG, self.account, function, {
                    "function_name": function,
                    "maximum_retry_attempts": config.get("MaximumRetryAttempts"),
                    "maximum_event_age": config.get("MaximumEventAgeInSeconds"),
                    "on_failure": config.get("DestinationConfig", {}).get(
                        "OnFailure", {}).get("Destination"),
                }, None))
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

