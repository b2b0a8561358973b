"""Kept only for test_coordinator.py, which imports its helpers and fixtures from here: the helpers
are in releases_helpers.py and the fixtures in conftest.py (`world` here is conftest's
`release_world`). Delete this module once test_coordinator.py imports from those."""

from .conftest import machine, rpc
from .conftest import release_world as world
from .releases_helpers import (
    ACTIVE,
    PENDING,
    STANDARD,
    SUCCEEDED,
    Stubs,
    awaiting_plan,
    configure_destinations,
    create_pipeline,
    deploy,
    intent_state,
    plan,
    release,
    stage_is,
    stage_of,
    wait,
    wait_for,
)

__all__ = [
    "ACTIVE",
    "PENDING",
    "STANDARD",
    "SUCCEEDED",
    "Stubs",
    "awaiting_plan",
    "configure_destinations",
    "create_pipeline",
    "deploy",
    "intent_state",
    "machine",
    "plan",
    "release",
    "rpc",
    "stage_is",
    "stage_of",
    "wait",
    "wait_for",
    "world",
]
