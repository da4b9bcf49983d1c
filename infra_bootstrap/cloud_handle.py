"""A running local cloud as a test sees it: URLs, accounts, clients, events, timelines.

What the ``local_cloud`` fixture of :mod:`infra_bootstrap.testing` hands a test. Events
are read where an operator would read them: the catch-all log group of a bus
(``/aws/events/backbone/<bus>``), as the account that owns it, through STS AssumeRole
of ``OrganizationAccountAccessRole`` (the local stage's way into every account). Event
patterns are matched with the local cloud's own matcher (``localcloud.patterns``),
which follows EventBridge's pattern language.

>>> describe({"detail-type": "Order.Created", "source": "order-service", "id": "e-1",
...           "detail": {"meta": {"correlationId": "c-1"}}})
'Order.Created from order-service (id e-1, correlation c-1)'
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from backbone.trace_file import SpanRecord, read_spans
from infra_bootstrap import names
from infra_bootstrap.cloud_process import CloudProcess
from infra_bootstrap.topology import Stage, load_stage
from localcloud.patterns import compile_pattern

ACCOUNT_ROLE = "OrganizationAccountAccessRole"
POLL_SECONDS = 0.2


class EventNotSeen(AssertionError):
    """No event matching the pattern arrived in time; names what did arrive."""


def describe(event: Mapping[str, Any]) -> str:
    """One line naming an event: detail-type, source, id and correlation id."""
    meta = (event.get("detail") or {}).get("meta") or {}
    return (f"{event.get('detail-type')} from {event.get('source')} (id {event.get('id')}, "
            f"correlation {meta.get('correlationId')})")


@dataclass
class LocalCloud:
    """The local cloud of a test run (``local up``), and helpers to test flows on it."""

    process: CloudProcess
    stage: Stage = field(default_factory=load_stage)
    #: Epoch milliseconds when the current test began (set by the pytest plugin).
    test_started_ms: int = field(default_factory=lambda: int(time.time() * 1000))
    _clients: dict[tuple[str, str], Any] = field(default_factory=dict, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    # What tests/shared_local_cloud.py's SharedCloud offered, kept for the project's tests.
    @property
    def pid(self) -> int:
        return self.process.pid

    @property
    def api(self) -> str:
        return self.process.api

    @property
    def aws(self) -> str:
        return self.process.aws

    @property
    def stderr_path(self) -> Path:
        return self.process.stderr_path

    @property
    def control_headers(self) -> dict[str, str]:
        """The header the endpoint's control routes (``/_local/*``) require."""
        return self.process.control_headers

    def alive(self) -> bool:
        return self.process.alive()

    @property
    def api_url(self) -> str:
        """The order API's base URL (``POST {api_url}/orders``)."""
        return self.process.api

    @property
    def aws_url(self) -> str:
        """The AWS endpoint (``AWS_ENDPOINT_URL``) every boto3 call of the stage goes to."""
        return self.process.aws

    @property
    def accounts(self) -> dict[str, str]:
        """Service name → account id, and ``global-bus`` → the bus account."""
        return {names.GLOBAL_BUS: self.stage.bus_account,
                **{s.name: s.account for s in self.stage.services}}

    def account_of(self, who: str) -> str:
        """The account id of a service name, of ``global-bus``, or an account id itself."""
        if who in self.accounts:
            return self.accounts[who]
        if who in self.stage.accounts:
            return who
        raise KeyError(f"{who!r} is neither an account of stage {self.stage.name} nor one "
                       f"of its services ({', '.join(self.accounts)})")

    def client(self, service_name: str, account: str) -> Any:
        """A boto3 client of ``service_name`` acting as ``account`` (an account id or a
        service name), with the credentials of the account's role, as on AWS."""
        import boto3

        account_id = self.account_of(account)
        key = (account_id, service_name)
        with self._lock:
            if key not in self._clients:
                base = {"region_name": self.stage.region, "endpoint_url": self.aws_url}
                sts = boto3.client("sts", aws_access_key_id="local",
                                   aws_secret_access_key="local", **base)
                creds = sts.assume_role(RoleArn=names.role_arn(account_id, ACCOUNT_ROLE),
                                        RoleSessionName="pytest")["Credentials"]
                self._clients[key] = boto3.client(
                    service_name, aws_access_key_id=creds["AccessKeyId"],
                    aws_secret_access_key=creds["SecretAccessKey"],
                    aws_session_token=creds["SessionToken"], **base)
            return self._clients[key]

    def bus_events(self, bus: str = names.GLOBAL_BUS, since_ms: int = 0) -> list[dict[str, Any]]:
        """Every event logged on ``bus`` since ``since_ms`` (epoch ms), in log order."""
        owner = (self.stage.bus_account if bus == names.GLOBAL_BUS
                 else self.account_of(bus.removeprefix(names.local_bus("")))
                 if bus.startswith(names.local_bus("")) else None)
        if owner is None:
            raise KeyError(f"no bus {bus!r}: {names.GLOBAL_BUS} or "
                           f"{names.local_bus('<service>')}")
        pages = self.client("logs", owner).get_paginator("filter_log_events").paginate(
            logGroupName=names.event_log_group(bus), startTime=since_ms)
        return [json.loads(e["message"]) for page in pages for e in page["events"]]

    def wait_for_event(self, pattern: Mapping[str, Any] | str, bus: str = names.GLOBAL_BUS,
                       timeout: float = 30) -> dict[str, Any]:
        """The first event on ``bus`` since the test began that matches the EventBridge
        ``pattern``; EventNotSeen after ``timeout`` seconds, listing what did arrive."""
        matcher = compile_pattern(pattern)
        return self._wait(lambda: self.bus_events(bus, self.test_started_ms),
                          matcher.matches, pattern, bus, timeout)

    def spans(self, trace_id: str) -> list[SpanRecord]:
        """The spans of one trace the services exported, by start time (none when the
        cloud was not started with a traces file)."""
        path = self.process.traces_path
        return read_spans(path, trace_id) if path is not None else []

    def timeline(self, correlation_id: str, bus: str = names.GLOBAL_BUS) -> list[dict[str, Any]]:
        """Every event of ``bus`` with ``detail.meta.correlationId`` = ``correlation_id``,
        in the order the bus logged them."""
        return [e for e in self.bus_events(bus)
                if ((e.get("detail") or {}).get("meta") or {}).get("correlationId")
                == correlation_id]

    @staticmethod
    def _wait(read: Callable[[], list[dict[str, Any]]], matches: Callable[[Any], bool],
              pattern: Mapping[str, Any] | str, bus: str, timeout: float) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            seen = read()
            for event in seen:
                if matches(event):
                    return event
            if time.monotonic() > deadline:
                arrived = "\n  ".join(describe(e) for e in seen) or "(none)"
                shown = pattern if isinstance(pattern, str) else json.dumps(pattern)
                raise EventNotSeen(
                    f"no event matching {shown} on {bus} within {timeout:g} s; "
                    f"{len(seen)} arrived since the test began:\n  {arrived}")
            time.sleep(POLL_SECONDS)
