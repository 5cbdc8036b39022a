"""Fixtures of the email tests: a real SMTP server (aiosmtpd with AUTH) per test."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.support.smtp_server import SmtpTestServer

SENDER = "sender@acme.example.com"
PASSWORD = "secret"


@pytest.fixture
async def smtp() -> AsyncIterator[SmtpTestServer]:
    server = await SmtpTestServer(users={SENDER: PASSWORD}).start()
    try:
        yield server
    finally:
        await server.stop()
