"""Per-workspace API rate limits (requests per second and per minute, plus a few stricter
per-endpoint limits), counted in PostgreSQL.

Counting happens in the database so the limit holds across every server process. Each request does
one autocommitted upsert of at most three rows (one per window of the workspace, one for the
endpoint's own budget) on an UNLOGGED table, outside the request's own transaction so that
concurrent requests never wait on each other's unit of work. Windows are fixed and aligned to the
database clock, which all processes share.

A row is (workspace, bucket, period): bucket '' is the workspace-wide budget every request draws
on; an endpoint with a limit of its own (the reference's 20 per minute on `GET /emails`) also draws
on the bucket named after it. Rows are always upserted in the same order, so concurrent requests
never deadlock on them.
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Mapping
from dataclasses import dataclass

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.requests import Request

from coldsend.config import Settings
from coldsend.kit.errors import TooManyRequests

WORKSPACE = ""  # the bucket of the workspace-wide limits

# Endpoints with a limit of their own (per workspace, per minute), and the setting that holds it.
EMAILS_LIST = "GET /api/v2/emails"
EMAILS_TEST = "POST /api/v2/emails/test"

_UPSERT = """
WITH now AS (SELECT extract(epoch FROM clock_timestamp()) AS t)
INSERT INTO rate_limit_counters AS c (organization_id, bucket, period_seconds, window_start, hits)
SELECT :org, b, p, (floor((SELECT t FROM now) / p) * p)::bigint, 1
FROM unnest(CAST(:buckets AS text[]), CAST(:periods AS int[])) AS u(b, p)
ON CONFLICT (organization_id, bucket, period_seconds) DO UPDATE SET
    hits = CASE WHEN EXCLUDED.window_start > c.window_start THEN 1 ELSE c.hits + 1 END,
    window_start = GREATEST(c.window_start, EXCLUDED.window_start)
RETURNING bucket, period_seconds, hits, window_start, (SELECT t FROM now)
"""


def endpoint_limits(settings: Settings) -> dict[str, int]:
    """The per-endpoint limits (requests per minute per workspace; 0 turns one off) of `settings`."""
    return {EMAILS_LIST: settings.emails_list_per_minute, EMAILS_TEST: settings.emails_test_per_minute}


@dataclass(frozen=True)
class RateLimitState:
    period: int
    limit: int
    remaining: int
    reset_epoch: int
    retry_after: int
    bucket: str = WORKSPACE

    def headers(self) -> dict[str, str]:
        return {
            "x-ratelimit-limit": str(self.limit),
            "x-ratelimit-remaining": str(self.remaining),
            "x-ratelimit-reset": str(self.reset_epoch),
        }


class RateLimiter:
    def __init__(
        self,
        engine: AsyncEngine | None,
        per_second: int,
        per_minute: int,
        endpoints: Mapping[str, int] | None = None,
    ) -> None:
        self.engine = engine
        self.limits = {p: n for p, n in ((1, per_second), (60, per_minute)) if n > 0}
        self.endpoint_limits = {name: n for name, n in (endpoints or {}).items() if n > 0}
        self._statement = text(_UPSERT)

    @property
    def enabled(self) -> bool:
        """Whether the workspace-wide limits apply (per-endpoint ones: `applies`)."""
        return bool(self.limits) and self.engine is not None

    def applies(self, endpoint: str | None = None) -> bool:
        """Whether a request to `endpoint` (None: one without a limit of its own) is counted at all."""
        return self.engine is not None and (bool(self.limits) or endpoint in self.endpoint_limits)

    def _windows(self, endpoint: str | None) -> list[tuple[str, int, int]]:
        """(bucket, period, limit) of every budget a request to `endpoint` draws on, in upsert order."""
        windows = [(WORKSPACE, period, limit) for period, limit in sorted(self.limits.items())]
        if endpoint is not None and endpoint in self.endpoint_limits:
            windows.append((endpoint, 60, self.endpoint_limits[endpoint]))
        return windows

    async def hit(self, request: Request, organization_id: uuid.UUID, endpoint: str | None = None) -> None:
        """Count one request; raise 429 when a window is full. Sets headers for the response."""
        assert self.engine is not None
        windows = self._windows(endpoint)
        if not windows:
            return
        limits = {(bucket, period): limit for bucket, period, limit in windows}
        params = {
            "org": organization_id,
            "buckets": [bucket for bucket, _, _ in windows],
            "periods": [period for _, period, _ in windows],
        }
        async with self.engine.connect() as conn:
            conn = await conn.execution_options(isolation_level="AUTOCOMMIT")
            rows = (await conn.execute(self._statement, params)).all()
        states: list[tuple[bool, RateLimitState]] = []
        for bucket, period, hits, window_start, now in rows:
            limit = limits[(bucket, period)]
            reset = int(window_start) + period
            state = RateLimitState(
                period=period,
                limit=limit,
                remaining=max(limit - hits, 0),
                reset_epoch=reset,
                retry_after=max(1, math.ceil(reset - float(now))),
                bucket=bucket,
            )
            states.append((hits > limit, state))
        exceeded = [s for over, s in states if over]
        if exceeded:
            worst = max(exceeded, key=lambda s: s.retry_after)
            unit = "second" if worst.period == 1 else "minute"
            where = "this workspace" if worst.bucket == WORKSPACE else f"{worst.bucket} in this workspace"
            raise TooManyRequests(
                f"Rate limit exceeded: at most {worst.limit} requests per {unit} for {where}",
                headers={**worst.headers(), "Retry-After": str(worst.retry_after)},
            )
        tightest = min((s for _, s in states), key=lambda s: s.remaining / s.limit)
        request.state.rate_limit_headers = tightest.headers()
