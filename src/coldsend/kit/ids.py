"""Identifiers: UUIDv7 for entities (time-ordered, so keyset pagination follows creation order)."""

from __future__ import annotations

import secrets
import time
import uuid

from uuid_utils.compat import uuid7


def new_id() -> uuid.UUID:
    """A fresh UUIDv7, generated in Python so any PostgreSQL 14+ works."""
    return uuid7()


def new_job_id() -> str:
    """A 24-hex background-job id, the shape Instantly's clients expect (a Mongo ObjectId there).

    Like an ObjectId it starts with the time (here 6 bytes of milliseconds), so ids sort by creation
    and keyset pagination over them follows creation order.
    """
    return f"{time.time_ns() // 1_000_000:012x}{secrets.token_hex(6)}"


def parse_uuid(value: str) -> uuid.UUID | None:
    """The UUID in `value`, or None when it is not one (callers answer 404 or 400)."""
    try:
        return uuid.UUID(value)
    except (ValueError, AttributeError, TypeError):
        return None
