"""One causal chain across every bus: a tree by causation id, hop times, gaps, failures.

Pure: it takes the events the bus logs hold (``LoggedEvent``) and the dead letters of
the stage's queues (``DeadLetter``), and returns a tree that renders as text or JSON.
``events trace``, ``local up --demo`` and the test plugin's timeline all use it.

Every event carries ``detail.meta.correlationId`` (the same for the whole chain) and
``causationId`` (the id of the event whose handler published it); the same event is
logged once per bus it reached, so its hops are its log entries, timed by the log's
ingestion time.

>>> def logged(bus, eid, dtype, ms, cause=None):
...     meta = {"correlationId": "c1", **({"causationId": cause} if cause else {})}
...     return LoggedEvent(bus, "1", {"id": eid, "detail-type": dtype, "source": "s",
...         "account": "2", "detail": {"data": {"orderId": "o1"}, "meta": meta}}, ms, eid, "")
>>> chain = select([logged("global-bus", "e1", "Order.Created", 1000),
...     logged("local-bus-d", "e1", "Order.Created", 1010),
...     logged("global-bus", "e2", "Delivery.Updated", 1500, cause="e1")], "o1")
>>> print("\\n".join(render(build(chain, []), origin_ms=1000)))
Order.Created e1 from s (2) order=o1 correlation=c1
     +0 ms  global-bus                    1
    +10 ms  local-bus-d                   1             (+10 ms)
  └─ Delivery.Updated e2 from s (2) order=o1 correlation=c1
          +500 ms  global-bus                    1             (+490 ms after its cause)
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from infra_bootstrap.operate.deadletters import DeadLetter
from infra_bootstrap.operate.records import LoggedEvent
from infra_bootstrap.operate.timespec import iso_ms


@dataclass(frozen=True)
class Hop:
    """An event's arrival on one bus (its entry in that bus's log)."""

    bus: str
    account: str
    at_ms: int


@dataclass
class TraceNode:
    """One event of the chain: its hops, its dead letters, the events it caused."""

    event_id: str
    detail_type: str
    source: str
    account: str
    entity_id: str | None
    correlation_id: str | None
    causation_id: str | None
    hops: list[Hop] = field(default_factory=list)
    dead_letters: list[DeadLetter] = field(default_factory=list)
    children: list[TraceNode] = field(default_factory=list)

    @property
    def first_ms(self) -> int | None:
        return min((h.at_ms for h in self.hops), default=None)

    def walk(self) -> Iterable[TraceNode]:
        """This node and every node below it, depth first."""
        yield self
        for child in self.children:
            yield from child.walk()

    def to_json(self) -> dict[str, Any]:
        return {"eventId": self.event_id, "detailType": self.detail_type,
                "source": self.source, "account": self.account, "entityId": self.entity_id,
                "correlationId": self.correlation_id, "causationId": self.causation_id,
                "hops": [{"bus": h.bus, "account": h.account, "time": iso_ms(h.at_ms)}
                         for h in self.hops],
                "deadLetters": [d.to_json() for d in self.dead_letters],
                "children": [c.to_json() for c in self.children]}


def _matches(key: str, event_id: str, correlation: str | None, entity: str | None) -> bool:
    return key in (event_id, correlation, entity)


def select(events: Iterable[LoggedEvent], key: str) -> list[LoggedEvent]:
    """The events of the chains ``key`` names: a correlation id, an event id or an entity
    (order) id. Every event sharing a correlation id with a named event belongs to it."""
    events = list(events)
    named = [e for e in events if _matches(key, e.event_id, e.correlation_id, e.entity_id)]
    correlations = {e.correlation_id for e in named if e.correlation_id}
    ids = {e.event_id for e in named}
    return [e for e in events if e.correlation_id in correlations or e.event_id in ids]


def select_dead_letters(letters: Iterable[DeadLetter], key: str,
                        events: Sequence[LoggedEvent]) -> list[DeadLetter]:
    """The dead letters of the chain ``key`` names (the events ``select`` returned)."""
    correlations = {e.correlation_id for e in events if e.correlation_id}
    ids = {e.event_id for e in events}
    return [d for d in letters
            if d.event_id in ids or (d.correlation_id and d.correlation_id in correlations)
            or _matches(key, d.event_id, d.correlation_id, d.entity_id)]


def build(events: Iterable[LoggedEvent], letters: Iterable[DeadLetter]) -> list[TraceNode]:
    """The chain as trees: roots are events whose cause is not among them; oldest first."""
    nodes: dict[str, TraceNode] = {}
    for e in sorted(events, key=lambda e: (e.ingestion_ms, e.bus)):
        node = nodes.get(e.event_id)
        if node is None:
            node = nodes[e.event_id] = TraceNode(
                e.event_id, e.detail_type, e.source, str(e.event.get("account", "?")),
                e.entity_id, e.correlation_id, e.causation_id)
        node.hops.append(Hop(e.bus, e.account, e.ingestion_ms))
    for letter in letters:
        node = nodes.get(letter.event_id)
        if node is None:  # failed before any log held it (or the log expired)
            event = letter.event
            meta = event.get("detail", {}).get("meta", {}) if isinstance(
                event.get("detail"), dict) else {}
            node = nodes[letter.event_id] = TraceNode(
                letter.event_id, letter.detail_type, str(event.get("source", "?")),
                str(event.get("account", "?")), letter.entity_id, letter.correlation_id,
                meta.get("causationId") if isinstance(meta, dict) else None)
        node.dead_letters.append(letter)
    roots: list[TraceNode] = []
    for node in nodes.values():
        parent = nodes.get(node.causation_id or "")
        if parent is not None and parent is not node:
            parent.children.append(node)
        else:
            roots.append(node)
    big = 2**62
    for node in nodes.values():
        node.children.sort(key=lambda n: n.first_ms if n.first_ms is not None else big)
    return sorted(roots, key=lambda n: n.first_ms if n.first_ms is not None else big)


def origin_of(roots: Sequence[TraceNode]) -> int:
    """The earliest hop of the trees (0 when none has a hop)."""
    times = [h.at_ms for root in roots for n in root.walk() for h in n.hops]
    return min(times, default=0)


def _heading(node: TraceNode) -> str:
    text = f"{node.detail_type} {node.event_id} from {node.source} ({node.account})"
    if node.entity_id:
        text += f" order={node.entity_id}"
    if node.correlation_id:
        text += f" correlation={node.correlation_id}"
    return text


def _render(node: TraceNode, origin_ms: int, depth: int, cause_hops: Sequence[Hop],
            out: list[str]) -> None:
    indent = "  " * depth + ("└─ " if depth else "")
    out.append(indent + _heading(node))
    pad = "  " * depth + ("     " if depth else "")
    previous: int | None = None
    for hop in node.hops:
        if previous is None:
            earlier = [h.at_ms for h in cause_hops if h.at_ms <= hop.at_ms]
            gap = f"(+{hop.at_ms - max(earlier)} ms after its cause)" if earlier else ""
        else:
            gap = f"(+{hop.at_ms - previous} ms)"
        out.append(f"{pad}{hop.at_ms - origin_ms:>+7} ms  {hop.bus:<29} {hop.account:<13} "
                   f"{gap}".rstrip())
        previous = hop.at_ms
    for letter in node.dead_letters:
        out.append(f"{pad}   DEAD LETTER in {letter.queue} ({letter.account}): {letter.error}"
                   + (f": {letter.message}" if letter.message else ""))
    for child in node.children:
        _render(child, origin_ms, depth + 1, node.hops, out)


def render(roots: Sequence[TraceNode], origin_ms: int | None = None) -> list[str]:
    """The trees as text lines, times in ms from ``origin_ms`` (default: the first hop)."""
    origin = origin_of(roots) if origin_ms is None else origin_ms
    out: list[str] = []
    for root in roots:
        _render(root, origin, 0, (), out)
    return out


def summary(roots: Sequence[TraceNode]) -> str:
    """One line: how many events, hops and dead letters the trees hold.

    >>> summary([])
    '0 event(s), 0 hop(s), 0 dead letter(s)'
    """
    nodes = [n for root in roots for n in root.walk()]
    return (f"{len(nodes)} event(s), {sum(len(n.hops) for n in nodes)} hop(s), "
            f"{sum(len(n.dead_letters) for n in nodes)} dead letter(s)")
