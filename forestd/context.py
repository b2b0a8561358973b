"""What every service implementation gets: the database, the bus, the settings and the
compatibility rules (forestd/compat.py) that follow from them."""

from __future__ import annotations

from dataclasses import dataclass, field

from .bus import Bus
from .compat import Compat
from .config import ForestSettings
from .uow import Database


@dataclass
class ServiceContext:
    settings: ForestSettings
    db: Database
    bus: Bus
    compat: Compat = field(init=False)

    def __post_init__(self) -> None:
        self.compat = Compat.for_mode(self.settings.compat)
