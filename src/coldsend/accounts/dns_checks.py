"""DNS checks of accounts: a custom tracking domain's CNAME (and TLS), and each sending domain's
MX, SPF, DKIM and DMARC records (the "vitals").

Resolver: the system's (`/etc/resolv.conf`) unless `COLDSEND_DNS_NAMESERVER` names the nameservers
to ask, comma-separated `host[:port]` (IPv6 as `[addr]:port`), e.g. `COLDSEND_DNS_NAMESERVER=127.0.0.1:5353`.
Each lookup gives up after `DNS_TIMEOUT` seconds. Tests may also replace `resolver_factory`.

What passes:

- **MX**: at least one MX record that is not a null MX (`0 .`, RFC 7505) and whose host has an
  A or AAAA record.
- **SPF**: exactly one TXT record `v=spf1 ...` on the domain (two are a permanent error, RFC 7208
  §4.5) whose terms are all well-formed mechanisms or modifiers, and which does not end in `+all`
  (a record that lets the whole internet send is no protection).
- **DKIM**: a public key (`p=` not empty, `v=DKIM1` and `k=rsa|ed25519` when present) at
  `<selector>._domainkey.<domain>` for one of `DKIM_SELECTORS` (the selectors of the common
  providers; `COLDSEND_DKIM_SELECTORS` adds more, comma-separated). DNS cannot list a domain's
  selectors, so a key under an unusual selector is not found.
- **DMARC**: exactly one TXT record `v=DMARC1; p=none|quarantine|reject ...` at `_dmarc.<domain>`,
  else at `_dmarc.` of a parent domain (the organisational domain, RFC 7489 §6.6.3).

Custom tracking domain: `cname` is true when the host has a CNAME record pointing at Coldsend's
tracking host: `COLDSEND_TRACKING_CNAME_TARGET` when set, else the host of `COLDSEND_PUBLIC_URL`
when that is a DNS name; with neither, any CNAME is accepted. `ssl` is true when a TLS handshake
with the host on port 443 succeeds with a certificate valid for it. `success` is `cname`.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
import os
import re
import ssl
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from functools import cache
from typing import Any, Literal
from urllib.parse import urlsplit

import dns.asyncresolver
import dns.exception
import dns.nameserver
import dns.resolver
from sqlalchemy.ext.asyncio import AsyncSession

from coldsend.accounts.repository import AccountRepository
from coldsend.config import Settings
from coldsend.kit.errors import NotFound

logger = logging.getLogger("coldsend.accounts.dns")

NAMESERVER_ENV = "COLDSEND_DNS_NAMESERVER"
DKIM_SELECTORS_ENV = "COLDSEND_DKIM_SELECTORS"
TRACKING_TARGET_ENV = "COLDSEND_TRACKING_CNAME_TARGET"

DNS_TIMEOUT = 3.0  # seconds per lookup (all nameservers and retries included)
DKIM_SELECTORS: tuple[str, ...] = (
    "google",
    "default",
    "selector1",
    "selector2",
    "k1",
    "k2",
    "s1",
    "s2",
    "dkim",
    "mail",
)
DOMAIN_BUDGET = 2 * DNS_TIMEOUT  # seconds for all the lookups of one domain
CTD_TLS_PORT = 443
CTD_TLS_TIMEOUT = 3.0
MAX_PARALLEL_DOMAINS = 8
MAX_VITALS_ACCOUNTS = 1000
NO_EMAILS = "Bad request - no emails sent"


# -- the resolver -----------------------------------------------------------------------------------


def parse_nameservers(spec: str) -> list[dns.nameserver.Do53Nameserver]:
    """`127.0.0.1:5353, [::1]:53, 10.0.0.2` -> nameservers (port 53 by default)."""
    servers = []
    for item in (part.strip() for part in spec.split(",")):
        if not item:
            continue
        port = 53
        if item.startswith("["):
            address, _, rest = item[1:].partition("]")
            if rest.startswith(":"):
                port = int(rest[1:])
        elif item.count(":") == 1:
            address, _, port_text = item.partition(":")
            port = int(port_text)
        else:
            address = item
        ipaddress.ip_address(address)  # nameservers are addresses: fail loudly on anything else
        servers.append(dns.nameserver.Do53Nameserver(address, port))
    if not servers:
        raise ValueError(f"{NAMESERVER_ENV} names no nameserver")
    return servers


def make_resolver() -> dns.asyncresolver.Resolver:
    """The system resolver, or the nameservers of COLDSEND_DNS_NAMESERVER."""
    spec = os.environ.get(NAMESERVER_ENV, "").strip()
    if spec:
        resolver = dns.asyncresolver.Resolver(configure=False)
        resolver.nameservers = parse_nameservers(spec)
    else:
        resolver = dns.asyncresolver.Resolver()
    resolver.timeout = DNS_TIMEOUT
    resolver.lifetime = DNS_TIMEOUT
    return resolver


resolver_factory: Callable[[], dns.asyncresolver.Resolver] = make_resolver


@cache
def _system_tls_context() -> ssl.SSLContext:
    return ssl.create_default_context()


tls_context_factory: Callable[[], ssl.SSLContext] = _system_tls_context


@dataclass(frozen=True)
class Lookup:
    """One DNS answer: `ok` with records, `nodata` (the name exists, not this type), `nxdomain`, or `error`."""

    status: Literal["ok", "nodata", "nxdomain", "error"]
    records: tuple[Any, ...] = ()
    detail: str = ""


async def lookup(resolver: dns.asyncresolver.Resolver, name: str, rdtype: str) -> Lookup:
    """Ask for `rdtype` records of `name`; never raises. TXT records come back as text, MX as
    (preference, host), CNAME/NS as host, A/AAAA as address (hosts without the final dot)."""
    try:
        answer = await resolver.resolve(name, rdtype, raise_on_no_answer=False)
    except dns.resolver.NXDOMAIN:
        return Lookup("nxdomain", detail=f"{name} does not exist")
    except dns.resolver.NoAnswer:
        return Lookup("nodata", detail=f"{name} has no {rdtype} record")
    except dns.resolver.LifetimeTimeout:
        return Lookup("error", detail=f"DNS lookup of {name} {rdtype} timed out")
    except dns.resolver.NoNameservers:
        return Lookup("error", detail=f"no nameserver answered for {name} {rdtype} (SERVFAIL or refused)")
    except dns.exception.DNSException as exc:
        return Lookup("error", detail=f"DNS lookup of {name} {rdtype} failed: {exc}")
    except (OSError, ValueError) as exc:
        return Lookup("error", detail=f"DNS lookup of {name} {rdtype} failed: {exc}")
    if answer.rrset is None:
        return Lookup("nodata", detail=f"{name} has no {rdtype} record")
    records: list[Any] = []
    for rdata in answer.rrset:
        if rdtype == "TXT":
            records.append(b"".join(rdata.strings).decode("utf-8", errors="replace"))
        elif rdtype == "MX":
            records.append((int(rdata.preference), rdata.exchange.to_text(omit_final_dot=True).lower()))
        elif rdtype in ("CNAME", "NS"):
            records.append(rdata.target.to_text(omit_final_dot=True).lower())
        else:
            records.append(rdata.to_text())
    return Lookup("ok", tuple(records))


# -- names ------------------------------------------------------------------------------------------

_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")


def normalize_host(text: str | None) -> str | None:
    """A lower-case ASCII (IDNA) host name from what a user typed (`https://Track.Example.com/x` ->
    `track.example.com`); None when it is not a plausible public host name."""
    if not text or "\x00" in text:
        return None
    value = text.strip()
    if "://" in value:
        value = urlsplit(value).hostname or ""
    else:
        value = value.split("/", 1)[0].rsplit("@", 1)[-1]
        if value.count(":") == 1:
            value = value.split(":", 1)[0]
    value = value.rstrip(".").lower()
    try:
        value = value.encode("idna").decode("ascii")
    except UnicodeError:
        return None
    labels = value.split(".")
    if len(value) > 253 or len(labels) < 2 or not all(_LABEL.match(label) for label in labels):
        return None
    if labels[-1].isdigit():  # an IP address is not a domain
        return None
    return value


def email_domain(email: str) -> str | None:
    local, at, domain = email.strip().rpartition("@")
    if not at or not local:
        return None
    return normalize_host(domain)


# -- record rules (pure) ----------------------------------------------------------------------------

_SPF_MECHANISM = re.compile(
    r"^[+\-~?]?(?:all|include:\S+|exists:\S+|a(?::\S+)?(?:/\d+)?(?://\d+)?|mx(?::\S+)?(?:/\d+)?(?://\d+)?"
    r"|ptr(?::\S+)?|ip4:[0-9.]+(?:/\d+)?|ip6:[0-9a-f:.]+(?:/\d+)?)$",
    re.IGNORECASE,
)
_SPF_MODIFIER = re.compile(r"^[a-z][a-z0-9_.\-]*=\S*$", re.IGNORECASE)


def _is_spf(text: str) -> bool:
    lowered = text.strip().lower()
    return lowered == "v=spf1" or lowered.startswith("v=spf1 ")


def spf_verdict(txt_records: Iterable[str]) -> tuple[bool, str]:
    """(passes, why) for the TXT records of a domain."""
    records = [t.strip() for t in txt_records if _is_spf(t)]
    if not records:
        return False, "no SPF record (TXT v=spf1)"
    if len(records) > 1:
        return False, f"{len(records)} SPF records (there must be exactly one)"
    terms = records[0].split()[1:]
    bad = [t for t in terms if not (_SPF_MECHANISM.match(t) or _SPF_MODIFIER.match(t))]
    if bad:
        return False, f"SPF record has invalid terms: {' '.join(bad)}"
    if terms and terms[-1].lower() in ("all", "+all"):
        return False, "SPF record ends in +all: it authorises every sender"
    if all(t.lower().lstrip("+-~?") == "all" for t in terms):
        return False, "SPF record authorises no sender"
    return True, records[0]


def _tags(record: str) -> dict[str, str]:
    tags: dict[str, str] = {}
    for part in record.split(";"):
        name, eq, value = part.partition("=")
        if eq:
            tags.setdefault(name.strip().lower(), "".join(value.split()))
    return tags


_DMARC = re.compile(r"^v\s*=\s*dmarc1\s*(;|$)", re.IGNORECASE)


def _is_dmarc(text: str) -> bool:
    return bool(_DMARC.match(text.strip()))


def dmarc_verdict(txt_records: Iterable[str]) -> tuple[bool, str]:
    records = [t.strip() for t in txt_records if _is_dmarc(t)]
    if not records:
        return False, "no DMARC record (TXT v=DMARC1)"
    if len(records) > 1:
        return False, f"{len(records)} DMARC records (there must be exactly one)"
    policy = _tags(records[0]).get("p", "").lower()
    if policy not in ("none", "quarantine", "reject"):
        return False, f"DMARC record has no valid policy (p=none|quarantine|reject): {records[0]}"
    return True, records[0]


def dkim_verdict(txt_records: Iterable[str]) -> tuple[bool, str]:
    records = [t.strip() for t in txt_records if t.strip()]
    for record in records:
        tags = _tags(record)
        if "v" in tags and tags["v"] != "DKIM1":
            continue
        if tags.get("k", "rsa").lower() not in ("rsa", "ed25519"):
            continue
        if tags.get("p"):
            return True, record
    if records:
        return False, "DKIM record without a usable public key (p= empty, or wrong v=/k=)"
    return False, "no DKIM record"


# -- domain vitals ----------------------------------------------------------------------------------


@dataclass
class DomainVitals:
    domain: str
    mx: bool = False
    spf: bool = False
    dkim: bool = False
    dmarc: bool = False
    notes: dict[str, str] = field(default_factory=dict)  # why each check passed or failed (for logs, tests)

    @property
    def all_pass(self) -> bool:
        return self.mx and self.spf and self.dkim and self.dmarc

    def wire(self) -> dict[str, Any]:
        return {
            "domain": self.domain,
            "allPass": self.all_pass,
            "mx": self.mx,
            "spf": self.spf,
            "dkim": self.dkim,
            "dmarc": self.dmarc,
        }


def dkim_selectors() -> tuple[str, ...]:
    extra = [s.strip().lower() for s in os.environ.get(DKIM_SELECTORS_ENV, "").split(",") if s.strip()]
    return tuple(dict.fromkeys([*extra, *DKIM_SELECTORS]))


async def _check_mx(resolver: dns.asyncresolver.Resolver, domain: str) -> tuple[bool, str]:
    answer = await lookup(resolver, domain, "MX")
    if answer.status != "ok":
        return False, answer.detail
    hosts = [host for _, host in sorted(answer.records) if host not in ("", ".")]
    if not hosts:
        return False, "null MX: the domain accepts no mail"
    for batch in (hosts[:3], hosts[3:10]):
        found = await asyncio.gather(*(lookup(resolver, h, t) for h in batch for t in ("A", "AAAA")))
        if any(f.status == "ok" for f in found):
            return True, ", ".join(hosts)
    return False, f"no MX host has an address: {', '.join(hosts)}"


async def _check_spf(resolver: dns.asyncresolver.Resolver, domain: str) -> tuple[bool, str]:
    answer = await lookup(resolver, domain, "TXT")
    if answer.status == "error":
        return False, answer.detail
    return spf_verdict(answer.records)


async def _check_dmarc(resolver: dns.asyncresolver.Resolver, domain: str) -> tuple[bool, str]:
    labels = domain.split(".")
    for candidate in (".".join(labels[i:]) for i in range(len(labels) - 1)):  # the domain, then its parents
        answer = await lookup(resolver, f"_dmarc.{candidate}", "TXT")
        if answer.status == "error":
            return False, answer.detail
        if any(_is_dmarc(t) for t in answer.records):
            ok, why = dmarc_verdict(answer.records)
            return ok, why if candidate == domain else f"{why} (from {candidate})"
    return False, "no DMARC record (TXT v=DMARC1)"


async def _check_dkim(resolver: dns.asyncresolver.Resolver, domain: str) -> tuple[bool, str]:
    selectors = dkim_selectors()
    answers = await asyncio.gather(*(lookup(resolver, f"{s}._domainkey.{domain}", "TXT") for s in selectors))
    reasons = []
    for selector, answer in zip(selectors, answers, strict=True):
        if answer.status == "ok":
            ok, why = dkim_verdict(answer.records)
            if ok:
                return True, f"selector {selector}"
            reasons.append(f"{selector}: {why}")
    return False, "; ".join(reasons) or f"no DKIM key under the selectors {', '.join(selectors)}"


async def check_domain(domain: str, resolver: dns.asyncresolver.Resolver | None = None) -> DomainVitals:
    """The four vitals of one sending domain, looked up at once; never raises."""
    resolver = resolver or resolver_factory()
    checks = {
        "mx": _check_mx(resolver, domain),
        "spf": _check_spf(resolver, domain),
        "dkim": _check_dkim(resolver, domain),
        "dmarc": _check_dmarc(resolver, domain),
    }
    tasks = {name: asyncio.ensure_future(check) for name, check in checks.items()}
    await asyncio.wait(tasks.values(), timeout=DOMAIN_BUDGET)
    verdicts: dict[str, tuple[bool, str]] = {}
    for name, task in tasks.items():
        if task.done() and task.exception() is None:
            verdicts[name] = task.result()
        elif task.done():
            logger.warning("%s check of %s failed: %r", name, domain, task.exception())
            verdicts[name] = (False, f"{name} check failed: {task.exception()}")
        else:
            task.cancel()
            verdicts[name] = (False, f"DNS lookups took longer than {DOMAIN_BUDGET:g}s")
    await asyncio.gather(*tasks.values(), return_exceptions=True)
    return DomainVitals(
        domain,
        mx=verdicts["mx"][0],
        spf=verdicts["spf"][0],
        dkim=verdicts["dkim"][0],
        dmarc=verdicts["dmarc"][0],
        notes={name: why for name, (_, why) in verdicts.items()},
    )


async def check_domains(domains: Sequence[str]) -> list[DomainVitals]:
    """Vitals of each domain (in the given order), a few domains at a time."""
    resolver = resolver_factory()
    gate = asyncio.Semaphore(MAX_PARALLEL_DOMAINS)

    async def one(domain: str) -> DomainVitals:
        async with gate:
            return await check_domain(domain, resolver)

    return list(await asyncio.gather(*(one(d) for d in domains)))


class VitalsRequestError(ValueError):
    """A vitals request that cannot be served (answered 400 with the reference's `{error}` body)."""


async def account_vitals(
    session: AsyncSession, organization_id: uuid.UUID, emails: Sequence[str] | None
) -> list[DomainVitals]:
    """Vitals of the domains of the workspace's accounts among `emails` (each domain once, in order).

    Emails that are not accounts of the workspace are ignored; when none is, NotFound (404), exactly
    as for another workspace's account."""
    wanted = list(dict.fromkeys(e.strip().lower() for e in emails or [] if e and e.strip()))
    if not wanted:
        raise VitalsRequestError(NO_EMAILS)
    if len(wanted) > MAX_VITALS_ACCOUNTS:
        raise VitalsRequestError(f"Bad request - at most {MAX_VITALS_ACCOUNTS} emails per request")
    usable = [e for e in wanted if "\x00" not in e]
    known = await AccountRepository(session, organization_id).ids_by_email(usable) if usable else {}
    domains = list(dict.fromkeys(d for e in usable if e in known and (d := email_domain(e))))
    if not domains:
        raise NotFound("No accounts of this workspace have these emails")
    return await check_domains(domains)


# -- custom tracking domain -------------------------------------------------------------------------


class DnsLookupFailed(Exception):
    """The DNS could not say (timeout, SERVFAIL): neither yes nor no."""


@dataclass(frozen=True)
class TrackingDomainStatus:
    host: str
    cname: bool
    ssl: bool
    target: str | None
    detail: str

    @property
    def success(self) -> bool:
        return self.cname

    def wire(self) -> dict[str, Any]:
        return {"success": self.success, "ssl": self.ssl, "cname": self.cname, "host": self.host}


def tracking_cname_target(settings: Settings | None) -> str | None:
    """Where a custom tracking domain must point: COLDSEND_TRACKING_CNAME_TARGET, else the host of
    COLDSEND_PUBLIC_URL when it is a DNS name; None accepts any CNAME."""
    configured = os.environ.get(TRACKING_TARGET_ENV, "").strip()
    if configured:
        return normalize_host(configured) or configured.rstrip(".").lower()
    public_url = settings.public_url if settings is not None else None
    if public_url:
        host = urlsplit(public_url if "://" in public_url else f"https://{public_url}").hostname
        if host and host != "localhost":
            return normalize_host(host)
    return None


async def _tls_valid(host: str, addresses: Sequence[str]) -> bool:
    context = tls_context_factory()
    for address in addresses[:2]:
        try:
            _, writer = await asyncio.wait_for(
                asyncio.open_connection(address, CTD_TLS_PORT, ssl=context, server_hostname=host),
                CTD_TLS_TIMEOUT,
            )
        except (OSError, TimeoutError, ssl.SSLError) as exc:
            logger.debug("TLS check of %s at %s failed: %s", host, address, exc)
            continue
        writer.close()
        with contextlib.suppress(OSError, TimeoutError, ssl.SSLError):
            await asyncio.wait_for(writer.wait_closed(), 1.0)
        return True
    return False


async def tracking_domain_status(host: str, expected_target: str | None) -> TrackingDomainStatus:
    """Resolve the host's CNAME (and, when it is right, try TLS on it). `host` must be normalised.

    Raises DnsLookupFailed when the DNS gives no answer either way."""
    resolver = resolver_factory()
    answer = await lookup(resolver, host, "CNAME")
    if answer.status == "error":
        raise DnsLookupFailed(answer.detail)
    if answer.status != "ok":
        return TrackingDomainStatus(host, cname=False, ssl=False, target=None, detail=answer.detail)
    target = str(answer.records[0])
    if expected_target is not None and target != expected_target:
        detail = f"{host} points at {target}, not at {expected_target}"
        return TrackingDomainStatus(host, cname=False, ssl=False, target=target, detail=detail)
    addresses = [
        address
        for found in await asyncio.gather(lookup(resolver, host, "A"), lookup(resolver, host, "AAAA"))
        if found.status == "ok"
        for address in found.records
    ]
    ssl_ok = await _tls_valid(host, addresses) if addresses else False
    return TrackingDomainStatus(host, cname=True, ssl=ssl_ok, target=target, detail=f"{host} points at {target}")
