"""The OpenAPI 3.1 document, generated from the route table and the command and view classes."""

from __future__ import annotations

import datetime as dt
import enum
import re
import types
import typing
from collections.abc import Sequence
from typing import Any

import attrs

import medbook
from medbook.domain.shared.entity import MAX_ID
from medbook.entrypoints.fhir import KINDS
from medbook.entrypoints.http import fhir
from medbook.entrypoints.http.api import FORM_FIELD, Route, query_name
from medbook.entrypoints.http.errors import TITLES

#: The form of object-storage keys (the storage adapters check more: no '..', no '//').
KEY_PATTERN = "^[a-z0-9][a-z0-9/._-]*$"

_PARAM = re.compile(r"{(?P<name>\w+)(?::(?P<conv>\w+))?}")


class _Schemas:
    def __init__(self) -> None:
        self.components: dict[str, Any] = {}

    def of(self, kind: Any, *, request: bool = False) -> dict[str, Any]:
        origin = typing.get_origin(kind)
        if origin in (types.UnionType, typing.Union):
            options = [self.of(a, request=request) for a in typing.get_args(kind)]
            return {"anyOf": options}
        if kind is type(None):
            return {"type": "null"}
        if origin is list:
            return {"type": "array", "items": self.of(typing.get_args(kind)[0], request=request)}
        if origin is dict:
            return {
                "type": "object",
                "additionalProperties": self.of(typing.get_args(kind)[1], request=request),
            }
        if kind is bool:
            return {"type": "boolean"}
        if kind is int:
            return {"type": "integer"}
        if kind is float:
            return {"type": "number"}
        if kind is str:
            return {"type": "string"}
        if kind is dt.datetime:
            return {"type": "string", "format": "date-time"}
        if kind is dt.date:
            return {"type": "string", "format": "date"}
        if isinstance(kind, type) and issubclass(kind, enum.Enum):
            return {"type": "string", "enum": [m.value for m in kind]}
        if attrs.has(kind):
            return self._object(kind, request)
        raise TypeError(f"no schema for {kind!r}")

    def _object(self, cls: type, request: bool) -> dict[str, Any]:
        # A class may be both a body and a view: the body's schema refuses unknown fields.
        name = cls.__name__ + ("Input" if request else "")
        if name not in self.components:
            self.components[name] = {}  # a placeholder for recursive references
            hints = typing.get_type_hints(cls)
            fields = attrs.fields(cls)
            schema: dict[str, Any] = {
                "type": "object",
                "properties": {
                    f.name: _constrained(self.of(hints[f.name], request=request), f.metadata)
                    for f in fields
                },
                "required": [f.name for f in fields if not request or f.default is attrs.NOTHING],
            }
            if request:
                schema["additionalProperties"] = False
            if not schema["required"]:
                del schema["required"]
            self.components[name] = schema
        return {"$ref": f"#/components/schemas/{name}"}


def _constrained(schema: dict[str, Any], metadata: Any) -> dict[str, Any]:
    """The field's own constraints (``metadata["schema"]``) on its schema, or on its non-null
    branch when it is optional."""
    extra = metadata.get("schema")
    if not extra:
        return schema
    if "anyOf" in schema:
        branches = [b if b.get("type") == "null" else {**b, **extra} for b in schema["anyOf"]]
        return {"anyOf": branches}
    return {**schema, **extra}


PROBLEM_SCHEMA = {
    "type": "object",
    "required": ["status", "title", "detail"],
    "properties": {
        "type": {"type": "string"},
        "status": {"type": "integer"},
        "title": {"type": "string"},
        "detail": {"type": "string"},
        "code": {"type": "string"},
        "errors": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["field", "message"],
                "properties": {"field": {"type": "string"}, "message": {"type": "string"}},
            },
        },
    },
}


def _path(template: str, patterns: dict[str, str]) -> tuple[str, list[dict[str, Any]]]:
    parameters = []
    for match in _PARAM.finditer(template):
        schema: dict[str, Any] = {"type": "string"}
        if match["name"] in patterns:
            schema["pattern"] = patterns[match["name"]]
        if match["conv"] == "id":
            schema = {"type": "integer", "minimum": 1, "maximum": MAX_ID}
        parameters.append({"name": match["name"], "in": "path", "required": True, "schema": schema})
    return _PARAM.sub(lambda m: "{" + m["name"] + "}", template), parameters


def document(routes: Sequence[Route], extra: Sequence[tuple[str, str, str]] = ()) -> dict[str, Any]:
    """The whole API as OpenAPI 3.1. ``extra``: (path, method, summary) of plain routes."""
    schemas = _Schemas()
    paths: dict[str, Any] = {}
    for route in routes:
        path, path_params = _path(route.path, route.patterns)
        item = paths.setdefault(path, {})
        for method, op in route.operations.items():
            operation: dict[str, Any] = {
                "operationId": f"{op.handler.__name__}",
                "summary": op.summary,
                **({"description": op.description} if op.description else {}),
                "tags": [route.tag],
                "parameters": list(path_params),
                "responses": {},
            }
            if op.query is not None:
                hints = typing.get_type_hints(op.query)
                for f in attrs.fields(op.query):
                    operation["parameters"].append(
                        {
                            "name": query_name(f),
                            "in": "query",
                            "required": f.default is attrs.NOTHING,
                            "schema": _constrained(schemas.of(hints[f.name]), f.metadata),
                        }
                    )
            if op.files:
                binary = {"schema": {"type": "string", "format": "binary"}}
                form = {
                    "schema": {
                        "type": "object",
                        "properties": {FORM_FIELD: {"type": "string", "format": "binary"}},
                        "required": [FORM_FIELD],
                        "additionalProperties": False,
                    },
                    "encoding": {FORM_FIELD: {"contentType": ", ".join(op.files)}},
                }
                operation["requestBody"] = {
                    "required": True,
                    "description": "The file as the raw body with its own type, or as the part "
                    f"named `{FORM_FIELD}` of a multipart/form-data body (a browser's FormData)",
                    "content": {**dict.fromkeys(op.files, binary), "multipart/form-data": form},
                }
                operation["parameters"].append(
                    {
                        "name": "X-Filename",
                        "in": "header",
                        "required": False,
                        "schema": {"type": "string"},
                    }
                )
            for header in op.headers:
                operation["parameters"].append(
                    {"name": header, "in": "header", "required": True, "schema": {"type": "string"}}
                )
            if op.raw is not None:
                operation["requestBody"] = {
                    "required": True,
                    "content": {"application/json": {"schema": schemas.of(op.raw, request=True)}},
                }
            if op.body is not None:
                operation["requestBody"] = {
                    "required": True,
                    "content": {"application/json": {"schema": schemas.of(op.body, request=True)}},
                }
            success: dict[str, Any] = {"description": TITLES.get(op.status, "OK")}
            if op.response is not None:
                success["content"] = {"application/json": {"schema": schemas.of(op.response)}}
            if op.download and op.media_type is not None:  # a text of its own format
                success["content"] = {op.media_type: {"schema": {"type": "string"}}}
            elif op.download:
                success["content"] = {"*/*": {"schema": {"type": "string", "format": "binary"}}}
            for status in (op.status, *op.also):
                described = {**success, "description": TITLES.get(status, "OK")}
                if status == 204:  # No Content: never a body
                    described.pop("content", None)
                operation["responses"][str(status)] = described
            errors = set(op.errors)
            if op.auth:
                operation["security"] = [{"bearer": []}]
                errors |= {401}
            if op.body is not None:
                errors |= {400, 413, 415, 422}
            if op.raw is not None:
                errors |= {400, 413, 415}
            if op.files:
                errors |= {400, 413, 415, 422}  # 400: a multipart body that is not well-formed
            if op.query is not None or path_params:
                errors |= {422} if op.query is not None else set()
            for status in sorted(errors):
                problem = {
                    "application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}
                }
                # A status the handler answers itself (``also``) keeps its own body beside it.
                own = operation["responses"].get(str(status), {}).get("content", {})
                operation["responses"][str(status)] = {
                    "description": TITLES.get(status, "Error"),
                    "content": {**own, **problem},
                }
            item[method.lower()] = operation
    for path, method, summary in extra:
        paths.setdefault(path, {})[method.lower()] = {
            "operationId": path.strip("/").replace("/", "_").replace(".", "_"),
            "summary": summary,
            "tags": ["operations"],
            "responses": {
                "200": {
                    "description": "OK",
                    "content": {"application/json": {"schema": {"type": "object"}}},
                },
                "503": {
                    "description": "Not ready",
                    "content": {
                        "application/problem+json": {
                            "schema": {"$ref": "#/components/schemas/Problem"}
                        }
                    },
                },
            },
        }
    paths["/metrics"] = {
        "get": {
            "operationId": "metrics",
            "summary": "Prometheus metrics, for internal callers (MEDBOOK_METRICS_NETWORKS) or "
            "holders of MEDBOOK_METRICS_TOKEN",
            "tags": ["operations"],
            "responses": {
                "200": {
                    "description": "Prometheus' text exposition format",
                    "content": {"text/plain": {"schema": {"type": "string"}}},
                },
                "403": {
                    "description": "Neither internal nor holding the metrics token",
                    "content": {
                        "application/problem+json": {
                            "schema": {"$ref": "#/components/schemas/Problem"}
                        }
                    },
                },
            },
        }
    }
    paths["/files/{key}"] = {
        "get": {
            "operationId": "stored_file",
            "summary": "A stored file (local storage), served with its own content type",
            "tags": ["files"],
            "parameters": [
                {
                    "name": "key",
                    "in": "path",
                    "required": True,
                    "schema": {"type": "string", "pattern": KEY_PATTERN, "maxLength": 255},
                }
            ],
            "responses": {
                "200": {
                    "description": "The file",
                    "content": {"*/*": {"schema": {"type": "string", "format": "binary"}}},
                },
                **{
                    str(status): {
                        "description": TITLES[status],
                        "content": {
                            "application/problem+json": {
                                "schema": {"$ref": "#/components/schemas/Problem"}
                            }
                        },
                    }
                    for status in (404, 422)
                },
            },
        }
    }
    paths["/"] = {
        "get": {
            "operationId": "web_client",
            "summary": "The web client's page (its views are chosen by the URL's fragment)",
            "tags": ["web"],
            "responses": {
                "200": {
                    "description": "The page",
                    "content": {"text/html": {"schema": {"type": "string"}}},
                },
                "304": {"description": "Not modified (If-None-Match named its ETag)"},
            },
        }
    }
    paths["/web/{name}"] = {
        "get": {
            "operationId": "web_client_file",
            "summary": "A script, style sheet or image of the web client",
            "tags": ["web"],
            "parameters": [
                {
                    "name": "name",
                    "in": "path",
                    "required": True,
                    "schema": {"type": "string", "pattern": "^[A-Za-z0-9_./-]+$", "maxLength": 200},
                }
            ],
            "responses": {
                "200": {
                    "description": "The file, with its own content type",
                    "content": {"*/*": {"schema": {"type": "string", "format": "binary"}}},
                },
                "304": {"description": "Not modified (If-None-Match named its ETag)"},
                "404": {
                    "description": TITLES[404],
                    "content": {
                        "application/problem+json": {
                            "schema": {"$ref": "#/components/schemas/Problem"}
                        }
                    },
                },
            },
        }
    }
    paths.update(fhir.openapi_paths(list(KINDS)))
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "medbook API",
            "version": medbook.__version__,
            "description": "Book a doctor, consult, order home visits, keep a health file.",
        },
        "paths": paths,
        "components": {
            "schemas": {"Problem": PROBLEM_SCHEMA, **schemas.components},
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}
            },
        },
    }
