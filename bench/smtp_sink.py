"""A minimal SMTP sink for the sending benchmark (bench/bench_sending.py): accepts and counts messages.

One process, one event loop (uvloop when installed), listening on --ports loopback ports (one per
sending account; port 0 = any free one) plus one control port. Speaks just enough ESMTP for
aiosmtplib and Coldsend's sending engine:

- greeting `220`; `EHLO`/`HELO` (EHLO advertises PIPELINING, 8BITMIME, SIZE and AUTH PLAIN LOGIN, no
  STARTTLS); `AUTH PLAIN` and `AUTH LOGIN`, with or without an initial response, any credentials accepted;
  `MAIL`, `RCPT`, `DATA` (the message is read up to `<CRLF>.<CRLF>` and thrown away: only counted),
  `RSET`, `NOOP`, `QUIT`; anything else gets `502`.
- Pipelined commands are answered in order, all replies of one read in one write.
- The control port answers one line per connection: `STATS` -> a JSON object (messages, bytes,
  connections, auths, messages per listening port, CPU seconds of this process), `RESET` -> zeroes the
  counters and answers the same object.

When listening it writes `{"pid", "ports", "control"}` to --ready-file (atomically) and to stdout. It stops
on SIGINT/SIGTERM, and by itself when its parent process goes away or after --max-seconds.

    .venv/bin/python bench/smtp_sink.py --ports 100 --ready-file /tmp/sink.json
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import resource
import signal
import sys
from pathlib import Path
from typing import Any, cast

HOST = "127.0.0.1"
MAX_LINE = 64 * 1024
MAX_MESSAGE = 50 * 1024 * 1024

EHLO_REPLY = (
    b"250-sink.coldsend.test\r\n250-PIPELINING\r\n250-8BITMIME\r\n250-SIZE 52428800\r\n250 AUTH PLAIN LOGIN\r\n"
)

# states of a session
COMMAND, DATA, AUTH_PLAIN, AUTH_USER, AUTH_PASSWORD = range(5)


class Stats:
    def __init__(self, ports: list[int]) -> None:
        self.ports = ports
        self.reset()

    def reset(self) -> None:
        self.messages = 0
        self.bytes = 0
        self.connections = 0
        self.auths = 0
        self.per_port = [0] * len(self.ports)

    def as_json(self) -> dict[str, Any]:
        usage = resource.getrusage(resource.RUSAGE_SELF)
        return {
            "messages": self.messages,
            "bytes": self.bytes,
            "connections": self.connections,
            "auths": self.auths,
            "per_port": dict(zip(self.ports, self.per_port, strict=True)),
            "cpu_seconds": usage.ru_utime + usage.ru_stime,
        }


class SmtpSession(asyncio.Protocol):
    """One SMTP connection: a buffer, a state, and the replies of one read written at once."""

    def __init__(self, stats: Stats, index: int) -> None:
        self.stats = stats
        self.index = index
        self.buf = bytearray()
        self.state = COMMAND
        self.scan = 0  # where to resume looking for the end of DATA
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's transports do not subclass it
        self.stats.connections += 1
        self.transport.write(b"220 sink.coldsend.test ESMTP coldsend bench sink\r\n")

    def data_received(self, data: bytes) -> None:
        buf = self.buf
        buf += data
        replies: list[bytes] = []
        close = False
        while buf and not close:
            if self.state == DATA:
                if buf.startswith(b".\r\n"):  # an empty message
                    end, size = 0, 0
                else:
                    found = buf.find(b"\r\n.\r\n", self.scan)
                    if found < 0:
                        if len(buf) > MAX_MESSAGE:
                            replies.append(b"552 5.3.4 message too big\r\n")
                            close = True
                        self.scan = max(0, len(buf) - 4)
                        break
                    end, size = found + 2, found + 2
                del buf[: end + 3]
                self.scan = 0
                self.state = COMMAND
                self.stats.messages += 1
                self.stats.bytes += size
                self.stats.per_port[self.index] += 1
                replies.append(b"250 2.0.0 Ok: queued\r\n")
                continue
            eol = buf.find(b"\r\n")
            if eol < 0:
                if len(buf) > MAX_LINE:
                    replies.append(b"500 5.5.6 line too long\r\n")
                    close = True
                break
            line = bytes(buf[:eol])
            del buf[: eol + 2]
            reply, close = self.command(line)
            replies.append(reply)
        if replies and self.transport is not None:
            self.transport.write(b"".join(replies))
        if close and self.transport is not None:
            self.transport.close()

    def command(self, line: bytes) -> tuple[bytes, bool]:
        """The reply to one line, and whether to close the connection after it."""
        if self.state == AUTH_PLAIN:
            self.state = COMMAND
            return self.authenticated()
        if self.state == AUTH_USER:
            self.state = AUTH_PASSWORD
            return b"334 UGFzc3dvcmQ6\r\n", False  # "Password:"
        if self.state == AUTH_PASSWORD:
            self.state = COMMAND
            return self.authenticated()
        verb = line[:4].upper()
        if verb == b"MAIL":
            return b"250 2.1.0 Ok\r\n", False
        if verb == b"RCPT":
            return b"250 2.1.5 Ok\r\n", False
        if verb == b"DATA":
            self.state = DATA
            self.scan = 0
            return b"354 End data with <CR><LF>.<CR><LF>\r\n", False
        if verb == b"EHLO":
            return EHLO_REPLY, False
        if verb == b"HELO":
            return b"250 sink.coldsend.test\r\n", False
        if verb == b"AUTH":
            parts = line.split()
            mechanism = parts[1].upper() if len(parts) > 1 else b""
            if mechanism == b"PLAIN":
                if len(parts) > 2:
                    return self.authenticated()
                self.state = AUTH_PLAIN
                return b"334 \r\n", False
            if mechanism == b"LOGIN":
                if len(parts) > 2:
                    self.state = AUTH_PASSWORD
                    return b"334 UGFzc3dvcmQ6\r\n", False
                self.state = AUTH_USER
                return b"334 VXNlcm5hbWU6\r\n", False  # "Username:"
            return b"504 5.5.4 mechanism not supported\r\n", False
        if verb == b"RSET":
            return b"250 2.0.0 Ok\r\n", False
        if verb == b"NOOP":
            return b"250 2.0.0 Ok\r\n", False
        if verb == b"QUIT":
            return b"221 2.0.0 Bye\r\n", True
        return b"502 5.5.2 command not recognized\r\n", False

    def authenticated(self) -> tuple[bytes, bool]:
        self.stats.auths += 1
        return b"235 2.7.0 Authentication successful\r\n", False


async def control(stats: Stats, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    with contextlib.suppress(Exception):
        line = (await asyncio.wait_for(reader.readline(), 10.0)).strip().upper()
        if line == b"RESET":
            stats.reset()
        writer.write(json.dumps(stats.as_json()).encode() + b"\n")
        await writer.drain()
    writer.close()


async def serve(args: argparse.Namespace) -> None:
    loop = asyncio.get_running_loop()
    stats = Stats([])
    servers: list[asyncio.Server] = []
    ports: list[int] = []
    for index in range(args.ports):
        wanted = args.base_port + index if args.base_port else 0
        server = await loop.create_server(
            lambda index=index: SmtpSession(stats, index), HOST, wanted, backlog=1024, reuse_address=True
        )
        servers.append(server)
        ports.append(int(server.sockets[0].getsockname()[1]))
    stats.ports = ports
    stats.reset()
    control_server = await asyncio.start_server(lambda r, w: control(stats, r, w), HOST, args.control_port)
    control_port = int(control_server.sockets[0].getsockname()[1])

    ready = json.dumps({"pid": os.getpid(), "ports": ports, "control": control_port})
    if args.ready_file:
        path = Path(args.ready_file)
        tmp = path.with_suffix(path.suffix + ".tmp")
        tmp.write_text(ready + "\n")
        tmp.replace(path)
    print(ready, flush=True)

    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    parent = os.getppid()
    deadline = loop.time() + args.max_seconds
    while not stop.is_set():
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), 1.0)
        if os.getppid() != parent or loop.time() > deadline:
            break
    for server in [*servers, control_server]:
        server.close()
    print(json.dumps({"final": stats.as_json()}), flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Counting SMTP sink on loopback ports (for bench_sending.py).")
    parser.add_argument("--ports", type=int, default=100, help="listening SMTP ports")
    parser.add_argument("--base-port", type=int, default=0, help="first port (0: free ports chosen by the OS)")
    parser.add_argument("--control-port", type=int, default=0, help="control port (0: a free one)")
    parser.add_argument("--ready-file", default=None, help="write the ports here as JSON once listening")
    parser.add_argument("--max-seconds", type=float, default=4 * 3600, help="stop after this long in any case")
    parser.add_argument("--no-uvloop", action="store_true", help="use the standard asyncio loop")
    args = parser.parse_args(argv)
    if not 1 <= args.ports <= 2000:
        parser.error("--ports must be in 1..2000")
    runner: Any = asyncio.run
    if not args.no_uvloop:
        with contextlib.suppress(ImportError):
            import uvloop

            runner = uvloop.run
    runner(serve(args))
    return 0


if __name__ == "__main__":
    sys.exit(main())
