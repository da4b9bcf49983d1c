"""What each service of a stage subscribes to, read from the services' code.

A service's subscriptions are the ``@subscribe`` declarations of its Chalice app
(``backbone.subscriptions``), read by importing the app from its folder of this
repository (``service_apps``). A service of the topology without a folder publishes and
subscribes from elsewhere: it declares nothing here.

>>> from infra_bootstrap.topology import load_stage
>>> declared = declared_by_service(load_stage("local"))
>>> {service: [s.name for s in subs] for service, subs in declared.items()}
{'order-service': ['on_delivery_updated'], 'delivery-service': ['on_order_created']}
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

from infra_bootstrap.topology import Stage


class SubscriptionLike(Protocol):
    """What we need of ``backbone.subscriptions.Subscription``."""

    @property
    def name(self) -> str: ...

    @property
    def event_pattern(self) -> Mapping[str, Any]: ...


def has_app(service: str) -> bool:
    """True when the service's Chalice app is a folder of this repository.

    >>> has_app("order-service"), has_app("billing-service")
    (True, False)
    """
    from infra_bootstrap.service_apps import service_dir

    return (service_dir(service) / "app.py").is_file()


def declared_subscriptions(service: str) -> tuple[SubscriptionLike, ...]:
    """Import the service's Chalice app and return its declared subscriptions.

    Raises UsageError when the service has no app folder.

    >>> [s.event_pattern for s in declared_subscriptions("delivery-service")]
    [{'source': ['order-service'], 'detail-type': ['Order.Created']}]
    """
    from backbone.subscriptions import subscriptions_of
    from infra_bootstrap.service_apps import load_app

    return tuple(subscriptions_of(load_app(service)))


def declared_by_service(stage: Stage) -> dict[str, tuple[SubscriptionLike, ...]]:
    """Every service of ``stage`` -> its declared subscriptions (none without an app)."""
    return {s.name: declared_subscriptions(s.name) if has_app(s.name) else ()
            for s in stage.services}
