"""The catalog's flow as a Mermaid flowchart: services, buses, detail-types, and who
publishes and who subscribes.

Pure: from the catalog's producers and the declared subscriptions to Mermaid text
(``flowchart LR``), which GitHub and most Markdown viewers render.

>>> print(mermaid({"Order.Created": "order-service"},
...               [Subscriber("delivery-service", "on_order_created", "Order.Created")]))
flowchart LR
  service_delivery_service(["delivery-service"])
  service_order_service(["order-service"])
  bus_global_bus[("global-bus")]
  bus_local_bus_delivery_service[("local-bus-delivery-service")]
  event_Order_Created{{"Order.Created"}}
  service_order_service -->|publishes| event_Order_Created
  event_Order_Created --> bus_global_bus
  bus_global_bus -->|forwards| bus_local_bus_delivery_service
  bus_local_bus_delivery_service -->|"Order.Created → on_order_created"| service_delivery_service
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from infra_bootstrap.names import GLOBAL_BUS, local_bus


@dataclass(frozen=True, order=True)
class Subscriber:
    """One declared subscription: ``service``'s function ``handler`` on ``detail_type``."""

    service: str
    handler: str
    detail_type: str


def node_id(kind: str, name: str) -> str:
    """A Mermaid node id: letters, digits and ``_`` only.

    >>> node_id("event", "Order.Created")
    'event_Order_Created'
    """
    return f"{kind}_{re.sub(r'[^A-Za-z0-9]', '_', name)}"


def mermaid(producers: Mapping[str, str], subscribers: Iterable[Subscriber]) -> str:
    """The flowchart. ``producers`` maps each detail-type to the service publishing it."""
    subs = sorted(subscribers)
    services = sorted({*producers.values(), *(s.service for s in subs)})
    subscribing = sorted({s.service for s in subs})
    lines = ["flowchart LR"]
    lines += [f'  {node_id("service", s)}(["{s}"])' for s in services]
    lines.append(f'  {node_id("bus", GLOBAL_BUS)}[("{GLOBAL_BUS}")]')
    lines += [f'  {node_id("bus", local_bus(s))}[("{local_bus(s)}")]' for s in subscribing]
    lines += [f'  {node_id("event", d)}{{{{"{d}"}}}}' for d in producers]
    for detail_type, producer in producers.items():
        lines.append(f"  {node_id('service', producer)} -->|publishes| "
                     f"{node_id('event', detail_type)}")
        lines.append(f"  {node_id('event', detail_type)} --> {node_id('bus', GLOBAL_BUS)}")
    for service in subscribing:
        lines.append(f"  {node_id('bus', GLOBAL_BUS)} -->|forwards| "
                     f"{node_id('bus', local_bus(service))}")
    for sub in subs:
        lines.append(f"  {node_id('bus', local_bus(sub.service))} -->|"
                     f'"{sub.detail_type} → {sub.handler}"| {node_id("service", sub.service)}')
    return "\n".join(lines)
