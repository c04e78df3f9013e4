"""The OpenAPI document the hub serves at ``/openapi.json`` (and ``/docs`` shows), completed with
what docs/contract.md section 6 promises every caller and FastAPI cannot see in the routes.

FastAPI lists only the answers a route declares (its success and 422). The API's guard answers
401 (no or bad credential) and 403 (the role does not allow it) on every route but the public
ones, a record that does not exist (or is of another site) is a 404, and a case action its
case's status does not allow, a silence already over and a device still in use answer 409: a
client generated from the document, or a reader of ``/docs``, saw none of them, and ``/docs``
had no way to send a token. ``described`` adds them; it is pure, on the schema as a dict.
"""

from collections.abc import Callable
from typing import Any

from fastapi import FastAPI

from hub.auth.rules import API_PREFIX, PUBLIC_API_PATHS
from hub.cases.rules import CaseAction

ERROR_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "detail": {"title": "Detail", "description": "why, in words"},
        "code": {
            "title": "Code",
            "type": "string",
            "description": "the refusal's name, where it has one (docs/contract.md)",
        },
    },
    "required": ["detail"],
    "title": "Refusal",
}
SECURITY_SCHEMES: dict[str, Any] = {
    "bearer": {"type": "http", "scheme": "bearer", "description": "an API or session token"},
    "basic": {
        "type": "http",
        "scheme": "basic",
        "description": "the token as the password, its principal's name as the user",
    },
    "session": {
        "type": "apiKey",
        "in": "cookie",
        "name": "linli_session",
        "description": "set by signing in; over HTTPS its name is __Host-linli_session",
    },
}
SECURITY: list[dict[str, list[str]]] = [{"bearer": []}, {"basic": []}, {"session": []}]

_GUARD = {
    "401": "No valid credential: sign in, or send `Authorization: Bearer <token>`.",
    "403": "The caller's role does not allow this request.",
}
_NOT_FOUND = "No such record, or one of a site the caller is not scoped to."
_CONFLICT = {
    **{
        f"post {API_PREFIX}/cases/{{case_id}}/{action}": (
            "The case's status does not allow this action (the answer names the allowed ones)."
        )
        for action in CaseAction
    },
    f"post {API_PREFIX}/silences/{{silence_id}}/end": "The silence is already over.",
    f"delete {API_PREFIX}/devices/{{device_id}}": (
        "The device is in an unfinished case, or is a household's SOS button or a care "
        "household's sensor (the answer names them); nothing changed."
    ),
}


def _refusal(description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Refusal"}}},
    }


def _guarded(path: str) -> bool:
    """Return whether the API's guard answers requests to ``path`` (a route's template)."""
    return path.startswith(API_PREFIX + "/") and path not in PUBLIC_API_PATHS


def described(schema: dict[str, Any]) -> dict[str, Any]:
    """Return the OpenAPI ``schema`` with the guard's answers, 404 and 409 where they are due,
    and the ways to send a credential; the schema given is not changed."""
    paths: dict[str, Any] = {}
    for path, operations in schema.get("paths", {}).items():
        paths[path] = {}
        for method, operation in operations.items():
            told = dict(operation)
            responses = dict(told.get("responses", {}))
            if _guarded(path):
                told["security"] = SECURITY
                for status, description in _GUARD.items():
                    responses.setdefault(status, _refusal(description))
                if "{" in path:
                    responses.setdefault("404", _refusal(_NOT_FOUND))
            conflict = _CONFLICT.get(f"{method} {path}")
            if conflict is not None:
                responses.setdefault("409", _refusal(conflict))
            told["responses"] = responses
            paths[path][method] = told
    components = dict(schema.get("components", {}))
    components["schemas"] = {**components.get("schemas", {}), "Refusal": ERROR_SCHEMA}
    components["securitySchemes"] = {**components.get("securitySchemes", {}), **SECURITY_SCHEMES}
    return {**schema, "paths": paths, "components": components}


def install_openapi(app: FastAPI) -> None:
    """Serve ``described`` as the app's OpenAPI document (made once, at the first request)."""
    made: Callable[[], dict[str, Any]] = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = described(made())
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
