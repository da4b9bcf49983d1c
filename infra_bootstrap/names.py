"""Every resource name and ARN of the backbone. No other module builds or parses one.

>>> bus_arn("eu-west-1", "111111111111", GLOBAL_BUS)
'arn:aws:events:eu-west-1:111111111111:event-bus/global-bus'
>>> forward_rule_name("order-service")
'global-to-order-service'
>>> parse_arn(bus_arn("eu-west-1", "111111111111", GLOBAL_BUS)).resource
'event-bus/global-bus'
"""

from __future__ import annotations

from dataclasses import dataclass

from infra_bootstrap.errors import UsageError

PROJECT = "cross-account-backbone"
# Tags on every resource whose API takes tags; `destroy` only touches what carries both
# (the whole ownership rule, tags and the markers of untaggable kinds: ownership.py).
TAG_PROJECT = "backbone:project"
TAG_STAGE = "backbone:stage"
# Prefix of every policy statement id the stage writes: `backbone-<stage>-<purpose>`.
SID_PREFIX = "backbone-"

GLOBAL_BUS = "global-bus"
LOG_ALL_RULE = "log-all-events"
GLOBAL_ARCHIVE = "global-bus-archive"
FORWARD_DLQ = "global-bus-forward-dlq"
# EventBridge requires log-group targets to be named /aws/events/...
# Source: EventBridge User Guide, "Amazon CloudWatch Logs" targets.
EVENTBRIDGE_LOG_GROUP_PREFIX = "/aws/events/"
EVENT_LOG_GROUP_PREFIX = f"{EVENTBRIDGE_LOG_GROUP_PREFIX}backbone/"
# The principal EventBridge acts as in resource policies and role trust.
EVENTS_SERVICE = "events.amazonaws.com"


def tags(stage: str) -> dict[str, str]:
    """The ownership tags of a stage, as a plain mapping."""
    return {TAG_PROJECT: PROJECT, TAG_STAGE: stage}


def statement_sid(stage: str, purpose: str) -> str:
    """The Sid of a policy statement the stage writes: it names the stage.

    EventBridge's RemovePermission takes it as StatementId ([a-zA-Z0-9-_], at most 64
    characters; topology limits stage names to 20 characters for that reason).

    >>> statement_sid("prod", "ForwardFromGlobalBus")
    'backbone-prod-ForwardFromGlobalBus'
    """
    return f"{statement_sid_prefix(stage)}{purpose}"


def statement_sid_prefix(stage: str) -> str:
    """What every Sid of ``stage`` starts with.

    >>> statement_sid_prefix("local")
    'backbone-local-'
    """
    return f"{SID_PREFIX}{stage}-"


def logs_resource_policy(stage: str) -> str:
    """The stage's CloudWatch Logs resource policy (one per account).

    Named after the stage: the policy takes no tags, so its name and its statements'
    Sids are what mark it as the stage's.

    >>> logs_resource_policy("local")
    'backbone-local-eventbridge-to-event-logs'
    """
    return f"{SID_PREFIX}{stage}-eventbridge-to-event-logs"


def stage_marker(stage: str) -> str:
    """The text the stage writes into descriptions of what takes no tags (the archive).

    >>> stage_marker("local")
    '[backbone:stage=local]'
    """
    return f"[{TAG_STAGE}={stage}]"


def local_bus(service: str) -> str:
    return f"local-bus-{service}"


def forward_rule_name(service: str) -> str:
    return f"global-to-{service}"


# The role `dlq redrive` puts failed forwards back on a local bus with (bus account).
REDRIVE_ROLE = "backbone-redrive"
REDRIVE_ROLE_POLICY = "put-events-to-local-buses"


def redrive_role_arn(bus_account: str) -> str:
    """The role a redrive assumes in the bus account to put an event on a local bus.

    >>> redrive_role_arn("111111111111")
    'arn:aws:iam::111111111111:role/backbone-redrive'
    """
    return role_arn(bus_account, REDRIVE_ROLE)


def forward_role_name(service: str) -> str:
    # IAM role names are at most 64 characters; topology limits services to 40.
    return f"backbone-forward-to-{service}"


def service_dlq(service: str) -> str:
    return f"{service}-handler-dlq"


def event_log_group(bus: str) -> str:
    return f"{EVENT_LOG_GROUP_PREFIX}{bus}"


def bus_arn(region: str, account: str, bus: str) -> str:
    return f"arn:aws:events:{region}:{account}:event-bus/{bus}"


def rule_arn(region: str, account: str, bus: str, rule: str) -> str:
    # Rules on a custom bus have the bus name in their ARN; on `default` they do not.
    path = rule if bus == "default" else f"{bus}/{rule}"
    return f"arn:aws:events:{region}:{account}:rule/{path}"


def archive_arn(region: str, account: str, archive: str) -> str:
    return f"arn:aws:events:{region}:{account}:archive/{archive}"


def role_arn(account: str, role: str) -> str:
    return f"arn:aws:iam::{account}:role/{role}"


def queue_arn(region: str, account: str, queue: str) -> str:
    return f"arn:aws:sqs:{region}:{account}:{queue}"


def log_group_arn(region: str, account: str, log_group: str) -> str:
    """The log group ARN as EventBridge targets take it (no trailing ``:*``)."""
    return f"arn:aws:logs:{region}:{account}:log-group:{log_group}"


def event_log_groups_arn_pattern(region: str, account: str) -> str:
    """Every event log group of the project in one account (for the Logs resource policy)."""
    return f"arn:aws:logs:{region}:{account}:log-group:{EVENT_LOG_GROUP_PREFIX}*"


# --- Services (Chalice apps) -------------------------------------------------


def service_table(service: str) -> str:
    """The service's one DynamoDB table (single-table design: pk/sk strings)."""
    return f"{service}-state"


def table_arn(region: str, account: str, table: str) -> str:
    return f"arn:aws:dynamodb:{region}:{account}:table/{table}"


def lambda_function_name(app_name: str, stage: str, function: str) -> str:
    """Chalice names a deployed function ``<app>-<stage>-<function>``."""
    return f"{app_name}-{stage}-{function}"


def lambda_function_arn(region: str, account: str, function_name: str) -> str:
    return f"arn:aws:lambda:{region}:{account}:function:{function_name}"


def subscription_rule_name(service: str, subscription: str) -> str:
    """The rule on ``local_bus(service)`` that feeds one declared subscription.

    EventBridge rule names are at most 64 characters.
    """
    return f"{SUBSCRIPTION_RULE_PREFIX}{subscription}"[:64]


# --- Bootstrap (infra_bootstrap create / subscribe) ----------------------------

# Prefix of subscription_rule_name: tells a subscription rule from the bootstrap's own rules.
SUBSCRIPTION_RULE_PREFIX = "sub-"
FORWARD_ROLE_POLICY = "put-events-to-local-bus"
FORWARD_TARGET_ID = "local-bus"
LOG_TARGET_ID = "event-log"
SUBSCRIPTION_TARGET_ID = "function"


def subscription_permission_sid(stage: str, subscription: str) -> str:
    """Lambda permission statement id letting the subscription rule invoke the function.

    Lambda's StatementId is at most 100 characters of [a-zA-Z0-9-_.].

    >>> subscription_permission_sid("local", "on_order_created")
    'backbone-local-on_order_created'
    """
    return statement_sid(stage, subscription)[:100]


# --- Chalice configuration (configure) ---------------------------------------


def service_app_dir(service: str) -> str:
    """The service's Chalice project directory, relative to the repository root.

    >>> service_app_dir("order-service")
    'order_service'
    """
    return service.replace("-", "_")


def chalice_policy_file(stage: str) -> str:
    """The IAM policy file of a stage, relative to the app's ``.chalice/`` directory."""
    return f"policy-{stage}.json"


def lambda_log_group(function_name: str) -> str:
    """The log group Lambda writes a function's logs to."""
    return f"/aws/lambda/{function_name}"


def log_streams_arn(region: str, account: str, log_group: str) -> str:
    """Every log stream of a log group (the resource of logs:PutLogEvents)."""
    return f"{log_group_arn(region, account, log_group)}:log-stream:*"


# --- Local cloud (local up) ---------------------------------------------------


def lambda_execution_role_name(app_name: str, stage: str) -> str:
    """The execution role Chalice creates for an app's functions: ``<app>-<stage>``.

    >>> lambda_execution_role_name("order-service", "local")
    'order-service-local'
    """
    return f"{app_name}-{stage}"


def api_handler_function_name(app_name: str, stage: str) -> str:
    """Chalice names the function serving an app's routes ``<app>-<stage>``, no suffix."""
    return f"{app_name}-{stage}"


# --- Facts several modules share (desired, subscribe, configure) ---------------------


def account_root_arn(account: str) -> str:
    """The principal standing for a whole account in a resource policy.

    >>> account_root_arn("222222222222")
    'arn:aws:iam::222222222222:root'
    """
    return f"arn:aws:iam::{account}:root"


def global_bus_arn(region: str, bus_account: str) -> str:
    """The bus every service publishes to."""
    return bus_arn(region, bus_account, GLOBAL_BUS)


def local_bus_arn(region: str, account: str, service: str) -> str:
    """The service's own bus, in the service's account."""
    return bus_arn(region, account, local_bus(service))


def forward_rule_arn(region: str, bus_account: str, service: str) -> str:
    """The rule on the global bus forwarding to ``service``'s local bus."""
    return rule_arn(region, bus_account, GLOBAL_BUS, forward_rule_name(service))


def forward_dlq_arn(region: str, bus_account: str) -> str:
    """The dead-letter queue of every forwarding rule, in the bus account."""
    return queue_arn(region, bus_account, FORWARD_DLQ)


def service_dlq_arn(region: str, account: str, service: str) -> str:
    """The service's dead-letter queue: its rules' DeadLetterConfig and Lambda on-failure.

    >>> service_dlq_arn("eu-west-1", "222222222222", "order-service")
    'arn:aws:sqs:eu-west-1:222222222222:order-service-handler-dlq'
    """
    return queue_arn(region, account, service_dlq(service))


def subscription_rule_arn(region: str, account: str, service: str, subscription: str) -> str:
    """The rule on ``service``'s local bus feeding one subscription."""
    return rule_arn(region, account, local_bus(service),
                    subscription_rule_name(service, subscription))


def forward_role_arn(bus_account: str, service: str) -> str:
    """The role the forwarding rule to ``service`` delivers with (and its bus admits)."""
    return role_arn(bus_account, forward_role_name(service))


# --- CloudWatch alarms (create, subscribe) --------------------------------------------

# CloudWatch alarm names are 1-255 characters, unique per account and region; each name
# below carries the stage (stages may share an account) and stays far below that limit
# (stage 20 + queue 80 or bus 50 + rule 64 characters at most).
# Source: CloudWatch API reference, PutMetricAlarm (AlarmName).
ALARM_NAME_MAX = 255


def alarm_prefix(stage: str) -> str:
    """What the name of every alarm of ``stage`` starts with.

    >>> alarm_prefix("local")
    'backbone-local-'
    """
    return f"{SID_PREFIX}{stage}-"


def dlq_alarm_name(stage: str, queue: str) -> str:
    """The alarm raised while dead letters wait in ``queue``.

    >>> dlq_alarm_name("local", FORWARD_DLQ)
    'backbone-local-dlq-global-bus-forward-dlq'
    """
    return f"{alarm_prefix(stage)}dlq-{queue}"


def rule_alarm_name(stage: str, bus: str, rule: str) -> str:
    """The alarm raised when a rule of the stage's infrastructure fails to deliver.

    >>> rule_alarm_name("local", GLOBAL_BUS, forward_rule_name("order-service"))
    'backbone-local-failed-global-bus-global-to-order-service'
    """
    return f"{alarm_prefix(stage)}failed-{bus}-{rule}"


def subscription_alarm_prefix(stage: str) -> str:
    """What the alarms of subscription rules (made by `subscribe`) start with.

    >>> subscription_alarm_prefix("local")
    'backbone-local-subscription-'
    """
    return f"{alarm_prefix(stage)}subscription-"


def subscription_alarm_name(stage: str, bus: str, rule: str) -> str:
    """The alarm raised when a subscription rule fails to invoke its function.

    >>> subscription_alarm_name("local", local_bus("order-service"), "sub-on_x")
    'backbone-local-subscription-local-bus-order-service-sub-on_x'
    """
    return f"{subscription_alarm_prefix(stage)}{bus}-{rule}"


def alarm_arn(region: str, account: str, alarm: str) -> str:
    """An alarm's ARN (what TagResource and ListTagsForResource take).

    >>> alarm_arn("eu-west-1", "111111111111", "a")
    'arn:aws:cloudwatch:eu-west-1:111111111111:alarm:a'
    """
    return f"arn:aws:cloudwatch:{region}:{account}:alarm:{alarm}"


def sns_topic_of(arn: str) -> tuple[str, str, str] | None:
    """(region, account, topic name) of an SNS topic ARN, None for any other string.

    >>> sns_topic_of("arn:aws:sns:eu-west-1:444444444444:backbone-alarms")
    ('eu-west-1', '444444444444', 'backbone-alarms')
    >>> sns_topic_of("arn:aws:sqs:eu-west-1:444444444444:q") is None
    True
    """
    parsed = _parsed_or_none(arn)
    if parsed is None or parsed.service != "sns" or ":" in parsed.resource:
        return None
    return parsed.region, parsed.account, parsed.resource


# --- Parsing ARNs ---------------------------------------------------------------------


class InvalidArn(UsageError):
    """A string that is not an ARN of the kind asked for."""


@dataclass(frozen=True)
class Arn:
    """The parts of ``arn:<partition>:<service>:<region>:<account>:<resource>``.

    The resource keeps its own separators (``event-bus/global-bus``,
    ``function:name:qualifier``, ``log-group:/aws/events/x:*``): AWS varies them by service.
    Source: IAM User Guide, "IAM identifiers" (ARN formats).
    """

    partition: str
    service: str
    region: str
    account: str
    resource: str


def parse_arn(arn: str) -> Arn:
    """The parts of an ARN; InvalidArn for anything else.

    >>> parse_arn("arn:aws:lambda:eu-west-1:222222222222:function:f:live").resource
    'function:f:live'
    """
    parts = arn.split(":", 5)
    if len(parts) != 6 or parts[0] != "arn" or not parts[1] or not parts[2] or not parts[5]:
        raise InvalidArn(f"{arn} is not an ARN")
    return Arn(*parts[1:])


def lambda_function_of(arn: str) -> tuple[str, str]:
    """(account, function name) of a function ARN, without any qualifier.

    >>> lambda_function_of("arn:aws:lambda:eu-west-1:222222222222:function:f:live")
    ('222222222222', 'f')
    """
    parsed = _parsed_or_none(arn)
    kind, _, rest = parsed.resource.partition(":") if parsed else ("", "", "")
    if parsed is None or parsed.service != "lambda" or kind != "function" or not rest:
        raise InvalidArn(f"{arn} is not a Lambda function ARN")
    return parsed.account, rest.split(":", 1)[0]


def event_bus_of(arn: str) -> str | None:
    """The bus name of an event bus ARN, None for any other string.

    >>> event_bus_of("arn:aws:events:eu-west-1:111111111111:event-bus/global-bus")
    'global-bus'
    >>> event_bus_of("arn:aws:sqs:eu-west-1:111111111111:q") is None
    True
    """
    parsed = _parsed_or_none(arn)
    kind, _, name = parsed.resource.partition("/") if parsed else ("", "", "")
    return name if parsed and parsed.service == "events" and kind == "event-bus" else None


def log_group_of(arn: str) -> str | None:
    """The log group name of a log group ARN (with or without ``:*``), else None.

    >>> log_group_of("arn:aws:logs:eu-west-1:111111111111:log-group:/aws/events/x:*")
    '/aws/events/x'
    """
    parsed = _parsed_or_none(arn)
    kind, _, name = parsed.resource.partition(":") if parsed else ("", "", "")
    if not parsed or parsed.service != "logs" or kind != "log-group" or not name:
        return None
    return name.removesuffix(":*")


def _parsed_or_none(arn: str) -> Arn | None:
    try:
        return parse_arn(arn)
    except InvalidArn:
        return None
