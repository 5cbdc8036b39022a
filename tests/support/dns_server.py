"""A small authoritative DNS server (dnslib) on 127.0.0.1 and a UDP port the OS picks.

It answers from an in-memory zone the tests fill: NXDOMAIN for names it does not know, an empty
answer (NODATA) for known names without the asked type, CNAME chains followed inside the zone like a
recursive resolver would, SERVFAIL for `servfail_names`, and a late SERVFAIL for `slow_names` (the
client times out first). Point code at it with `COLDSEND_DNS_NAMESERVER=127.0.0.1:<port>`.
"""

from __future__ import annotations

import threading
import time
from collections import defaultdict
from typing import Any

from dnslib import CNAME, QTYPE, RCODE, RR, TXT, DNSRecord
from dnslib.server import BaseResolver, DNSLogger, DNSServer


def _key(name: str) -> str:
    return name.rstrip(".").lower() + "."


class Zone(BaseResolver):
    """Records by owner name; thread-safe enough for tests that edit it between queries."""

    def __init__(self) -> None:
        self._records: dict[str, list[RR]] = defaultdict(list)
        self._lock = threading.Lock()
        self.servfail_names: set[str] = set()
        self.slow_names: set[str] = set()
        self.slow_seconds = 2.0
        self.queries: list[tuple[str, str]] = []

    # -- editing ---------------------------------------------------------------------------------

    def clear(self) -> None:
        with self._lock:
            self._records.clear()
            self.servfail_names.clear()
            self.slow_names.clear()
            self.queries.clear()

    def add(self, name: str, rtype: str, value: str, ttl: int = 60) -> None:
        """`add("example.com", "MX", "10 mx.example.com")`; TXT values are taken verbatim (split in
        255-byte strings as DNS requires)."""
        owner = _key(name)
        if rtype.upper() == "TXT":
            raw = value.encode()
            chunks = [raw[i : i + 255] for i in range(0, len(raw), 255)] or [b""]
            rr = RR(owner, QTYPE.TXT, ttl=ttl, rdata=TXT(chunks))
        elif rtype.upper() == "CNAME":
            rr = RR(owner, QTYPE.CNAME, ttl=ttl, rdata=CNAME(_key(value)))
        else:
            target = value
            if rtype.upper() == "MX":
                preference, _, exchange = value.partition(" ")
                target = f"{preference} {_key(exchange)}"
            rr = RR.fromZone(f"{owner} {ttl} IN {rtype.upper()} {target}")[0]
        with self._lock:
            self._records[owner].append(rr)

    def remove(self, name: str, rtype: str | None = None) -> None:
        owner = _key(name)
        with self._lock:
            if rtype is None:
                self._records.pop(owner, None)
            else:
                code = getattr(QTYPE, rtype.upper())
                self._records[owner] = [r for r in self._records.get(owner, []) if r.rtype != code]

    def add_domain(self, domain: str, **records: Any) -> None:
        """Convenience: `add_domain("good.example", mx=..., spf=..., dmarc=..., dkim={"google": ...})`."""
        if records.get("mx"):
            self.add(domain, "MX", records["mx"])
        for rtype in ("a", "txt"):
            if records.get(rtype):
                self.add(domain, rtype.upper(), records[rtype])
        if records.get("spf"):
            self.add(domain, "TXT", records["spf"])
        if records.get("dmarc"):
            self.add(f"_dmarc.{domain}", "TXT", records["dmarc"])
        for selector, value in (records.get("dkim") or {}).items():
            self.add(f"{selector}._domainkey.{domain}", "TXT", value)

    # -- answering -------------------------------------------------------------------------------

    def resolve(self, request: DNSRecord, handler: Any) -> DNSRecord:
        reply = request.reply()
        qname = _key(str(request.q.qname))
        qtype = request.q.qtype
        self.queries.append((qname, QTYPE[qtype]))
        if qname in self.slow_names:
            time.sleep(self.slow_seconds)
            reply.header.rcode = RCODE.SERVFAIL
            return reply
        if qname in self.servfail_names:
            reply.header.rcode = RCODE.SERVFAIL
            return reply
        with self._lock:
            name = qname
            for _ in range(8):  # follow CNAMEs inside the zone, like a recursive resolver
                records = list(self._records.get(name, []))
                if not records and name != qname:
                    return reply  # dangling CNAME: the chain is the answer
                if not records:
                    reply.header.rcode = RCODE.NXDOMAIN
                    return reply
                matching = [r for r in records if r.rtype == qtype or qtype == QTYPE.ANY]
                if matching:
                    for rr in matching:
                        reply.add_answer(rr)
                    return reply
                cnames = [r for r in records if r.rtype == QTYPE.CNAME]
                if not cnames:
                    return reply  # NODATA
                reply.add_answer(cnames[0])
                name = _key(str(cnames[0].rdata.label))
        return reply


class LocalDNSServer:
    def __init__(self, zone: Zone | None = None) -> None:
        self.zone = zone or Zone()
        self._server: DNSServer | None = None
        self.port = 0

    @property
    def nameserver(self) -> str:
        """The value for COLDSEND_DNS_NAMESERVER."""
        return f"127.0.0.1:{self.port}"

    def start(self) -> LocalDNSServer:
        quiet = DNSLogger(log="error", logf=lambda _line: None)
        self._server = DNSServer(self.zone, address="127.0.0.1", port=0, logger=quiet)
        self.port = self._server.server.server_address[1]
        self._server.start_thread()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop()
            self._server.server.server_close()
            self._server = None
