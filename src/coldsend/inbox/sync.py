"""Inbox sync: every watched mailbox is kept in sync over IMAP.

`InboxSync` (in each worker) leases mailboxes (`accounts.inbox_lease_*`, one worker per mailbox,
renewed while watched, taken over by another worker when it lapses) and runs one `MailboxWatcher` per
leased mailbox. A watcher connects, reads INBOX and the spam folder from the last seen UID (a changed
UIDVALIDITY means the folder was renumbered: it is read again from the first-sync date, duplicates are
dropped by Message-ID), then waits for news with IDLE on INBOX (re-issued well inside the 29-minute
limit) or, when the server has no IDLE, polls; the spam folder is re-read at every poll interval.
Every IMAP command runs under a timeout; a dropped connection reconnects with exponential backoff
(1 s up to 5 min). A refused login puts the account into Connection error (-1) and stops watching it.

A first sync reads only mail delivered since the day before the account was added: the inbox history
from before Coldsend is not imported.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import ssl
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from coldsend.accounts.connectivity import CheckFailed, Failure, mail_servers, open_imap
from coldsend.config import Settings
from coldsend.inbox.imap import FETCH_CHUNK, MailboxReader
from coldsend.inbox.repository import InboxRepository, WatchQueries
from coldsend.inbox.service import IngestReport, ingest, prepare
from coldsend.kit.clock import Clock, SystemClock
from coldsend.kit.crypto import SecretBox, secret_box
from coldsend.kit.repository import Record

logger = logging.getLogger("coldsend.inbox")

MAX_BACKOFF = 300.0


@dataclass
class SyncResult:
    """What one sync of a mailbox did (for logs, tests and benchmarks)."""

    fetched: int = 0
    stored: int = 0
    replies: int = 0
    auto_replies: int = 0
    bounces: int = 0
    reset_folders: int = 0

    def add(self, report: IngestReport, fetched: int) -> None:
        self.fetched += fetched
        self.stored += report.stored
        self.replies += report.replies
        self.auto_replies += report.auto_replies
        self.bounces += report.bounces


class MailboxWatcher:
    """Keeps one mailbox in sync until cancelled or its account can no longer be watched."""

    def __init__(self, sync: InboxSync, organization_id: uuid.UUID, account_id: uuid.UUID) -> None:
        self.sync = sync
        self.organization_id = organization_id
        self.account_id = account_id
        self.connected = asyncio.Event()
        self.idling = asyncio.Event()

    async def run(self) -> None:
        backoff = 1.0
        while True:
            account = await self._account()
            if account is None or account.status == -1 or not account.imap_host:
                return
            try:
                await self._session(account)
                backoff = 1.0
            except CheckFailed as failed:
                if failed.failure.code == "EAUTH":
                    await self._auth_failed(account, failed.failure)
                    return
                logger.warning(
                    "%s: IMAP failed (%s); reconnecting in %.0fs", account.email, failed.failure.message, backoff
                )
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # a dropped connection, a timeout, a protocol surprise
                logger.warning(
                    "%s: IMAP connection lost (%s); reconnecting in %.0fs",
                    account.email,
                    exc or type(exc).__name__,
                    backoff,
                )
            self.connected.clear()
            self.idling.clear()
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, MAX_BACKOFF)

    async def _account(self) -> Record | None:
        async with self.sync.db.connect() as conn:
            return await InboxRepository(conn, self.organization_id).account(self.account_id)

    async def _session(self, account: Record) -> None:
        server = self.sync.imap_server(account)
        session, _tls = await open_imap(server, step_timeout=self.sync.step_timeout, tls_context=self.sync.tls_context)
        reader = MailboxReader(session)
        try:
            self.connected.set()
            folders = await reader.folders()
            logger.info("%s: watching %s", account.email, ", ".join(f for f, _ in folders))
            while True:
                await self.sync_folders(reader, account, folders)
                await self._wait_for_news(reader)
        finally:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(reader.logout(), 2)
            session.close()

    async def sync_folders(
        self, reader: MailboxReader, account: Record, folders: Sequence[tuple[str, str]]
    ) -> SyncResult:
        result = SyncResult()
        for folder, role in folders:
            await self.sync_folder(reader, account, folder, role, result)
        async with self.sync.db.begin() as conn:
            await InboxRepository(conn, self.organization_id).mark_synced(account.id, self.sync.clock.now())
        return result

    async def sync_folder(
        self, reader: MailboxReader, account: Record, folder: str, role: str, result: SyncResult
    ) -> None:
        status = await reader.open(folder)
        async with self.sync.db.connect() as conn:
            state = (await InboxRepository(conn, self.organization_id).folder_states(account.id)).get(folder)
        last_uid = state.last_uid if state is not None else 0
        first_sync = state is None or (state.uidvalidity is not None and state.uidvalidity != status.uidvalidity)
        if state is not None and first_sync:
            logger.warning(
                "%s: %s was renumbered (UIDVALIDITY %s -> %s): reading it again",
                account.email,
                folder,
                state.uidvalidity,
                status.uidvalidity,
            )
            result.reset_folders += 1
            last_uid = 0
        since = (account.timestamp_created - timedelta(days=1)).date() if first_sync else None
        uids = await reader.uids_after(last_uid, since)
        if not uids and (state is None or first_sync):
            await self._save(account.id, folder, role, status.uidvalidity, last_uid)
        for start in range(0, len(uids), FETCH_CHUNK):
            chunk = uids[start : start + FETCH_CHUNK]
            fetched = await reader.fetch(chunk)
            incoming = [prepare(uid, data) for uid, data in fetched]
            now = self.sync.clock.now()
            async with self.sync.db.begin() as conn:
                report = await ingest(conn, account, role, incoming, now)
                await InboxRepository(conn, self.organization_id).save_folder_state(
                    account.id, folder, role, status.uidvalidity, chunk[-1], now
                )
            result.add(report, len(fetched))
            if report.stored:
                logger.info(
                    "%s: %d new message(s) in %s (%d replies, %d auto-replies, %d bounces)",
                    account.email,
                    report.stored,
                    folder,
                    report.replies,
                    report.auto_replies,
                    report.bounces,
                )

    async def _save(self, account_id: uuid.UUID, folder: str, role: str, validity: int | None, last_uid: int) -> None:
        async with self.sync.db.begin() as conn:
            await InboxRepository(conn, self.organization_id).save_folder_state(
                account_id, folder, role, validity, last_uid, self.sync.clock.now()
            )

    async def _wait_for_news(self, reader: MailboxReader) -> None:
        if reader.supports_idle and self.sync.use_idle:
            await reader.open("INBOX")
            self.idling.set()
            try:
                await reader.idle(min(self.sync.poll_interval, self.sync.max_idle))
            finally:
                self.idling.clear()
        else:
            await asyncio.sleep(self.sync.poll_interval)

    async def _auth_failed(self, account: Record, failure: Failure) -> None:
        logger.warning("%s: IMAP login refused; the account is in connection error until fixed", account.email)
        async with self.sync.db.begin() as conn:
            await InboxRepository(conn, self.organization_id).set_account_error(
                account.id, failure.status_message(), self.sync.clock.now()
            )


class InboxSync:
    """Leases mailboxes and runs their watchers (in `coldsend worker` and `serve`'s worker)."""

    def __init__(
        self,
        db: AsyncEngine,
        settings: Settings,
        *,
        clock: Clock | None = None,
        owner: str | None = None,
        poll_interval: float = 60.0,
        max_idle: float = 25 * 60.0,
        lease_seconds: float = 120.0,
        capacity: int = 1000,
        step_timeout: float = 30.0,
        use_idle: bool = True,
        tls_context: ssl.SSLContext | None = None,
    ) -> None:
        self.db = db
        self.settings = settings
        self.clock: Clock = clock or SystemClock()
        self.owner = owner or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self.poll_interval = poll_interval
        self.max_idle = max_idle
        self.lease = timedelta(seconds=lease_seconds)
        self.capacity = capacity
        self.step_timeout = step_timeout
        self.use_idle = use_idle
        self.tls_context = tls_context
        self.watchers: dict[uuid.UUID, tuple[MailboxWatcher, asyncio.Task[None]]] = {}
        self._box: SecretBox | None = None

    def imap_server(self, account: Any) -> Any:
        if self._box is None:
            self._box = secret_box(self.settings)
        _smtp, imap = mail_servers(account, self._box)
        if isinstance(imap, Failure):
            raise CheckFailed(imap)
        return imap

    async def sync_once(self, organization_id: uuid.UUID, account_id: uuid.UUID) -> SyncResult:
        """Connect, read every folder once, disconnect (tests, benchmarks, a manual resync)."""
        watcher = MailboxWatcher(self, organization_id, account_id)
        account = await watcher._account()
        if account is None:
            raise LookupError(f"no account {account_id}")
        session, _ = await open_imap(
            self.imap_server(account), step_timeout=self.step_timeout, tls_context=self.tls_context
        )
        reader = MailboxReader(session)
        try:
            return await watcher.sync_folders(reader, account, await reader.folders())
        finally:
            await reader.logout()
            session.close()

    async def tick(self) -> None:
        """Renew the leases of watched mailboxes, drop lost ones, and lease and watch new ones."""
        now = self.clock.now()
        for account_id, (_watcher, task) in list(self.watchers.items()):
            if task.done():
                self.watchers.pop(account_id)
        async with self.db.begin() as conn:
            queries = WatchQueries(conn)
            kept = await queries.renew(self.owner, list(self.watchers), now + self.lease)
            for account_id in [a for a in self.watchers if a not in kept]:
                _watcher, task = self.watchers.pop(account_id)
                task.cancel()
                logger.info("stopped watching account %s (removed, in error, or taken over)", account_id)
            room = self.capacity - len(self.watchers)
            claimed = (
                await queries.claim(self.owner, now, now + self.lease, room, list(self.watchers)) if room > 0 else []
            )
        for row in claimed:
            watcher = MailboxWatcher(self, row.organization_id, row.id)
            task = asyncio.create_task(watcher.run(), name=f"inbox:{row.id}")
            self.watchers[row.id] = (watcher, task)

    async def run(self, interval: float = 5.0) -> None:
        logger.info("inbox sync %s started", self.owner)
        try:
            while True:
                try:
                    await self.tick()
                except asyncio.CancelledError:
                    raise
                except Exception:
                    logger.exception("inbox sync tick failed; retrying")
                await asyncio.sleep(interval)
        finally:
            tasks = [task for _w, task in self.watchers.values()]
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            ids = list(self.watchers)
            self.watchers.clear()
            with contextlib.suppress(Exception):
                async with self.db.begin() as conn:
                    await WatchQueries(conn).release(self.owner, ids)
            logger.info("inbox sync %s stopped", self.owner)
