"""A bad topology file: one line naming the problem, exit code 2; stage `local`.

Driven through the CLI as a user would; `plan` fails on the topology before any AWS call.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from infra_bootstrap import topology
from infra_bootstrap.cli import main
from infra_bootstrap.errors import TopologyError
from infra_bootstrap.topology import DEFAULT_CONFIG, Service, load_stage
from tests.topologies import ORDER_SERVICE, stage_toml, write_topology


def _stage(**keys: object) -> str:
    """Stage ``s`` with one service, as the cases below vary it."""
    return stage_toml("s", **{"services": [ORDER_SERVICE], **keys})


CASES = {
    "unknown top-level key": ("colour = 1\n" + _stage(), "unknown key 'colour'"),
    "unknown stage key": (_stage(colour=1), "stages.s: unknown key 'colour'"),
    "unknown service key": (
        _stage(services=[{**ORDER_SERVICE, "team": "x"}]), "services[0]: unknown key 'team'"),
    "malformed bus account": (
        _stage(bus_account="1111"),
        "stages.s.bus_account: '1111' is not a 12-digit AWS account id"),
    "malformed service account": (
        _stage(services=[{**ORDER_SERVICE, "account": "22222222222x"}]),
        "services[0].account: '22222222222x' is not a 12-digit AWS account id"),
    "account as an integer": (
        _stage(services=[{**ORDER_SERVICE, "account": 22222222222}]),
        "services[0].account: write the account id as a quoted string"),
    "duplicate service": (
        _stage(services=[ORDER_SERVICE, ORDER_SERVICE]),
        "services[1].name: duplicate service 'order-service'"),
    "missing bus account": (
        _stage(bus_account=None), "stages.s: missing required key 'bus_account'"),
    "missing region": (_stage(region=None), "stages.s: missing required key 'region'"),
    "missing services": (_stage(services=None), "stages.s: missing required key 'services'"),
    "service without account": (
        _stage(services=[{"name": "order-service"}]),
        "services[0]: missing required key 'account'"),
    "bad service name": (
        _stage(services=[{**ORDER_SERVICE, "name": "Order_Service"}]),
        "services[0].name: 'Order_Service' must be 2-40 lowercase letters"),
    "bad region": (_stage(region="europe"), "stages.s.region: 'europe' is not an AWS region name"),
    "bad organization id": (
        _stage(organization_id="org-1"),
        "stages.s.organization_id: 'org-1' is not an Organizations id"),
    "log retention CloudWatch does not offer": (
        _stage(log_retention_days=10), "stages.s.log_retention_days: 10 is not one of"),
    "negative archive retention": (
        _stage(archive_retention_days=-1),
        "stages.s.archive_retention_days: -1 must be a whole number of days"),
    "two ways to get credentials": (
        _stage(credentials={"profile": "p", "base": True}),
        "stages.s.credentials: give only one of"),
    "credentials for an account outside the stage": (
        _stage(accounts={"999999999999": {"base": True}}),
        "stages.s.accounts.999999999999: not an account of this stage"),
    "role in another account": (
        _stage(accounts={"222222222222": {"role_arn": "arn:aws:iam::333333333333:role/Admin"}}),
        "is a role in another account"),
    "not TOML": ("[stages.s\nregion = 1\n", "not valid TOML"),
    "alarm topic that is not an SNS ARN": (
        _stage(alarm_topic_arn="arn:aws:sqs:eu-west-1:444444444444:alarms"),
        "stages.s.alarm_topic_arn: 'arn:aws:sqs:eu-west-1:444444444444:alarms' is not an SNS "
        "topic ARN (arn:aws:sns:<region>:<account>:<topic>)"),
    "alarm topic with a bad account": (
        _stage(alarm_topic_arn="arn:aws:sns:eu-west-1:4444:alarms"),
        "stages.s.alarm_topic_arn: 'arn:aws:sns:eu-west-1:4444:alarms' is not an SNS topic ARN"),
    "alarm topic in another region": (
        _stage(alarm_topic_arn="arn:aws:sns:us-east-1:444444444444:alarms"),
        "stages.s.alarm_topic_arn: the topic is in us-east-1, but CloudWatch alarms of this "
        "stage (region eu-west-1) can only notify a topic in eu-west-1"),
}


def test_an_alarm_topic_in_another_account_is_taken(tmp_path: Path) -> None:
    topic = "arn:aws:sns:eu-west-1:444444444444:backbone-alarms"
    path = write_topology(tmp_path, _stage(alarm_topic_arn=topic))

    assert load_stage("s", path).alarm_topic_arn == topic


def _run(args: list[str]) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, args)
    return result.exit_code, result.stdout, result.stderr


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_topology_is_one_line_and_exit_code_2(case: str, tmp_path: Path) -> None:
    body, expected = CASES[case]
    path = write_topology(tmp_path, body)

    code, stdout, stderr = _run(["plan", "--config", str(path), "--stage", "s"])

    assert code == 2
    assert stdout == ""
    lines = stderr.splitlines()
    assert len(lines) == 1, stderr
    assert lines[0].startswith("error: topology.toml: ")
    assert expected in lines[0]


def test_a_stage_name_that_cannot_be_a_statement_id_is_refused(tmp_path: Path) -> None:
    body = stage_toml('"prod eu"', services=[ORDER_SERVICE])
    path = write_topology(tmp_path, body)

    code, stdout, stderr = _run(["plan", "--config", str(path), "--stage", "prod eu"])

    assert (code, stdout) == (2, "")
    assert stderr == ("error: topology.toml: stages.prod eu: the stage name must be 1-20 "
                      "letters, digits, '-' or '_', starting with a letter or digit\n")


def test_unknown_stage_names_the_defined_stages(tmp_path: Path) -> None:
    path = write_topology(tmp_path, _stage())

    code, _, stderr = _run(["verify", "--config", str(path), "--stage", "prod"])

    assert code == 2
    assert stderr == "error: topology.toml: no stage 'prod' (stages defined: s)\n"


def test_missing_file_is_named(tmp_path: Path) -> None:
    missing = tmp_path / "nope.toml"

    code, _, stderr = _run(["create", "--config", str(missing)])

    assert code == 2
    assert stderr == f"error: {missing}: file not found\n"


def test_stage_local_without_endpoint_says_how_to_start_the_local_cloud() -> None:
    code, _, stderr = _run(["plan"])

    assert code == 1
    assert len(stderr.splitlines()) == 1
    assert "python -m infra_bootstrap local up" in stderr
    assert "AWS_ENDPOINT_URL=http://127.0.0.1:4566" in stderr


@pytest.mark.parametrize("command", ["plan", "create", "verify", "destroy", "subscribe",
                                     "configure", "services", "local", "catalog"])
def test_every_command_has_help(command: str) -> None:
    code, stdout, _ = _run([command, "--help"])

    assert code == 0
    assert stdout.startswith(f"Usage: main {command} [OPTIONS]")


def test_top_level_help_lists_every_command_and_the_aws_sequence() -> None:
    code, stdout, _ = _run(["-h"])

    assert code == 0
    assert "create -> configure -> `chalice deploy` per service -> subscribe -> verify" \
        in stdout
    commands = stdout.split("Commands:\n", 1)[1].splitlines()
    names = [line.split()[0] for line in commands]
    assert names == ["catalog", "configure", "create", "destroy", "dlq", "events", "local",
                     "plan",
                     "services", "subscribe", "verify"]
    # Short helps fit an 80-column terminal (click cuts longer ones with "...").
    ours = [line for line in commands if line.split()[0] != "local"]
    assert not [line for line in ours if line.endswith("...")], ours



# --- stage local: the repository's own ------------------------------------------------


def test_stage_local_is_the_repository_topology() -> None:
    local = load_stage("local")

    assert local == load_stage("local", DEFAULT_CONFIG)
    assert [(s.name, s.account) for s in local.services] == [
        ("order-service", "222222222222"), ("delivery-service", "333333333333")]


def test_a_config_without_stage_local_still_has_the_repository_one(tmp_path: Path) -> None:
    path = write_topology(tmp_path, stage_toml("prod", services=[ORDER_SERVICE]))

    assert load_stage("local", path) == load_stage("local")
    assert load_stage("prod", path).services == (Service("order-service", "222222222222"),)
    # Through the CLI too: `services` defaults to stage local.
    code, stdout, _ = _run(["services", "--config", str(path)])
    assert code == 0
    assert [line.split("\t")[0] for line in stdout.splitlines()] == [
        "order-service", "delivery-service"]


def test_a_config_with_its_own_stage_local_is_taken_at_its_word(tmp_path: Path) -> None:
    path = write_topology(tmp_path, stage_toml("local", services=[ORDER_SERVICE]))

    assert [s.name for s in load_stage("local", path).services] == ["order-service"]


def test_without_stage_local_in_the_repository_file_it_is_unknown(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    repository = write_topology(tmp_path, stage_toml("prod", services=[ORDER_SERVICE]))
    monkeypatch.setattr(topology, "DEFAULT_CONFIG", repository)

    with pytest.raises(TopologyError, match=r"no stage 'local' \(stages defined: prod\)"):
        load_stage("local")


CORRUPT_FILES = {
    "non-UTF-8 bytes": (b"[stages.s]\nregion = \"eu-\xff\"\n", "not UTF-8: byte 0xff"),
    "UTF-16 with a byte order mark": ("[stages.s]\n".encode("utf-16"), "not UTF-8 (UTF-16?)"),
    "UTF-16 without a byte order mark": ("[stages.s]\n".encode("utf-16-le"),
                                         "not UTF-8 (UTF-16?)"),
    "arrays nested 100,000 deep": (b"x = " + b"[" * 100_000 + b"]" * 100_000 + b"\n",
                                   "nested too deeply"),
    "inline tables nested 100,000 deep": (b"x = " + b"{a=" * 100_000 + b"1"
                                          + b"}" * 100_000 + b"\n", "nested too deeply"),
}


@pytest.mark.parametrize("case", sorted(CORRUPT_FILES))
def test_a_corrupt_topology_file_is_one_line_and_exit_code_2(case: str, tmp_path: Path) -> None:
    data, expected = CORRUPT_FILES[case]
    path = tmp_path / "topology.toml"
    path.write_bytes(data)

    code, stdout, stderr = _run(["plan", "--config", str(path), "--stage", "s"])

    assert (code, stdout) == (2, "")
    assert len(stderr.splitlines()) == 1, stderr
    assert stderr.startswith("error: topology.toml: ")
    assert expected in stderr


def test_a_directory_given_as_the_topology_is_one_line_and_exit_code_2(tmp_path: Path) -> None:
    code, stdout, stderr = _run(["plan", "--config", str(tmp_path), "--stage", "s"])

    assert (code, stdout) == (2, "")
    assert stderr == f"error: {tmp_path}: is a directory, not a topology file\n"
