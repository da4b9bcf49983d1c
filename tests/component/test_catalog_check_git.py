"""`catalog check --against REV` in a clone of the project: a breaking schema change fails
naming the field and the direction; a description change passes."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
PROJECT = ("backbone", "infra_bootstrap", "localcloud", "order_service", "delivery_service",
           "topology.toml")
ORDER_SCHEMA = Path("backbone/schemas/order.json")


def _git(repo: Path, *args: str) -> None:
    subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True)


def _check(repo: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "infra_bootstrap", "catalog", "check", *args],
                          cwd=repo, capture_output=True, text=True, timeout=120, check=False)


@pytest.fixture
def clone(tmp_path: Path) -> Path:
    """The project's code and schemas in a fresh git repository, one commit."""
    repo = tmp_path / "clone"
    repo.mkdir()
    for name in PROJECT:
        source = REPO_ROOT / name
        if source.is_dir():
            shutil.copytree(source, repo / name, symlinks=True,
                            ignore=shutil.ignore_patterns("__pycache__", ".chalice"))
        else:
            shutil.copy2(source, repo / name)
    _git(repo, "init", "-q", "-b", "main")
    _git(repo, "-c", "user.name=t", "-c", "user.email=t@example.invalid", "add", "-A")
    _git(repo, "-c", "user.name=t", "-c", "user.email=t@example.invalid",
         "commit", "-qm", "the project")
    return repo


def _commit_order_schema(repo: Path, change: dict[str, object]) -> None:
    path = repo / ORDER_SCHEMA
    schema = json.loads(path.read_text())
    schema["properties"]["orderId"].update(change)
    path.write_text(json.dumps(schema, indent=2))
    _git(repo, "-c", "user.name=t", "-c", "user.email=t@example.invalid",
         "commit", "-qam", "change orderId")


def test_changing_order_ids_type_fails_naming_order_id_and_both_directions(clone: Path) -> None:
    _commit_order_schema(clone, {"type": "integer"})

    result = _check(clone, "--against", "HEAD~1")

    assert result.returncode == 1, result.stderr
    lines = result.stderr.splitlines()
    assert lines[-1] == "error: 4 breaking schema change(s) against HEAD~1"
    assert lines[:-1] == [
        "BREAKING Order.Created (subscribed by delivery-service.on_order_created): "
        "data.orderId: type string -> integer: new producer / old consumer: the new schema "
        "accepts events the old one rejects",
        "BREAKING Order.Created (subscribed by delivery-service.on_order_created): "
        "data.orderId: type string -> integer: old producer / new consumer: the old schema "
        "accepts events the new one rejects",
        "BREAKING Delivery.Updated (subscribed by order-service.on_delivery_updated): "
        "data.order.orderId: type string -> integer: new producer / old consumer: the new "
        "schema accepts events the old one rejects",
        "BREAKING Delivery.Updated (subscribed by order-service.on_delivery_updated): "
        "data.order.orderId: type string -> integer: old producer / new consumer: the old "
        "schema accepts events the new one rejects"]
    assert result.stdout == ""


def test_a_description_change_passes(clone: Path) -> None:
    _commit_order_schema(clone, {"description": "The order's id, a lowercase UUID."})

    result = _check(clone, "--against", "HEAD~1")

    assert (result.returncode, result.stderr) == (0, "")
    assert result.stdout == ("catalog check against HEAD~1: no breaking change "
                             "(Delivery.Updated, Order.Created compared)\n")


def test_merge_base_compares_a_branch_with_main_and_is_quiet_without_one(
        clone: Path, tmp_path: Path) -> None:
    _git(clone, "checkout", "-qb", "feature")
    _commit_order_schema(clone, {"maxLength": 36})

    on_branch = _check(clone, "--merge-base")

    assert on_branch.returncode == 1
    assert "data.orderId: maxLength 36 added: old producer / new consumer" in on_branch.stderr
    shutil.rmtree(clone / ".git")  # a copy with no git history at all
    alone = _check(clone, "--merge-base")
    assert (alone.returncode, alone.stdout) == (
        0, "catalog check: no merge base with origin/main or main; nothing to compare\n")
