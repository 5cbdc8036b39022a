"""The one assertion every error test shares: the response is the standard error envelope."""

from __future__ import annotations

from typing import Any

import httpx


def assert_envelope(response: httpx.Response, status: int) -> dict[str, Any]:
    """`{statusCode, error, message}` and nothing else, with this status; returns the body."""
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    assert set(body) == {"statusCode", "error", "message"}, body
    assert body["statusCode"] == status, body
    assert isinstance(body["error"], str) and body["error"], body
    assert isinstance(body["message"], str) and body["message"], body
    return body
