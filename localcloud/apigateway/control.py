"""ImportRestApi and PutRestApi, which moto cannot do for Chalice's Swagger 2.0 document.

``POST /restapis?mode=import`` (ImportRestApi) and ``PUT /restapis/<id>?mode=...``
(PutRestApi) are answered here: the document is checked (:mod:`.definition`) and stored
in moto's API Gateway backend of the caller's account and region, as resources, methods
and integrations, so every other API Gateway call (GetResources, CreateDeployment,
stages, DeleteRestApi, ...) is moto's as usual. Request shapes: API Gateway API
Reference, ImportRestApi and PutRestApi.

>>> control_action("POST", "/restapis", "mode=import&endpointConfigurationTypes=EDGE")
('import', None)
>>> control_action("PUT", "/restapis/abc123", "mode=overwrite")
('put', 'abc123')
>>> control_action("GET", "/restapis/abc123", "") is None
True
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import parse_qs

from localcloud.apigateway.definition import bad_request, parse_document
from localcloud.state import CloudState

_PUT_PATH = re.compile(r"^/restapis/([^/]+)/?$")
MODES = ("merge", "overwrite")


def control_action(method: str, path: str, query: str) -> tuple[str, str | None] | None:
    """("import", None) or ("put", api id) for the requests handled here, else None."""
    if method == "POST" and path.rstrip("/") == "/restapis":
        return ("import", None) if parse_qs(query).get("mode") == ["import"] else None
    found = _PUT_PATH.match(path)
    if method == "PUT" and found:
        return "put", found[1]
    return None


def handle(state: CloudState, action: tuple[str, str | None], *, account: str, region: str,
           query: str, body: bytes) -> tuple[int, dict[str, Any]]:
    """(HTTP status, RestApi JSON) of ImportRestApi (201) or PutRestApi (200); raises
    AwsApiError (BadRequestException naming the problem, NotFoundException)."""
    document = parse_document(body)
    params = parse_qs(query)
    kind, api_id = action
    if kind == "import":
        if not document.title:
            raise bad_request("Invalid OpenAPI input: info.title (the API's name) is "
                              "required")
        types = [t for value in params.get("endpointConfigurationTypes", [])
                 for t in value.split(",") if t]
        return 201, state.import_rest_api(account, region, document, types)
    mode = params.get("mode", ["merge"])[0]
    if mode not in MODES:
        raise bad_request(f"Invalid mode {mode!r}: expected one of {', '.join(MODES)}")
    return 200, state.put_rest_api(account, region, api_id or "", document, mode)
