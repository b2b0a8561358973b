"""The forest.v1 service implementations, one module per proto service group."""

from __future__ import annotations

import grpc

from ..context import ServiceContext
from . import identity, policies


def register_all(server: grpc.aio.Server, ctx: ServiceContext) -> list[str]:
    """Add every implemented forest.v1 service to `server`; return their full names."""
    names: list[str] = []
    # Each service module exposes `register(server, ctx) -> list[str]`; list them here.
    names += policies.register(server, ctx)
    names += identity.register(server, ctx)
    return names
