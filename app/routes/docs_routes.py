"""The interactive API docs, Swagger UI and ReDoc, with their assets served by the app.

FastAPI's own pages load their bundles from a CDN, which an air-gapped install cannot
reach and which the docs' content policy would have to trust. The bundles here come
from the pinned ``fastapi-offline`` package instead.
"""

from fastapi import FastAPI, Request
from fastapi.openapi.docs import (
    get_redoc_html,
    get_swagger_ui_html,
    get_swagger_ui_oauth2_redirect_html,
)
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

from app.interfaces.route import BaseRoutes

DOCS_URL = "/docs"
REDOC_URL = "/redoc"
OAUTH2_REDIRECT_URL = f"{DOCS_URL}/oauth2-redirect"
ASSETS_URL = f"{DOCS_URL}/assets"
# The package and its folder that hold swagger-ui-bundle.js, swagger-ui.css,
# redoc.standalone.js and favicon.png.
ASSETS_PACKAGE = ("fastapi_offline", "static")


class DocsRoutes(BaseRoutes):
    """Swagger UI at ``/docs`` (with its OAuth2 redirect page) and ReDoc at ``/redoc``.

    The app must be built with ``docs_url=None, redoc_url=None`` so that FastAPI's
    CDN-based pages do not shadow these.
    """

    def register(self) -> None:
        self.router.mount(ASSETS_URL, StaticFiles(packages=[ASSETS_PACKAGE]), name="docs-assets")

        @self.router.get(DOCS_URL, include_in_schema=False)
        async def swagger_ui(request: Request) -> HTMLResponse:
            app, root = _app_and_root(request)
            return get_swagger_ui_html(
                openapi_url=f"{root}{app.openapi_url}",
                title=f"{app.title} - Swagger UI",
                oauth2_redirect_url=f"{root}{OAUTH2_REDIRECT_URL}",
                swagger_js_url=f"{root}{ASSETS_URL}/swagger-ui-bundle.js",
                swagger_css_url=f"{root}{ASSETS_URL}/swagger-ui.css",
                swagger_favicon_url=f"{root}{ASSETS_URL}/favicon.png",
                swagger_ui_parameters=app.swagger_ui_parameters,
            )

        @self.router.get(OAUTH2_REDIRECT_URL, include_in_schema=False)
        async def swagger_ui_oauth2_redirect() -> HTMLResponse:
            return get_swagger_ui_oauth2_redirect_html()

        @self.router.get(REDOC_URL, include_in_schema=False)
        async def redoc(request: Request) -> HTMLResponse:
            app, root = _app_and_root(request)
            return get_redoc_html(
                openapi_url=f"{root}{app.openapi_url}",
                title=f"{app.title} - ReDoc",
                redoc_js_url=f"{root}{ASSETS_URL}/redoc.standalone.js",
                redoc_favicon_url=f"{root}{ASSETS_URL}/favicon.png",
                # Google's fonts come from a CDN too; ReDoc falls back to the system's.
                with_google_fonts=False,
            )


def _app_and_root(request: Request) -> tuple[FastAPI, str]:
    # Behind a proxy that strips a prefix, every URL the page loads needs it back.
    app: FastAPI = request.app
    root: str = request.scope.get("root_path", "").rstrip("/")
    return app, root
