"""What ``local up`` hands each worker: everything the worker runs with, resolved once.

``local up`` resolves the stage, the delivery delay, the service's Chalice configuration
and its functions once, and writes one :class:`WorkerSpec` as JSON to the worker's
stdin. The worker reads it and runs exactly that: it never loads the topology or Chalice's
configuration again, so what it serves cannot drift from what was deployed. Pure: no
import of the topology, Chalice or boto3 here.

Why stdin: the spec holds the account's credentials, which must not show in ``ps``
(argv) or stay in the service logs folder ``local up`` keeps after a failure; the pipe is
one-way by construction; and the worker can start its interpreter and imports while the
parent is still resolving.

>>> function = FunctionSpec("delivery-service-local-on_order_created",
...     "arn:aws:lambda:eu-west-1:333333333333:function:delivery-service-local-on_order_created",
...     "app.on_order_created", 65, 128, "/aws/lambda/delivery-service-local-on_order_created")
>>> spec = WorkerSpec(service="delivery-service", stage="local", region="eu-west-1",
...     app_dir="/repo/delivery_service", endpoint="http://127.0.0.1:4566",
...     credentials={"AWS_ACCESS_KEY_ID": "k"}, environment={"TABLE_NAME": "t"},
...     functions=(function,), api=None)
>>> WorkerSpec.from_json(spec.to_json()) == spec
True
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from typing import Any

API_HANDLER = "app.app"  # Chalice's API handler: the module ``app``, its ``app`` object


@dataclass(frozen=True)
class FunctionSpec:
    """One deployed function the worker serves, as deployed: name, ARN, handler (Lambda's
    ``module.attribute``), timeout, memory and log group."""

    function_name: str
    arn: str
    handler: str
    timeout_seconds: int
    memory_mb: int
    log_group: str


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
    functions: tuple[FunctionSpec, ...]
    api: ApiSpec | None

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str | bytes) -> WorkerSpec:
        """Parse a spec; raises ValueError naming what is missing or malformed."""
        try:
            raw: Any = json.loads(text)
            functions = tuple(FunctionSpec(**f) for f in raw.pop("functions"))
            api = raw.pop("api")
            return cls(**raw, functions=functions,
                       api=ApiSpec(**api) if api is not None else None)
        except (ValueError, TypeError, KeyError, AttributeError) as exc:
            raise ValueError(f"not a worker spec: {type(exc).__name__}: {exc}") from None
