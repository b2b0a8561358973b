"""Leases: a named piece of work held by one replica at a time, for a bounded time.

A replica that dies holding a lease blocks that work only until the lease expires. Expiry is
compared with each replica's own clock (UTC), so clocks must agree to well within the lease's
duration (NTP does this); a lease is an optimisation of who works, never the only guard of
correctness: the message claim and the version check in `Messages` still hold without it.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import delete, or_

from forestd.db.types import utcnow

from .database import StoreDatabase
from .models import Lease


class Leases:
    _db: StoreDatabase

    async def take_lease(self, name: str, holder: str, seconds: float) -> bool:
        """Take or renew `name` for `seconds`; False while another holder's lease runs."""
        now = utcnow()
        insert = self._db.insert(Lease).values(
            name=name, holder=holder, expires_at=now + timedelta(seconds=seconds)
        )
        upsert = insert.on_conflict_do_update(
            index_elements=["name"],
            set_={"holder": insert.excluded.holder, "expires_at": insert.excluded.expires_at},
            where=or_(Lease.holder == holder, Lease.expires_at <= now),
        )
        async with self._db.write() as conn:
            return await conn.scalar(upsert.returning(Lease.name)) is not None

    async def drop_lease(self, name: str, holder: str) -> None:
        """Give the lease back (only if still ours) so another replica need not wait it out."""
        statement = delete(Lease).where(Lease.name == name, Lease.holder == holder)
        async with self._db.write() as conn:
            await conn.execute(statement)
