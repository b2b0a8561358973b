"""Alembic environment: runs on a connection handed over by bot.store.migrate."""

from __future__ import annotations

from alembic import context
from alembic.runtime.environment import NameFilterParentNames, NameFilterType

from bot.store.migrate import VERSION_TABLE
from bot.store.models import TABLE_PREFIX, Base

config = context.config
connection = config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run the bot's migrations through bot.store.migrate (Store.open does)")


def include_name(name: str | None, type_: NameFilterType, _parents: NameFilterParentNames) -> bool:
    # The database may hold other applications' tables (Forest's, say): leave them alone.
    return type_ != "table" or (name or "").startswith(TABLE_PREFIX)


context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    version_table=VERSION_TABLE,
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
    include_name=include_name,
)
with context.begin_transaction():
    context.run_migrations()
