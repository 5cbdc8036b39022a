"""The FastAPI application: middleware, error handlers, the /api/v2 routers, docs and health."""

from __future__ import annotations

import gc
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import fastapi_offline
from fastapi import APIRouter, FastAPI, Request
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.openapi.utils import get_openapi
from fastapi.responses import HTMLResponse
from fastapi.routing import APIRoute
from fastapi.staticfiles import StaticFiles
from sqlalchemy import text
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from coldsend import __version__
from coldsend.account_campaign_mappings.endpoints import router as account_campaign_mappings_router
from coldsend.accounts.checks_endpoints import router as account_checks_router
from coldsend.accounts.endpoints import router as accounts_router
from coldsend.api_keys.endpoints import router as api_keys_router
from coldsend.background_jobs.endpoints import router as background_jobs_router
from coldsend.block_list.endpoints import router as block_list_router
from coldsend.campaigns.endpoints import router as campaigns_router
from coldsend.config import Settings, get_settings
from coldsend.custom_tags.endpoints import mapping_router as custom_tag_mappings_router
from coldsend.custom_tags.endpoints import router as custom_tags_router
from coldsend.emails.endpoints import router as emails_router
from coldsend.kit.auth import Authorize, KeyCache, RevocationListener
from coldsend.kit.db import Database, create_engine, database_url, migrate
from coldsend.kit.errors import install_error_handlers
from coldsend.kit.ratelimit import RateLimiter, endpoint_limits
from coldsend.kit.schemas import JSONResponse
from coldsend.lead_labels.endpoints import router as lead_labels_router
from coldsend.lead_lists.endpoints import router as lead_lists_router
from coldsend.leads.endpoints import router as leads_router
from coldsend.leads.listing_endpoints import router as lead_listing_router
from coldsend.tracking.endpoints import router as tracking_router
from coldsend.worker import load_task_modules
from coldsend.workspaces.endpoints import router as workspaces_router

logger = logging.getLogger("coldsend.app")

API_PREFIX = "/api/v2"
DOCS_STATIC = Path(fastapi_offline.__file__).resolve().parent / "static"

# Order matters where paths overlap: `GET /campaigns/search-by-contact` (leads) before `/campaigns/{id}`.
ROUTERS: tuple[APIRouter, ...] = (
    lead_listing_router,
    leads_router,
    lead_lists_router,
    lead_labels_router,
    block_list_router,
    account_checks_router,
    accounts_router,
    campaigns_router,
    account_campaign_mappings_router,
    background_jobs_router,
    api_keys_router,
    custom_tags_router,
    custom_tag_mappings_router,
    workspaces_router,
    emails_router,
)


LENIENT_CONTENT_TYPES = (b"application/x-www-form-urlencoded", b"text/plain", b"")


class ApiCompatibility:
    """Pure ASGI middleware for what clients of Instantly do and expect.

    - A JSON body sent with a form or text content type (curl -d, some no-code tools), or with none at
      all, is read as JSON: no endpoint of this API takes anything else.
    - The rate-limit state computed by the auth dependency goes onto the response headers.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if scope["path"].startswith(API_PREFIX):
            headers = scope["headers"]
            for i, (name, value) in enumerate(headers):
                if name == b"content-type":
                    if value.split(b";")[0].strip().lower() in LENIENT_CONTENT_TYPES:
                        headers = [*headers[:i], (b"content-type", b"application/json"), *headers[i + 1 :]]
                        scope = {**scope, "headers": headers}
                    break
            else:  # no content type at all: a body, if any, is JSON
                if scope["method"] in ("POST", "PUT", "PATCH", "DELETE"):
                    scope = {**scope, "headers": [*headers, (b"content-type", b"application/json")]}

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                state = scope.get("state") or {}
                extra = state.get("rate_limit_headers")
                if extra:
                    headers = list(message.get("headers", []))
                    present = {k.lower() for k, _ in headers}
                    headers.extend((k.encode(), v.encode()) for k, v in extra.items() if k.encode() not in present)
                    message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_headers)


def route_scopes(route: APIRoute) -> Authorize | None:
    """The Authorize dependency guarding a route, if any (used for docs and conformance tests)."""
    pending = list(route.dependant.dependencies)
    while pending:
        dep = pending.pop()
        if isinstance(dep.call, Authorize):
            return dep.call
        pending.extend(dep.dependencies)
    return None


def operation_guards() -> dict[tuple[str, str], Authorize]:
    """(METHOD, /api/v2/path) -> the Authorize guard of every API operation."""
    guards: dict[tuple[str, str], Authorize] = {}
    for router in ROUTERS:
        for route in router.routes:
            if isinstance(route, APIRoute) and (guard := route_scopes(route)) is not None:
                for method in route.methods or ():
                    guards[(method, API_PREFIX + route.path_format)] = guard
    return guards


def _custom_openapi(app: FastAPI) -> Callable[[], dict[str, Any]]:
    def build() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        schema = get_openapi(
            title="Coldsend API",
            version=__version__,
            description=(
                "Coldsend speaks Instantly's API V2. Authenticate with `Authorization: Bearer <api key>` "
                "(press **Authorize** and paste a key). Errors use the envelope "
                "`{statusCode, error, message}`."
            ),
            routes=app.routes,
        )
        schema.setdefault("components", {})["securitySchemes"] = {"ApiKeyAuth": {"type": "http", "scheme": "bearer"}}
        for (method, path), guard in operation_guards().items():
            op = schema["paths"].get(path, {}).get(method.lower())
            if op is not None:
                op["security"] = [{"ApiKeyAuth": []}]
                scopes = ", ".join(f"`{s}`" for s in guard.scopes)
                text_ = f"Requires one of the following scopes: {scopes}"
                op["description"] = f"{op['description']}\n\n{text_}" if op.get("description") else text_
                op["x-required-scopes"] = list(guard.scopes)
        # validation failures answer 400 in the envelope (declared per router), never FastAPI's 422
        for operations in schema["paths"].values():
            for op in operations.values():
                op.get("responses", {}).pop("422", None)
        for name in ("HTTPValidationError", "ValidationError"):
            schema["components"].get("schemas", {}).pop(name, None)
        app.openapi_schema = schema
        return schema

    return build


def create_app(settings: Settings | None = None, *, run_worker: bool = False, manage_db: bool = True) -> FastAPI:
    """Build the application. With `manage_db` the lifespan opens the database and migrates it;
    tests pass `manage_db=False` and put their own engine on `app.state`."""
    settings = settings or get_settings()
    load_task_modules()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        listener: RevocationListener | None = None
        worker = None
        if manage_db:
            url = database_url(settings)
            engine = create_engine(url, settings, application_name="coldsend-api")
            await migrate(engine)
            install_database(app, engine, settings)
            listener = RevocationListener(url.replace("postgresql+asyncpg://", "postgresql://"), app.state.key_cache)
            await listener.start()
            if run_worker:
                from coldsend.worker import Worker

                worker = Worker(engine, settings)
                await worker.start()
            # Everything built so far lives as long as the process: keep it out of the cyclic GC's full
            # collections, which otherwise stall every request in flight for ~100 ms (measured; see
            # BENCHMARKS.md).
            gc.collect()
            gc.freeze()
            logger.info(
                "Coldsend API ready (rate limits: %s/s, %s/min per workspace)",
                settings.rate_limit_per_second or "off",
                settings.rate_limit_per_minute or "off",
            )
        try:
            yield
        finally:
            if worker is not None:
                await worker.stop()
            if listener is not None:
                await listener.stop()
            if manage_db:
                await app.state.engine.dispose()

    app = FastAPI(
        title="Coldsend API",
        version=__version__,
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        default_response_class=JSONResponse,
    )
    app.state.settings = settings
    app.state.key_cache = KeyCache(ttl=settings.auth_cache_seconds)
    app.state.rate_limiter = RateLimiter(None, 0, 0)
    install_error_handlers(app)
    app.add_middleware(ApiCompatibility)
    for router in ROUTERS:
        app.include_router(router, prefix=API_PREFIX)
    app.include_router(tracking_router)  # public /t/... tracking routes: no key, not in the schema
    app.openapi = _custom_openapi(app)  # type: ignore[method-assign]

    app.mount("/docs-static", StaticFiles(directory=DOCS_STATIC), name="docs-static")

    @app.get("/docs", include_in_schema=False)
    async def docs() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url="/openapi.json",
            title="Coldsend API explorer",
            swagger_js_url="/docs-static/swagger-ui-bundle.js",
            swagger_css_url="/docs-static/swagger-ui.css",
            swagger_favicon_url="/docs-static/favicon.png",
            swagger_ui_parameters={"persistAuthorization": True, "tryItOutEnabled": True},
        )

    @app.get("/healthz", include_in_schema=False)
    async def healthz(request: Request) -> JSONResponse:
        try:
            async with request.app.state.engine.connect() as conn:
                await conn.execute(text("SELECT 1"))
        except Exception as exc:
            logger.warning("health check failed: %s", exc)
            return JSONResponse({"status": "error", "database": "unreachable"}, status_code=503)
        return JSONResponse({"status": "ok", "version": __version__})

    return app


def install_database(app: FastAPI, engine: Any, settings: Settings) -> None:
    """Attach an engine and everything built on it to the app (the lifespan, or a test fixture)."""
    app.state.engine = engine
    app.state.db = Database(engine)
    app.state.rate_limiter = RateLimiter(
        engine, settings.rate_limit_per_second, settings.rate_limit_per_minute, endpoint_limits(settings)
    )
