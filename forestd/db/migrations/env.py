"""Alembic environment: runs on a connection handed over by forestd.db.migrate."""

from __future__ import annotations

from alembic import context

from forestd.db.models import Base

config = context.config
connection = config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations through forestd.db.migrate (forest-bot forest migrate)")

context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
