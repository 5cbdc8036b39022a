"""DNS checks against a real DNS server (dnslib, on 127.0.0.1): the record rules, domain vitals,
`POST /accounts/test/vitals` and `GET /accounts/ctd/status`, with their tenancy and scopes."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from coldsend.accounts import dns_checks
from coldsend.accounts.dns_checks import (
    check_domain,
    dkim_verdict,
    dmarc_verdict,
    email_domain,
    normalize_host,
    parse_nameservers,
    spf_verdict,
)
from coldsend.config import Settings
from tests.accounts.conftest import TestDNS
from tests.conftest import Tenant
from tests.factories import add_account
from tests.support.certs import TestCertificates
from tests.support.smtp_server import closed_port

VITALS = "/api/v2/accounts/test/vitals"
CTD = "/api/v2/accounts/ctd/status"
DKIM_KEY = "v=DKIM1; k=rsa; p=MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAq1Vt" + "A" * 300 + "IDAQAB"
SPF = "v=spf1 include:_spf.google.com ip4:192.0.2.0/24 ~all"
DMARC = "v=DMARC1; p=quarantine; rua=mailto:dmarc@good.example"


def good_domain(dns: TestDNS, domain: str = "good.example") -> None:
    zone = dns.zone
    zone.add_domain(domain, mx=f"10 mx.{domain}", spf=SPF, dmarc=DMARC, dkim={"google": DKIM_KEY})
    zone.add(domain, "TXT", "google-site-verification=abc")
    zone.add(f"mx.{domain}", "A", "192.0.2.25")


# -- record rules -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("records", "ok"),
    [
        ([SPF], True),
        (["v=spf1 mx a:mail.example.com/24 ip6:2001:db8::/32 redirect=_spf.example.com"], True),
        (["V=SPF1 include:spf.protection.outlook.com -all", "some other txt"], True),
        ([], False),
        (["google-site-verification=abc"], False),
        (["v=spf1 include:a.example ~all", "v=spf1 include:b.example ~all"], False),  # two records
        (["v=spf1 include:a.example +all"], False),  # everyone may send
        (["v=spf1 -all"], False),  # no one may send
        (["v=spf1 inclde:typo.example ~all"], False),  # unknown mechanism
        (["v=spf1 ip4:not-an-ip ~all"], False),
        (["v=spf10 include:x ~all"], False),
    ],
)
def test_spf_rules(records: list[str], ok: bool) -> None:
    assert spf_verdict(records)[0] is ok, spf_verdict(records)


@pytest.mark.parametrize(
    ("records", "ok"),
    [
        ([DMARC], True),
        (["v=DMARC1;p=reject"], True),
        (["v=DMARC1; p=none; sp=none"], True),
        (["v=DMARC1; rua=mailto:x@example.com"], False),  # no policy
        (["v=DMARC1; p=monitor"], False),
        (["v=DMARC1; p=none", "v=DMARC1; p=reject"], False),  # two records
        (["p=reject; v=DMARC1"], False),  # v= must come first
        ([], False),
    ],
)
def test_dmarc_rules(records: list[str], ok: bool) -> None:
    assert dmarc_verdict(records)[0] is ok


@pytest.mark.parametrize(
    ("records", "ok"),
    [
        ([DKIM_KEY], True),
        (["k=ed25519; p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo="], True),
        (["p=MIGfMA0GCSqGSIb3DQEBAQUAA4GNADCBiQKBgQ"], True),
        (["v=DKIM1; k=rsa; p="], False),  # revoked key
        (["v=DKIM2; p=abc"], False),
        (["v=DKIM1; k=dsa; p=abc"], False),
        ([], False),
    ],
)
def test_dkim_rules(records: list[str], ok: bool) -> None:
    assert dkim_verdict(records)[0] is ok


@pytest.mark.parametrize(
    ("typed", "host"),
    [
        ("track.example.com", "track.example.com"),
        (" Track.Example.COM. ", "track.example.com"),
        ("https://track.example.com/some/path?q=1", "track.example.com"),
        ("track.example.com:8443", "track.example.com"),
        ("bücher.example", "xn--bcher-kva.example"),
        ("", None),
        ("localhost", None),
        ("not a host", None),
        ("-bad-.example.com", None),
        ("192.0.2.1", None),
        ("a\x00b.example", None),
        ("x" * 64 + ".example", None),
    ],
)
def test_host_names_are_normalised_or_refused(typed: str, host: str | None) -> None:
    assert normalize_host(typed) == host


def test_email_domains() -> None:
    assert email_domain("Sam@Mail.Example.com") == "mail.example.com"
    assert email_domain("no-at-sign") is None and email_domain("@example.com") is None


def test_nameserver_setting() -> None:
    servers = parse_nameservers("127.0.0.1:5353, [::1]:5300,10.0.0.2")
    assert [(s.address, s.port) for s in servers] == [("127.0.0.1", 5353), ("::1", 5300), ("10.0.0.2", 53)]
    with pytest.raises(ValueError):
        parse_nameservers("dns.example.com")
    with pytest.raises(ValueError):
        parse_nameservers(" , ")


# -- domain vitals against the DNS server -----------------------------------------------------------


async def test_a_well_configured_domain_passes_everything(dns: TestDNS) -> None:
    good_domain(dns)
    vitals = await check_domain("good.example")
    assert vitals.all_pass, vitals.notes
    assert vitals.notes["dkim"] == "selector google"
    assert vitals.wire() == {
        "domain": "good.example",
        "allPass": True,
        "mx": True,
        "spf": True,
        "dkim": True,
        "dmarc": True,
    }


async def test_a_domain_without_mail_records_fails_everything(dns: TestDNS) -> None:
    dns.zone.add("bare.example", "A", "192.0.2.1")
    vitals = await check_domain("bare.example")
    assert (vitals.mx, vitals.spf, vitals.dkim, vitals.dmarc) == (False, False, False, False)
    assert "no SPF record" in vitals.notes["spf"]


async def test_a_missing_domain_fails_everything(dns: TestDNS) -> None:
    vitals = await check_domain("missing.example")
    assert not (vitals.mx or vitals.spf or vitals.dkim or vitals.dmarc)
    assert "does not exist" in vitals.notes["mx"]


async def test_misconfigured_records_fail(dns: TestDNS) -> None:
    zone = dns.zone
    zone.add("broken.example", "MX", "10 mx.nowhere.example")  # MX host without an address
    zone.add("broken.example", "TXT", "v=spf1 include:a.example ~all")
    zone.add("broken.example", "TXT", "v=spf1 include:b.example ~all")
    zone.add("_dmarc.broken.example", "TXT", "v=DMARC1; rua=mailto:x@broken.example")
    zone.add("google._domainkey.broken.example", "TXT", "v=DKIM1; k=rsa; p=")
    vitals = await check_domain("broken.example")
    assert (vitals.mx, vitals.spf, vitals.dkim, vitals.dmarc) == (False, False, False, False), vitals.notes
    assert "no MX host has an address" in vitals.notes["mx"]
    assert "2 SPF records" in vitals.notes["spf"]
    assert "no valid policy" in vitals.notes["dmarc"]
    assert "google:" in vitals.notes["dkim"]


async def test_a_null_mx_means_no_mail(dns: TestDNS) -> None:
    dns.zone.add("nomail.example", "MX", "0 .")
    vitals = await check_domain("nomail.example")
    assert not vitals.mx and "null MX" in vitals.notes["mx"]


async def test_dkim_behind_a_cname_and_dmarc_of_the_parent_domain(
    dns: TestDNS, monkeypatch: pytest.MonkeyPatch
) -> None:
    zone = dns.zone
    zone.add_domain("sub.parent.example", mx="10 mx.parent.example", spf=SPF)
    zone.add("mx.parent.example", "AAAA", "2001:db8::25")
    zone.add("_dmarc.parent.example", "TXT", "v=DMARC1; p=reject")
    zone.add("parent.example", "A", "192.0.2.1")
    zone.add("selector1._domainkey.sub.parent.example", "CNAME", "selector1-sub._domainkey.provider.example")
    zone.add("selector1-sub._domainkey.provider.example", "TXT", DKIM_KEY)
    vitals = await check_domain("sub.parent.example")
    assert vitals.all_pass, vitals.notes
    assert "(from parent.example)" in vitals.notes["dmarc"]

    zone.add("k9._domainkey.custom.example", "TXT", DKIM_KEY)
    assert not (await check_domain("custom.example")).dkim
    monkeypatch.setenv(dns_checks.DKIM_SELECTORS_ENV, "k9, other")
    assert (await check_domain("custom.example")).dkim


async def test_dns_failures_fail_the_check_within_the_budget(dns: TestDNS) -> None:
    good_domain(dns, "flaky.example")
    dns.zone.servfail_names.add("flaky.example.")
    dns.zone.slow_names.add("_dmarc.flaky.example.")
    started = time.monotonic()
    vitals = await check_domain("flaky.example")
    assert time.monotonic() - started < 3
    assert not vitals.mx and not vitals.spf and not vitals.dmarc
    assert vitals.dkim  # its own name answered
    assert "SERVFAIL" in vitals.notes["mx"]
    assert "timed out" in vitals.notes["dmarc"] or "longer than" in vitals.notes["dmarc"]


# -- POST /accounts/test/vitals ---------------------------------------------------------------------


async def test_vitals_of_the_workspace_accounts(tenant: Tenant, session: AsyncSession, dns: TestDNS) -> None:
    good_domain(dns)
    dns.zone.add_domain("half.example", mx="10 mx.good.example", spf=SPF)
    for email in ("a@good.example", "b@good.example", "c@half.example"):
        await add_account(session, tenant.id, email)
    response = await tenant.post(VITALS, json={"accounts": ["a@good.example", "B@Good.example", "c@half.example"]})
    assert response.status_code == 200, response.text
    assert response.json() == {
        "status": "success",
        "success_list": [
            {"domain": "good.example", "allPass": True, "mx": True, "spf": True, "dkim": True, "dmarc": True}
        ],
        "failure_list": [
            {"domain": "half.example", "allPass": False, "mx": True, "spf": True, "dkim": False, "dmarc": False}
        ],
    }


async def test_vitals_without_emails_is_the_reference_400(tenant: Tenant) -> None:
    for kwargs in ({"json": {}}, {"json": {"accounts": []}}, {"json": {"accounts": ["  "]}}, {}):
        response = await tenant.post(VITALS, **kwargs)
        assert response.status_code == 400, (kwargs, response.text)
        assert response.json()["error"] == "Bad request - no emails sent"
    bad_type = await tenant.post(VITALS, json={"accounts": "a@good.example"})
    assert bad_type.status_code == 400 and "accounts" in bad_type.json()["message"]


async def test_vitals_only_sees_the_callers_accounts(
    tenant: Tenant, other_tenant: Tenant, session: AsyncSession, dns: TestDNS
) -> None:
    good_domain(dns)
    good_domain(dns, "rival.example")
    await add_account(session, tenant.id, "mine@good.example")
    await add_account(session, other_tenant.id, "theirs@rival.example")
    foreign = await tenant.post(VITALS, json={"accounts": ["theirs@rival.example"]})
    assert foreign.status_code == 404 and foreign.json()["statusCode"] == 404
    unknown = await tenant.post(VITALS, json={"accounts": ["nobody@good.example"]})
    assert unknown.status_code == 404
    mixed = await tenant.post(VITALS, json={"accounts": ["theirs@rival.example", "mine@good.example"]})
    assert [d["domain"] for d in mixed.json()["success_list"]] == ["good.example"]
    assert not any("rival.example" in str(q) for q in dns.zone.queries)


async def test_vitals_and_ctd_need_an_accounts_read_scope(tenant: Tenant, session: AsyncSession, dns: TestDNS) -> None:
    good_domain(dns)
    dns.zone.add("track.customer.example", "CNAME", "t.coldsend.example")
    await add_account(session, tenant.id, "a@good.example")
    for scope, allowed in (
        ("accounts:read", True),
        ("all:read", True),
        ("accounts:update", False),
        ("leads:read", False),
    ):
        headers = {"Authorization": f"Bearer {await tenant.key_with(scope)}"}
        vitals = await tenant.client.post(VITALS, json={"accounts": ["a@good.example"]}, headers=headers)
        ctd = await tenant.client.get(CTD, params={"host": "track.customer.example"}, headers=headers)
        assert (vitals.status_code, ctd.status_code) == ((200, 200) if allowed else (403, 403)), scope
    assert (await tenant.client.get(CTD, params={"host": "x.example"})).status_code == 401


# -- GET /accounts/ctd/status -----------------------------------------------------------------------


@pytest.fixture
async def tls_site(
    certificates: TestCertificates, trust_test_ca: None, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[int]:
    """An HTTPS listener on 127.0.0.1 with a certificate for track.customer.example, standing in for port 443."""

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.close()

    server = await asyncio.start_server(serve, "127.0.0.1", 0, ssl=certificates.server_context())
    port = server.sockets[0].getsockname()[1]
    monkeypatch.setattr(dns_checks, "CTD_TLS_PORT", port)
    yield port
    server.close()
    await server.wait_closed()


async def ctd(tenant: Tenant, host: str) -> tuple[int, dict[str, Any]]:
    response = await tenant.get(CTD, params={"host": host})
    return response.status_code, response.json()


async def test_a_tracking_domain_pointing_at_us_with_tls(
    tenant: Tenant, dns: TestDNS, tls_site: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(dns_checks.TRACKING_TARGET_ENV, "t.coldsend.example")
    dns.zone.add("track.customer.example", "CNAME", "t.coldsend.example")
    dns.zone.add("t.coldsend.example", "A", "127.0.0.1")
    assert await ctd(tenant, "https://Track.Customer.example/") == (
        200,
        {"success": True, "ssl": True, "cname": True, "host": "track.customer.example"},
    )


async def test_a_tracking_domain_without_tls(
    tenant: Tenant, dns: TestDNS, monkeypatch: pytest.MonkeyPatch, trust_test_ca: None
) -> None:
    monkeypatch.setattr(dns_checks, "CTD_TLS_PORT", closed_port())
    monkeypatch.setenv(dns_checks.TRACKING_TARGET_ENV, "t.coldsend.example")
    dns.zone.add("track.customer.example", "CNAME", "t.coldsend.example")
    dns.zone.add("t.coldsend.example", "A", "127.0.0.1")
    assert await ctd(tenant, "track.customer.example") == (
        200,
        {"success": True, "ssl": False, "cname": True, "host": "track.customer.example"},
    )


async def test_a_certificate_for_another_name_is_not_ssl(
    tenant: Tenant, dns: TestDNS, tls_site: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    dns.zone.add("links.other.example", "CNAME", "t.coldsend.example")
    dns.zone.add("t.coldsend.example", "A", "127.0.0.1")
    status, body = await ctd(tenant, "links.other.example")
    assert status == 200 and body["cname"] is True and body["ssl"] is False


async def test_wrong_or_missing_cnames(tenant: Tenant, dns: TestDNS, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(dns_checks.TRACKING_TARGET_ENV, "t.coldsend.example")
    dns.zone.add("wrong.customer.example", "CNAME", "t.elsewhere.example")
    dns.zone.add("plain.customer.example", "A", "192.0.2.10")
    negative = {"success": False, "ssl": False, "cname": False}
    assert await ctd(tenant, "wrong.customer.example") == (200, {**negative, "host": "wrong.customer.example"})
    assert await ctd(tenant, "plain.customer.example") == (200, {**negative, "host": "plain.customer.example"})
    assert await ctd(tenant, "missing.customer.example") == (200, {**negative, "host": "missing.customer.example"})


async def test_the_expected_target_comes_from_the_public_url(
    tenant: Tenant, dns: TestDNS, monkeypatch: pytest.MonkeyPatch, test_settings: Settings
) -> None:
    settings = test_settings  # the test app's settings
    monkeypatch.setattr(settings, "public_url", "https://Mail.Coldsend.example:8443/")
    dns.zone.add("a.customer.example", "CNAME", "mail.coldsend.example")
    dns.zone.add("b.customer.example", "CNAME", "other.example")
    assert (await ctd(tenant, "a.customer.example"))[1]["cname"] is True
    assert (await ctd(tenant, "b.customer.example"))[1]["cname"] is False
    monkeypatch.setattr(settings, "public_url", None)  # nothing configured: any CNAME will do
    assert (await ctd(tenant, "b.customer.example"))[1]["cname"] is True


async def test_ctd_errors_are_the_reference_400(tenant: Tenant, dns: TestDNS) -> None:
    dns.zone.servfail_names.add("broken.customer.example.")
    for params in ({"host": "broken.customer.example"}, {"host": "not a host"}, {"host": ""}, {}):
        response = await tenant.get(CTD, params=params)
        assert response.status_code == 400, (params, response.text)
        body = response.json()
        assert body["status"] == "error" and body["message"] and body["host"] == params.get("host", "")
        assert body["statusCode"] == 400 and body["error"] == "Bad Request"
