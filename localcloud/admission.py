"""Admission of events onto a bus: PutEvents validation, the caller, the bus, and the bus's
resource policy, for a publisher and for a rule forwarding from another bus.

The pure checks come first (AWS's limits and error texts); :class:`Admission` then asks
the control plane (:class:`~localcloud.state.CloudState`) for bus policies and
organization ids and memoizes its decisions.

>>> resolve_bus("arn:aws:events:eu-west-1:111111111111:event-bus/g", Caller("2", "x"))
BusRef(account='111111111111', region='eu-west-1', name='g')
>>> check_entry({"Source": "s", "DetailType": "d", "Detail": "[1]"})[1].code
'MalformedDetail'
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from localcloud import arns
from localcloud.arns import BusRef
from localcloud.cache import BoundedCache
from localcloud.envelope import RoutedEvent, build_event, format_time
from localcloud.errors import AwsApiError
from localcloud.permissions import decide
from localcloud.policy import Decision, Principal
from localcloud.state import CloudState

__all__ = [
    "Admission",
    "BusRef",
    "Caller",
    "EntryError",
    "check_entry",
    "check_request",
    "entry_size",
    "resolve_bus",
]

# PutEvents limits. Source: EventBridge API Reference, PutEvents (Entries: 1 to 10 items)
# and EventBridge User Guide, "Calculating PutEvents event entry size" (256 KB in total).
MAX_ENTRIES = 10
MAX_REQUEST_BYTES = 256 * 1024
TIME_ENTRY_BYTES = 14
# DetailType: "Free-form string, with a maximum of 128 characters" (API Reference,
# PutEventsRequestEntry); the entry fails with InvalidArgument (wording inferred).
# TraceHeader: 1 to 500 characters (botocore events service-2.json, shape TraceHeader),
# a model constraint, so the whole call fails with ValidationException. Source and
# Resources have no length of their own in the API; the 256 KB entry size bounds them.
MAX_DETAIL_TYPE = 128
MAX_TRACE_HEADER = 500
_BUS_NAME = re.compile(r"^[/.\-_A-Za-z0-9]{1,256}$")


@dataclass(frozen=True)
class Caller:
    """Who signed the request: the account of its access key, its principal ARN (the
    assumed-role session ARN for STS credentials, the user ARN for an IAM user's key),
    and the region."""

    account: str
    region: str
    arn: str | None = None

    @property
    def principal_arn(self) -> str:
        return self.arn or arns.account_root(self.account)


@dataclass(frozen=True)
class EntryError:
    """Why one PutEvents entry failed: its ErrorCode and ErrorMessage."""

    code: str
    message: str


# --- pure request logic ---------------------------------------------------------------


def entry_size(entry: Mapping[str, Any]) -> int:
    """An entry's size by AWS's formula: Time 14 bytes if present, then the UTF-8 bytes of
    Source, DetailType, Detail and each Resources item ("Calculating PutEvents event
    entry size", EventBridge User Guide).

    >>> entry_size({"Source": "a", "DetailType": "bc", "Detail": "{}", "Time": 1})
    19
    """
    size = TIME_ENTRY_BYTES if entry.get("Time") is not None else 0
    for key in ("Source", "DetailType", "Detail"):
        value = entry.get(key)
        if isinstance(value, str):
            size += len(value.encode("utf-8"))
    for resource in entry.get("Resources") or ():
        if isinstance(resource, str):
            size += len(resource.encode("utf-8"))
    return size


def check_request(entries: Any) -> list[Mapping[str, Any]]:
    """Request-level validation of PutEvents; raises AwsApiError(ValidationException).

    >>> try:
    ...     check_request([{"Source": "s"}] * 11)
    ... except AwsApiError as error:
    ...     print(error.code, "/", error.message.split(": ")[-1])
    ValidationException / Member must have length less than or equal to 10
    """
    if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
        raise AwsApiError("ValidationException",
                          "1 validation error detected: Value at 'entries' failed to "
                          "satisfy constraint: Member must be a list of PutEventsRequestEntry")
    if not entries:
        raise AwsApiError("ValidationException",
                          "1 validation error detected: Value '[]' at 'entries' failed to "
                          "satisfy constraint: Member must have length greater than or "
                          "equal to 1")
    if len(entries) > MAX_ENTRIES:
        raise AwsApiError("ValidationException",
                          "1 validation error detected: Value '[PutEventsRequestEntry]' at "
                          "'entries' failed to satisfy constraint: Member must have length "
                          "less than or equal to 10")
    for number, entry in enumerate(entries, start=1):
        trace = entry.get("TraceHeader")
        if isinstance(trace, str) and not 1 <= len(trace) <= MAX_TRACE_HEADER:
            bound = ("less than or equal to 500" if trace else "greater than or equal to 1")
            raise AwsApiError("ValidationException", "1 validation error detected: Value "
                              f"at 'entries.{number}.member.traceHeader' failed to satisfy "
                              f"constraint: Member must have length {bound}")
    if sum(entry_size(e) for e in entries) > MAX_REQUEST_BYTES:
        raise AwsApiError("ValidationException",
                          "Total size of the entries in the request is over the limit.")
    return entries


def check_entry(entry: Mapping[str, Any]) -> tuple[dict[str, Any] | None, EntryError | None]:
    """Per-entry validation: (parsed Detail, None) or (None, the entry's error).

    Codes and messages as AWS returns them (PutEventsResultEntry: InvalidArgument,
    MalformedDetail, NotAuthorizedForSourceException).
    """
    for key in ("Source", "DetailType", "Detail"):
        value = entry.get(key)
        if not isinstance(value, str) or not value:
            return None, EntryError("InvalidArgument", f"Parameter {key} is not valid. "
                                    f"Reason: {key} is a required argument.")
    if len(entry["DetailType"]) > MAX_DETAIL_TYPE:
        return None, EntryError("InvalidArgument", "Parameter DetailType is not valid. "
                                f"Reason: DetailType exceeds {MAX_DETAIL_TYPE} characters.")
    if entry["Source"].startswith("aws."):
        # Custom events may not use an AWS service's source (EventBridge User Guide,
        # "Sending events with PutEvents").
        return None, EntryError("NotAuthorizedForSourceException", "Not authorized for the "
                                "source.")
    try:
        detail = json.loads(entry["Detail"], parse_constant=_not_json, parse_float=_finite)
    except (ValueError, RecursionError):
        detail = None
    if not isinstance(detail, dict):
        # Detail: "A valid JSON object" (API Reference, PutEventsRequestEntry).
        return None, EntryError("MalformedDetail", "Detail is malformed.")
    resources = entry.get("Resources")
    if resources is not None and not (isinstance(resources, list)
                                      and all(isinstance(r, str) for r in resources)):
        return None, EntryError("InvalidArgument", "Parameter Resources is not valid.")
    try:
        format_time(entry.get("Time"))
    except (ValueError, TypeError, OverflowError, OSError):
        # A Time that is no timestamp fails its entry, not the whole call (inferred:
        # AWS documents Time only as "Type: Timestamp", API PutEventsRequestEntry).
        return None, EntryError("InvalidArgument", "Parameter Time is not valid.")
    return detail, None


def _not_json(literal: str) -> Any:
    """NaN and Infinity are not JSON (RFC 8259): Python's parser accepts them."""
    raise ValueError(f"{literal} is not valid JSON")


def _finite(text: str) -> float:
    """A JSON number that fits a double; 1e400 would come back out as Infinity."""
    value = float(text)
    if math.isinf(value):
        raise ValueError(f"{text} is out of range")
    return value


def resolve_bus(name_or_arn: str | None, caller: Caller) -> BusRef:
    """A bus by name (the caller's account and region) or by ARN (any account).

    Source: EventBridge API Reference, PutEventsRequestEntry.EventBusName ("the name or
    ARN of the event bus"; default: the caller's default bus).
    """
    if not name_or_arn:
        return BusRef(caller.account, caller.region, "default")
    by_arn = arns.parse_event_bus(name_or_arn)
    if by_arn is not None:
        return by_arn
    if not _BUS_NAME.match(name_or_arn) or name_or_arn.startswith("arn:"):
        raise AwsApiError("ValidationException", f"Parameter EventBusName is not valid: "
                          f"{name_or_arn}")
    return BusRef(caller.account, caller.region, name_or_arn)


def strip_condition_key(policy: str, key: str) -> str:
    """The policy with every condition on ``key`` removed (to tell why an entry was denied).

    >>> strip_condition_key('{"Statement": [{"Condition": {"StringEquals": '
    ...                     '{"events:source": "a"}}}]}', "events:source")
    '{"Statement": [{"Condition": {}}]}'
    """
    document = json.loads(policy)
    statements = document.get("Statement", [])
    for statement in statements if isinstance(statements, list) else [statements]:
        for operator, conditions in list((statement.get("Condition") or {}).items()):
            if isinstance(conditions, dict):
                for name in [n for n in conditions if n.lower() == key]:
                    del conditions[name]
                if not conditions:
                    del statement["Condition"][operator]
    return json.dumps(document)


def publisher_error(caller: Caller, bus_arn: str, policy: str | None,
                    entry: Mapping[str, Any], org_id: str | None, *,
                    same_account: bool = False) -> EntryError | None:
    """Why the bus's resource policy refuses this entry from ``caller``, or None. Pure.

    Another account's caller needs an Allow; a caller of the bus's own account is
    refused only by an explicit Deny (IAM User Guide, "Policy evaluation logic" and
    "Cross-account policy evaluation logic"). aws:PrincipalAccount and aws:PrincipalArn
    (the role ARN for an assumed-role session) are derived from the principal by
    ``policy.evaluate``.
    """
    principal = Principal(account=caller.account, arn=caller.principal_arn)
    context: dict[str, str] = {"events:source": entry["Source"],
                               "events:detail-type": entry["DetailType"]}
    if org_id:
        context["aws:PrincipalOrgID"] = org_id

    def decision_for(document: str | None) -> Decision:
        return decide(document, principal=principal, action="events:PutEvents",
                      resource=bus_arn, context=context)

    decision = decision_for(policy)
    if decision is Decision.ALLOW or (same_account and decision is not Decision.EXPLICIT_DENY):
        return None
    if policy and decision is Decision.IMPLICIT_DENY:
        # Tell which condition refused it, as AWS's per-entry error codes do
        # (PutEventsResultEntry: NotAuthorizedForSourceException,
        # NotAuthorizedForDetailTypeException, AccessDeniedException).
        if decision_for(strip_condition_key(policy, "events:source")) is Decision.ALLOW:
            return EntryError("NotAuthorizedForSourceException", "Not authorized for the source.")
        if decision_for(strip_condition_key(policy, "events:detail-type")) is Decision.ALLOW:
            return EntryError("NotAuthorizedForDetailTypeException",
                              "Not authorized for the detail type.")
    why = ("with an explicit deny in a resource-based policy"
           if decision is Decision.EXPLICIT_DENY
           else "because no resource-based policy allows the events:PutEvents action")
    return EntryError("AccessDeniedException",
                      f"User: {caller.principal_arn} is not authorized to perform: "
                      f"events:PutEvents on resource: {bus_arn} {why}")


# --- admission against the control plane -------------------------------------------------


class Admission:
    """Decides which entries a bus accepts, and whether a rule may forward to a bus."""

    def __init__(self, state: CloudState, decisions: BoundedCache) -> None:
        self.state = state
        self._decisions = decisions

    def admit(self, caller: Caller, entries: Any, *, room: int
              ) -> tuple[list[dict[str, str]], list[tuple[BusRef, RoutedEvent]]]:
        """PutEvents admission: (the result entries, the accepted events and their buses).

        ``room`` is how many more events the data plane takes now; entries beyond it fail
        with the retryable ThrottlingException (API PutEventsResultEntry: "The request
        was denied due to request throttling").
        """
        entries = check_request(entries)
        results: list[dict[str, str]] = []
        accepted: list[tuple[BusRef, RoutedEvent]] = []
        org_ids: dict[str, str | None] = {}
        for entry in entries:
            bus = resolve_bus(entry.get("EventBusName"), caller)
            if not self.state.bus_exists(bus):
                # An unknown bus fails the call, never a silent drop (AWS answers
                # ResourceNotFoundException "Event bus <name> does not exist.").
                raise AwsApiError("ResourceNotFoundException",
                                  f"Event bus {bus.name} does not exist.")
            detail, error = check_entry(entry)
            if error is None:
                if caller.account not in org_ids:
                    org_ids[caller.account] = (self.state.organization_id(caller.account)
                                               if bus.account != caller.account else None)
                error = self._publisher(caller, bus, entry, org_ids[caller.account])
            if error is None and len(accepted) >= room:
                error = EntryError("ThrottlingException", "Rate exceeded.")
            if error is not None:
                results.append({"ErrorCode": error.code, "ErrorMessage": error.message})
                continue
            assert detail is not None
            event = build_event(entry, detail, account=caller.account, region=bus.region)
            results.append({"EventId": event.envelope["id"]})
            accepted.append((bus, event))
        return results, accepted

    def _publisher(self, caller: Caller, bus: BusRef, entry: Mapping[str, Any],
                   org_id: str | None) -> EntryError | None:
        """A PutEvents entry against the target bus's resource policy. Source: EventBridge
        User Guide, "Permissions for event buses" and "Using IAM policy conditions"
        (events:source, events:detail-type, aws:PrincipalOrgID)."""
        policy = self.state.bus_policy(bus)
        same_account = bus.account == caller.account
        if same_account and not policy:
            return None
        key = ("publish", policy, caller, bus.arn, entry["Source"], entry["DetailType"], org_id)
        error: EntryError | None = self._decisions.memo(key, lambda: publisher_error(
            caller, bus.arn, policy, entry, org_id, same_account=same_account))
        return error

    def admits_forward(self, event: RoutedEvent, bus: BusRef, sender: Principal, *,
                       rule_arn: str, rule_account: str) -> bool:
        """Does the receiving bus's policy admit an event a rule forwards from another bus?

        An Allow for another account's sender, no explicit Deny for a sender of the bus's
        own account (IAM User Guide, "Policy evaluation logic"); the request context as
        EventBridge sends it for a bus target (``events:eventBusInvocation``, the rule as
        ``aws:SourceArn``; EventBridge User Guide, "Using IAM policy conditions").
        """
        policy = self.state.bus_policy(bus)
        same_account = sender.account == bus.account
        if same_account and not policy:
            return True
        envelope = event.envelope
        key = ("forward", policy, sender, bus.arn, rule_arn, envelope["source"],
               envelope["detail-type"])

        def admitted() -> bool:
            context: dict[str, str | Sequence[str]] = {
                "aws:PrincipalAccount": sender.account or "",
                "aws:PrincipalArn": sender.arn or "",
                "aws:SourceArn": rule_arn,
                "aws:SourceAccount": rule_account,
                "events:source": envelope["source"],
                "events:detail-type": envelope["detail-type"],
                "events:eventBusInvocation": "true",
            }
            org_id = self.state.organization_id(sender.account) if sender.account else None
            if org_id:
                context["aws:PrincipalOrgID"] = org_id
            decision = decide(policy, principal=sender, action="events:PutEvents",
                              resource=bus.arn, context=context)
            return decision is Decision.ALLOW or (same_account
                                                  and decision is not Decision.EXPLICIT_DENY)
        return bool(self._decisions.memo(key, admitted))
