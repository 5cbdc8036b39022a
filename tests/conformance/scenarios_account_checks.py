"""Scenarios for the DNS checks of accounts: custom tracking domain status and account vitals.

Each scenario answers from a DNS server of its own (dnslib on 127.0.0.1), which the code under test
asks through COLDSEND_DNS_NAMESERVER while the scenario runs."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy.ext.asyncio import AsyncSession

from coldsend.accounts import dns_checks
from tests.conformance._scenario_kit import add_account, expect, scenario
from tests.conftest import Tenant
from tests.support.dns_server import LocalDNSServer, Zone

DKIM_KEY = "v=DKIM1; k=rsa; p=MIGfMA0GCSqGSIb3DQEBAQUAA4GNADCBiQKBgQC" + "B" * 120 + "IDAQAB"


@contextmanager
def local_dns(zone: Zone) -> Iterator[LocalDNSServer]:
    server = LocalDNSServer(zone).start()
    names = (dns_checks.NAMESERVER_ENV, dns_checks.TRACKING_TARGET_ENV)
    saved = {name: os.environ.get(name) for name in names}
    os.environ[dns_checks.NAMESERVER_ENV] = server.nameserver
    os.environ[dns_checks.TRACKING_TARGET_ENV] = "t.coldsend.example"
    try:
        yield server
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        server.stop()


@scenario("getCtdStatus")
async def _get_ctd_status(tenant: Tenant, other: Tenant, session: AsyncSession) -> None:
    zone = Zone()
    zone.add("track.customer.example", "CNAME", "t.coldsend.example")
    zone.add("wrong.customer.example", "CNAME", "elsewhere.example")
    zone.servfail_names.add("broken.customer.example.")
    with local_dns(zone):
        ok = expect(
            await tenant.get("/api/v2/accounts/ctd/status", params={"host": "track.customer.example"}),
            200,
            "getCtdStatus",
        )
        assert ok == {"success": True, "ssl": False, "cname": True, "host": "track.customer.example"}
        wrong = expect(
            await other.get("/api/v2/accounts/ctd/status", params={"host": "wrong.customer.example"}),
            200,
            "getCtdStatus",
        )
        assert wrong["success"] is False and wrong["cname"] is False
        for host in ("broken.customer.example", "not a host"):
            body = expect(await tenant.get("/api/v2/accounts/ctd/status", params={"host": host}), 400, "getCtdStatus")
            assert body["status"] == "error" and body["host"] == host
        expect(await tenant.get("/api/v2/accounts/ctd/status"), 400, "getCtdStatus")


@scenario("testAccountVitals")
async def _test_account_vitals(tenant: Tenant, other: Tenant, session: AsyncSession) -> None:
    zone = Zone()
    zone.add_domain(
        "good.example",
        mx="10 mx.good.example",
        spf="v=spf1 include:_spf.google.com ~all",
        dmarc="v=DMARC1; p=reject",
        dkim={"google": DKIM_KEY},
    )
    zone.add("mx.good.example", "A", "192.0.2.25")
    zone.add("weak.example", "TXT", "v=spf1 +all")
    await add_account(session, tenant.id, "sam@good.example")
    await add_account(session, tenant.id, "kim@weak.example")
    await add_account(session, other.id, "theirs@good.example")
    with local_dns(zone):
        body = expect(
            await tenant.post(
                "/api/v2/accounts/test/vitals", json={"accounts": ["sam@good.example", "kim@weak.example"]}
            ),
            200,
            "testAccountVitals",
        )
        assert body["status"] == "success"
        assert [d["domain"] for d in body["success_list"]] == ["good.example"]
        assert body["failure_list"] == [
            {"domain": "weak.example", "allPass": False, "mx": False, "spf": False, "dkim": False, "dmarc": False}
        ]
        expect(await tenant.post("/api/v2/accounts/test/vitals", json={}), 400, "testAccountVitals")
        expect(await tenant.post("/api/v2/accounts/test/vitals", json={"accounts": []}), 400, "testAccountVitals")
        foreign = {"accounts": ["theirs@good.example"]}
        expect(await tenant.post("/api/v2/accounts/test/vitals", json=foreign), 404, "testAccountVitals")
