"""The desired resources of a stage: a pure function of the topology.

>>> from infra_bootstrap.topology import load_stage
>>> resources = desired_resources(load_stage("local"))
>>> sorted({r.account for r in resources})
['111111111111', '222222222222', '333333333333']

Policies follow the AWS documentation; each carries the narrowest principal and the
conditions AWS evaluates for that delivery path (sources cited next to each builder).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from backbone import store
from infra_bootstrap import alarms, names
from infra_bootstrap import resources as r
from infra_bootstrap.resources import Resource, rule_name
from infra_bootstrap.topology import FORWARD_SUBSCRIBED, Service, Stage

# Service name -> the event patterns of its declared subscriptions (declared.py reads them).
SubscriptionPatterns = Mapping[str, Sequence[Mapping[str, Any]]]

POLICY_VERSION = "2012-10-17"
# Matches every event: `source` is present on every event, and prefix "" matches any string.
CATCH_ALL_PATTERN: dict[str, Any] = {"source": [{"prefix": ""}]}
# Explicit target retry policy: AWS's maxima (24 h, 185 attempts). A forwarding hop or a
# handler outage of up to a day is retried before the event goes to the DLQ.
# Source: EventBridge API reference, RetryPolicy (MaximumEventAgeInSeconds 60..86400,
# MaximumRetryAttempts 0..185).
RETRY_POLICY: dict[str, int] = {"MaximumRetryAttempts": 185, "MaximumEventAgeInSeconds": 86400}
# SQS maximum retention (14 days) for dead letters: time to inspect and redrive.
DLQ_ATTRIBUTES: dict[str, str] = {"MessageRetentionPeriod": "1209600"}
LOGS_DELIVERY_SERVICE = "delivery.logs.amazonaws.com"


def desired_resources(stage: Stage,
                      subscriptions: SubscriptionPatterns | None = None) -> list[Resource]:
    """Everything `create` builds for ``stage``, in no particular order.

    With ``forwarding = "subscribed"`` the forwarding rules follow ``subscriptions``
    (service -> its subscriptions' event patterns; a service missing there subscribes to
    nothing); with ``"all"`` they ignore it.

    >>> from infra_bootstrap.topology import load_stage
    >>> [x.label for x in desired_resources(load_stage("local")) if x.kind == "archive"]
    ['archive global-bus-archive']
    """
    tags = names.tags(stage.name)
    out: list[Resource] = [
        Resource(r.EVENT_BUS, stage.bus_account, names.GLOBAL_BUS,
                 {"policy": global_bus_policy(stage)}, tags),
        Resource(r.SQS_QUEUE, stage.bus_account, names.FORWARD_DLQ,
                 {"policy": forward_dlq_policy(stage), "attributes": dict(DLQ_ATTRIBUTES)},
                 tags),
        Resource(r.ARCHIVE, stage.bus_account, names.GLOBAL_ARCHIVE, {
            "source_arn": names.global_bus_arn(stage.region, stage.bus_account),
            "retention_days": stage.archive_retention_days,
            "description": archive_description(stage),
        }, None),
        *_logged_bus(stage, stage.bus_account, names.GLOBAL_BUS),
        Resource(r.IAM_ROLE, stage.bus_account, names.REDRIVE_ROLE, {
            "trust": redrive_role_trust(stage),
            "policies": {names.REDRIVE_ROLE_POLICY: redrive_role_policy(stage)},
            "description": "dlq redrive puts failed forwards back on the local buses",
        }, tags),
    ]
    for service in stage.services:
        out += _forwarding(stage, service, (subscriptions or {}).get(service.name, ()))
        out += _service_account(stage, service)
    for account in stage.accounts:
        out.append(Resource(r.LOGS_RESOURCE_POLICY, account,
                            names.logs_resource_policy(stage.name),
                            {"document": logs_resource_policy(stage, account)}, None))
    # An alarm on each dead-letter queue and on each rule (alarms.py).
    return out + alarms.alarms_for(stage, out)


def archive_description(stage: Stage) -> str:
    """The archive's description; it carries the stage's marker (archives take no tags).

    >>> from infra_bootstrap.topology import load_stage
    >>> archive_description(load_stage("local"))
    'Every event of the global bus, for replay [backbone:stage=local]'
    """
    return f"Every event of the global bus, for replay {names.stage_marker(stage.name)}"


def _logged_bus(stage: Stage, account: str, bus: str) -> list[Resource]:
    """The catch-all rule of a bus and the log group it writes to."""
    tags = names.tags(stage.name)
    log_group = names.event_log_group(bus)
    return [
        Resource(r.LOG_GROUP, account, log_group,
                 {"retention_days": stage.log_retention_days}, tags),
        Resource(r.RULE, account, rule_name(bus, names.LOG_ALL_RULE), {
            "bus": bus, "rule": names.LOG_ALL_RULE, "pattern": CATCH_ALL_PATTERN,
            "description": f"Every event of {bus} to the log group {log_group}",
            # Log-group targets take no RoleArn: the Logs resource policy grants access.
            "targets": ({"Id": names.LOG_TARGET_ID,
                         "Arn": names.log_group_arn(stage.region, account, log_group)},),
        }, tags),
    ]


def forwarding_pattern(stage: Stage, service: str,
                       patterns: Sequence[Mapping[str, Any]]) -> dict[str, Any] | None:
    """The pattern of the rule forwarding global-bus events to ``service``'s local bus.

    ``forwarding = "all"``: every event another service published. ``"subscribed"``: only
    the sources and detail-types that ``patterns`` (the service's subscriptions) name,
    never the service's own source (its events never come back to its own bus); None
    when nothing is left, and the service gets no forwarding rule. A subscription whose
    source or detail-type is not a list of plain names widens that key to what "all"
    forwards; the rule may forward a little more than the subscriptions need (every
    named source with every named detail-type), never less.

    >>> import dataclasses
    >>> from infra_bootstrap.topology import load_stage
    >>> stage = dataclasses.replace(load_stage("local"), forwarding="subscribed")
    >>> forwarding_pattern(stage, "delivery-service",
    ...     [{"source": ["order-service"], "detail-type": ["Order.Created"]}])
    {'source': ['order-service'], 'detail-type': ['Order.Created']}
    >>> forwarding_pattern(stage, "billing-service", []) is None
    True
    >>> forwarding_pattern(load_stage("local"), "billing-service", [])
    {'source': [{'anything-but': 'billing-service'}]}
    """
    every_other: dict[str, Any] = {"source": [{"anything-but": service}]}
    if stage.forwarding != FORWARD_SUBSCRIBED:
        return every_other
    sources: set[str] = set()
    detail_types: set[str] = set()
    any_source = any_detail_type = False
    for pattern in patterns:
        source = _plain_names(pattern.get("source"))
        if source is not None:
            source = [s for s in source if s != service]
            if not source:
                continue  # only the service's own events: never forwarded to it
            sources.update(source)
        else:
            any_source = True
        detail_type = _plain_names(pattern.get("detail-type"))
        if detail_type is None:
            any_detail_type = True
        else:
            detail_types.update(detail_type)
    if not (sources or any_source):
        return None
    out: dict[str, Any] = dict(every_other) if any_source else {"source": sorted(sources)}
    if not any_detail_type:
        out["detail-type"] = sorted(detail_types)
    return out


def _plain_names(values: Any) -> list[str] | None:
    """The values of a pattern key when they are all exact strings, else None."""
    if isinstance(values, list) and values and all(isinstance(v, str) for v in values):
        return list(values)
    return None


def _forwarding(stage: Stage, service: Service,
                patterns: Sequence[Mapping[str, Any]]) -> list[Resource]:
    """Rule on the global bus forwarding other services' events to ``service``'s bus.

    The role stays when there is no rule (nothing subscribed yet): the local bus policy
    names it, and a later subscription only adds the rule.
    """
    tags = names.tags(stage.name)
    role = names.forward_role_name(service.name)
    rule = names.forward_rule_name(service.name)
    out = [
        Resource(r.IAM_ROLE, stage.bus_account, role, {
            "trust": forward_role_trust(stage, service),
            "policies": {names.FORWARD_ROLE_POLICY: forward_role_policy(stage, service)},
            "description": f"EventBridge forwards global-bus events to {service.name}",
        }, tags),
    ]
    pattern = forwarding_pattern(stage, service.name, patterns)
    if pattern is None:
        return out
    what = ("Events of other services" if stage.forwarding != FORWARD_SUBSCRIBED
            else "Events its subscriptions need")
    return [
        *out,
        Resource(r.RULE, stage.bus_account, rule_name(names.GLOBAL_BUS, rule), {
            "bus": names.GLOBAL_BUS, "rule": rule,
            "pattern": pattern,
            "description": f"{what} to {service.name}'s local bus",
            "targets": ({
                "Id": names.FORWARD_TARGET_ID,
                "Arn": names.local_bus_arn(stage.region, service.account, service.name),
                "RoleArn": names.forward_role_arn(stage.bus_account, service.name),
                "RetryPolicy": dict(RETRY_POLICY),
                "DeadLetterConfig": {"Arn": names.forward_dlq_arn(stage.region,
                                                                  stage.bus_account)},
            },),
        }, tags),
    ]


def _service_account(stage: Stage, service: Service) -> list[Resource]:
    tags = names.tags(stage.name)
    bus = names.local_bus(service.name)
    return [
        Resource(r.EVENT_BUS, service.account, bus,
                 {"policy": local_bus_policy(stage, service)}, tags),
        *_logged_bus(stage, service.account, bus),
        Resource(r.SQS_QUEUE, service.account, names.service_dlq(service.name),
                 {"policy": service_dlq_policy(stage, service),
                  "attributes": dict(DLQ_ATTRIBUTES)}, tags),
        Resource(r.DYNAMODB_TABLE, service.account, names.service_table(service.name), {
            # The table's shape is the services' (backbone.store), which read and write it.
            "hash_key": store.PK, "range_key": store.SK, "ttl_attribute": store.TTL_ATTRIBUTE,
            "point_in_time_recovery": not stage.is_local,
        }, tags),
    ]


# --- Policies ---------------------------------------------------------------------


def policy_document(*statements: dict[str, Any]) -> dict[str, Any]:
    """An IAM policy document (identity or resource policy) holding ``statements``.

    >>> policy_document({"Effect": "Allow", "Action": "sqs:SendMessage", "Resource": "*"})
    {'Version': '2012-10-17', 'Statement': [{'Effect': 'Allow', 'Action': 'sqs:SendMessage', \
'Resource': '*'}]}
    """
    return {"Version": POLICY_VERSION, "Statement": list(statements)}


def global_bus_policy(stage: Stage) -> dict[str, Any]:
    """One statement per service account: PutEvents on the global bus, own sources only.

    Source: EventBridge User Guide, "Example policy: Send events to a custom bus in a
    different account" (account root principal, ``ForAllValues:StringEquals`` on
    ``events:source``:
    https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-event-bus-example-policy-cross-account-custom-bus-source.html)
    and "Using IAM policy conditions" (``aws:PrincipalOrgID``). ``events:source`` is a
    multivalued key (ArrayOfString in the Service Authorization Reference for EventBridge,
    hence the set operator in that example), so a
    plain ``StringEquals`` would hold when *any* source of a request matched; the set
    operator requires every source to be the account's own, and ``Null: false`` stops
    ``ForAllValues`` from holding vacuously when the key is absent (IAM User Guide,
    "Single-valued vs. multivalued context keys").
    """
    bus_arn = names.global_bus_arn(stage.region, stage.bus_account)
    statements = []
    for account in dict.fromkeys(s.account for s in stage.services):
        condition: dict[str, Any] = {
            "ForAllValues:StringEquals": {
                "events:source": sorted(s.name for s in stage.services_in(account))},
            "Null": {"events:source": "false"},
        }
        if stage.organization_id:
            condition["StringEquals"] = {"aws:PrincipalOrgID": stage.organization_id}
        statements.append({
            "Sid": names.statement_sid(stage.name, f"PublishFrom{account}"),
            "Effect": "Allow",
            "Principal": {"AWS": names.account_root_arn(account)},
            "Action": "events:PutEvents",
            "Resource": bus_arn,
            "Condition": condition,
        })
    return policy_document(*statements)


def local_bus_policy(stage: Stage, service: Service) -> dict[str, Any]:
    """Only the forwarding rule's role may put events on the service's local bus.

    Principal = the forwarding role: with a RoleArn on a bus target EventBridge calls
    PutEvents with that role ("We recommend always using IAM roles when the target of a
    rule is an event bus", "Permissions for event buses in Amazon EventBridge",
    https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-event-bus-perms.html), and
    a role ARN principal matches the role's sessions only, narrower than the documented
    account-root principal. ``aws:SourceArn`` is "the ARN of the rule that sent the event"
    and ``aws:SourceAccount`` its account ("Using IAM policy conditions in Amazon
    EventBridge", https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-use-conditions.html);
    the bus-policy example "Send events from specific rules to an Amazon EventBridge bus in
    a different Region" (eb-event-bus-example-policy-restrict-rule.html) pins the sending
    rule with ``ArnEquals`` on ``aws:SourceArn``, on a path that always uses a role.
    """
    forward = {
        "Sid": names.statement_sid(stage.name, "ForwardFromGlobalBus"),
        "Effect": "Allow",
        "Principal": {"AWS": names.forward_role_arn(stage.bus_account, service.name)},
        "Action": "events:PutEvents",
        "Resource": names.local_bus_arn(stage.region, service.account, service.name),
        "Condition": {
            "StringEquals": {"aws:SourceAccount": stage.bus_account},
            "ArnEquals": {"aws:SourceArn": names.forward_rule_arn(
                stage.region, stage.bus_account, service.name)},
        },
    }
    return policy_document(forward, redrive_statement(stage, service))


def redrive_statement(stage: Stage, service: Service) -> dict[str, Any]:
    """The redrive role may put on the local bus what the forwarding rule would forward.

    ``dlq redrive`` sends a failed forward back to the bus it was meant for by PutEvents
    as ``names.REDRIVE_ROLE`` (a person's action, so no ``aws:SourceArn`` exists to pin).
    As narrow as the forwarding path: that one role, only this bus, and only events whose
    ``source`` the forwarding rule forwards here (every other service of the stage;
    ``ForAllValues`` with ``Null: false`` as in ``global_bus_policy``). Source: EventBridge
    User Guide, "Permissions for event buses" (role principals, ``events:source``).
    """
    others = sorted(s.name for s in stage.services if s.name != service.name)
    return {
        "Sid": names.statement_sid(stage.name, "RedriveFromBusAccount"),
        "Effect": "Allow",
        "Principal": {"AWS": names.redrive_role_arn(stage.bus_account)},
        "Action": "events:PutEvents",
        "Resource": names.local_bus_arn(stage.region, service.account, service.name),
        "Condition": {"ForAllValues:StringEquals": {"events:source": others},
                      "Null": {"events:source": "false"}},
    }


def redrive_role_trust(stage: Stage) -> dict[str, Any]:
    """Principals of the bus account that their own IAM policies allow may assume it.

    The account root principal delegates the decision to the account's IAM policies
    (IAM User Guide, "How IAM roles differ from resource-based policies"; "Specifying a
    principal": an account principal). On AWS, grant ``sts:AssumeRole`` on this role to
    the operators who may redrive.
    """
    return policy_document({
        "Effect": "Allow",
        "Principal": {"AWS": names.account_root_arn(stage.bus_account)},
        "Action": "sts:AssumeRole",
    })


def redrive_role_policy(stage: Stage) -> dict[str, Any]:
    """PutEvents on the stage's local buses, nothing else."""
    return policy_document({
        "Effect": "Allow",
        "Action": "events:PutEvents",
        "Resource": [names.local_bus_arn(stage.region, s.account, s.name)
                     for s in stage.services],
    })


def forward_role_trust(stage: Stage, service: Service) -> dict[str, Any]:
    """Only EventBridge, acting for this one forwarding rule, may assume the role.

    Source: EventBridge User Guide, "Cross-service confused deputy prevention": for event
    bus rule targets, ``aws:SourceArn`` must be the rule ARN.
    """
    return policy_document({
        "Effect": "Allow",
        "Principal": {"Service": names.EVENTS_SERVICE},
        "Action": "sts:AssumeRole",
        "Condition": {
            "StringEquals": {"aws:SourceAccount": stage.bus_account},
            "ArnEquals": {"aws:SourceArn": names.forward_rule_arn(
                stage.region, stage.bus_account, service.name)},
        },
    })


def forward_role_policy(stage: Stage, service: Service) -> dict[str, Any]:
    """PutEvents on the one local bus, nothing else."""
    return policy_document({
        "Effect": "Allow",
        "Action": "events:PutEvents",
        "Resource": names.local_bus_arn(stage.region, service.account, service.name),
    })


def forward_dlq_policy(stage: Stage) -> dict[str, Any]:
    """Only the forwarding rules may dead-letter into the forward DLQ.

    Source: EventBridge User Guide, "Using dead-letter queues to process undelivered
    events" (principal events.amazonaws.com, ``aws:SourceArn`` = the rule ARN).
    """
    rules = [names.forward_rule_arn(stage.region, stage.bus_account, s.name)
             for s in stage.services]
    return policy_document({
        "Sid": names.statement_sid(stage.name, "ForwardingRulesDeadLetters"),
        "Effect": "Allow",
        "Principal": {"Service": names.EVENTS_SERVICE},
        "Action": "sqs:SendMessage",
        "Resource": names.forward_dlq_arn(stage.region, stage.bus_account),
        "Condition": {"ArnEquals": {"aws:SourceArn": rules}},
    })


def service_dlq_policy(stage: Stage, service: Service) -> dict[str, Any]:
    """Rules on the service's local bus may dead-letter here (DeadLetterConfig).

    The subscription rules are created later by `subscribe`, so the condition names every
    rule of that one bus. Lambda's on-failure destination needs no statement: Lambda
    sends with the function's execution role (Lambda Developer Guide, "Adding a
    destination").
    """
    bus = names.local_bus(service.name)
    return policy_document({
        "Sid": names.statement_sid(stage.name, "LocalBusRulesDeadLetters"),
        "Effect": "Allow",
        "Principal": {"Service": names.EVENTS_SERVICE},
        "Action": "sqs:SendMessage",
        "Resource": names.service_dlq_arn(stage.region, service.account, service.name),
        "Condition": {
            "StringEquals": {"aws:SourceAccount": service.account},
            "ArnLike": {"aws:SourceArn": names.rule_arn(stage.region, service.account, bus, "*")},
        },
    })


def logs_resource_policy(stage: Stage, account: str) -> dict[str, Any]:
    """One Logs resource policy per account: our logging rules may write our log groups.

    Principals, actions and resource follow EventBridge User Guide, "Using resource-based
    policies for Amazon EventBridge", CloudWatch Logs permissions (events.amazonaws.com and
    delivery.logs.amazonaws.com; logs:CreateLogStream and logs:PutLogEvents;
    https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-use-resource-based.html#eb-cloudwatchlogs-permissions).
    That example has no condition. EventBridge puts the rule ARN in the request context of
    PutLogEvents only, not of CreateLogStream, so the two actions are two statements and
    only PutLogEvents carries ``aws:SourceArn`` (which also pins the account): one statement
    conditioning both would deny CreateLogStream and no event would ever be written. Source:
    aws-samples/serverless-patterns, eventbridge-cloudwatch/template.yaml, fixed in PR #618
    ("The conditional ARN for the Rule only applies to logs:PutLogEvents"). Creating a
    stream without writing to it is all the unconditioned statement allows, and only in
    this project's event log groups.
    """
    buses = ([names.GLOBAL_BUS] if account == stage.bus_account else []) + [
        names.local_bus(s.name) for s in stage.services_in(account)]
    rules = [names.rule_arn(stage.region, account, bus, names.LOG_ALL_RULE) for bus in buses]
    principal = {"Service": [names.EVENTS_SERVICE, LOGS_DELIVERY_SERVICE]}
    log_groups = names.event_log_groups_arn_pattern(stage.region, account)
    return policy_document({
        "Sid": names.statement_sid(stage.name, "EventBridgeCreatesEventLogStreams"),
        "Effect": "Allow",
        "Principal": principal,
        "Action": "logs:CreateLogStream",
        "Resource": log_groups,
    }, {
        "Sid": names.statement_sid(stage.name, "EventBridgeRulesWriteEventLogs"),
        "Effect": "Allow",
        "Principal": principal,
        "Action": "logs:PutLogEvents",
        "Resource": log_groups,
        "Condition": {"ArnEquals": {"aws:SourceArn": rules}},
    })
