"""The event as EventBridge delivers it: its envelope, built once per accepted entry.

>>> event = build_event({"Source": "s", "DetailType": "d", "Time": 0}, {"n": 1},
...                     account="222222222222", region="eu-west-1", event_id="e-1")
>>> event.raw
'{"version":"0","id":"e-1","detail-type":"d","source":"s","account":"222222222222","time":"1970-01-01T00:00:00Z","region":"eu-west-1","resources":[],"detail":{"n":1}}'
"""

from __future__ import annotations

import json
import re
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any


@dataclass
class RoutedEvent:
    """One event as it travels: the envelope (for matching) and its JSON, made once.

    ``hops`` counts bus->bus deliveries; an event that arrived from another bus
    (hops >= 1) is never forwarded to a further bus.
    """

    envelope: Mapping[str, Any]
    raw: str
    hops: int = 0
    ingested: float = field(default_factory=time.monotonic)

    @property
    def id(self) -> Any:
        return self.envelope.get("id")


def format_time(value: Any) -> str:
    """An entry's Time (epoch seconds as botocore sends it, or ISO 8601) or now, as the
    envelope carries it: ISO 8601 UTC, second precision, ``Z``.

    >>> format_time(0)
    '1970-01-01T00:00:00Z'
    """
    if value is None:
        moment = datetime.now(UTC)
    elif isinstance(value, int | float):
        moment = datetime.fromtimestamp(float(value), UTC)
    else:
        try:
            moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
        except ValueError:
            moment = datetime.fromtimestamp(float(value), UTC)
        moment = moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def build_event(entry: Mapping[str, Any], detail: dict[str, Any], *, account: str,
                region: str, event_id: str | None = None) -> RoutedEvent:
    """The envelope of an accepted entry, serialized once for every target.

    Fields and order as EventBridge delivers them (EventBridge User Guide, "Amazon
    EventBridge events": version, id, detail-type, source, account, time, region,
    resources, detail); ``account`` is the publisher's account.
    """
    envelope = {
        "version": "0",
        "id": event_id or str(uuid.uuid4()),
        "detail-type": entry["DetailType"],
        "source": entry["Source"],
        "account": account,
        "time": format_time(entry.get("Time")),
        "region": region,
        "resources": list(entry.get("Resources") or []),
        "detail": detail,
    }
    return RoutedEvent(envelope, serialize(envelope))


_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def serialize(envelope: Mapping[str, Any]) -> str:
    """Compact JSON of the envelope that every target can encode as UTF-8.

    A lone surrogate (JSON ``"\\ud800"`` in a Detail) is valid JSON but no UTF-8 text: it
    stays a ``\\uXXXX`` escape in the JSON, so a Lambda worker, a log write or an SQS
    body never meets a UnicodeEncodeError (an accepted event once vanished that way).

    >>> serialize({"s": chr(0xD800), "t": "é"})
    '{"s":"\\\\ud800","t":"é"}'
    """
    raw = json.dumps(envelope, separators=(",", ":"), ensure_ascii=False)
    if _LONE_SURROGATE.search(raw) is None:
        return raw
    return _LONE_SURROGATE.sub(lambda found: f"\\u{ord(found.group()):04x}", raw)
