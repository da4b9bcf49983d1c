"""Authentication on the endpoint, as AWS answers it: requests need SigV4 credentials the
local cloud knows, the account is the access key's, STS AssumeRole enforces trust.

Sources: Common Errors of the API references (query protocol codes); AWS's recorded JSON
protocol answers ("The security token included in the request is invalid."); Amazon S3
API Reference, "Error responses"; IAM User Guide, "IAM roles" (trust policies); AWS
Organizations User Guide (OrganizationAccountAccessRole).
"""

from __future__ import annotations

import json
from typing import Any

import boto3
import botocore.exceptions
import pytest
import requests
from botocore.config import Config
from dataplane_support import REGION, Cloud, signed_request

from localcloud.endpoint import Endpoint

MANAGEMENT = "123456789012"
PLAIN = {"aws_access_key_id": "local", "aws_secret_access_key": "local"}


def client(endpoint: Endpoint, service: str, **credentials: str) -> Any:
    return boto3.client(service, endpoint_url=endpoint.url, region_name=REGION,
                        **(credentials or PLAIN))


def error_of(call: Any, *args: Any, **kwargs: Any) -> tuple[int, str, str]:
    with pytest.raises(botocore.exceptions.ClientError) as failed:
        call(*args, **kwargs)
    response = failed.value.response
    return (response["ResponseMetadata"]["HTTPStatusCode"], response["Error"]["Code"],
            response["Error"].get("Message", ""))


# --- who may call at all -------------------------------------------------------------------


def test_an_unsigned_request_is_refused_in_each_protocol(endpoint: Endpoint) -> None:
    json_call = requests.post(endpoint.url, data=b'{"Entries": []}', timeout=10, headers={
        "X-Amz-Target": "AWSEvents.PutEvents",
        "Content-Type": "application/x-amz-json-1.1"})
    query_call = requests.post(endpoint.url, data="Action=GetCallerIdentity&Version=2011-06-15",
                               timeout=10,
                               headers={"Content-Type": "application/x-www-form-urlencoded"})
    rest_json_call = requests.get(f"{endpoint.url}/2015-03-31/functions/", timeout=10)
    s3_call = requests.get(f"{endpoint.url}/some-bucket", timeout=10)

    assert (json_call.status_code, json_call.json()) == (400, {
        "__type": "MissingAuthenticationTokenException",
        "message": "Request is missing Authentication Token"})
    assert query_call.status_code == 403
    assert "<Code>MissingAuthenticationToken</Code>" in query_call.text
    assert rest_json_call.status_code == 403
    assert rest_json_call.headers["x-amzn-ErrorType"] == "MissingAuthenticationTokenException"
    assert s3_call.status_code == 403
    assert "<Code>AccessDenied</Code>" in s3_call.text


def test_an_unknown_access_key_is_unrecognized(endpoint: Endpoint) -> None:
    stranger = {"aws_access_key_id": "AKIAIOSFODNN7EXAMPLE",
                "aws_secret_access_key": "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"}

    assert error_of(client(endpoint, "events", **stranger).list_event_buses) == (
        400, "UnrecognizedClientException",
        "The security token included in the request is invalid.")
    assert error_of(client(endpoint, "sts", **stranger).get_caller_identity)[:2] == (
        403, "InvalidClientTokenId")
    assert error_of(client(endpoint, "lambda", **stranger).list_functions)[:2] == (
        403, "UnrecognizedClientException")


def test_a_wrong_secret_does_not_match_the_signature(endpoint: Endpoint) -> None:
    wrong = {"aws_access_key_id": "local", "aws_secret_access_key": "not-local"}

    assert error_of(client(endpoint, "events", **wrong).list_event_buses)[:2] == (
        400, "InvalidSignatureException")
    assert error_of(client(endpoint, "sts", **wrong).get_caller_identity)[:2] == (
        403, "SignatureDoesNotMatch")


def test_temporary_credentials_need_their_session_token(endpoint: Endpoint) -> None:
    creds = client(endpoint, "sts").assume_role(
        RoleArn="arn:aws:iam::210000000001:role/OrganizationAccountAccessRole",
        RoleSessionName="session")["Credentials"]
    without_token = {"aws_access_key_id": creds["AccessKeyId"],
                     "aws_secret_access_key": creds["SecretAccessKey"]}
    forged_token = {**without_token, "aws_session_token": "forged"}

    assert error_of(client(endpoint, "logs", **without_token).describe_log_groups)[:2] == (
        400, "UnrecognizedClientException")
    assert error_of(client(endpoint, "logs", **forged_token).describe_log_groups)[:2] == (
        400, "UnrecognizedClientException")


def test_a_request_signed_long_ago_has_expired(endpoint: Endpoint) -> None:
    answer = signed_request(endpoint.url, "events", b"{}", {
        "X-Amz-Target": "AWSEvents.ListEventBuses",
        "Content-Type": "application/x-amz-json-1.1"}, amz_date="20200101T000000Z")

    assert answer.status_code == 400
    assert answer.json()["__type"] == "InvalidSignatureException"
    assert answer.json()["message"].startswith("Signature expired: 20200101T000000Z is now "
                                               "earlier than ")


# --- which account ---------------------------------------------------------------------------


def test_plain_local_keys_act_in_the_management_account(endpoint: Endpoint) -> None:
    identity = client(endpoint, "sts", aws_access_key_id="test",
                      aws_secret_access_key="test").get_caller_identity()

    assert identity["Account"] == MANAGEMENT


def test_moto_account_header_from_outside_chooses_nothing(endpoint: Endpoint) -> None:
    sts = client(endpoint, "sts")

    def add_header(request: Any, **_: Any) -> None:
        request.headers["x-moto-account-id"] = "111111111111"

    sts.meta.events.register("before-sign.sts.*", add_header)

    assert sts.get_caller_identity()["Account"] == MANAGEMENT
    events = client(endpoint, "events")
    events.meta.events.register("before-sign.events.*", add_header)
    events.create_event_bus(Name="made-with-a-forged-header")
    buses = {bus["Name"]: bus["Arn"] for bus in events.list_event_buses()["EventBuses"]}
    assert f":{MANAGEMENT}:event-bus/made-with-a-forged-header" in \
        buses["made-with-a-forged-header"]


def test_the_account_of_assumed_credentials_is_the_roles(cloud: Cloud) -> None:
    account = cloud.new_account()

    identity = cloud.client(account, "sts").get_caller_identity()

    assert identity["Account"] == account
    assert identity["Arn"] == (f"arn:aws:sts::{account}:assumed-role/"
                               "OrganizationAccountAccessRole/component-test")


def test_an_iam_users_access_key_acts_as_that_user(cloud: Cloud) -> None:
    account = cloud.new_account()
    iam = cloud.client(account, "iam")
    iam.create_user(UserName="ops")
    key = iam.create_access_key(UserName="ops")["AccessKey"]

    as_ops = client(cloud.endpoint, "sts", aws_access_key_id=key["AccessKeyId"],
                    aws_secret_access_key=key["SecretAccessKey"])

    identity = as_ops.get_caller_identity()
    iam.update_access_key(UserName="ops", AccessKeyId=key["AccessKeyId"], Status="Inactive")

    assert identity["Account"] == account
    assert identity["Arn"] == f"arn:aws:iam::{account}:user/ops"
    assert error_of(as_ops.get_caller_identity)[:2] == (403, "InvalidClientTokenId")


@pytest.mark.parametrize("version", [None, "s3v4"], ids=["SigV2 (boto3's default)", "SigV4"])
def test_a_presigned_s3_url_works_and_a_changed_one_does_not(cloud: Cloud, version: str | None
                                                             ) -> None:
    account = cloud.new_account()
    s3 = cloud.client_with(cloud.credentials(account), "s3",
                           config=Config(signature_version=version))
    bucket = f"presigned-{version or 'v2'}-{account}"
    s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": REGION})
    s3.put_object(Bucket=bucket, Key="note.txt", Body=b"hello")
    url = s3.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "note.txt"},
                                    ExpiresIn=60)

    fetched = requests.get(url, timeout=10)
    changed = requests.get(url.replace("note.txt", "other.txt"), timeout=10)

    assert (fetched.status_code, fetched.content) == (200, b"hello")
    assert changed.status_code == 403
    assert "<Code>SignatureDoesNotMatch</Code>" in changed.text


def test_api_gateway_invoke_urls_need_no_credentials(endpoint: Endpoint) -> None:
    answer = requests.get(f"{endpoint.url}/restapis/nosuchapi/api/_user_request_/orders",
                          timeout=10)

    forged = requests.get(f"{endpoint.url}/restapis/nosuchapi/api/_user_request_/orders",
                          headers={"Authorization": "AWS4-HMAC-SHA256 garbage"}, timeout=10)

    # Credentials play no part: with none, or a forged signature, the answer is API
    # Gateway's own for an unknown API (403 "Missing Authentication Token"), never an
    # authentication error of the AWS endpoint.
    assert answer.json() == forged.json() == {"message": "Missing Authentication Token"}


# --- STS AssumeRole and trust ------------------------------------------------------------------


def test_every_account_has_an_organization_role_trusting_the_management_account(
        cloud: Cloud) -> None:
    account = cloud.new_account()

    role = cloud.client(account, "iam").get_role(
        RoleName="OrganizationAccountAccessRole")["Role"]
    policy = cloud.client(account, "iam").get_role_policy(
        RoleName="OrganizationAccountAccessRole", PolicyName="AdministratorAccess")

    assert role["AssumeRolePolicyDocument"]["Statement"] == [{
        "Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{MANAGEMENT}:root"},
        "Action": "sts:AssumeRole"}]
    assert policy["PolicyDocument"]["Statement"] == [
        {"Effect": "Allow", "Action": "*", "Resource": "*"}]


def test_one_member_account_cannot_assume_anothers_organization_role(cloud: Cloud) -> None:
    order, bus = cloud.new_account(), cloud.new_account()
    target = f"arn:aws:iam::{bus}:role/OrganizationAccountAccessRole"

    status, code, message = error_of(cloud.client(order, "sts").assume_role,
                                     RoleArn=target, RoleSessionName="attack")

    assert (status, code) == (403, "AccessDenied")
    assert message == (f"User: arn:aws:sts::{order}:assumed-role/OrganizationAccountAccessRole/"
                       f"component-test is not authorized to perform: sts:AssumeRole on "
                       f"resource: {target}")


def test_a_role_that_does_not_exist_cannot_be_assumed(endpoint: Endpoint) -> None:
    target = "arn:aws:iam::210000000002:role/NoSuchRole"

    status, code, message = error_of(client(endpoint, "sts").assume_role, RoleArn=target,
                                     RoleSessionName="session")

    assert (status, code) == (403, "AccessDenied")
    assert message.endswith(f"on resource: {target}")


def test_a_role_trusting_only_eventbridge_refuses_every_account(cloud: Cloud) -> None:
    account = cloud.new_account()
    role_arn = cloud.client(account, "iam").create_role(
        RoleName="forward", AssumeRolePolicyDocument=json.dumps({
            "Version": "2012-10-17", "Statement": [{
                "Effect": "Allow", "Principal": {"Service": "events.amazonaws.com"},
                "Action": "sts:AssumeRole"}]}))["Role"]["Arn"]

    from_same_account = error_of(cloud.client(account, "sts").assume_role, RoleArn=role_arn,
                                 RoleSessionName="session")
    from_management = error_of(client(cloud.endpoint, "sts").assume_role, RoleArn=role_arn,
                               RoleSessionName="session")

    assert from_same_account[:2] == from_management[:2] == (403, "AccessDenied")


def test_an_external_id_condition_admits_only_the_right_id(cloud: Cloud) -> None:
    account = cloud.new_account()
    role_arn = cloud.client(account, "iam").create_role(
        RoleName="vendor", AssumeRolePolicyDocument=json.dumps({
            "Version": "2012-10-17", "Statement": [{
                "Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{MANAGEMENT}:root"},
                "Action": "sts:AssumeRole",
                "Condition": {"StringEquals": {"sts:ExternalId": "agreed"}}}]}))["Role"]["Arn"]
    sts = client(cloud.endpoint, "sts")

    granted = sts.assume_role(RoleArn=role_arn, RoleSessionName="session", ExternalId="agreed")

    assert granted["AssumedRoleUser"]["Arn"] == (
        f"arn:aws:sts::{account}:assumed-role/vendor/session")
    assert error_of(sts.assume_role, RoleArn=role_arn, RoleSessionName="session",
                    ExternalId="guessed")[:2] == (403, "AccessDenied")
    assert error_of(sts.assume_role, RoleArn=role_arn, RoleSessionName="session")[:2] == (
        403, "AccessDenied")


def test_lambda_assumes_an_execution_role_that_trusts_it(cloud: Cloud) -> None:
    account = cloud.new_account()
    iam = cloud.client(account, "iam")
    trust = {"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"},
        "Action": "sts:AssumeRole",
        "Condition": {"StringEquals": {"aws:SourceAccount": account}}}]}
    role_arn = iam.create_role(RoleName="exec", AssumeRolePolicyDocument=json.dumps(trust)
                               )["Role"]["Arn"]
    function_arn = f"arn:aws:lambda:{REGION}:{account}:function:f"
    sts = cloud.endpoint.sts
    assert sts is not None

    session = sts.assume_role_as_service(role_arn, "lambda.amazonaws.com",
                                         source_arn=function_arn, source_account=account,
                                         session_name="f")
    identity = client(cloud.endpoint, "sts", aws_access_key_id=session.access_key,
                      aws_secret_access_key=session.secret,
                      aws_session_token=session.session_token or "").get_caller_identity()

    assert identity["Arn"] == f"arn:aws:sts::{account}:assumed-role/exec/f"
    with pytest.raises(Exception, match="AccessDenied"):
        sts.assume_role_as_service(role_arn, "lambda.amazonaws.com",
                                   source_arn=function_arn, source_account="999999999999",
                                   session_name="f")


def test_across_accounts_a_session_needs_its_own_role_to_allow_assume_role(
        cloud: Cloud) -> None:
    home, other = cloud.new_account(), cloud.new_account()
    trust_home = json.dumps({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{home}:root"},
        "Action": "sts:AssumeRole"}]})
    target = cloud.client(other, "iam").create_role(
        RoleName="shared", AssumeRolePolicyDocument=trust_home)["Role"]["Arn"]
    limited = cloud.client(home, "iam").create_role(
        RoleName="limited", AssumeRolePolicyDocument=trust_home)["Role"]["Arn"]
    cloud.client(home, "iam").put_role_policy(
        RoleName="limited", PolicyName="logs-only", PolicyDocument=json.dumps({
            "Version": "2012-10-17", "Statement": [{
                "Effect": "Allow", "Action": "logs:*", "Resource": "*"}]}))
    creds = cloud.client(home, "sts").assume_role(RoleArn=limited,
                                                  RoleSessionName="narrow")["Credentials"]
    as_limited = client(cloud.endpoint, "sts", aws_access_key_id=creds["AccessKeyId"],
                        aws_secret_access_key=creds["SecretAccessKey"],
                        aws_session_token=creds["SessionToken"])

    as_admin = cloud.client(home, "sts").assume_role(RoleArn=target,
                                                     RoleSessionName="admin")

    assert as_admin["AssumedRoleUser"]["Arn"] == (
        f"arn:aws:sts::{other}:assumed-role/shared/admin")
    assert error_of(as_limited.assume_role, RoleArn=target,
                    RoleSessionName="narrow")[:2] == (403, "AccessDenied")
