"""`subscribe`: wire each declared subscription to its deployed function.

For each subscription of a service, on that service's local bus: a rule with the
declared pattern targeting the function (explicit RetryPolicy, DeadLetterConfig = the
service's DLQ), the Lambda permission for events.amazonaws.com limited to that rule's
ARN, and the function's async-invoke configuration (maximum retries, on-failure
destination = the service's DLQ). Rules of subscriptions that no longer exist are
removed. With ``forwarding = "subscribed"`` the service's forwarding rule on the global
bus follows its subscriptions too (a new subscription widens it). Same resource model,
planner and executor as `create`; idempotent.

Same ownership rule too (``ownership.py``): a same-named subscription rule the stage did
not make is a conflict (nothing is changed; ``adopt`` takes it over), and permissions
and invoke configs are only written on functions carrying the stage's tags, which
Chalice sets from the ``tags`` that `configure` writes.

>>> from infra_bootstrap.topology import load_stage
>>> stage = load_stage("local")
>>> arn = names.lambda_function_arn("eu-west-1", "333333333333", "delivery-local-on_x")
>>> [r.label for r in desired_subscriptions(stage, stage.service("delivery-service"),
...     declared_subscriptions("delivery-service"), {"on_order_created": arn})]
['subscription rule local-bus-delivery-service/sub-on_order_created', \
'Lambda permission delivery-local-on_x/backbone-local-on_order_created', \
'event invoke config delivery-local-on_x', \
'alarm backbone-local-subscription-local-bus-delivery-service-sub-on_order_created']
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from infra_bootstrap import adoption, alarms, names, ownership
from infra_bootstrap import resources as r
from infra_bootstrap.declared import SubscriptionLike, declared_subscriptions
from infra_bootstrap.deployed import deployed_path, read_deployed
from infra_bootstrap.desired import RETRY_POLICY, desired_resources
from infra_bootstrap.errors import ConflictError, UsageError
from infra_bootstrap.executor import execute
from infra_bootstrap.planner import Call, plan
from infra_bootstrap.reader import function_tags, read_actual, refresh
from infra_bootstrap.resources import Resource, rule_name
from infra_bootstrap.sessions import AccountSessions
from infra_bootstrap.topology import FORWARD_SUBSCRIBED, Service, Stage

# Lambda async invoke: retry a failed handler twice (Lambda's maximum), keep trying for
# up to 6 hours (the maximum event age), then send the event to the service's DLQ.
# Source: Lambda API reference, PutFunctionEventInvokeConfig.
MAX_RETRY_ATTEMPTS = 2
MAX_EVENT_AGE_SECONDS = 21600


@dataclass(frozen=True)
class SubscribeResult:
    calls: list[Call]
    applied: bool

    @property
    def changed(self) -> bool:
        return any(c.mutating for c in self.calls)


def desired_subscriptions(stage: Stage, service: Service,
                          subscriptions: Iterable[SubscriptionLike],
                          function_arns: Mapping[str, str]) -> list[Resource]:
    """Pure: the rule, permission, invoke config and alarm of each subscription of ``service``.

    ``function_arns`` maps each subscription name to its deployed function's ARN.
    """
    bus = names.local_bus(service.name)
    dlq_arn = names.service_dlq_arn(stage.region, service.account, service.name)
    tags = names.tags(stage.name)
    subscriptions = tuple(subscriptions)
    missing = [sub.name for sub in subscriptions if sub.name not in function_arns]
    if missing:
        raise UsageError(f"service {service.name}: {', '.join(missing)} not deployed for "
                         f"stage {stage.name}: run `chalice deploy --stage {stage.name}` in "
                         "the service's directory")
    out: list[Resource] = []
    for sub in subscriptions:
        arn = function_arns[sub.name]
        function_account, function_name = names.lambda_function_of(arn)
        if function_account != service.account:
            raise UsageError(f"service {service.name}: function {arn} is in account "
                             f"{function_account}, not the service's {service.account}")
        rule = names.subscription_rule_name(service.name, sub.name)
        out.append(Resource(r.SUBSCRIPTION_RULE, service.account, rule_name(bus, rule), {
            "bus": bus, "rule": rule, "pattern": dict(sub.event_pattern),
            "description": f"Subscription {sub.name} of {service.name}",
            "targets": ({"Id": names.SUBSCRIPTION_TARGET_ID, "Arn": arn,
                         "RetryPolicy": dict(RETRY_POLICY),
                         "DeadLetterConfig": {"Arn": dlq_arn}},),
        }, tags))
        sid = names.subscription_permission_sid(stage.name, sub.name)
        out.append(Resource(r.LAMBDA_PERMISSION, service.account, f"{function_name}/{sid}", {
            "function_name": function_name, "statement_id": sid,
            "principal": names.EVENTS_SERVICE, "action": "lambda:InvokeFunction",
            "source_arn": names.subscription_rule_arn(stage.region, service.account,
                                                      service.name, sub.name),
        }, None))
        out.append(Resource(r.INVOKE_CONFIG, service.account, function_name, {
            "function_name": function_name,
            "maximum_retry_attempts": MAX_RETRY_ATTEMPTS,
            "maximum_event_age": MAX_EVENT_AGE_SECONDS,
            "on_failure": dlq_arn,
        }, None))
        out.append(alarms.rule_alarm(stage, service.account, bus, rule))
    return out


def subscribe(stage: Stage, sessions: AccountSessions,
              function_arns: Mapping[str, Mapping[str, str]], *,
              subscriptions: Mapping[str, Sequence[SubscriptionLike]] | None = None,
              adopt: Sequence[str] = (), dry_run: bool = False,
              on_call: Callable[[Call], None] | None = None) -> SubscribeResult:
    """Wire the subscriptions of the services in ``function_arns`` (service -> name -> ARN).

    ``subscriptions`` (service -> declared subscriptions) defaults to importing each
    service's Chalice app. With ``dry_run`` the calls are planned, not run. Raises
    ConflictError, before any call, when a subscription rule of the stage's names exists
    that the stage does not own (and is not in ``adopt``: ``[ACCOUNT:]KIND/NAME``).
    """
    services = [stage.service(name) for name in function_arns]
    if subscriptions is None:
        subscriptions = {s.name: declared_subscriptions(s.name) for s in services}
    desired: list[Resource] = []
    for service in services:
        desired += desired_subscriptions(stage, service, subscriptions.get(service.name, ()),
                                         function_arns[service.name])
    in_scope = {(s.account, names.local_bus(s.name)) for s in services}
    # Every deployed function of the services is read, so that the permission of a
    # subscription that is gone is removed too (its statement id is ours); the invoke
    # config of a function is only ours while it is a subscription.
    deployed: dict[str, set[str]] = {}
    for service in services:
        for arn in function_arns[service.name].values():
            account, function = names.lambda_function_of(arn)
            deployed.setdefault(account, set()).add(function)
    subscribed = {(d.account, d.name) for d in desired if d.kind == r.INVOKE_CONFIG}
    _require_stage_tags(stage, sessions, desired)
    actual = [a for a in read_actual(stage, sessions, desired, kinds=r.SUBSCRIPTION_KINDS,
                                     functions=deployed)
              if (a.kind != r.SUBSCRIPTION_RULE or (a.account, a.props["bus"]) in in_scope)
              and (a.kind != r.SUBSCRIPTION_ALARM
                   or (a.account, a.props["dimensions"].get("EventBusName")) in in_scope)
              and (a.kind != r.INVOKE_CONFIG or (a.account, a.name) in subscribed)]
    kinds = set(r.SUBSCRIPTION_KINDS)
    if stage.forwarding == FORWARD_SUBSCRIBED:
        # The global bus forwards only what is subscribed: widen (or narrow) the
        # forwarding rule of each service in scope with its subscriptions.
        wanted, found = _forwarding_rules(stage, sessions, services, subscriptions)
        desired += wanted
        actual += found
        kinds |= {r.RULE, r.ALARM}
    keys = adoption.resolve(adopt, desired, actual, stage=stage.name, kinds=kinds)
    computed = plan(desired, actual, stage=stage.name, kinds=kinds, adopt=keys)
    if computed.conflicts:
        raise ConflictError(stage.name, [str(c) for c in computed.conflicts])
    if dry_run:
        return SubscribeResult(computed.calls, applied=False)
    return SubscribeResult(execute(computed.calls, sessions, on_call=on_call), applied=True)


def _forwarding_rules(stage: Stage, sessions: AccountSessions, services: Sequence[Service],
                      subscriptions: Mapping[str, Sequence[SubscriptionLike]]
                      ) -> tuple[list[Resource], list[Resource]]:
    """The forwarding rules of ``services`` and their alarms as their subscriptions want
    them, and as they are in the bus account (a rule or alarm not there is simply absent)."""
    patterns = {s.name: [sub.event_pattern for sub in subscriptions.get(s.name, ())]
                for s in services}
    keys = {(r.RULE, stage.bus_account,
             rule_name(names.GLOBAL_BUS, names.forward_rule_name(s.name))) for s in services}
    keys |= {(r.ALARM, stage.bus_account, names.rule_alarm_name(
        stage.name, names.GLOBAL_BUS, names.forward_rule_name(s.name))) for s in services}
    wanted = [d for d in desired_resources(stage, patterns) if d.key in keys]
    found = [x for x in (refresh(stage, sessions, Resource(kind, account, name, {}))
                         for kind, account, name in sorted(keys)) if x is not None]
    return wanted, found


def _require_stage_tags(stage: Stage, sessions: AccountSessions,
                        desired: Iterable[Resource]) -> None:
    """Every function a subscription targets exists and carries the stage's tags: they
    are the marker of the permission and invoke config written on it."""
    functions: dict[str, set[str]] = {}
    for d in desired:
        if d.kind == r.INVOKE_CONFIG:
            functions.setdefault(d.account, set()).add(d.props["function_name"])
    for (account, function), tags in sorted(function_tags(stage, sessions, functions).items()):
        if tags is None:
            raise UsageError(f"account {account}: function {function} does not exist: run "
                             f"`chalice deploy --stage {stage.name}` for its service first")
        if not ownership.has_stage_tags(tags, stage.name):
            wanted = ", ".join(f"{k}={v}" for k, v in names.tags(stage.name).items())
            raise UsageError(
                f"account {account}: function {function} does not carry the tags of stage "
                f"{stage.name} ({wanted}), so it is not the stage's: run `configure` (it "
                f"writes them into .chalice/config.json), then `chalice deploy --stage "
                f"{stage.name}`")


def deployed_function_arns(stage: Stage, service: str,
                           service_dir: Path | None = None) -> dict[str, str]:
    """Function name -> ARN from Chalice's ``.chalice/deployed/<stage>.json``.

    Chalice records each deployed resource there as ``{"name": ..., "resource_type":
    "lambda_function", "lambda_arn": ...}`` under ``resources``.
    """
    if service_dir is None:
        from infra_bootstrap.service_apps import service_dir as find_dir

        service_dir = find_dir(service)
    deployed = read_deployed(service, Path(service_dir), stage.name)
    if deployed is None:
        raise UsageError(f"service {service}: no deployed state "
                         f"{deployed_path(Path(service_dir), stage.name)}: run `chalice deploy "
                         f"--stage {stage.name}` in {service_dir} first")
    return deployed.functions
