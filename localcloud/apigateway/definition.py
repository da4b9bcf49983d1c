"""Swagger 2.0 / OpenAPI documents as ImportRestApi and PutRestApi take them (pure).

Chalice deploys a REST API by importing a Swagger 2.0 document whose methods carry
``x-amazon-apigateway-integration`` (API Gateway Developer Guide, "OpenAPI extensions to
API Gateway"). moto's importer reads the same ``paths``/methods/extensions but refuses
Swagger 2.0 and needs ``info.description``; :func:`parse_document` checks a body as API
Gateway does and :meth:`ApiDocument.for_moto` gives moto what it reads: the methods
only, ``x-amazon-apigateway-any-method`` as ``any``.

>>> doc = parse_document(b'{"swagger": "2.0", "info": {"title": "shop"}, "paths": {'
...     b'"/orders": {"x-amazon-apigateway-any-method": {}, "parameters": []}}, '
...     b'"x-amazon-apigateway-binary-media-types": ["image/png"]}')
>>> doc.title, doc.binary_media_types, doc.for_moto()["paths"]
('shop', ('image/png',), {'/orders': {'any': {}}})
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from localcloud.errors import AwsApiError

ANY_METHOD = "x-amazon-apigateway-any-method"
BINARY_MEDIA_TYPES = "x-amazon-apigateway-binary-media-types"
HTTP_METHODS = ("get", "put", "post", "delete", "options", "head", "patch")


@dataclass(frozen=True)
class ApiDocument:
    """An accepted API definition: its title, description, paths and binary types."""

    title: str | None
    description: str | None
    paths: dict[str, dict[str, Any]]
    binary_media_types: tuple[str, ...]

    def for_moto(self) -> dict[str, Any]:
        """The document as moto's OpenAPI 3 importer reads it (methods only)."""
        info = {"title": self.title or "", "description": self.description or ""}
        return {"openapi": "3.0.1", "info": info, "paths": self.paths}


def bad_request(message: str) -> AwsApiError:
    """API Gateway's error for a definition it cannot import (HTTP 400)."""
    return AwsApiError("BadRequestException", message, 400)


def parse_document(body: bytes) -> ApiDocument:
    """The definition in an ImportRestApi/PutRestApi body; BadRequestException naming the
    problem otherwise. JSON only (API Gateway also reads YAML).

    >>> parse_document(b'{"swagger": "2.0", "paths": {"/a": {"get": 1}}}')
    Traceback (most recent call last):
    ...
    localcloud.errors.AwsApiError: BadRequestException: Invalid OpenAPI input: paths./a.get \
must be an object
    """
    try:
        document = json.loads(body or b"")
    except ValueError:
        raise bad_request("Invalid OpenAPI input: the body is not a JSON document") from None
    if not isinstance(document, dict):
        raise bad_request("Invalid OpenAPI input: the document must be a JSON object")
    if "swagger" not in document and "openapi" not in document:
        raise bad_request("Invalid OpenAPI input: no 'swagger' or 'openapi' version field")
    info = document.get("info") or {}
    if not isinstance(info, dict):
        raise bad_request("Invalid OpenAPI input: info must be an object")
    raw_paths = document.get("paths")
    if not isinstance(raw_paths, dict):
        raise bad_request("Invalid OpenAPI input: paths must be an object")
    paths: dict[str, dict[str, Any]] = {}
    for path, item in raw_paths.items():
        if not isinstance(path, str) or not path.startswith("/"):
            raise bad_request(f"Invalid OpenAPI input: path {path!r} must start with '/'")
        if not isinstance(item, dict):
            raise bad_request(f"Invalid OpenAPI input: paths.{path} must be an object")
        paths[path] = _methods(path, item)
    binary = document.get(BINARY_MEDIA_TYPES) or []
    if not isinstance(binary, list) or not all(isinstance(t, str) for t in binary):
        raise bad_request(f"Invalid OpenAPI input: {BINARY_MEDIA_TYPES} must be a list of "
                          "strings")
    title, description = info.get("title"), info.get("description")
    return ApiDocument(title if isinstance(title, str) else None,
                       description if isinstance(description, str) else None,
                       paths, tuple(binary))


def _methods(path: str, item: dict[str, Any]) -> dict[str, Any]:
    methods: dict[str, Any] = {}
    for key, operation in item.items():
        name = "any" if key == ANY_METHOD else key.lower()
        if name not in HTTP_METHODS and name != "any":
            continue  # parameters, summary, servers, other extensions: not methods
        if not isinstance(operation, dict):
            raise bad_request(f"Invalid OpenAPI input: paths.{path}.{key} must be an object")
        integration = operation.get("x-amazon-apigateway-integration")
        if integration is not None and not isinstance(integration, dict):
            raise bad_request(f"Invalid OpenAPI input: paths.{path}.{key}."
                              "x-amazon-apigateway-integration must be an object")
        methods[name] = operation
    return methods
