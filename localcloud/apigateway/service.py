"""Serving a REST API stage URL: find the method, check the Lambda permission, invoke the
function with the proxy event, answer with its response.

What API Gateway answers when that fails (its default gateway responses, body
``{"message": ...}``; API Gateway Developer Guide, "Gateway response types"; AWS re:Post
knowledge center "malformed-502-api-gateway"):

- no such stage, resource or method: 403 "Missing Authentication Token";
- an integration other than a Lambda proxy, a missing function, or a resource policy
  that does not let ``apigateway.amazonaws.com`` invoke it for this method's ARN:
  500 "Internal server error" ("Execution failed due to configuration error");
- the function raised, or answered something that is not a proxy response:
  502 "Internal server error";
- no answer within the 29 s integration timeout: 504 "Endpoint request timed out".
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections.abc import Callable

from localcloud import arns
from localcloud.apigateway.proxy import (
    INTERNAL_SERVER_ERROR,
    HttpRequest,
    HttpResponse,
    MalformedResponse,
    RequestContext,
    gateway_error,
    http_response,
    proxy_event,
)
from localcloud.apigateway.routing import Route, match
from localcloud.apigateway.urls import UserRequest
from localcloud.functions import FunctionInvoker, FunctionUnreachable
from localcloud.permissions import APIGATEWAY_PRINCIPAL, service_allowed
from localcloud.state import CloudState, Function, RestApi

log = logging.getLogger(__name__)

# API Gateway's maximum integration timeout for REST APIs (API Gateway Developer Guide,
# "Amazon API Gateway quotas": 50 ms - 29 seconds).
INTEGRATION_TIMEOUT_S = 29.0
PROXY_INTEGRATIONS = frozenset({"aws_proxy", "AWS_PROXY"})


class RestApiService:
    """The data plane of REST API stages on the local endpoint."""

    def __init__(self, state: CloudState, invoker: Callable[[], FunctionInvoker]) -> None:
        self.state = state
        self._invoker = invoker

    def handle(self, target: UserRequest, request: HttpRequest, source_ip: str
               ) -> HttpResponse:
        """The response to one request on a stage URL (never raises for a bad request)."""
        request_id = str(uuid.uuid4())
        response = self._serve(target, request, source_ip, request_id)
        response.headers.append(("x-amzn-RequestId", request_id))
        return response

    def _serve(self, target: UserRequest, request: HttpRequest, source_ip: str,
               request_id: str) -> HttpResponse:
        api = self.state.rest_api(target.api_id)
        found = match(api.routes, request.method, request.path) if (
            api is not None and target.stage in api.stages) else None
        if api is None or found is None:
            return gateway_error(403, "Missing Authentication Token",
                                 "MissingAuthenticationTokenException")
        route = found.route
        function = self._function(api, target.stage, route, request.method)
        if function is None:
            return gateway_error(500, INTERNAL_SERVER_ERROR, "InternalServerErrorException")
        event = proxy_event(request, resource_path=route.resource_path,
                            path_parameters=found.path_parameters,
                            context=RequestContext(api.account, api.api_id, target.stage,
                                                   request_id, source_ip, time.time()),
                            binary_media_types=api.binary_media_types)
        timeout_s = min(function.timeout_s, INTEGRATION_TIMEOUT_S)
        try:
            result = self._invoker().invoke(function.arn, json.dumps(event),
                                            timeout_s=timeout_s, request_id=request_id)
        except FunctionUnreachable as exc:
            log.warning("%s %s: Lambda invocation failed: %s", target.api_id, route, exc)
            return gateway_error(500, INTERNAL_SERVER_ERROR, "InternalServerErrorException")
        if result.function_error:
            error_type = (result.payload or {}).get("errorType") if isinstance(
                result.payload, dict) else None
            if error_type == "Sandbox.Timedout" and function.timeout_s > INTEGRATION_TIMEOUT_S:
                return gateway_error(504, "Endpoint request timed out",
                                     "IntegrationTimeoutException")
            log.warning("%s %s: Lambda execution failed due to customer function error: %s",
                        target.api_id, route.resource_path, result.payload)
            return gateway_error(502, INTERNAL_SERVER_ERROR, "InternalServerErrorException")
        try:
            return http_response(result.payload)
        except MalformedResponse as exc:
            log.warning("%s %s: Execution failed due to configuration error: Malformed Lambda "
                        "proxy response (%s)", target.api_id, route.resource_path, exc)
            return gateway_error(502, INTERNAL_SERVER_ERROR, "InternalServerErrorException")

    def _function(self, api: RestApi, stage: str, route: Route, method: str
                  ) -> Function | None:
        """The integrated function, if API Gateway may invoke it for this method."""
        function_arn = arns.integration_function(route.uri or "")
        if route.integration_type not in PROXY_INTEGRATIONS or function_arn is None:
            log.warning("%s %s %s: integration %s %s is not a Lambda proxy integration "
                        "(the only kind served locally)", api.api_id, route.method,
                        route.resource_path, route.integration_type, route.uri)
            return None
        function = self.state.function(arns.parse(function_arn))
        if function is None:
            log.warning("%s: Execution failed due to configuration error: function %s does "
                        "not exist", api.api_id, function_arn)
            return None
        source_arn = arns.execute_api(api.region, api.account, api.api_id, stage,
                                      route.method if route.method != "ANY" else method,
                                      route.resource_path)
        if not service_allowed(function.policy, action="lambda:InvokeFunction",
                               resource=function.arn, source_arn=source_arn,
                               source_account=api.account, service=APIGATEWAY_PRINCIPAL):
            log.warning("%s: Execution failed due to configuration error: Invalid permissions "
                        "on Lambda function %s for %s", api.api_id, function_arn, source_arn)
            return None
        return function
