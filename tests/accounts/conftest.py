"""Fixtures of the account tests: real SMTP, IMAP and DNS peers (each started once per test session
and xdist worker, on 127.0.0.1 and free ports), and the seams that point the code at them."""

from __future__ import annotations

import tempfile
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from coldsend.accounts import connectivity, dns_checks
from coldsend.config import Settings
from coldsend.kit.crypto import SecretBox, secret_box
from tests.support.certs import TestCertificates, make_certificates
from tests.support.dns_server import LocalDNSServer, Zone
from tests.support.imap_server import MISSING, DovecotServer, dovecot_available
from tests.support.smtp_server import SilentServer, SmtpTestServer

MAILBOX = "sender@mail.example.com"
PASSWORD = "correct horse battery staple"


@pytest.fixture(autouse=True)
def _connection_checks_use_test_settings(monkeypatch: pytest.MonkeyPatch, test_settings: Settings) -> None:
    """The worker's connection check decrypts with the same key the test app encrypts with."""
    monkeypatch.setattr(connectivity, "settings_provider", lambda: test_settings)


@pytest.fixture(scope="session")
def box(test_settings: Settings) -> SecretBox:
    return secret_box(test_settings)


@pytest.fixture(scope="session")
def certificates() -> Iterator[TestCertificates]:
    with tempfile.TemporaryDirectory(prefix="cs-certs-") as directory:
        yield make_certificates(Path(directory), ("localhost", "track.customer.example"))


@pytest.fixture(scope="session")
async def smtp_server() -> AsyncIterator[SmtpTestServer]:
    server = await SmtpTestServer(users={MAILBOX: PASSWORD}).start()
    yield server
    await server.stop()


@pytest.fixture(scope="session")
async def smtp_starttls_server(certificates: TestCertificates) -> AsyncIterator[SmtpTestServer]:
    server = await SmtpTestServer(
        users={MAILBOX: PASSWORD}, tls="starttls", server_context=certificates.server_context()
    ).start()
    yield server
    await server.stop()


@pytest.fixture(scope="session")
async def smtp_implicit_tls_server(certificates: TestCertificates) -> AsyncIterator[SmtpTestServer]:
    server = await SmtpTestServer(
        users={MAILBOX: PASSWORD}, tls="implicit", server_context=certificates.server_context()
    ).start()
    yield server
    await server.stop()


@pytest.fixture(scope="session")
async def smtp_without_auth() -> AsyncIterator[SmtpTestServer]:
    server = await SmtpTestServer(users={MAILBOX: PASSWORD}, offer_auth=False).start()
    yield server
    await server.stop()


@pytest.fixture(scope="session")
async def silent_server() -> AsyncIterator[SilentServer]:
    server = await SilentServer().start()
    yield server
    await server.stop()


@pytest.fixture(scope="session")
def dovecot() -> Iterator[DovecotServer]:
    """Dovecot without TLS: LOGIN in clear text."""
    if not dovecot_available():
        pytest.skip(MISSING)
    server = DovecotServer(users={MAILBOX: PASSWORD}).start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def dovecot_tls(certificates: TestCertificates) -> Iterator[DovecotServer]:
    """Dovecot with TLS required: STARTTLS on `port`, implicit TLS on `ssl_port`."""
    if not dovecot_available():
        pytest.skip(MISSING)
    server = DovecotServer(users={MAILBOX: PASSWORD}, certificates=certificates).start()
    yield server
    server.stop()


@pytest.fixture
def trust_test_ca(monkeypatch: pytest.MonkeyPatch, certificates: TestCertificates) -> None:
    """Code under test verifies certificates against the test CA instead of the system's."""
    monkeypatch.setattr(connectivity, "tls_context_factory", certificates.client_context)
    monkeypatch.setattr(dns_checks, "tls_context_factory", certificates.client_context)


@dataclass
class TestDNS:
    __test__ = False

    server: LocalDNSServer

    @property
    def zone(self) -> Zone:
        return self.server.zone


@pytest.fixture(scope="session")
def dns_server() -> Iterator[LocalDNSServer]:
    server = LocalDNSServer().start()
    yield server
    server.stop()


@pytest.fixture
def dns(dns_server: LocalDNSServer, monkeypatch: pytest.MonkeyPatch) -> Iterator[TestDNS]:
    """A fresh zone on the session's DNS server, which the code under test asks (COLDSEND_DNS_NAMESERVER)."""
    dns_server.zone.clear()
    monkeypatch.setenv(dns_checks.NAMESERVER_ENV, dns_server.nameserver)
    monkeypatch.setattr(dns_checks, "DNS_TIMEOUT", 1.0)
    monkeypatch.setattr(dns_checks, "DOMAIN_BUDGET", 2.5)
    monkeypatch.delenv(dns_checks.TRACKING_TARGET_ENV, raising=False)
    monkeypatch.delenv(dns_checks.DKIM_SELECTORS_ENV, raising=False)
    yield TestDNS(dns_server)
