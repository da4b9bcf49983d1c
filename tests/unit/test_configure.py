"""`configure`: each service's Chalice stage config and least-privilege IAM policy."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import boto3
import pytest
from click.testing import CliRunner

from infra_bootstrap import configure, names, service_apps
from infra_bootstrap.cli import main
from infra_bootstrap.commands.services import shell_exports
from infra_bootstrap.errors import TopologyError, UsageError
from infra_bootstrap.topology import Credentials, Service, load_stage
from tests.topologies import DELIVERY_SERVICE, ORDER_SERVICE, stage_toml, write_topology

REPO = Path(__file__).resolve().parents[2]
BUS = "arn:aws:events:eu-west-1:111111111111:event-bus/global-bus"


@pytest.fixture
def stage(topology_file: Path):
    return load_stage("test", topology_file)


def _statement(policy: dict, sid: str) -> dict:
    (found,) = [s for s in policy["Statement"] if s["Sid"] == sid]
    return found


def _app_dirs(root: Path, stage) -> None:
    for service in stage.services:
        (root / names.service_app_dir(service.name)).mkdir()


# --- the committed files -----------------------------------------------------


def test_committed_local_configs_are_what_configure_generates(tmp_path: Path) -> None:
    local = load_stage("local")
    for service in local.services:
        chalice_dir = REPO / names.service_app_dir(service.name) / ".chalice"
        copy = tmp_path / names.service_app_dir(service.name) / ".chalice"
        copy.mkdir(parents=True)
        shutil.copy(chalice_dir / "config.json", copy / "config.json")
        shutil.copy(chalice_dir / "policy-local.json", copy / "policy-local.json")
        generated = configure.service_config(local, service)
        committed = json.loads((chalice_dir / "config.json").read_text())
        assert committed["app_name"] == service.name
        assert committed["version"] == "2.0"
        assert committed["stages"]["local"] == generated.stage_config
        assert json.loads((chalice_dir / "policy-local.json").read_text()) == generated.policy

    assert configure.write_service_configs(local, tmp_path) == []


# --- environment and timeout -------------------------------------------------


def test_environment_names_the_global_bus_the_service_and_its_table(stage) -> None:
    env = configure.service_environment(stage, stage.service("order-service"))

    assert env == {
        "GLOBAL_BUS_ARN": BUS,
        "SERVICE_NAME": "order-service",
        "TABLE_NAME": "order-service-state",
        "LOG_LEVEL": "INFO",
        "POWERTOOLS_SERVICE_NAME": "order-service",
        "POWERTOOLS_METRICS_NAMESPACE": "Backbone",
    }


def test_topology_environment_reaches_the_service_and_may_override_defaults(stage) -> None:
    service = Service("order-service", "222222222222", {"LOG_LEVEL": "DEBUG", "FEATURE": "on"})

    env = configure.service_environment(stage, service)

    assert env["LOG_LEVEL"] == "DEBUG"
    assert env["FEATURE"] == "on"


def test_topology_environment_may_not_set_derived_variables(stage) -> None:
    service = Service("order-service", "222222222222", {"TABLE_NAME": "other"})

    with pytest.raises(TopologyError, match="may not set TABLE_NAME"):
        configure.service_environment(stage, service)


def test_delivery_timeout_is_its_delay_plus_the_work_margin(stage) -> None:
    # The test topology sets DELIVERY_DELAY_SECONDS = "0".
    delivery = stage.service("delivery-service")
    assert configure.service_environment(stage, delivery)["DELIVERY_DELAY_SECONDS"] == "0"
    assert configure.lambda_timeout(stage, delivery) == configure.WORK_SECONDS

    local = load_stage("local")
    assert configure.lambda_timeout(local, local.service("delivery-service")) == 5 + 60
    assert configure.lambda_timeout(local, local.service("order-service")) == 60


def test_delivery_without_a_configured_delay_gets_the_default_five_seconds(stage) -> None:
    delivery = Service("delivery-service", "333333333333", {})

    assert configure.service_environment(stage, delivery)["DELIVERY_DELAY_SECONDS"] == "5"
    assert configure.lambda_timeout(stage, delivery) == 5 + 60


def test_fractional_delay_rounds_the_timeout_up(stage) -> None:
    delivery = Service("delivery-service", "333333333333", {"DELIVERY_DELAY_SECONDS": "12.5"})

    assert configure.lambda_timeout(stage, delivery) == 13 + 60


@pytest.mark.parametrize(("delay", "message"), [
    ("soon", "is not a number of seconds"),
    ("-1", "must be a non-negative number"),
    ("nan", "must be a non-negative number"),
    ("840.5", "exceeds Lambda's 900 s maximum timeout"),
])
def test_unusable_delay_is_a_topology_error(stage, delay: str, message: str) -> None:
    delivery = Service("delivery-service", "333333333333", {"DELIVERY_DELAY_SECONDS": delay})

    with pytest.raises(TopologyError, match=message):
        configure.lambda_timeout(stage, delivery)


def test_stage_config_uses_the_written_policy_and_tags_of_the_stage(stage) -> None:
    config = configure.chalice_stage_config(stage, stage.service("order-service"))

    assert config["autogen_policy"] is False
    assert config["iam_policy_file"] == "policy-test.json"
    assert config["api_gateway_stage"] == "api"
    # The route handler stops when API Gateway's 29 s integration timeout has answered 504.
    assert config["lambda_functions"] == {"api_handler": {"lambda_timeout": 29}}
    assert config["tags"] == {"backbone:project": "cross-account-backbone",
                              "backbone:stage": "test"}
    # Keys Chalice reads per stage (chalice.config.Config); nothing else is written.
    assert set(config) == {"api_gateway_stage", "environment_variables", "autogen_policy",
                           "iam_policy_file", "lambda_timeout", "lambda_functions",
                           "tags"}


# --- IAM policy --------------------------------------------------------------


def test_policy_publishes_only_to_the_global_bus(stage) -> None:
    policy = configure.iam_policy(stage, stage.service("delivery-service"))

    publish = _statement(policy, "PublishToGlobalBus")
    assert publish["Action"] == ["events:PutEvents"]
    assert publish["Resource"] == [BUS]
    events_actions = [a for s in policy["Statement"] for a in s["Action"]
                      if a.startswith("events:")]
    assert events_actions == ["events:PutEvents"]


def test_policy_reaches_only_the_service_own_table_with_item_actions(stage) -> None:
    policy = configure.iam_policy(stage, stage.service("delivery-service"))

    table = _statement(policy, "OwnTable")
    assert table["Resource"] == [
        "arn:aws:dynamodb:eu-west-1:333333333333:table/delivery-service-state"]
    # What backbone.store calls, nothing more (no Scan, no table-level actions).
    assert table["Action"] == ["dynamodb:DeleteItem", "dynamodb:GetItem", "dynamodb:PutItem",
                               "dynamodb:UpdateItem"]


def test_policy_writes_only_the_service_own_lambda_logs(stage) -> None:
    policy = configure.iam_policy(stage, stage.service("order-service"))

    # Chalice names the route handler <app>-<stage>, the other functions <app>-<stage>-<name>.
    groups = ["arn:aws:logs:eu-west-1:222222222222:log-group:/aws/lambda/order-service-test",
              "arn:aws:logs:eu-west-1:222222222222:log-group:/aws/lambda/order-service-test-*"]
    assert _statement(policy, "CreateOwnLogGroups") == {
        "Sid": "CreateOwnLogGroups", "Effect": "Allow",
        "Action": ["logs:CreateLogGroup"], "Resource": groups}
    assert _statement(policy, "WriteOwnLogs") == {
        "Sid": "WriteOwnLogs", "Effect": "Allow",
        "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
        "Resource": [f"{group}:log-stream:*" for group in groups]}


def test_policy_lets_lambda_send_failures_to_the_service_dlq(stage) -> None:
    policy = configure.iam_policy(stage, stage.service("order-service"))

    assert _statement(policy, "OnFailureToOwnDlq")["Resource"] == [
        "arn:aws:sqs:eu-west-1:222222222222:order-service-handler-dlq"]


def test_policy_has_no_wildcard_actions_or_resources_and_only_allows(stage) -> None:
    for service in stage.services:
        policy = configure.iam_policy(stage, service)
        for statement in policy["Statement"]:
            assert statement["Effect"] == "Allow"
            assert all(not action.endswith("*") for action in statement["Action"])
            assert all(resource.startswith("arn:aws:") for resource in statement["Resource"])


@pytest.mark.usefixtures("aws")
def test_iam_accepts_the_policy_documents(stage) -> None:
    iam = boto3.client("iam")
    for service in stage.services:
        document = json.dumps(configure.iam_policy(stage, service))
        created = iam.create_policy(PolicyName=f"{service.name}-test", PolicyDocument=document)
        assert created["Policy"]["Arn"].endswith(f":policy/{service.name}-test")


# --- the writer --------------------------------------------------------------


def test_writer_creates_config_and_policy_for_every_service(stage, tmp_path: Path) -> None:
    _app_dirs(tmp_path, stage)

    changed = configure.write_service_configs(stage, tmp_path)

    assert sorted(p.relative_to(tmp_path).as_posix() for p in changed) == [
        "delivery_service/.chalice/config.json",
        "delivery_service/.chalice/policy-test.json",
        "order_service/.chalice/config.json",
        "order_service/.chalice/policy-test.json",
    ]
    config = json.loads((tmp_path / "delivery_service/.chalice/config.json").read_text())
    assert config == {
        "version": "2.0",
        "app_name": "delivery-service",
        "stages": {"test": configure.chalice_stage_config(
            stage, stage.service("delivery-service"))},
    }
    policy = json.loads((tmp_path / "delivery_service/.chalice/policy-test.json").read_text())
    assert policy == configure.iam_policy(stage, stage.service("delivery-service"))


def test_second_run_changes_nothing(stage, tmp_path: Path) -> None:
    _app_dirs(tmp_path, stage)
    configure.write_service_configs(stage, tmp_path)

    assert configure.write_service_configs(stage, tmp_path) == []


def test_writer_keeps_other_stages_and_top_level_keys(stage, tmp_path: Path) -> None:
    _app_dirs(tmp_path, stage)
    chalice_dir = tmp_path / "order_service/.chalice"
    chalice_dir.mkdir()
    (chalice_dir / "config.json").write_text(json.dumps({
        "version": "2.0",
        "app_name": "order-service",
        "lambda_memory_size": 512,
        "stages": {"prod": {"lambda_timeout": 7}, "test": {"stale": True}},
    }))

    configure.write_service_configs(stage, tmp_path)

    config = json.loads((chalice_dir / "config.json").read_text())
    assert config["lambda_memory_size"] == 512
    assert config["stages"]["prod"] == {"lambda_timeout": 7}
    assert config["stages"]["test"] == configure.chalice_stage_config(
        stage, stage.service("order-service"))


def test_writer_refuses_a_config_of_another_app(stage, tmp_path: Path) -> None:
    _app_dirs(tmp_path, stage)
    chalice_dir = tmp_path / "order_service/.chalice"
    chalice_dir.mkdir()
    (chalice_dir / "config.json").write_text('{"version": "2.0", "app_name": "shop"}')

    with pytest.raises(UsageError, match="app_name is 'shop' but the service is 'order-service'"):
        configure.write_service_configs(stage, tmp_path)


def test_writer_names_a_config_that_is_not_json(stage, tmp_path: Path) -> None:
    _app_dirs(tmp_path, stage)
    chalice_dir = tmp_path / "order_service/.chalice"
    chalice_dir.mkdir()
    (chalice_dir / "config.json").write_text("{version")

    with pytest.raises(UsageError, match=r"order_service/\.chalice/config\.json: not valid JSON"):
        configure.write_service_configs(stage, tmp_path)


def test_writer_names_a_service_without_an_app_directory(stage, tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="service order-service: no Chalice app directory"):
        configure.write_service_configs(stage, tmp_path)


# --- the CLI -----------------------------------------------------------------


def test_configure_command_writes_then_reports_up_to_date(
        topology_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = tmp_path / "repo"
    root.mkdir()
    _app_dirs(root, load_stage("test", topology_file))
    monkeypatch.setattr(service_apps, "REPO_ROOT", root)
    args = ["configure", "--stage", "test", "--config", str(topology_file)]

    first = CliRunner().invoke(main, args)
    second = CliRunner().invoke(main, args)

    assert first.exit_code == 0, first.output
    assert "wrote order_service/.chalice/policy-test.json" in first.output
    assert second.exit_code == 0
    assert second.output == "stage test: every service's Chalice configuration is up to date\n"


def test_configure_command_reports_a_bad_topology_in_one_line(tmp_path: Path) -> None:
    path = write_topology(tmp_path, stage_toml("x", services=[
        {**DELIVERY_SERVICE, "environment": {"DELIVERY_DELAY_SECONDS": "later"}}]))

    result = CliRunner().invoke(main, ["configure", "--stage", "x", "--config", str(path)])

    assert result.exit_code == 2
    assert result.output.strip().splitlines() == [
        "error: stage x: service delivery-service: DELIVERY_DELAY_SECONDS: 'later' is not "
        "a number of seconds"]


def test_services_command_lists_name_account_app_directory_and_api_url(
        topology_file: Path) -> None:
    result = CliRunner().invoke(main, ["services", "--stage", "test",
                                       "--config", str(topology_file)])

    assert result.exit_code == 0
    # Stage test was never deployed from these folders: no API URL yet.
    assert [line.split("\t") for line in result.output.splitlines()] == [
        ["order-service", "222222222222", str(REPO / "order_service"), "-"],
        ["delivery-service", "333333333333", str(REPO / "delivery_service"), "-"],
    ]


@pytest.mark.usefixtures("aws")
def test_shell_env_gives_the_service_account_role_credentials(topology_file: Path) -> None:
    result = CliRunner().invoke(main, ["services", "--stage", "test", "--config",
                                       str(topology_file), "--shell-env", "delivery-service"])

    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0] == "unset AWS_PROFILE"
    assert [line.split("=")[0] for line in lines[1:]] == [
        "export AWS_ACCESS_KEY_ID", "export AWS_SECRET_ACCESS_KEY", "export AWS_SESSION_TOKEN",
        "export AWS_DEFAULT_REGION", "export AWS_REGION"]
    assert lines[-1] == "export AWS_REGION=eu-west-1"
    # moto's AssumeRole hands out temporary keys, which start with ASIA as on AWS.
    assert lines[1].startswith("export AWS_ACCESS_KEY_ID=ASIA")


@pytest.mark.usefixtures("aws")
def test_shell_env_refuses_base_credentials_that_reach_another_account(tmp_path: Path) -> None:
    path = write_topology(tmp_path, stage_toml("solo", credentials={"base": True},
                                                services=[ORDER_SERVICE]))

    result = CliRunner().invoke(main, ["services", "--stage", "solo", "--config", str(path),
                                       "--shell-env", "order-service"])

    # moto's default caller is account 123456789012.
    assert result.exit_code == 1
    assert result.output == ("error: the base session reaches account 123456789012, but "
                             "topology.toml expects 222222222222: fix the profile or the "
                             "account id\n")


def test_shell_env_with_a_profile_missing_from_the_aws_config_is_one_line(
        tmp_path: Path) -> None:
    path = write_topology(tmp_path, stage_toml("prod", credentials={"profile": "backbone-prod"},
                                                services=[ORDER_SERVICE]))

    result = CliRunner().invoke(main, ["services", "--stage", "prod", "--config", str(path),
                                       "--shell-env", "order-service"])

    assert result.exit_code == 1
    assert result.output == ("error: account 222222222222: sts:GetCallerIdentity on profile "
                             "backbone-prod failed: The config profile (backbone-prod) could "
                             "not be found\n")


def test_shell_exports_for_a_profile_unset_keys_that_would_override_it() -> None:
    assert shell_exports("us-east-1", Credentials(profile="my ops"), None) == [
        "unset AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY AWS_SESSION_TOKEN",
        "export AWS_PROFILE='my ops'",
        "export AWS_DEFAULT_REGION=us-east-1",
        "export AWS_REGION=us-east-1",
    ]


def test_shell_exports_for_the_base_session_only_set_the_region() -> None:
    assert shell_exports("eu-west-1", Credentials(), None) == [
        "export AWS_DEFAULT_REGION=eu-west-1", "export AWS_REGION=eu-west-1"]


def test_shell_env_for_an_unknown_service_names_the_known_ones(topology_file: Path) -> None:
    result = CliRunner().invoke(main, ["services", "--stage", "test", "--config",
                                       str(topology_file), "--shell-env", "billing"])

    assert result.exit_code == 2
    assert "no service named 'billing' (known: order-service, delivery-service)" in result.output
