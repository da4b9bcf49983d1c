"""Explicit take-over: which conflicting resources ``--adopt`` names, and whether it can. Pure.

A reference is ``KIND/NAME`` as ``plan`` prints a conflict (``event_bus/global-bus``,
``log_group//aws/events/backbone/global-bus``, ``rule/global-bus/log-all-events``), with
an optional ``ACCOUNT:`` prefix. Without the prefix it must name a conflict in exactly
one account: a name that conflicts in several accounts (the Logs resource policy, say)
is adopted account by account, so that nothing is taken over by accident.

>>> parse_ref("111111111111:event_bus/global-bus")
('111111111111', 'event_bus', 'global-bus')
>>> parse_ref("log_group//aws/events/backbone/global-bus")
(None, 'log_group', '/aws/events/backbone/global-bus')
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

from infra_bootstrap import names, ownership
from infra_bootstrap import resources as r
from infra_bootstrap.errors import AdoptError
from infra_bootstrap.resources import Resource

_REF = re.compile(r"^(?:(\d{12}):)?([a-z_]+)/(.+)$")
Key = tuple[str, str, str]


def parse_ref(ref: str) -> tuple[str | None, str, str]:
    """``[ACCOUNT:]KIND/NAME`` -> (account or None, kind, name); AdoptError if malformed."""
    match = _REF.match(ref)
    if not match:
        raise AdoptError(f"--adopt {ref}: expected KIND/NAME or ACCOUNT:KIND/NAME, as `plan` "
                         "prints a conflict")
    account, kind, name = match.groups()
    return account, kind, name


def resolve(refs: Sequence[str], desired: Iterable[Resource], actual: Iterable[Resource], *,
            stage: str, kinds: Iterable[str]) -> frozenset[Key]:
    """The keys of the conflicting resources ``refs`` name; AdoptError (exit 2) when a
    reference is malformed, of an unknown kind, not a conflict, ambiguous, or names
    something the stage cannot take over.
    """
    managed = set(kinds)
    wanted = {d.key: d for d in desired if d.kind in managed}
    found = {a.key: a for a in actual if a.kind in managed}
    conflicts = {k: a for k, a in found.items()
                 if k in wanted and not ownership.owned(a, stage)}
    keys: set[Key] = set()
    for ref in refs:
        account, kind, name = parse_ref(ref)
        if kind not in managed:
            raise AdoptError(f"--adopt {ref}: unknown kind {kind} (one of: "
                             f"{', '.join(k for k in r.PHASES if k in managed)})")
        matches = [k for k in conflicts if k[0] == kind and k[2] == name
                   and (account is None or k[1] == account)]
        if not matches:
            owned_here = [k for k in found if k[0] == kind and k[2] == name
                          and (account is None or k[1] == account) and k in wanted]
            why = (f"already owned by stage {stage}" if owned_here else
                   f"not a conflict: nothing of that name exists that stage {stage} "
                   "would create and does not own")
            raise AdoptError(f"--adopt {ref}: {why}")
        if len(matches) > 1:
            accounts = ", ".join(sorted(k[1] for k in matches))
            raise AdoptError(f"--adopt {ref}: a conflict in accounts {accounts}: name the "
                             f"account, e.g. --adopt {matches[0][1]}:{kind}/{name}")
        keys.add(matches[0])
    for key in sorted(keys):
        problem = adoption_problem(wanted[key], conflicts[key], keys, stage)
        if problem:
            label = conflicts[key].label
            raise AdoptError(f"--adopt {key[0]}/{key[2]}: cannot adopt {label} in account "
                             f"{key[1]}: {problem}")
    return frozenset(keys)


def adoption_problem(desired: Resource, actual: Resource, adopting: Iterable[Key],
                     stage: str) -> str | None:
    """Why ``actual`` cannot become the stage's ``desired``, or None.

    Adopting changes only what can change in place; what cannot (a table's keys, an
    archive's source) would mean deleting the resource with its data.

    >>> from infra_bootstrap.resources import Resource
    >>> want = Resource("dynamodb_table", "1", "t", {"hash_key": "pk", "range_key": "sk"})
    >>> adoption_problem(want, Resource("dynamodb_table", "1", "t", {"hash_key": "id"}), [], "s")
    'its key schema (id) is not pk/sk, and the keys of a table cannot change'
    """
    if desired.kind == r.DYNAMODB_TABLE:
        want = (desired.props["hash_key"], desired.props["range_key"])
        have = (actual.props.get("hash_key"), actual.props.get("range_key"))
        if want != have:
            return (f"its key schema ({'/'.join(k for k in have if k)}) is not "
                    f"{'/'.join(want)}, and the keys of a table cannot change")
    if desired.kind == r.ARCHIVE:
        source = actual.props.get("source_arn")
        if source != desired.props["source_arn"]:
            return (f"it archives {source}, not {desired.props['source_arn']}, and the source "
                    "of an archive cannot change")
        bus = source.rsplit("/", 1)[-1]
        if (not ownership.has_stage_tags(actual.parent_tags, stage)
                and (r.EVENT_BUS, actual.account, bus) not in set(adopting)):
            return (f"it archives event bus {bus}, which stage {stage} does not own: adopt "
                    f"{r.EVENT_BUS}/{bus} as well")
    if desired.kind in {r.LAMBDA_PERMISSION, r.INVOKE_CONFIG} \
            and not ownership.has_stage_tags(actual.parent_tags, stage):
        return (f"its function does not carry the tags of stage {stage} "
                f"({', '.join(names.tags(stage))}): deploy it with the Chalice config "
                "`configure` writes")
    return None
