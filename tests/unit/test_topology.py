"""A bad topology file: one line naming the problem, exit code 2 (issue 2 §2).

Driven through the CLI as a user would; `plan` fails on the topology before any AWS call.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from infra_bootstrap.cli import main
from tests.conftest import write_topology

GOOD_SERVICES = """
[[stages.s.services]]
name = "order-service"
account = "222222222222"
"""
HEAD = """
[stages.s]
region = "eu-west-1"
bus_account = "111111111111"
"""

CASES = {
    "unknown top-level key": (
        "colour = 1\n" + HEAD + GOOD_SERVICES, "unknown key 'colour'"),
    "unknown stage key": (
        HEAD + "colour = 1\n" + GOOD_SERVICES, "stages.s: unknown key 'colour'"),
    "unknown service key": (
        HEAD + GOOD_SERVICES + 'team = "x"\n', "services[0]: unknown key 'team'"),
    "malformed bus account": (
        HEAD.replace("111111111111", "1111") + GOOD_SERVICES,
        "stages.s.bus_account: '1111' is not a 12-digit AWS account id"),
    "malformed service account": (
        HEAD + GOOD_SERVICES.replace("222222222222", "22222222222x"),
        "services[0].account: '22222222222x' is not a 12-digit AWS account id"),
    "account as an integer": (
        HEAD + GOOD_SERVICES.replace('"222222222222"', "22222222222"),
        "services[0].account: write the account id as a quoted string"),
    "duplicate service": (
        HEAD + GOOD_SERVICES + GOOD_SERVICES,
        "services[1].name: duplicate service 'order-service'"),
    "missing bus account": (
        HEAD.replace('bus_account = "111111111111"\n', "") + GOOD_SERVICES,
        "stages.s: missing required key 'bus_account'"),
    "missing region": (
        HEAD.replace('region = "eu-west-1"\n', "") + GOOD_SERVICES,
        "stages.s: missing required key 'region'"),
    "missing services": (HEAD, "stages.s: missing required key 'services'"),
    "service without account": (
        HEAD + '[[stages.s.services]]\nname = "order-service"\n',
        "services[0]: missing required key 'account'"),
    "bad service name": (
        HEAD + GOOD_SERVICES.replace("order-service", "Order_Service"),
        "services[0].name: 'Order_Service' must be 2-40 lowercase letters"),
    "bad region": (
        HEAD.replace("eu-west-1", "europe") + GOOD_SERVICES,
        "stages.s.region: 'europe' is not an AWS region name"),
    "bad organization id": (
        HEAD + 'organization_id = "org-1"\n' + GOOD_SERVICES,
        "stages.s.organization_id: 'org-1' is not an Organizations id"),
    "log retention CloudWatch does not offer": (
        HEAD + "log_retention_days = 10\n" + GOOD_SERVICES,
        "stages.s.log_retention_days: 10 is not one of"),
    "negative archive retention": (
        HEAD + "archive_retention_days = -1\n" + GOOD_SERVICES,
        "stages.s.archive_retention_days: -1 must be a whole number of days"),
    "two ways to get credentials": (
        HEAD + 'credentials = { profile = "p", base = true }\n' + GOOD_SERVICES,
        "stages.s.credentials: give only one of"),
    "credentials for an account outside the stage": (
        HEAD + GOOD_SERVICES + '[stages.s.accounts."999999999999"]\nbase = true\n',
        "stages.s.accounts.999999999999: not an account of this stage"),
    "role in another account": (
        HEAD + GOOD_SERVICES + '[stages.s.accounts."222222222222"]\n'
        'role_arn = "arn:aws:iam::333333333333:role/Admin"\n',
        "is a role in another account"),
    "not TOML": ("[stages.s\nregion = 1\n", "not valid TOML"),
}


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
    body = (HEAD + GOOD_SERVICES).replace("stages.s", 'stages."prod eu"')
    path = write_topology(tmp_path, body)

    code, stdout, stderr = _run(["plan", "--config", str(path), "--stage", "prod eu"])

    assert (code, stdout) == (2, "")
    assert stderr == ("error: topology.toml: stages.prod eu: the stage name must be 1-20 "
                      "letters, digits, '-' or '_', starting with a letter or digit\n")


def test_unknown_stage_names_the_defined_stages(tmp_path: Path) -> None:
    path = write_topology(tmp_path, HEAD + GOOD_SERVICES)

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
                                     "configure", "services", "local"])
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
    assert names == ["configure", "create", "destroy", "local", "plan", "services",
                     "subscribe", "verify"]
    # Short helps fit an 80-column terminal (click cuts longer ones with "...").
    ours = [line for line in commands if line.split()[0] != "local"]
    assert not [line for line in ours if line.endswith("...")], ours


@pytest.mark.parametrize("module", ["infra_bootstrap.commands.infra",
                                    "infra_bootstrap.commands.services",
                                    "infra_bootstrap.commands.local"])
def test_each_command_module_imports_on_its_own(module: str) -> None:
    # A fresh interpreter: the command module first, the CLI group only through it.
    code = f"import {module}, infra_bootstrap.cli as c; print(len(c.main.list_commands(None)))"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          cwd=Path(__file__).resolve().parents[2], check=False)

    assert (done.returncode, done.stderr) == (0, "")
    assert done.stdout == "8\n"
