"""Topology files for tests, written from Python values: one helper for every shape.

>>> print(stage_toml("s", services=[ORDER_SERVICE]), end="")
[stages.s]
region = "eu-west-1"
bus_account = "111111111111"
<BLANKLINE>
[[stages.s.services]]
name = "order-service"
account = "222222222222"
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

ORDER_SERVICE: dict[str, Any] = {"name": "order-service", "account": "222222222222"}
DELIVERY_SERVICE: dict[str, Any] = {"name": "delivery-service", "account": "333333333333"}
ROLE = {"role_name": "OrganizationAccountAccessRole"}
_BARE_KEY = re.compile(r"^[A-Za-z0-9_-]+$")


def stage_toml(name: str, *, services: Sequence[Mapping[str, Any]] | None,
               region: str | None = "eu-west-1", bus_account: Any = "111111111111",
               **keys: Any) -> str:
    """One ``[stages.<name>]`` table and its ``[[stages.<name>.services]]``.

    ``None`` leaves a key out (``services=None``: no services at all); ``keys`` are
    written in order after region and bus_account, tables as inline tables.
    """
    lines = [f"[stages.{name}]"]
    for key, value in {"region": region, "bus_account": bus_account, **keys}.items():
        if value is not None:
            lines.append(f"{key} = {_value(value)}")
    for service in services or ():
        lines += ["", f"[[stages.{name}.services]]"]
        lines += [f"{key} = {_value(value)}" for key, value in service.items()]
    return "\n".join(lines) + "\n"


def three_accounts(name: str = "test", delivery_delay: str = "0") -> str:
    """The committed local stage under another name: stage ``local`` refuses to run
    without the local cloud's endpoint, while in-process moto needs none."""
    return stage_toml(name, log_retention_days=7, archive_retention_days=7, credentials=ROLE,
                      services=[ORDER_SERVICE, {**DELIVERY_SERVICE, "environment": {
                          "DELIVERY_DELAY_SECONDS": delivery_delay}}])


def write_topology(directory: Path, *stages: str) -> Path:
    """Write ``topology.toml`` holding ``stages`` (text) into ``directory``; its path."""
    path = directory / "topology.toml"
    path.write_text("\n".join(stages), encoding="utf-8")
    return path


def _value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return json.dumps(value)  # a TOML basic string for the values tests use
    if isinstance(value, Mapping):
        items = ", ".join(f"{_key(k)} = {_value(v)}" for k, v in value.items())
        return f"{{ {items} }}" if items else "{}"
    if isinstance(value, Sequence):
        return "[" + ", ".join(_value(v) for v in value) + "]"
    raise TypeError(f"no TOML for {value!r}")


def _key(key: str) -> str:
    return key if _BARE_KEY.match(key) else json.dumps(key)
