"""What `chalice deploy --stage S` recorded for a service: ``.chalice/deployed/S.json``.

Chalice writes each deployed resource there under ``resources``: functions as
``{"name", "resource_type": "lambda_function", "lambda_arn"}``, the REST API as
``{"name": "rest_api", "resource_type": "rest_api", "rest_api_id", "rest_api_url"}``.
This module is the one reader of that file.

>>> record = parse_deployed({"resources": [
...     {"name": "api_handler", "resource_type": "lambda_function",
...      "lambda_arn": "arn:aws:lambda:eu-west-1:555555555555:function:shop-prod"},
...     {"name": "rest_api", "resource_type": "rest_api", "rest_api_id": "abc123",
...      "rest_api_url": "https://abc123.execute-api.eu-west-1.amazonaws.com/api/"}]})
>>> record.functions
{'api_handler': 'arn:aws:lambda:eu-west-1:555555555555:function:shop-prod'}
>>> record.api_url(endpoint_url=None)
'https://abc123.execute-api.eu-west-1.amazonaws.com/api/'
>>> record.api_url(endpoint_url="http://127.0.0.1:4566")
'http://127.0.0.1:4566/restapis/abc123/api/_user_request_/'
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from infra_bootstrap.errors import UsageError
from localcloud.apigateway.urls import local_url  # light: no moto import


@dataclass(frozen=True)
class Deployed:
    """A service's deployed functions (name -> ARN) and REST API, if it has one."""

    functions: dict[str, str]
    rest_api_id: str | None = None
    rest_api_url: str | None = None

    def api_url(self, *, endpoint_url: str | None) -> str | None:
        """The REST API's base URL: as Chalice printed it on AWS, or its stage URL on the
        local endpoint (``endpoint_url``, the AWS_ENDPOINT_URL of the local cloud)."""
        if self.rest_api_id is None or self.rest_api_url is None:
            return None
        if endpoint_url is None:
            return self.rest_api_url
        api_stage = urlsplit(self.rest_api_url).path.strip("/") or "api"
        return local_url(endpoint_url, self.rest_api_id, api_stage) + "/"


def deployed_path(service_dir: Path, stage: str) -> Path:
    return Path(service_dir) / ".chalice" / "deployed" / f"{stage}.json"


def parse_deployed(document: Any) -> Deployed:
    """The record in Chalice's deployed state; ValueError when it is not that shape."""
    if not isinstance(document, dict) or not isinstance(document.get("resources", []), list):
        raise ValueError("expected an object with a list of resources")
    functions: dict[str, str] = {}
    api_id = api_url = None
    for resource in document.get("resources", []):
        if not isinstance(resource, dict):
            raise ValueError(f"a resource is not an object: {resource!r}")
        kind = resource.get("resource_type")
        if kind == "lambda_function":
            functions[str(resource["name"])] = str(resource["lambda_arn"])
        elif kind == "rest_api":
            api_id, api_url = str(resource["rest_api_id"]), str(resource["rest_api_url"])
    return Deployed(functions, api_id, api_url)


def read_deployed(service: str, service_dir: Path, stage: str) -> Deployed | None:
    """The service's deployed record for the stage; None when it was never deployed
    from this folder; UsageError naming the file when it is not Chalice's."""
    path = deployed_path(service_dir, stage)
    if not path.exists():
        return None
    try:
        return parse_deployed(json.loads(path.read_text(encoding="utf-8")))
    except (ValueError, KeyError, TypeError) as exc:
        raise UsageError(f"service {service}: {path} is not Chalice deployed state: "
                         f"{exc}") from None
