"""``catalog check``: would this change of the schemas break a producer or a consumer?

Compares every subscribed detail-type's schema in the work tree with its version at a
git revision (``git show REV:backbone/schemas/<file>``), both with their ``$ref`` s
inlined, using :mod:`infra_bootstrap.schema_compat`. A detail-type nobody subscribes
to cannot break a consumer and is not checked; one that is new since REV has nothing to
break either.

>>> old = {"a.json": {"properties": {"n": {"type": "string"}}}}
>>> new = {"a.json": {"properties": {"n": {"type": "string", "maxLength": 3}}}}
>>> [str(f) for f in findings(old, new, {"A.Done": "a.json"}, {"A.Done": ["s.on_done"]})]
['A.Done (subscribed by s.on_done): n: maxLength 3 added: old producer / new consumer: \
the old schema accepts events the new one rejects']
"""

from __future__ import annotations

import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from infra_bootstrap.errors import BackboneError, UsageError
from infra_bootstrap.schema_compat import DIRECTIONS, Change, compare
from infra_bootstrap.schema_refs import bundle

SCHEMAS = "backbone/schemas"
# What a merge base is looked for against, in order (CI clones have origin/main).
BASE_BRANCHES = ("origin/main", "main")


class BreakingChange(BackboneError):
    """At least one subscribed detail-type changed incompatibly (exit code 1)."""


@dataclass(frozen=True)
class Finding:
    """An incompatible change of a subscribed detail-type's schema."""

    detail_type: str
    subscribers: tuple[str, ...]
    change: Change

    def __str__(self) -> str:
        return (f"{self.detail_type} (subscribed by {', '.join(self.subscribers)}): "
                f"{self.change.field}: {self.change.what}: {DIRECTIONS[self.change.direction]}")


def findings(old_docs: Mapping[str, Any], new_docs: Mapping[str, Any],
             schema_files: Mapping[str, str],
             subscribers: Mapping[str, Sequence[str]]) -> list[Finding]:
    """The incompatible changes of every subscribed detail-type (pure).

    ``schema_files`` maps detail-type to its schema file, ``subscribers`` detail-type to
    who subscribes; the docs map schema file name to document, before and after.
    """
    found: list[Finding] = []
    for detail_type, file_name in schema_files.items():
        subs = tuple(subscribers.get(detail_type, ()))
        if not subs or file_name not in old_docs:
            continue
        for change in compare(bundle(file_name, old_docs), bundle(file_name, new_docs)):
            found.append(Finding(detail_type, subs, change))
    return found


def _git(repo: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True,
                          check=False)


def schemas_at(repo: Path, revision: str) -> dict[str, Any]:
    """Every schema file of ``backbone/schemas`` at a git revision, parsed.

    Raises UsageError naming the revision when git does not know it.
    """
    import json

    listed = _git(repo, "ls-tree", "--name-only", f"{revision}:{SCHEMAS}")
    if listed.returncode != 0:
        raise UsageError(f"git revision {revision!r}: {listed.stderr.strip() or 'unknown'}")
    docs: dict[str, Any] = {}
    for name in listed.stdout.split():
        if name.endswith(".json"):
            shown = _git(repo, "show", f"{revision}:{SCHEMAS}/{name}")
            docs[name] = json.loads(shown.stdout)
    return docs


def schemas_now(repo: Path) -> dict[str, Any]:
    """Every schema file of ``backbone/schemas`` in the work tree, parsed."""
    import json

    return {p.name: json.loads(p.read_text(encoding="utf-8"))
            for p in sorted((repo / SCHEMAS).glob("*.json"))}


def merge_base(repo: Path) -> str | None:
    """The merge base of HEAD with origin/main, else main; None when there is none
    (no such branch, or not a git repository)."""
    for branch in BASE_BRANCHES:
        found = _git(repo, "merge-base", "HEAD", branch)
        if found.returncode == 0 and found.stdout.strip():
            return found.stdout.strip()
    return None
