"""Prometheus metrics of one bot process, on its own registry (tests build several bots)."""

from __future__ import annotations

from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

_FAST = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)


@dataclass
class Metrics:
    registry: CollectorRegistry = field(default_factory=CollectorRegistry)

    def __post_init__(self) -> None:
        r = self.registry
        self.ack_seconds = Histogram(
            "forest_bot_ack_seconds",
            "Slack request received to ack sent",
            ["kind"],
            buckets=_FAST,
            registry=r,
        )
        self.refresh_seconds = Histogram(
            "forest_bot_refresh_seconds",
            "signal queued to message synced",
            buckets=_FAST,
            registry=r,
        )
        self.slack_calls = Counter(
            "forest_bot_slack_calls_total",
            "Slack Web API calls",
            ["method", "result"],
            registry=r,
        )
        self.rate_limited = Counter(
            "forest_bot_slack_ratelimited_total", "Slack answers 429", ["method"], registry=r
        )
        self.slack_deferred = Counter(
            "forest_bot_slack_deferred_total",
            "Refresher calls not made yet: over the paced budget or inside a 429's Retry-After",
            ["method"],
            registry=r,
        )
        self.outgoing = Gauge(
            "forest_bot_outgoing_messages",
            "messages whose newer state is rendered and waits for Slack's budget",
            registry=r,
        )
        self.queue_depth = Gauge(
            "forest_bot_refresh_queue_depth", "projects waiting for a refresh", registry=r
        )
        self.signals = Counter(
            "forest_bot_signals_total", "signals handled", ["source"], registry=r
        )
        self.forest_actions = Counter(
            "forest_bot_actions_total",
            "votes and plan decisions",
            ["action", "result"],
            registry=r,
        )

    def render(self) -> bytes:
        return generate_latest(self.registry)
