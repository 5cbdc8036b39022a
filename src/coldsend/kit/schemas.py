"""Pydantic building blocks shared by the domain schemas, and the documented error responses."""

from __future__ import annotations

from typing import Any, Generic, TypeVar

import orjson
from pydantic import BaseModel, ConfigDict, Field
from starlette.responses import JSONResponse as StarletteJSONResponse

T = TypeVar("T")


class Schema(BaseModel):
    """Base of every request and response schema. Unknown request fields are ignored (lenient input)."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True)


class ErrorBody(Schema):
    statusCode: int = Field(examples=[404])
    error: str = Field(examples=["Not Found"])
    message: str = Field(examples=["Resource not found"])


def _error(description: str) -> dict[str, Any]:
    return {"model": ErrorBody, "description": description}


COMMON_ERRORS: dict[int | str, dict[str, Any]] = {
    400: _error("Invalid request: the message names the field"),
    401: _error("Missing, invalid or revoked API key"),
    403: _error("The API key lacks the required scope"),
    404: _error("Not found, or owned by another workspace"),
    429: _error("Workspace rate limit exceeded; see Retry-After"),
}


class JSONResponse(StarletteJSONResponse):
    """orjson-rendered JSON: endpoints hand over dicts already in wire shape, so no second validation."""

    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content)


def json(content: Any, status_code: int = 200) -> JSONResponse:
    return JSONResponse(content, status_code=status_code)


class Page(Schema, Generic[T]):
    """A keyset page: `next_starting_after` is present only when another page may follow."""

    items: list[T]
    next_starting_after: str | None = None
