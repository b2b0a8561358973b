"""A TCP proxy that can play a server restarting: `stop()` refuses new connections and cuts the
open ones (what a client of a restarting PostgreSQL sees), `start()` listens again on the same
port. Bytes are copied as they are; the proxy never looks inside them."""

from __future__ import annotations

import asyncio
import contextlib


class TcpProxy:
    def __init__(self, target_host: str, target_port: int, *, host: str = "127.0.0.1") -> None:
        self.target = (target_host, target_port)
        self.host = host
        self.port = 0  # chosen at the first start(), kept for the next ones
        self.accepted = 0  # connections accepted so far (to see clients come back)
        self._server: asyncio.Server | None = None
        self._open: set[asyncio.StreamWriter] = set()
        self._pipes: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        self._server = await asyncio.start_server(
            self._accept, self.host, self.port, reuse_address=True
        )
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        """Refuse new connections and cut every open one (RST, no goodbye)."""
        if self._server is not None:
            self._server.close()
            self._server = None
        for writer in list(self._open):
            writer.transport.abort()
        self._open.clear()
        pipes, self._pipes = list(self._pipes), set()
        for pipe in pipes:
            pipe.cancel()
        await asyncio.gather(*pipes, return_exceptions=True)

    async def __aenter__(self) -> TcpProxy:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def _accept(
        self, from_client: asyncio.StreamReader, client: asyncio.StreamWriter
    ) -> None:
        try:
            from_server, server = await asyncio.open_connection(*self.target)
        except OSError:
            client.transport.abort()
            return
        self.accepted += 1
        self._open |= {client, server}
        for reader, writer in ((from_client, server), (from_server, client)):
            pipe = asyncio.create_task(self._copy(reader, writer))
            self._pipes.add(pipe)
            pipe.add_done_callback(self._pipes.discard)

    async def _copy(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while chunk := await reader.read(65536):
                writer.write(chunk)
                await writer.drain()
        except (ConnectionError, OSError):
            pass
        finally:
            self._open.discard(writer)
            with contextlib.suppress(Exception):
                writer.close()
