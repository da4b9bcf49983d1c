"""What ``local up`` hands each API worker: everything the worker runs with, resolved once.

The services' Lambda functions run in the local cloud's Lambda runtime, from their
deployment packages; a worker serves one service's HTTP routes (Chalice's local server).
``local up`` resolves the stage, the delivery delay and the service's Chalice
configuration once, and writes one :class:`WorkerSpec` as JSON to the worker's
stdin. The worker reads it and runs exactly that: it never loads the topology or Chalice's
configuration again, so what it serves cannot drift from what was deployed. Pure: no
import of the topology, Chalice or boto3 here.

Why stdin: the spec holds the account's credentials, which must not show in ``ps``
(argv) or stay in the service logs folder ``local up`` keeps after a failure; the pipe is
one-way by construction; and the worker can start its interpreter and imports while the
parent is still resolving.

>>> spec = WorkerSpec(service="order-service", stage="local", region="eu-west-1",
...     app_dir="/repo/order_service", endpoint="http://127.0.0.1:4566",
...     credentials={"AWS_ACCESS_KEY_ID": "k"}, environment={"TABLE_NAME": "t"},
...     api=ApiSpec(port=0, lambda_timeout=None, lambda_memory_size=None))
>>> WorkerSpec.from_json(spec.to_json()) == spec
True
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from typing import Any

API_HANDLER = "app.app"  # Chalice's API handler: the module ``app``, its ``app`` object


@dataclass(frozen=True)
class ApiSpec:
    """The service's HTTP routes: the port (0: a free one) and the API handler's limits as
    Chalice's configuration gives them (None: Chalice's own default)."""

    port: int
    lambda_timeout: int | None
    lambda_memory_size: int | None


@dataclass(frozen=True)
class WorkerSpec:
    """Everything one worker runs with."""

    service: str
    stage: str
    region: str
    app_dir: str
    endpoint: str
    credentials: dict[str, str]
    environment: dict[str, str]
    api: ApiSpec

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str | bytes) -> WorkerSpec:
        """Parse a spec; raises ValueError naming what is missing or malformed."""
        try:
            raw: Any = json.loads(text)
            return cls(**{**raw, "api": ApiSpec(**raw["api"])})
        except (ValueError, TypeError, KeyError, AttributeError) as exc:
            raise ValueError(f"not a worker spec: {type(exc).__name__}: {exc}") from None
