"""What every service implementation gets: the database, the bus and the settings."""

from __future__ import annotations

from dataclasses import dataclass

from .bus import Bus
from .config import ForestSettings
from .uow import Database


@dataclass
class ServiceContext:
    settings: ForestSettings
    db: Database
    bus: Bus
