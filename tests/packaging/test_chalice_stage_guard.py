"""A chalice command for a stage `configure` has not written ends in one line, not in
Chalice's policy analyzer traceback (``KeyError: 'dict'``), before any AWS call."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.shared_local_cloud import clean_env

pytestmark = pytest.mark.packaging

REPO = Path(__file__).resolve().parents[2]
CHALICE = str(Path(sys.executable).parent / "chalice")


@pytest.mark.parametrize("service_dir", ["order_service", "delivery_service"])
@pytest.mark.parametrize("args, stage, command", [
    (["deploy"], "dev", "deploy"),
    (["package", "--stage", "nowhere", "out"], "nowhere", "package"),
])
def test_an_unconfigured_stage_is_one_line_naming_what_to_run(
        service_dir: str, args: list[str], stage: str, command: str, tmp_path: Path) -> None:
    env = {**clean_env(tmp_path), "AWS_ACCESS_KEY_ID": "unused", "AWS_SECRET_ACCESS_KEY":
           "unused", "AWS_DEFAULT_REGION": "eu-west-1"}
    finished = subprocess.run([CHALICE, *args], cwd=REPO / service_dir, env=env,
                              capture_output=True, text=True, timeout=300, check=False)

    service = service_dir.replace("_", "-")
    assert finished.returncode != 0
    assert "Traceback" not in finished.stderr + finished.stdout
    assert (finished.stdout + finished.stderr).strip().splitlines() == [
        f"{service}: Chalice stage {stage!r} is not configured: run `python -m "
        "infra_bootstrap configure --stage STAGE`, then `chalice "
        f"{command} --stage STAGE` (a stage of topology.toml)"]
    assert not (REPO / service_dir / "out").exists()
