"""The forest.v1 service implementations, one module per proto service group."""

from __future__ import annotations

import grpc

from ..context import ServiceContext
from . import event_subscriptions, events, identity, pipelines, policies, releases


def register_all(server: grpc.aio.Server, ctx: ServiceContext) -> list[str]:
    """Add every implemented forest.v1 service to `server`; return their full names."""
    names: list[str] = []
    # Each service module exposes `register(server, ctx) -> list[str]`; list them here.
    names += policies.register(server, ctx)
    names += identity.register(server, ctx)
    names += pipelines.register(server, ctx) + releases.register(server, ctx)
    names += events.register(server, ctx) + event_subscriptions.register(server, ctx)
    return names
