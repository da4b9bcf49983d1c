"""PutEvents on the local endpoint: callers, buses, policies, validation, envelope, rules.

Each test names the AWS behaviour it specifies; the sources are cited in
localcloud/admission.py, matching.py, targets/bus.py and docs/local-cloud.md.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime

import pytest
from botocore.exceptions import ClientError
from dataplane_support import Cloud, put

ISO_SECONDS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


def allow_accounts(bus_arn: str, *accounts: str, condition: dict | None = None) -> dict:
    statement = {"Sid": "publishers", "Effect": "Allow",
                 "Principal": {"AWS": [f"arn:aws:iam::{a}:root" for a in accounts]},
                 "Action": "events:PutEvents", "Resource": bus_arn}
    if condition:
        statement["Condition"] = condition
    return {"Version": "2012-10-17", "Statement": [statement]}


def capture(cloud: Cloud, account: str, bus: str, name: str = "capture") -> str:
    """A catch-all rule on ``bus`` feeding a fresh queue; returns the queue URL."""
    rule_arn = f"arn:aws:events:eu-west-1:{account}:rule/{bus}/{name}"
    url, arn = cloud.queue(account, f"{bus}-{name}", allow_rule=rule_arn)
    cloud.rule(account, bus, name, [{"Id": "q", "Arn": arn}])
    return url


def bodies(cloud: Cloud, account: str, url: str) -> list[str]:
    return [m["Body"] for m in cloud.messages(account, url)]


# --- callers and buses ----------------------------------------------------------------


def test_the_publishing_account_comes_from_the_signing_credentials(cloud: Cloud) -> None:
    account = cloud.new_account()
    cloud.bus(account, "home")
    url = capture(cloud, account, "home")

    result = put(cloud.client(account, "events"), "home")

    cloud.idle()
    [body] = bodies(cloud, account, url)
    assert result["FailedEntryCount"] == 0
    assert json.loads(body)["account"] == account


def test_a_bus_named_without_arn_is_the_callers_own_and_an_unknown_name_drops_the_event(
        cloud: Cloud) -> None:
    # AWS answers success with an EventId and drops the event (recorded behaviour); the
    # local cloud counts the drop (unknown_bus), logs it and gives a console one line.
    owner, other = cloud.new_account(), cloud.new_account()
    cloud.bus(owner, "shared-name")
    url = capture(cloud, owner, "shared-name")
    router = cloud.endpoint.router
    assert router is not None
    before = router.stats["unknown_bus"]

    result = put(cloud.client(other, "events"), "shared-name")

    cloud.idle()
    assert result["FailedEntryCount"] == 0
    assert UUID.match(result["Entries"][0]["EventId"])
    assert bodies(cloud, owner, url) == []
    assert router.stats["unknown_bus"] >= before + 1
    assert any(f["eventId"] == result["Entries"][0]["EventId"] and f["code"] == "unknown_bus"
               for f in router.failures)
    _, console = router.notices.since(0)
    event_id = result["Entries"][0]["EventId"]
    assert f"DROPPED {event_id} Thing.Done: unknown_bus: event bus " \
           f"arn:aws:events:eu-west-1:{other}:event-bus/shared-name does not exist" in console


def test_an_unknown_bus_arn_fails_the_call_instead_of_dropping_events(cloud: Cloud) -> None:
    caller = cloud.new_account()
    missing = f"arn:aws:events:eu-west-1:{cloud.new_account()}:event-bus/nowhere"
    with pytest.raises(ClientError) as raised:
        put(cloud.client(caller, "events"), missing)
    assert raised.value.response["Error"]["Code"] == "ResourceNotFoundException"


def test_a_bus_arn_reaches_the_bus_in_another_account_when_its_policy_allows(
        cloud: Cloud) -> None:
    owner, publisher = cloud.new_account(), cloud.new_account()
    bus_arn = f"arn:aws:events:eu-west-1:{owner}:event-bus/global"
    cloud.bus(owner, "global", policy=allow_accounts(bus_arn, publisher))
    url = capture(cloud, owner, "global")

    result = put(cloud.client(publisher, "events"), bus_arn)

    cloud.idle()
    [body] = bodies(cloud, owner, url)
    assert result["FailedEntryCount"] == 0
    event = json.loads(body)
    assert event["account"] == publisher
    assert event["id"] == result["Entries"][0]["EventId"]


# --- cross-account policies --------------------------------------------------------------


def test_cross_account_entries_without_a_bus_policy_are_denied_and_not_routed(
        cloud: Cloud) -> None:
    owner, publisher = cloud.new_account(), cloud.new_account()
    bus_arn = cloud.bus(owner, "closed")
    url = capture(cloud, owner, "closed")

    result = put(cloud.client(publisher, "events"), bus_arn)

    cloud.idle()
    assert result["FailedEntryCount"] == 1
    [entry] = result["Entries"]
    # AWS names the caller by its assumed-role session ARN, not the role's IAM ARN.
    assert entry == {
        "ErrorCode": "AccessDeniedException",
        "ErrorMessage": f"User: arn:aws:sts::{publisher}:assumed-role/"
                        "OrganizationAccountAccessRole/component-test "
                        f"is not authorized to perform: events:PutEvents on resource: "
                        f"{bus_arn} because no resource-based policy allows the "
                        "events:PutEvents action"}
    assert bodies(cloud, owner, url) == []


def test_a_policy_naming_the_role_admits_its_sessions_and_sees_the_role_as_principal_arn(
        cloud: Cloud) -> None:
    owner, publisher = cloud.new_account(), cloud.new_account()
    bus_arn = f"arn:aws:events:eu-west-1:{owner}:event-bus/global"
    role = f"arn:aws:iam::{publisher}:role/OrganizationAccountAccessRole"
    cloud.bus(owner, "global", policy={"Version": "2012-10-17", "Statement": [
        {"Sid": "role", "Effect": "Allow", "Principal": {"AWS": role},
         "Action": "events:PutEvents", "Resource": bus_arn,
         "Condition": {"ArnEquals": {"aws:PrincipalArn": role}}}]})

    result = put(cloud.client(publisher, "events"), bus_arn)

    assert result["FailedEntryCount"] == 0


def test_an_explicit_deny_in_the_bus_policy_refuses_the_bus_own_account(cloud: Cloud) -> None:
    account = cloud.new_account()
    bus_arn = f"arn:aws:events:eu-west-1:{account}:event-bus/b"
    cloud.bus(account, "b", policy={"Version": "2012-10-17", "Statement": [
        {"Sid": "no-test-sources", "Effect": "Deny", "Principal": "*",
         "Action": "events:PutEvents", "Resource": bus_arn,
         "Condition": {"StringEquals": {"events:source": "blocked"}}}]})
    url = capture(cloud, account, "b")
    events = cloud.client(account, "events")

    allowed = put(events, "b", source="fine")
    denied = put(events, "b", source="blocked")

    cloud.idle()
    assert allowed["FailedEntryCount"] == 0
    assert denied["Entries"][0]["ErrorCode"] == "AccessDeniedException"
    assert denied["Entries"][0]["ErrorMessage"].endswith(
        "with an explicit deny in a resource-based policy")
    assert [json.loads(b)["source"] for b in bodies(cloud, account, url)] == ["fine"]


def test_events_source_condition_denies_other_sources_per_entry(cloud: Cloud) -> None:
    owner, publisher = cloud.new_account(), cloud.new_account()
    bus_arn = f"arn:aws:events:eu-west-1:{owner}:event-bus/global"
    cloud.bus(owner, "global", policy=allow_accounts(
        bus_arn, publisher, condition={"StringEquals": {"events:source": ["order-service"]}}))
    url = capture(cloud, owner, "global")
    entries = [{"EventBusName": bus_arn, "Source": source, "DetailType": "Order.Created",
                "Detail": "{}"} for source in ("order-service", "delivery-service")]

    result = cloud.client(publisher, "events").put_events(Entries=entries)

    cloud.idle()
    assert result["FailedEntryCount"] == 1
    allowed, denied = result["Entries"]
    assert "EventId" in allowed
    assert denied == {"ErrorCode": "NotAuthorizedForSourceException",
                      "ErrorMessage": "Not authorized for the source."}
    assert [json.loads(b)["source"] for b in bodies(cloud, owner, url)] == ["order-service"]


def test_events_detail_type_condition_denies_other_detail_types(cloud: Cloud) -> None:
    owner, publisher = cloud.new_account(), cloud.new_account()
    bus_arn = f"arn:aws:events:eu-west-1:{owner}:event-bus/global"
    cloud.bus(owner, "global", policy=allow_accounts(
        bus_arn, publisher, condition={"StringEquals": {"events:detail-type": ["A"]}}))

    result = put(cloud.client(publisher, "events"), bus_arn, detail_type="B")

    assert result["Entries"][0]["ErrorCode"] == "NotAuthorizedForDetailTypeException"


def test_principal_org_id_admits_accounts_of_the_organization_only(cloud: Cloud) -> None:
    owner, member, outsider = (cloud.new_account() for _ in range(3))
    org_id = cloud.client(member, "organizations").create_organization(
        FeatureSet="ALL")["Organization"]["Id"]
    bus_arn = f"arn:aws:events:eu-west-1:{owner}:event-bus/org-bus"
    policy = {"Version": "2012-10-17", "Statement": [{
        "Sid": "org", "Effect": "Allow", "Principal": "*", "Action": "events:PutEvents",
        "Resource": bus_arn,
        "Condition": {"StringEquals": {"aws:PrincipalOrgID": org_id}}}]}
    cloud.bus(owner, "org-bus", policy=policy)

    inside = put(cloud.client(member, "events"), bus_arn)
    outside = put(cloud.client(outsider, "events"), bus_arn)

    assert inside["FailedEntryCount"] == 0
    assert outside["Entries"][0]["ErrorCode"] == "AccessDeniedException"


# --- entry validation ----------------------------------------------------------------------


def test_more_than_ten_entries_fail_the_whole_call(cloud: Cloud) -> None:
    account = cloud.new_account()
    entry = {"Source": "s", "DetailType": "d", "Detail": "{}"}
    with pytest.raises(ClientError) as raised:
        cloud.client(account, "events").put_events(Entries=[entry] * 11)
    assert raised.value.response["Error"]["Code"] == "ValidationException"
    assert "less than or equal to 10" in raised.value.response["Error"]["Message"]


@pytest.mark.parametrize(("entry", "code", "message"), [
    ({"DetailType": "d", "Detail": "{}"}, "InvalidArgument",
     "Parameter Source is not valid. Reason: Source is a required argument."),
    ({"Source": "s", "Detail": "{}"}, "InvalidArgument",
     "Parameter DetailType is not valid. Reason: DetailType is a required argument."),
    ({"Source": "s", "DetailType": "d"}, "InvalidArgument",
     "Parameter Detail is not valid. Reason: Detail is a required argument."),
    ({"Source": "s", "DetailType": "d", "Detail": "{not json"}, "MalformedDetail",
     "Detail is malformed."),
    ({"Source": "s", "DetailType": "d", "Detail": "[1, 2]"}, "MalformedDetail",
     "Detail is malformed."),
    ({"Source": "s", "DetailType": "d", "Detail": '{"x": NaN}'}, "MalformedDetail",
     "Detail is malformed."),
    ({"Source": "s", "DetailType": "d", "Detail": '{"x": 1e400}'}, "MalformedDetail",
     "Detail is malformed."),
    ({"Source": "aws.s3", "DetailType": "d", "Detail": "{}"},
     "NotAuthorizedForSourceException", "Not authorized for the source."),
])
def test_invalid_entries_fail_alone_with_aws_error_codes(
        cloud: Cloud, entry: dict, code: str, message: str) -> None:
    account = cloud.new_account()
    good = {"Source": "s", "DetailType": "d", "Detail": "{}"}

    result = cloud.client(account, "events").put_events(Entries=[good, entry, good])

    assert result["FailedEntryCount"] == 1
    first, bad, last = result["Entries"]
    assert "EventId" in first and "EventId" in last
    assert bad == {"ErrorCode": code, "ErrorMessage": message}


def test_the_256_kb_limit_counts_entries_with_the_aws_size_formula(cloud: Cloud) -> None:
    account = cloud.new_account()
    events = cloud.client(account, "events")
    # Time (14) + Source (1) + DetailType (1) + Detail + one resource (3) per entry.
    overhead = 14 + 1 + 1 + 3
    detail_bytes = 256 * 1024 // 2 - overhead
    detail = json.dumps({"x": "y" * (detail_bytes - 9)})
    assert len(detail) == detail_bytes
    entry = {"Source": "s", "DetailType": "d", "Detail": detail, "Resources": ["r:1"],
             "Time": datetime(2024, 5, 1, tzinfo=UTC)}

    at_limit = events.put_events(Entries=[entry, entry])
    with pytest.raises(ClientError) as raised:
        events.put_events(Entries=[entry, {**entry, "Detail": detail[:-2] + "yy\"}"}])

    assert at_limit["FailedEntryCount"] == 0
    assert raised.value.response["Error"]["Code"] == "ValidationException"


# --- the envelope -------------------------------------------------------------------------


def test_the_envelope_has_every_field_and_the_entry_time(cloud: Cloud) -> None:
    account = cloud.new_account()
    cloud.bus(account, "b")
    url = capture(cloud, account, "b")

    result = put(cloud.client(account, "events"), "b", detail={"k": "v"},
                 Resources=["arn:aws:s3:::x"], Time=datetime(2024, 5, 1, 12, 30, 15, 999000,
                                                            tzinfo=UTC))

    cloud.idle()
    [body] = bodies(cloud, account, url)
    assert list(json.loads(body)) == ["version", "id", "detail-type", "source", "account",
                                      "time", "region", "resources", "detail"]
    assert json.loads(body) == {
        "version": "0", "id": result["Entries"][0]["EventId"], "detail-type": "Thing.Done",
        "source": "test.source", "account": account, "time": "2024-05-01T12:30:15Z",
        "region": "eu-west-1", "resources": ["arn:aws:s3:::x"], "detail": {"k": "v"}}


def test_without_time_the_envelope_time_is_now_to_the_second(cloud: Cloud) -> None:
    account = cloud.new_account()
    cloud.bus(account, "b")
    url = capture(cloud, account, "b")
    before = datetime.now(UTC).replace(microsecond=0)

    result = put(cloud.client(account, "events"), "b")

    cloud.idle()
    event = json.loads(bodies(cloud, account, url)[0])
    assert UUID.match(result["Entries"][0]["EventId"])
    assert ISO_SECONDS.match(event["time"])
    stamped = datetime.strptime(event["time"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    assert before <= stamped <= datetime.now(UTC)


def test_forwarding_keeps_the_envelope_byte_identical_across_accounts(cloud: Cloud) -> None:
    hub, spoke, publisher = (cloud.new_account() for _ in range(3))
    hub_arn = f"arn:aws:events:eu-west-1:{hub}:event-bus/hub"
    spoke_arn = f"arn:aws:events:eu-west-1:{spoke}:event-bus/spoke"
    cloud.bus(hub, "hub", policy=allow_accounts(hub_arn, publisher))
    cloud.bus(spoke, "spoke", policy=allow_accounts(spoke_arn, hub))
    hub_queue = capture(cloud, hub, "hub")
    spoke_queue = capture(cloud, spoke, "spoke")
    cloud.rule(hub, "hub", "forward", [{"Id": "spoke", "Arn": spoke_arn}])

    put(cloud.client(publisher, "events"), hub_arn, Resources=["r1"])

    cloud.idle()
    [at_hub] = bodies(cloud, hub, hub_queue)
    [at_spoke] = bodies(cloud, spoke, spoke_queue)
    assert at_spoke == at_hub
    assert json.loads(at_spoke)["account"] == publisher
    assert json.loads(at_spoke)["resources"] == ["r1"]


def test_an_event_from_another_bus_is_never_forwarded_to_a_third_bus(cloud: Cloud) -> None:
    first, second, third = (cloud.new_account() for _ in range(3))
    second_arn = f"arn:aws:events:eu-west-1:{second}:event-bus/b2"
    third_arn = f"arn:aws:events:eu-west-1:{third}:event-bus/b3"
    cloud.bus(first, "b1")
    cloud.bus(second, "b2", policy=allow_accounts(second_arn, first))
    cloud.bus(third, "b3", policy=allow_accounts(third_arn, second))
    third_queue = capture(cloud, third, "b3")
    hop_rule = f"arn:aws:events:eu-west-1:{second}:rule/b2/onward"
    dlq_url, dlq_arn = cloud.queue(second, "hop-dlq", allow_rule=hop_rule)
    cloud.rule(first, "b1", "out", [{"Id": "b2", "Arn": second_arn}])
    cloud.rule(second, "b2", "onward", [{"Id": "b3", "Arn": third_arn,
                                         "DeadLetterConfig": {"Arn": dlq_arn}}])

    put(cloud.client(first, "events"), "b1")
    direct = put(cloud.client(second, "events"), "b2")

    cloud.idle()
    [delivered] = bodies(cloud, third, third_queue)
    assert json.loads(delivered)["id"] == direct["Entries"][0]["EventId"]
    [dead] = cloud.messages(second, dlq_url)
    assert dead["MessageAttributes"]["ERROR_CODE"]["StringValue"] == "THIRD_ACCOUNT_HOP_DETECTED"
    assert json.loads(dead["Body"])["account"] == first


# --- rules -------------------------------------------------------------------------------


def test_a_disabled_rule_does_not_match(cloud: Cloud) -> None:
    account = cloud.new_account()
    cloud.bus(account, "b")
    url = capture(cloud, account, "b")
    events = cloud.client(account, "events")

    events.disable_rule(Name="capture", EventBusName="b")
    put(events, "b", detail={"when": "disabled"})
    cloud.idle()
    events.enable_rule(Name="capture", EventBusName="b")
    put(events, "b", detail={"when": "enabled"})
    cloud.idle()

    assert [json.loads(b)["detail"] for b in bodies(cloud, account, url)] == [
        {"when": "enabled"}]


def test_a_rule_enabled_with_all_cloudtrail_management_events_matches_custom_events(
        cloud: Cloud) -> None:
    # API PutRule, State: ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS is an enabled rule
    # that also receives read-only management events.
    account = cloud.new_account()
    cloud.bus(account, "b")
    rule_arn = f"arn:aws:events:eu-west-1:{account}:rule/b/trail"
    url, arn = cloud.queue(account, "trail", allow_rule=rule_arn)
    events = cloud.client(account, "events")
    events.put_rule(Name="trail", EventBusName="b", EventPattern='{"source": ["s"]}',
                    State="ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS")
    events.put_targets(Rule="trail", EventBusName="b", Targets=[{"Id": "q", "Arn": arn}])
    assert events.describe_rule(Name="trail", EventBusName="b")["State"] == (
        "ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS")

    put(events, "b", source="s")

    cloud.idle()
    assert len(bodies(cloud, account, url)) == 1


def test_rules_match_with_the_eventbridge_pattern_language(cloud: Cloud) -> None:
    account = cloud.new_account()
    cloud.bus(account, "b")
    rule_arn = f"arn:aws:events:eu-west-1:{account}:rule/b/big"
    url, arn = cloud.queue(account, "big", allow_rule=rule_arn)
    cloud.rule(account, "b", "big", [{"Id": "q", "Arn": arn}],
               pattern={"detail-type": [{"prefix": "Order."}],
                        "detail": {"total": [{"numeric": [">", 100]}]}})
    events = cloud.client(account, "events")

    for detail_type, total in (("Order.Created", 150), ("Order.Created", 50),
                               ("Delivery.Updated", 150)):
        put(events, "b", detail_type=detail_type, detail={"total": total})

    cloud.idle()
    assert [(json.loads(b)["detail-type"], json.loads(b)["detail"]["total"])
            for b in bodies(cloud, account, url)] == [("Order.Created", 150)]


def test_put_rule_rejects_an_invalid_pattern_with_aws_exception(cloud: Cloud) -> None:
    account = cloud.new_account()
    events = cloud.client(account, "events")
    with pytest.raises(ClientError) as raised:
        events.put_rule(Name="bad", EventPattern=json.dumps({"source": []}))
    assert raised.value.response["Error"]["Code"] == "InvalidEventPatternException"
    assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    with pytest.raises(ClientError):
        events.describe_rule(Name="bad")


def test_put_rule_with_a_valid_pattern_reaches_the_control_plane(cloud: Cloud) -> None:
    account = cloud.new_account()
    events = cloud.client(account, "events")
    pattern = json.dumps({"source": [{"anything-but": "x"}]})

    arn = events.put_rule(Name="good", EventPattern=pattern)["RuleArn"]

    assert events.describe_rule(Name="good")["Arn"] == arn
    assert json.loads(events.describe_rule(Name="good")["EventPattern"]) == json.loads(pattern)


def test_test_event_pattern_answers_with_the_local_matcher(cloud: Cloud) -> None:
    events = cloud.client(cloud.new_account(), "events")
    event = json.dumps({"id": "1", "account": "111111111111", "source": "order-service",
                        "time": "2024-01-01T00:00:00Z", "region": "eu-west-1",
                        "resources": [], "detail-type": "Order.Created",
                        "detail": {"ip": "10.0.0.7"}})

    def test(pattern: dict) -> bool:
        return events.test_event_pattern(EventPattern=json.dumps(pattern), Event=event)["Result"]

    assert test({"detail": {"ip": [{"cidr": "10.0.0.0/24"}]}}) is True
    assert test({"source": [{"anything-but": ["order-service"]}]}) is False
    with pytest.raises(ClientError) as raised:
        test({"source": [{"nonsense": 1}]})
    assert raised.value.response["Error"]["Code"] == "InvalidEventPatternException"
    with pytest.raises(ClientError) as missing_fields:
        events.test_event_pattern(EventPattern='{"source": ["x"]}',
                                  Event=json.dumps({"source": "x"}))
    assert missing_fields.value.response["Error"]["Code"] == "ValidationException"
