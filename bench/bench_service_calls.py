"""The CPU the services' own AWS calls take per order, in the calling process alone.

One order makes nine AWS calls from the services' code (``backbone``, boto3), the same
code that runs on AWS: the order API stores the order and publishes Order.Created
(PutItem, PutEvents); the delivery handler claims its delivery, records the delivery
time, publishes Delivery.Updated and marks it published (PutItem, UpdateItem, PutEvents,
UpdateItem); the order handler claims the order, publishes Order.Updated and marks it
published (UpdateItem, PutEvents, UpdateItem). This benchmark makes exactly those calls,
through ``backbone.idempotency.claim`` and ``backbone.publisher.Publisher``, against the
local endpoint (``python -m localcloud`` in another process), and counts only this
process's CPU time. That is a floor under the CPU an order costs on this machine, before
the endpoint, the Lambda runtime or the API server do anything, so it bounds the order
rate the cores can sustain at all. Figures are printed, not asserted.

    .venv/bin/python bench/bench_service_calls.py [--orders 300]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import resource
import subprocess
import sys
import uuid
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

REGION = "eu-west-1"
TABLE = "bench-service-table"
BUS = "bench-global-bus"


def cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def start_endpoint() -> tuple[subprocess.Popen[str], str]:
    process = subprocess.Popen([sys.executable, "-m", "localcloud", "--port", "0"], cwd=REPO,
                               stdout=subprocess.PIPE, text=True)
    assert process.stdout is not None
    for line in process.stdout:
        if line.startswith("listening: "):
            return process, line.split()[1]
    raise SystemExit("the endpoint did not start")


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--orders", type=int, default=300)
    args = parser.parse_args()
    endpoint, url = start_endpoint()
    os.environ.update(AWS_ENDPOINT_URL=url, AWS_ACCESS_KEY_ID="bench",
                      AWS_SECRET_ACCESS_KEY="bench", AWS_REGION=REGION,
                      AWS_DEFAULT_REGION=REGION, TABLE_NAME=TABLE,
                      POWERTOOLS_METRICS_NAMESPACE="Bench", LOG_LEVEL="WARNING")
    try:
        import boto3

        account = boto3.client("sts").get_caller_identity()["Account"]  # the key's account
        os.environ["GLOBAL_BUS_ARN"] = f"arn:aws:events:{REGION}:{account}:event-bus/{BUS}"
        boto3.client("dynamodb").create_table(
            TableName=TABLE, BillingMode="PAY_PER_REQUEST",
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"},
                       {"AttributeName": "sk", "KeyType": "RANGE"}],
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"},
                                  {"AttributeName": "sk", "AttributeType": "S"}])
        boto3.client("events").create_event_bus(Name=BUS)
        calls = order_calls()
        # The services' metrics (Powertools EMF lines) are printed as on Lambda; not here.
        with contextlib.redirect_stdout(io.StringIO()):
            for _ in range(5):  # clients created, first calls of each operation made
                one_order(calls)
            started = cpu_s()
            for _ in range(args.orders):
                one_order(calls)
            per_order = (cpu_s() - started) / args.orders
    finally:
        endpoint.terminate()
        endpoint.wait()
    cores = os.cpu_count() or 1
    print(f"cores: {cores}, load average {os.getloadavg()[0]:.1f} (shared machine)")
    print(f"the services' 9 AWS calls of one order (boto3 via backbone), {args.orders} orders: "
          f"{per_order * 1000:.1f} ms CPU per order in the calling process")
    print(f"  -> {cores} cores allow at most {cores / per_order:.0f} orders/s for these calls "
          f"alone; 75 orders/s leaves {max(0.0, cores / 75 - per_order) * 1000:.1f} ms per "
          "order for everything else (endpoint, Lambda runtime, API server)")


def order_calls() -> dict[str, Callable[[str], None]]:
    """The three steps of one order, as the services make their AWS calls."""
    from backbone.envelope import Meta, OutgoingEvent, new_correlation_id, utc_now
    from backbone.idempotency import Condition, claim
    from backbone.publisher import Publisher
    from backbone.store import Table

    table = Table()
    orders, deliveries = Publisher("order-service"), Publisher("delivery-service")

    def order_of(order_id: str) -> dict[str, object]:
        return {"orderId": order_id, "status": "CREATED", "createdAt": utc_now(),
                "customerId": "anonymous", "items": [{"sku": "SKU-1", "quantity": 1}]}

    def post(order_id: str) -> None:  # POST /orders
        table.put_new({"pk": f"ORDER#{order_id}", "sk": "ORDER", **order_of(order_id)})
        orders.publish(OutgoingEvent("Order.Created", order_of(order_id),
                                     Meta(new_correlation_id())))

    def deliver(order_id: str) -> None:  # delivery-service on Order.Created
        held = claim(table, (f"DELIVERY#{order_id}", "DELIVERY"), flag="published",
                     create={"orderId": order_id, "order": order_of(order_id),
                             "deliveryId": str(uuid.uuid4()),
                             "correlationId": new_correlation_id()})
        assert held is not None
        with held:
            held.update({"deliveredAt": utc_now()})
            deliveries.publish(OutgoingEvent("Delivery.Updated", {
                "order": held.item["order"], "deliveredAt": held.item["deliveredAt"],
                "deliveryId": held.item["deliveryId"]}, Meta(new_correlation_id())))

    def update(order_id: str) -> None:  # order-service on Delivery.Updated
        held = claim(table, (f"ORDER#{order_id}", "ORDER"), flag="orderUpdatedPublished",
                     change={"status": "DELIVERED", "deliveredAt": utc_now(),
                             "deliveryId": str(uuid.uuid4()), "updatedAt": utc_now()},
                     when=Condition("attribute_exists(pk) AND #status = :created",
                                    {"created": "CREATED"}))
        assert held is not None
        with held:
            orders.publish(OutgoingEvent("Order.Updated", {
                key: held.item[key] for key in ("orderId", "status", "createdAt",
                                                "customerId", "items", "deliveredAt",
                                                "deliveryId", "updatedAt")},
                Meta(new_correlation_id())))

    return {"post": post, "deliver": deliver, "update": update}


def one_order(calls: dict[str, Callable[[str], None]]) -> None:
    order_id = str(uuid.uuid4())
    for step in ("post", "deliver", "update"):
        calls[step](order_id)


if __name__ == "__main__":
    main()
