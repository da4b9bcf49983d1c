"""What removing the stage's resources does to each of them: delete, strip or keep. Pure.

``destroy`` (every owned resource) and ``create`` / ``subscribe`` (owned resources no
longer desired) decide here, for each resource the stage owns:

- **keep** it when it holds data (messages, items, archived events, log events) and
  ``discard_data`` is not given;
- **strip** it, when someone else added to it (``ownership.foreign_additions``): the
  stage's part goes (its statements, targets, inline policy), the resource stays;
- **keep** an event bus while anything stays on it: a rule the stage did not make, or a
  rule or archive of the stage that is kept (deleting a bus deletes its rules, and an
  archive without its bus cannot be replayed);
- otherwise **delete** it.

>>> from infra_bootstrap import names
>>> from infra_bootstrap.resources import Data, Resource
>>> queue = Resource("sqs_queue", "1", "q", {"url": "u"}, names.tags("s"), data=Data(2, "message"))
>>> step = decide(queue, "s", discard_data=False)
>>> step.action, step.reason
('keep', 'holds 2 messages')
>>> decide(queue, "s", discard_data=True).action
'delete'
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from infra_bootstrap import ownership
from infra_bootstrap import resources as r
from infra_bootstrap.calls import Call, delete_calls, strip_calls
from infra_bootstrap.resources import Resource

DELETE = "delete"
STRIP = "strip"
KEEP = "keep"


@dataclass(frozen=True)
class Step:
    """The decision for one owned resource, and the calls that carry it out."""

    resource: Resource
    action: str
    calls: list[Call] = field(default_factory=list)
    reason: str = ""

    @property
    def deletes(self) -> bool:
        return self.action == DELETE


def decide(resource: Resource, stage: str, *, discard_data: bool,
           remaining: Sequence[str] = ()) -> Step:
    """Delete, strip or keep one resource the stage owns.

    ``remaining``: for an event bus, what stays on it (rules, archives), described.
    """
    data = resource.data
    if data is not None and data.holds and not discard_data:
        return Step(resource, KEEP, [], f"holds {data}")
    if resource.kind == r.EVENT_BUS:
        _, others = ownership.split_policy(resource.props.get("policy"), stage)
        foreign = [f"policy statement {s.get('Sid') or '(without Sid)'}" for s in others]
        foreign += list(remaining)
    else:
        foreign = ownership.foreign_additions(resource, stage)
    if foreign:
        stripped = strip_calls(resource, stage)
        return Step(resource, STRIP if stripped else KEEP, stripped,
                    f"still carries {', '.join(foreign)}")
    return Step(resource, DELETE, delete_calls(resource))


def teardown(resources: Iterable[Resource], stage: str, *, discard_data: bool) -> list[Step]:
    """A decision for each of ``resources`` (all owned by ``stage``), in deletion order:
    the reverse of :data:`resources.PHASES` (targets and rules before their bus).
    """
    pending = sorted(resources, key=lambda x: (-r.PHASES.index(x.kind), x.key))
    steps: list[Step] = []
    for resource in pending:
        remaining = (_planned_remaining(resource, steps, stage)
                     if resource.kind == r.EVENT_BUS else [])
        steps.append(decide(resource, stage, discard_data=discard_data, remaining=remaining))
    return steps


def _planned_remaining(bus: Resource, earlier: list[Step], stage: str) -> list[str]:
    """What will still be on ``bus`` when its turn comes (its rules and archives go first)."""
    here = [s for s in earlier if s.resource.account == bus.account]
    rules = bus.props.get("rules") or {}
    deleted_rules = {s.resource.props.get("rule") for s in here if s.deletes
                     and s.resource.kind in {r.RULE, r.SUBSCRIPTION_RULE}
                     and s.resource.props.get("bus") == bus.name}
    out = [f"rule {name}" + ("" if ownership.has_stage_tags(tags, stage) else
                             " (not the stage's)")
           for name, tags in sorted(rules.items()) if name not in deleted_rules]
    archives_here = [s for s in here if s.resource.kind == r.ARCHIVE
                     and s.resource.props.get("source_arn") == bus.props.get("arn")]
    deleted_archives = {s.resource.name for s in archives_here if s.deletes}
    listed = bus.props.get("archives")
    if listed is None:  # not read (create): the stage's archives are all that is known
        listed = [s.resource.name for s in archives_here]
    out += [f"archive {name}" for name in sorted(listed) if name not in deleted_archives]
    return out


def live_remaining(bus: Resource) -> list[str]:
    """What is on ``bus`` as just read (``reader.refresh``): every rule and archive."""
    return ([f"rule {name}" for name in sorted(bus.props.get("rules") or {})]
            + [f"archive {name}" for name in sorted(bus.props.get("archives") or ())])
