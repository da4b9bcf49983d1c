"""`verify` beyond the plumbing: each service's deployed functions and its subscriptions.

For every service of the stage:

- its functions: those ``chalice deploy`` recorded in ``.chalice/deployed/<stage>.json``
  must exist; without that file (deployed from elsewhere) the function of each declared
  subscription is looked up by the name Chalice gives it (``<app>-<stage>-<name>``);
- every declared subscription has its function, carrying the stage's tags;
- what `subscribe` would change is a finding: a missing or different subscription rule,
  target (function, RetryPolicy, dead-letter queue), Lambda permission or async-invoke
  configuration, a subscription rule of the stage that no subscription declares, and a
  same-named rule the stage does not own (a conflict).

The checks are `subscribe`'s own plan, run dry: one module decides what a wired
subscription is, the other reports where the stage differs from it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

from infra_bootstrap import names
from infra_bootstrap import subscribe as subscribing
from infra_bootstrap.declared import SubscriptionLike, declared_subscriptions
from infra_bootstrap.errors import ConflictError, UsageError
from infra_bootstrap.findings import Finding
from infra_bootstrap.reader import function_tags
from infra_bootstrap.sessions import AccountSessions
from infra_bootstrap.topology import Service, Stage

Declared = Callable[[str], Sequence[SubscriptionLike]]


def service_findings(stage: Stage, sessions: AccountSessions, *,
                     declared: Declared = declared_subscriptions,
                     app_names: Mapping[str, str] | None = None) -> list[Finding]:
    """The findings of every service of the stage (empty when all is deployed and wired).

    ``app_names`` maps a service to its Chalice app name (default: the service name,
    which is what the services' apps are called).
    """
    found: list[Finding] = []
    for service in stage.services:
        app_name = (app_names or {}).get(service.name, service.name)
        try:
            subscriptions = tuple(declared(service.name))
        except UsageError:
            # No Chalice app folder: a service of the topology that publishes and
            # subscribes from elsewhere (README, "Forwarding"); nothing here deploys it.
            continue
        found += _findings(stage, sessions, service, subscriptions, app_name)
    return found


def _findings(stage: Stage, sessions: AccountSessions, service: Service,
              subscriptions: tuple[SubscriptionLike, ...], app_name: str) -> list[Finding]:
    label = f"service {service.name}"
    deploy_hint = (f"run `chalice deploy --stage {stage.name}` in "
                   f"{names.service_app_dir(service.name)}/ with the account's credentials")
    try:
        recorded: dict[str, str] | None = subscribing.deployed_function_arns(stage,
                                                                             service.name)
    except UsageError:
        recorded = None  # not deployed from this folder: ask the Lambda API below
    wanted = recorded if recorded is not None else {
        sub.name: names.lambda_function_arn(
            stage.region, service.account,
            names.lambda_function_name(app_name, stage.name, sub.name))
        for sub in subscriptions}
    existing = _existing(stage, sessions, wanted)
    found: list[Finding] = []
    if recorded is not None:
        found += [Finding(service.account, f"function {names.lambda_function_of(arn)[1]}",
                          f"recorded in .chalice/deployed/{stage.name}.json but it does "
                          f"not exist: {deploy_hint}")
                  for logical, arn in sorted(recorded.items()) if logical not in existing]
    elif subscriptions and not existing:
        return [Finding(service.account, label, f"no function deployed for stage "
                        f"{stage.name}: {deploy_hint}")]
    missing = [sub for sub in subscriptions if sub.name not in existing]
    found += [Finding(service.account, f"subscription {sub.name}", "its function is not "
                      f"deployed: {deploy_hint}") for sub in missing]
    wired = [sub for sub in subscriptions if sub.name in existing]
    try:
        result = subscribing.subscribe(
            stage, sessions, {service.name: {s.name: existing[s.name] for s in wired}},
            subscriptions={service.name: wired}, dry_run=True)
    except ConflictError as exc:
        return found + [Finding(service.account, label, line) for line in exc.lines]
    except UsageError as exc:
        return [*found, Finding(service.account, label, str(exc))]
    # The rules of subscriptions whose function is missing are reported above already.
    unreachable = tuple(names.subscription_rule_name(service.name, sub.name) for sub in missing)
    found += [Finding(call.account, label, f"not subscribed as declared: "
                      f"{call.description} (`subscribe` repairs it)")
              for call in result.calls if call.mutating
              and not any(rule in call.description for rule in unreachable)]
    return found


def _existing(stage: Stage, sessions: AccountSessions, wanted: Mapping[str, str]
              ) -> dict[str, str]:
    """The logical names in ``wanted`` whose function exists, with their ARNs."""
    by_account: dict[str, set[str]] = {}
    for arn in wanted.values():
        account, function = names.lambda_function_of(arn)
        by_account.setdefault(account, set()).add(function)
    tags = function_tags(stage, sessions, by_account)
    return {logical: arn for logical, arn in wanted.items()
            if tags.get(names.lambda_function_of(arn)) is not None}
