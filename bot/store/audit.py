"""The audit log: every vote, bypass and plan decision made from Slack, with Forest's answer."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from sqlalchemy import Row, Select, insert, select

from forestd.db.types import utcnow

from .database import StoreDatabase, in_chunks
from .models import AuditEntry
from .rows import AUDIT_ACTIONS, AUDIT_RESULTS, AuditRecord


def _entries() -> Select[*tuple[Any, ...]]:
    return select(
        AuditEntry.team_id,
        AuditEntry.slack_user_id,
        AuditEntry.forest_user_id,
        AuditEntry.action,
        AuditEntry.organisation,
        AuditEntry.project,
        AuditEntry.intent_id,
        AuditEntry.environment,
        AuditEntry.stage_id,
        AuditEntry.comment,
        AuditEntry.result,
        AuditEntry.detail,
        AuditEntry.at,
    ).order_by(AuditEntry.id)


def _record(row: Row[*tuple[Any, ...]]) -> AuditRecord:
    return AuditRecord(**row._mapping)


class Audit:
    _db: StoreDatabase

    async def audit(self, record: AuditRecord) -> None:
        """Append one entry; `record.at` None means now."""
        if record.action not in AUDIT_ACTIONS:
            raise ValueError(
                f"audit action {record.action!r} is not one of {sorted(AUDIT_ACTIONS)}"
            )
        if record.result not in AUDIT_RESULTS:
            raise ValueError(
                f"audit result {record.result!r} is not one of {sorted(AUDIT_RESULTS)}"
            )
        statement = insert(AuditEntry).values(
            at=record.at or utcnow(),
            team_id=record.team_id,
            slack_user_id=record.slack_user_id,
            forest_user_id=record.forest_user_id,
            action=record.action,
            organisation=record.organisation,
            project=record.project,
            intent_id=record.intent_id,
            environment=record.environment,
            stage_id=record.stage_id,
            comment=record.comment,
            result=record.result,
            detail=record.detail,
        )
        async with self._db.write() as conn:
            await conn.execute(statement)

    async def audit_entries_for(self, intent_ids: Collection[str]) -> list[AuditRecord]:
        """The entries of these intents, oldest first within each query of IN_CHUNK ids."""
        out: list[AuditRecord] = []
        async with self._db.read() as conn:
            for chunk in in_chunks(intent_ids):
                statement = _entries().where(AuditEntry.intent_id.in_(chunk))
                out.extend(_record(row) for row in await conn.execute(statement))
        return out

    async def audit_entries(self, intent_id: str | None = None) -> list[AuditRecord]:
        """The log, oldest first; only one intent's entries when `intent_id` is given."""
        statement = _entries()
        if intent_id is not None:
            statement = statement.where(AuditEntry.intent_id == intent_id)
        async with self._db.read() as conn:
            return [_record(row) for row in await conn.execute(statement)]
