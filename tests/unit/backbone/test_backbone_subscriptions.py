"""@subscribe, the apps' declared subscriptions, settings, and import without env."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from chalice import Chalice

from backbone import settings
from backbone.errors import ConfigurationError
from backbone.subscriptions import Subscription, subscribe, subscriptions_of
from infra_bootstrap.service_apps import load_app, service_dir

REPO = Path(__file__).resolve().parents[3]


def test_subscribe_registers_a_lambda_function_and_records_the_pattern() -> None:
    app = Chalice(app_name="probe-service", configure_logs=False)

    @subscribe(app, detail_type="Delivery.Updated", name="on_delivery")
    def on_delivery(event: object) -> None:
        raise AssertionError("not invoked here")

    [subscription] = subscriptions_of(app)
    assert subscription == Subscription(
        name="on_delivery",
        event_pattern={"source": ["delivery-service"], "detail-type": ["Delivery.Updated"]},
        handler=on_delivery)
    assert [f.name for f in app.pure_lambda_functions] == ["on_delivery"]
    assert app.pure_lambda_functions[0].handler_string == "app.on_delivery"
    assert subscription.handler is on_delivery


def test_subscribe_refuses_bad_names_duplicates_and_unknown_detail_types() -> None:
    app = Chalice(app_name="probe-service", configure_logs=False)
    subscribe(app, detail_type="Order.Created", name="once")(lambda e: None)
    with pytest.raises(ValueError, match="declared twice"):
        subscribe(app, detail_type="Order.Created", name="once")
    with pytest.raises(ValueError, match="1-40"):
        subscribe(app, detail_type="Order.Created", name="x" * 41)
    with pytest.raises(Exception, match="unknown detail-type"):
        subscribe(app, detail_type="Order.Cancelled", name="other")


def test_the_services_declare_their_subscriptions() -> None:
    order, delivery = load_app("order-service"), load_app("delivery-service")

    assert (order.app_name, delivery.app_name) == ("order-service", "delivery-service")
    assert [(s.name, s.event_pattern) for s in subscriptions_of(order)] == [
        ("on_delivery_updated",
         {"source": ["delivery-service"], "detail-type": ["Delivery.Updated"]})]
    assert [(s.name, s.event_pattern) for s in subscriptions_of(delivery)] == [
        ("on_order_created", {"source": ["order-service"], "detail-type": ["Order.Created"]})]
    assert service_dir("delivery-service") == REPO / "delivery_service"


def test_vendor_links_package_backbone_with_each_service() -> None:
    for service in ("order_service", "delivery_service"):
        link = REPO / service / "vendor" / "backbone"
        assert link.is_symlink() and os.readlink(link) == "../../backbone"
        assert (link / "publisher.py").is_file()


@pytest.mark.parametrize("service", ["order_service", "delivery_service"])
def test_app_imports_with_an_empty_environment(service: str) -> None:
    # No env vars (so no credentials, region or endpoint), no network needed.
    code = ("import sys; sys.path.insert(0, '.'); "
            f"sys.path.insert(0, '{service}'); import app; "
            "assert 'boto3' not in sys.modules, 'boto3 imported at import time'; "
            "print(app.app.app_name)")
    # -B: an empty environment drops PYTHONPYCACHEPREFIX; write no bytecode into the tree.
    result = subprocess.run([sys.executable, "-B", "-c", code], cwd=REPO, env={},
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == service.replace("_", "-")


def test_settings_are_read_at_use_and_name_missing_variables(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TABLE_NAME", raising=False)
    with pytest.raises(ConfigurationError, match="TABLE_NAME is not set"):
        settings.table_name()
    monkeypatch.setenv("TABLE_NAME", "order-service-state")
    assert settings.table_name() == "order-service-state"
    monkeypatch.setenv("GLOBAL_BUS_ARN", "global-bus")
    with pytest.raises(ConfigurationError, match="not an event bus ARN"):
        settings.global_bus_arn()
    monkeypatch.delenv("DELIVERY_DELAY_SECONDS", raising=False)
    assert settings.delivery_delay_seconds() == 5.0
    monkeypatch.setenv("DELIVERY_DELAY_SECONDS", "-1")
    with pytest.raises(ConfigurationError, match="DELIVERY_DELAY_SECONDS"):
        settings.delivery_delay_seconds()
    monkeypatch.setenv("LOG_LEVEL", "chatty")
    with pytest.raises(ConfigurationError, match="LOG_LEVEL"):
        settings.log_level()
    monkeypatch.delenv("POWERTOOLS_METRICS_NAMESPACE", raising=False)
    assert settings.metrics_namespace() == "Backbone"


def test_a_handler_refuses_an_event_its_pattern_would_not_match(
        capsys: pytest.CaptureFixture[str]) -> None:
    import json

    from backbone import observability
    from backbone.catalog import event_type
    from backbone.errors import MalformedEvent

    app = Chalice(app_name="probe-service", configure_logs=False)
    received: list[object] = []
    handler = subscribe(app, detail_type="Delivery.Updated", name="on_delivery")(
        received.append)
    # A valid Order.Created, delivered to the Delivery.Updated handler (a misrouted target).
    misrouted = {"version": "0", "id": "e-1", "detail-type": "Order.Created",
                 "source": "order-service", "account": "222222222222", "region": "eu-west-1",
                 "time": "2025-01-01T12:00:00Z", "resources": [],
                 "detail": json.loads(json.dumps(event_type("Order.Created").example_detail))}
    observability.reset()
    capsys.readouterr()

    with pytest.raises(MalformedEvent, match="does not match"):
        handler(misrouted, None)

    assert received == []
    [line] = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    assert line["message"] == "event rejected" and line["level"] == "ERROR"
    assert line["event_id"] == "e-1"
