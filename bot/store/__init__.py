"""The bot's database (SQLAlchemy async + Alembic; SQLite by default, or PostgreSQL)."""

from .crypto import InvalidKey, TokenCipher
from .rows import AuditRecord, LinkedUser, MessageRow, SubscriptionRow
from .store import Store

__all__ = [
    "AuditRecord",
    "InvalidKey",
    "LinkedUser",
    "MessageRow",
    "Store",
    "SubscriptionRow",
    "TokenCipher",
]
