"""Forest's core-NATS subjects, and a bus that uses NATS or, without it, delivers in-process.

Core NATS is at-most-once: every subject here only nudges ("something may have changed");
the database stays the source of truth, and sweeps catch what a lost nudge missed.
"""

from __future__ import annotations

import asyncio
import fnmatch
import logging
from collections.abc import Awaitable, Callable

import nats
import nats.errors
from nats.aio.client import Client as NatsClient
from nats.aio.msg import Msg

log = logging.getLogger(__name__)

INTENT_EVALUATE = "forest.intent.evaluate"


def org_events_subject(organisation: str) -> str:
    return f"forest.events.{organisation}"


def release_status_subject(intent_id: str) -> str:
    return f"forest.release.status.{intent_id}"


Callback = Callable[[str, bytes], Awaitable[None]]


class BusUnavailable(ConnectionError):
    """The NATS server named in the settings did not answer at start-up."""


class Bus:
    """Publish/subscribe on NATS when connected, otherwise among this process's subscribers."""

    def __init__(self) -> None:
        self._nc: NatsClient | None = None
        self._local: list[tuple[str, Callback]] = []

    @property
    def connected(self) -> bool:
        return self._nc is not None and self._nc.is_connected

    async def connect(self, url: str, connect_timeout: float = 5.0) -> None:
        async def _error(exc: Exception) -> None:
            log.warning("NATS error: %s", exc)

        async def _disconnected() -> None:
            if self._nc is not None and not self._nc.is_draining and not self._nc.is_closed:
                log.warning("NATS disconnected; reconnecting")

        async def _reconnected() -> None:
            log.info("NATS reconnected")

        # max_reconnect_attempts=-1 makes the first connect retry forever too: bound it.
        try:
            self._nc = await asyncio.wait_for(
                nats.connect(
                    url,
                    max_reconnect_attempts=-1,
                    reconnect_time_wait=2,
                    error_cb=_error,
                    disconnected_cb=_disconnected,
                    reconnected_cb=_reconnected,
                ),
                connect_timeout,
            )
        except (TimeoutError, OSError, nats.errors.Error) as exc:
            raise BusUnavailable(
                f"cannot reach NATS at {url} within {connect_timeout:g} s "
                f"({type(exc).__name__})"
            ) from exc

    async def publish(self, subject: str, data: bytes = b"") -> None:
        if self._nc is not None:
            try:
                await self._nc.publish(subject, data)
            except Exception as exc:  # a lost nudge only delays: sweeps catch up
                log.warning("could not publish %s: %s", subject, exc)
            return
        for pattern, callback in list(self._local):
            if fnmatch.fnmatchcase(subject, pattern.replace(">", "*")):
                try:
                    await callback(subject, data)
                except Exception:
                    log.exception("local subscriber of %s failed", subject)

    async def subscribe(self, subject: str, callback: Callback) -> None:
        if self._nc is not None:

            async def _on_msg(msg: Msg) -> None:
                await callback(msg.subject, msg.data)

            await self._nc.subscribe(subject, cb=_on_msg)
            return
        self._local.append((subject, callback))

    async def close(self) -> None:
        if self._nc is not None:
            try:
                await self._nc.drain()
            except Exception as exc:
                log.debug("NATS drain failed: %s", exc)
            self._nc = None
        self._local.clear()
