"""The error answers of the OpenAPI document, as the server really sends them.

FastAPI documents only its own 422 body (``detail`` a list of validation errors). The server
also answers 422 with a plain ``detail`` text (a bad date, a deep offset), 400 for a body that
is not JSON, 401 without a valid key, 404 for a missing resource, 413 past the body cap and
503 when a read hits the statement time limit. :func:`document_errors` adds each of them to
the operations that can answer it, with the body's schema, so a client generated from the
document (or schemathesis' conformance checks) meets no undocumented answer.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import fastapi.routing
from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute

__all__ = ("document_errors",)

_ERROR = "HTTPError"
_REF = f"#/components/schemas/{_ERROR}"
_ERROR_SCHEMA = {
    "title": _ERROR,
    "type": "object",
    "properties": {"detail": {"type": "string", "title": "Detail"}},
    "required": ["detail"],
}
_METHODS = ("get", "put", "post", "delete", "patch")


def _route_table(app: FastAPI) -> dict[tuple[str, str], Dependant]:
    """``(full path, method) -> dependant`` of every API route.

    FastAPI 0.16x keeps included routers apart (:func:`fastapi.routing.iter_route_contexts`
    resolves their full paths); older versions copy their routes into ``app.routes``.
    """
    table: dict[tuple[str, str], Dependant] = {}
    contexts = getattr(fastapi.routing, "iter_route_contexts", None)
    if contexts is not None:
        for context in contexts(app.routes):
            route = context.original_route
            if isinstance(route, APIRoute) and context.path:
                for method in context.methods or ():
                    table[(context.path, method.lower())] = route.dependant
    for route in app.routes:
        if isinstance(route, APIRoute):
            for method in route.methods or ():
                table.setdefault((route.path, method.lower()), route.dependant)
    return table


def _calls(dependant: Dependant) -> Iterator[Callable[..., Any]]:
    for sub in dependant.dependencies:
        if sub.call is not None:
            yield sub.call
        yield from _calls(sub)


def _error(description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": {"$ref": _REF}}}}


def _with_body(response: dict[str, Any], description: str) -> None:
    response.setdefault("description", description)
    response.setdefault("content", {"application/json": {"schema": {"$ref": _REF}}})


def document_errors(
    schema: dict[str, Any],
    app: FastAPI,
    *,
    authenticated: Callable[..., Any],
    reads_db: Callable[..., Any],
    result_422: frozenset[str] = frozenset(),
) -> None:
    """Add the error answers the server sends to every operation of ``schema`` (in place).

    ``authenticated`` and ``reads_db`` are the dependencies whose presence means a 401 or a
    503 is possible; the paths in ``result_422`` answer 422 with their usual result body too
    (``/track`` when no record was accepted).
    """
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    components[_ERROR] = _ERROR_SCHEMA
    validation = components.get("HTTPValidationError")
    if validation is not None:
        # 422 answers carry either FastAPI's list of errors or one message.
        detail = validation["properties"]["detail"]
        validation["properties"]["detail"] = {
            "title": "Detail",
            "anyOf": [{k: v for k, v in detail.items() if k != "title"}, {"type": "string"}],
        }
        validation["required"] = ["detail"]
    routes = _route_table(app)
    for path, item in schema.get("paths", {}).items():
        for method in _METHODS:
            operation = item.get(method)
            dependant = routes.get((path, method))
            if operation is None or dependant is None:
                continue
            calls = set(_calls(dependant))
            _document(operation, calls, authenticated, reads_db, path in result_422)


def _document(
    operation: dict[str, Any],
    calls: set[Callable[..., Any]],
    authenticated: Callable[..., Any],
    reads_db: Callable[..., Any],
    result_422: bool,
) -> None:
    responses: dict[str, Any] = operation.setdefault("responses", {})
    parameters = operation.get("parameters", [])
    has_body = "requestBody" in operation
    if authenticated in calls:
        _with_body(responses.setdefault("401", {}), "missing or unknown API key")
    if reads_db in calls:
        _with_body(responses.setdefault("503", {}), "a read ran past the statement time limit")
    if has_body:
        _with_body(responses.setdefault("400", {}), "the body is not valid JSON")
        _with_body(responses.setdefault("413", {}), "the body is larger than the server's cap")
    if any(p.get("in") == "path" or p.get("name") == "vendor" for p in parameters):
        _with_body(responses.setdefault("404", {}), "not found")
    for status, response in responses.items():
        if status.startswith(("4", "5")) and status != "422":
            _with_body(response, "error")
    if parameters or has_body:
        unprocessable = responses.setdefault("422", {"description": "Validation Error"})
        body = unprocessable.setdefault("content", {}).setdefault("application/json", {})
        options = [
            s
            for s in (body.get("schema"), {"$ref": "#/components/schemas/HTTPValidationError"})
            if s
        ]
        if result_422:
            options.append(_success_schema(responses) or {"type": "object"})
        options = _unique(options)
        body["schema"] = options[0] if len(options) == 1 else {"anyOf": options}


def _success_schema(responses: dict[str, Any]) -> dict[str, Any] | None:
    for status, response in responses.items():
        if status.startswith("2"):
            content = response.get("content", {}).get("application/json", {})
            found = content.get("schema")
            return found if isinstance(found, dict) else None
    return None


def _unique(options: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for option in options:
        if option not in out:
            out.append(option)
    return out
