"""The API docs at ``/docs`` (Swagger UI) and ``/redoc``, with their assets served by the hub.

FastAPI's own pages load Swagger UI and ReDoc from a CDN: on a community's offline network
they are blank. The assets here come from the ``fastapi-offline`` package (Swagger UI 5, which
reads FastAPI's OpenAPI 3.1, and ReDoc 2), served under ``/docs-assets``.

The document (``/openapi.json``) and the pages that show it answer only a signed-in caller, of
any role (``guard``): they map every route, parameter and record of the hub for whoever
asks, and the public contract is docs/ (found by an outside review: they were open to
anyone). A browser that is not signed in is sent to the console's sign-in from the pages,
and the document answers 401; the console, signed in, reads it with its session cookie.
"""

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import fastapi_offline
from fastapi import FastAPI, Request
from fastapi.openapi.docs import (
    get_redoc_html,
    get_swagger_ui_html,
    get_swagger_ui_oauth2_redirect_html,
)
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles

from hub.auth.rules import AuthError, ForbiddenError

DOCS_URL = "/docs"
REDOC_URL = "/redoc"
ASSETS_URL = "/docs-assets"
OAUTH2_REDIRECT_URL = "/docs/oauth2-redirect"
OPENAPI_URL = "/openapi.json"
SIGN_IN_URL = "/console/"

Guard = Callable[[Request], Awaitable[Any]]
"""Return who a request acts for, or raise (``hub.auth.routes.authenticate``)."""


def docs_assets() -> Path:
    """Return the folder of the bundled Swagger UI and ReDoc files."""
    return Path(fastapi_offline.__file__).parent / "static"


def install_api_docs(app: FastAPI, guard: Guard) -> None:
    """Serve ``/openapi.json``, ``/docs`` and ``/redoc`` with local assets, to a caller
    ``guard`` lets in (create the app with ``docs_url``, ``redoc_url`` and ``openapi_url``
    None). The assets are Swagger UI's and ReDoc's own files, nothing of the hub's."""
    app.mount(ASSETS_URL, StaticFiles(directory=docs_assets()), name="docs-assets")

    def under_prefix(request: Request, path: str) -> str:
        # A proxy may serve the hub under a prefix (``root_path``): the browser needs it.
        return f"{request.scope.get('root_path', '')}{path}"

    async def signed_in(request: Request) -> bool:
        try:
            await guard(request)
        except (AuthError, ForbiddenError):
            return False
        return True

    @app.get(OPENAPI_URL, include_in_schema=False)
    async def openapi(request: Request) -> Response:
        if not await signed_in(request):
            return JSONResponse(
                {"detail": "sign in first: the API's document is for signed-in users"},
                status_code=401,
                headers={"WWW-Authenticate": "Bearer"},
            )
        return JSONResponse(app.openapi())

    @app.get(DOCS_URL, include_in_schema=False)
    async def swagger_ui(request: Request) -> Response:
        if not await signed_in(request):
            return RedirectResponse(under_prefix(request, SIGN_IN_URL), status_code=303)
        return get_swagger_ui_html(
            openapi_url=under_prefix(request, OPENAPI_URL),
            title=f"{app.title} — API",
            oauth2_redirect_url=OAUTH2_REDIRECT_URL,
            swagger_js_url=under_prefix(request, f"{ASSETS_URL}/swagger-ui-bundle.js"),
            swagger_css_url=under_prefix(request, f"{ASSETS_URL}/swagger-ui.css"),
            swagger_favicon_url=under_prefix(request, f"{ASSETS_URL}/favicon.png"),
        )

    @app.get(OAUTH2_REDIRECT_URL, include_in_schema=False)
    async def swagger_ui_redirect() -> HTMLResponse:
        return get_swagger_ui_oauth2_redirect_html()

    @app.get(REDOC_URL, include_in_schema=False)
    async def redoc(request: Request) -> Response:
        if not await signed_in(request):
            return RedirectResponse(under_prefix(request, SIGN_IN_URL), status_code=303)
        return get_redoc_html(
            openapi_url=under_prefix(request, OPENAPI_URL),
            title=f"{app.title} — API",
            redoc_js_url=under_prefix(request, f"{ASSETS_URL}/redoc.standalone.js"),
            redoc_favicon_url=under_prefix(request, f"{ASSETS_URL}/favicon.png"),
            with_google_fonts=False,
        )
