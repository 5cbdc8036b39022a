"""Per-workspace API rate limits (requests per second and per minute), counted in PostgreSQL.

Counting happens in the database so the limit holds across every server process. Each request does
one autocommitted upsert of at most two rows (one per window) on an UNLOGGED table, outside the
request's own transaction so that concurrent requests never wait on each other's unit of work.
Windows are fixed and aligned to the database clock, which all processes share.
"""

from __future__ import annotations

import math
import uuid
from dataclasses import dataclass

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.requests import Request

from coldsend.kit.errors import TooManyRequests

_UPSERT = """
WITH now AS (SELECT extract(epoch FROM clock_timestamp()) AS t)
INSERT INTO rate_limit_counters AS c (organization_id, period_seconds, window_start, hits)
SELECT :org, p, (floor((SELECT t FROM now) / p) * p)::bigint, 1 FROM unnest(CAST(:periods AS int[])) AS p
ON CONFLICT (organization_id, period_seconds) DO UPDATE SET
    hits = CASE WHEN EXCLUDED.window_start > c.window_start THEN 1 ELSE c.hits + 1 END,
    window_start = GREATEST(c.window_start, EXCLUDED.window_start)
RETURNING period_seconds, hits, window_start, (SELECT t FROM now)
"""


@dataclass(frozen=True)
class RateLimitState:
    period: int
    limit: int
    remaining: int
    reset_epoch: int
    retry_after: int

    def headers(self) -> dict[str, str]:
        return {
            "x-ratelimit-limit": str(self.limit),
            "x-ratelimit-remaining": str(self.remaining),
            "x-ratelimit-reset": str(self.reset_epoch),
        }


class RateLimiter:
    def __init__(self, engine: AsyncEngine | None, per_second: int, per_minute: int) -> None:
        self.engine = engine
        self.limits = {p: n for p, n in ((1, per_second), (60, per_minute)) if n > 0}
        self._statement = text(_UPSERT)

    @property
    def enabled(self) -> bool:
        return bool(self.limits) and self.engine is not None

    async def hit(self, request: Request, organization_id: uuid.UUID) -> None:
        """Count one request; raise 429 when a window is full. Sets headers for the response."""
        assert self.engine is not None
        async with self.engine.connect() as conn:
            conn = await conn.execution_options(isolation_level="AUTOCOMMIT")
            rows = (await conn.execute(self._statement, {"org": organization_id, "periods": list(self.limits)})).all()
        states: list[tuple[bool, RateLimitState]] = []
        for period, hits, window_start, now in rows:
            limit = self.limits[period]
            reset = int(window_start) + period
            state = RateLimitState(
                period=period,
                limit=limit,
                remaining=max(limit - hits, 0),
                reset_epoch=reset,
                retry_after=max(1, math.ceil(reset - float(now))),
            )
            states.append((hits > limit, state))
        exceeded = [s for over, s in states if over]
        if exceeded:
            worst = max(exceeded, key=lambda s: s.retry_after)
            unit = "second" if worst.period == 1 else "minute"
            raise TooManyRequests(
                f"Rate limit exceeded: at most {worst.limit} requests per {unit} for this workspace",
                headers={**worst.headers(), "Retry-After": str(worst.retry_after)},
            )
        tightest = min((s for _, s in states), key=lambda s: s.remaining / s.limit)
        request.state.rate_limit_headers = tightest.headers()
