"""`chalice package` builds each service with backbone/ and a template cfn-lint accepts.

Chalice downloads its dependencies' wheels from PyPI (network) the first time; pip's
cache lives under the repository's gitignored build/ and Chalice keeps the built
dependency zip in the app's gitignored .chalice/deployments/, so later runs are local.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from infra_bootstrap import configure, names
from infra_bootstrap.topology import load_stage

pytestmark = pytest.mark.packaging

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent  # .venv/bin under scripts/test
PIP_CACHE = REPO / "build" / "pip-cache"
STAGE = load_stage("local")
SERVICES = [service.name for service in STAGE.services]


def _run(command: list[str], cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=600, check=False)


@pytest.fixture(scope="module", params=SERVICES)
def packaged(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory):
    """(service, output directory) after `chalice package --stage local`."""
    service = request.param
    out = tmp_path_factory.mktemp(service) / "out"
    env = {**os.environ, "AWS_DEFAULT_REGION": STAGE.region, "PIP_CACHE_DIR": str(PIP_CACHE),
           "PIP_DISABLE_PIP_VERSION_CHECK": "1"}
    app_dir = REPO / names.service_app_dir(service)
    result = _run([str(BIN / "chalice"), "package", "--stage", STAGE.name, str(out)],
                  app_dir, env)
    assert result.returncode == 0, f"chalice package failed in {app_dir}:\n" \
                                   f"{result.stdout}\n{result.stderr}"
    return service, out


def test_zip_holds_the_app_and_all_of_backbone_with_its_schemas(packaged) -> None:
    _, out = packaged
    with zipfile.ZipFile(out / "deployment.zip") as archive:
        members = set(archive.namelist())
    backbone = REPO / "backbone"
    shipped = {f"backbone/{path.relative_to(backbone).as_posix()}"
               for path in backbone.rglob("*")
               if path.is_file() and path.suffix in {".py", ".json"}}
    schemas = {name for name in shipped if name.endswith(".json")}

    assert "app.py" in members
    assert "backbone/__init__.py" in shipped
    assert schemas, "backbone/ has no JSON schemas to ship"
    assert shipped - members == set()


def test_sam_template_passes_cfn_lint(packaged) -> None:
    _, out = packaged

    result = _run([str(BIN / "cfn-lint"), str(out / "sam.json")], out, dict(os.environ))

    assert result.returncode == 0, result.stdout + result.stderr


def test_template_functions_carry_the_configured_stage(packaged) -> None:
    service_name, out = packaged
    service = STAGE.service(service_name)
    expected = configure.service_config(STAGE, service)
    resources = json.loads((out / "sam.json").read_text())["Resources"]
    functions = {name: r["Properties"] for name, r in resources.items()
                 if r["Type"] == "AWS::Serverless::Function"}
    roles = [r["Properties"] for r in resources.values() if r["Type"] == "AWS::IAM::Role"]

    assert functions, "the template has no Lambda function"
    for name, properties in functions.items():
        timeout = (configure.API_TIMEOUT_SECONDS if name == "APIHandler"
                   else expected.stage_config["lambda_timeout"])
        assert properties["Runtime"] == f"python{sys.version_info[0]}.{sys.version_info[1]}"
        assert properties["Timeout"] == timeout
        assert properties["Environment"]["Variables"] == \
            expected.stage_config["environment_variables"]
        for key, value in names.tags(STAGE.name).items():
            assert properties["Tags"][key] == value
    assert roles
    for role in roles:
        assert [p["PolicyDocument"] for p in role["Policies"]] == [expected.policy]


SUBSCRIPTION = {"order-service": ("on_delivery_updated", "Delivery.Updated", "delivery-service"),
                "delivery-service": ("on_order_created", "Order.Created", "order-service")}


def test_the_deployment_zip_runs_in_the_local_lambda_runtime(packaged) -> None:
    """The zip `chalice package` built, created through the Lambda API and invoked: its
    handler imports (app.py with backbone from vendor/) and checks the event's schema."""
    import boto3

    from localcloud.endpoint import Endpoint

    service, out = packaged
    handler, detail_type, source = SUBSCRIPTION[service]
    trust = {"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"},
        "Action": "sts:AssumeRole"}]}
    with Endpoint(port=0) as endpoint:
        options = {"endpoint_url": endpoint.url, "region_name": STAGE.region,
                   "aws_access_key_id": "packaging", "aws_secret_access_key": "packaging"}
        role = boto3.client("iam", **options).create_role(
            RoleName=f"{service}-packaged", AssumeRolePolicyDocument=json.dumps(trust))
        lam = boto3.client("lambda", **options)
        lam.create_function(FunctionName=f"{service}-packaged", Runtime="python3.11",
                            Role=role["Role"]["Arn"], Handler=f"app.{handler}", Timeout=30,
                            Code={"ZipFile": (out / "deployment.zip").read_bytes()})
        response = lam.invoke(FunctionName=f"{service}-packaged", Payload=json.dumps({
            "id": "e-1", "source": source, "detail-type": detail_type, "account": "1",
            "detail": {"data": {}, "meta": {}}}).encode())
        error = json.loads(response["Payload"].read())

    assert response["FunctionError"] == "Unhandled"
    assert error["errorType"] == "SchemaViolation", error
