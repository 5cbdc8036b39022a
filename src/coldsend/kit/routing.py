"""The route class of every API router: request bodies parsed with orjson."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

import orjson
from fastapi import Request, Response
from fastapi.routing import APIRoute


class OrjsonRequest(Request):
    """Bodies parsed by orjson: ~20x faster than the standard library on a 1,000-lead import, and it
    refuses lone surrogates (`\\ud800`), which PostgreSQL could not store (a 400, like any bad JSON)."""

    async def json(self) -> Any:
        if not hasattr(self, "_json"):
            self._json = orjson.loads(await self.body())
        return self._json


class ApiRoute(APIRoute):
    """Runs the endpoint with an `OrjsonRequest` (content-type leniency lives in the app middleware)."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def answer(request: Request) -> Response:
            return await handler(OrjsonRequest(request.scope, request.receive))

        return answer
