"""The error envelope `{statusCode, error, message}` and the handlers that emit it for every failure."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from sqlalchemy.exc import DBAPIError
from starlette.exceptions import HTTPException as StarletteHTTPException

from coldsend.kit.schemas import JSONResponse

logger = logging.getLogger("coldsend.api")


class ApiError(Exception):
    """An error that reaches the client as the standard envelope."""

    status_code: int = 500
    default_message: str = "Internal Server Error"

    def __init__(self, message: str | None = None, *, headers: Mapping[str, str] | None = None) -> None:
        self.message = message or self.default_message
        self.headers = dict(headers or {})
        super().__init__(self.message)


class BadRequest(ApiError):
    status_code = 400
    default_message = "Invalid request"


class Unauthorized(ApiError):
    status_code = 401
    default_message = "Invalid API key"


class Forbidden(ApiError):
    status_code = 403
    default_message = "This API key does not have the scope this action requires"


class NotFound(ApiError):
    status_code = 404
    default_message = "Resource not found"


class Conflict(ApiError):
    status_code = 409
    default_message = "Conflict"


class TooManyRequests(ApiError):
    status_code = 429
    default_message = "Rate limit exceeded"


class NotImplementedYet(ApiError):
    status_code = 501
    default_message = "This operation is not available in this version of Coldsend"


def error_body(status_code: int, message: str) -> dict[str, Any]:
    try:
        phrase = HTTPStatus(status_code).phrase
    except ValueError:
        phrase = "Error"
    return {"statusCode": status_code, "error": phrase, "message": message}


def error_response(status_code: int, message: str, headers: Mapping[str, str] | None = None) -> JSONResponse:
    return JSONResponse(error_body(status_code, message), status_code=status_code, headers=dict(headers or {}))


def _location(loc: Sequence[Any]) -> str:
    parts = [str(p) for p in loc]
    if parts and parts[0] == "query":
        parts[0] = "querystring"
    return "/".join(parts)


def describe_validation_errors(errors: Sequence[Mapping[str, Any]]) -> str:
    """One readable line per problem, each naming the field (`body/label ...`), like Fastify's ajv text."""
    lines = []
    for err in errors:
        loc = _location(err.get("loc", ()))
        kind = err.get("type", "")
        msg = str(err.get("msg", "is invalid"))
        if kind == "missing":
            parent, _, field = loc.rpartition("/")
            lines.append(f"{parent or 'body'} must have required property '{field}'")
        elif kind == "json_invalid":
            lines.append(f"body is not valid JSON: {err.get('ctx', {}).get('error', msg)}")
        else:
            if msg.startswith("Input should"):
                msg = "should" + msg[len("Input should") :]
            elif msg.startswith("Value error, "):
                msg = msg[len("Value error, ") :]
            lines.append(f"{loc} {msg[0].lower() + msg[1:] if msg else 'is invalid'}")
    return "; ".join(lines) or "Invalid request"


def install_error_handlers(app: FastAPI) -> None:
    """Route every failure through the envelope; never FastAPI's 422 `{detail}` nor a stack trace."""

    @app.exception_handler(ApiError)
    async def _api_error(request: Request, exc: ApiError) -> JSONResponse:
        return error_response(exc.status_code, exc.message, exc.headers)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        return error_response(400, describe_validation_errors(exc.errors()))

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        message = exc.detail if isinstance(exc.detail, str) else None
        if exc.status_code == 404:
            message = f"Route {request.method}:{request.url.path} not found"
        elif exc.status_code == 405:
            message = f"Method {request.method} is not allowed on {request.url.path}"
        return error_response(exc.status_code, message or "Error", getattr(exc, "headers", None))

    @app.exception_handler(DBAPIError)
    async def _database(request: Request, exc: DBAPIError) -> JSONResponse:
        if getattr(exc.orig, "sqlstate", None) == "22021":  # text PostgreSQL cannot store (NUL byte)
            return error_response(400, "Text values must not contain the NUL character (\\u0000)")
        logger.exception("database error on %s %s", request.method, request.url.path)
        return error_response(500, "Internal Server Error")

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        logger.exception("unhandled error on %s %s", request.method, request.url.path)
        return error_response(500, "Internal Server Error")
