"""Alembic environment: migrations always run on a connection handed in by `coldsend.kit.db.migrate`."""

from __future__ import annotations

from alembic import context

connection = context.config.attributes.get("connection")
if connection is None:  # pragma: no cover - guarded for people running `alembic` by hand
    raise RuntimeError("run migrations with `coldsend migrate`, which supplies the database connection")

context.configure(connection=connection, target_metadata=None, transaction_per_migration=False)
with context.begin_transaction():
    context.run_migrations()
