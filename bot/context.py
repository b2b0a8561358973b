"""Everything a handler or a listener may use, passed explicitly (no module globals)."""

from __future__ import annotations

from dataclasses import dataclass

from bot.config import BotSettings
from bot.forest_client import ForestClient
from bot.inflight import InFlight
from bot.metrics import Metrics
from bot.refresher import Refresher
from bot.release_reader import ReleaseReader
from bot.signals import EventStream
from bot.slack_gateway import SlackGateway
from bot.store import Store


@dataclass(frozen=True, slots=True)
class BotContext:
    settings: BotSettings
    store: Store
    forest: ForestClient
    reader: ReleaseReader
    slack: SlackGateway
    refresher: Refresher
    events: EventStream
    metrics: Metrics
    inflight: InFlight
