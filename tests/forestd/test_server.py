"""The service starts on a free port, reports healthy, and refuses callers without a token."""

from __future__ import annotations

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from forestd.server import ForestServer


async def test_health_is_serving_without_a_token(channel: grpc.aio.Channel) -> None:
    stub = health_pb2_grpc.HealthStub(channel)
    reply = await stub.Check(health_pb2.HealthCheckRequest(service=""), timeout=5)
    assert reply.status == health_pb2.HealthCheckResponse.SERVING


async def test_graceful_stop_reports_not_serving(forest_server: ForestServer) -> None:
    async with grpc.aio.insecure_channel(forest_server.address) as ch:
        stub = health_pb2_grpc.HealthStub(ch)
        await forest_server.stop(grace=0.1)
        try:
            reply = await stub.Check(health_pb2.HealthCheckRequest(service=""), timeout=2)
        except grpc.aio.AioRpcError as exc:
            assert exc.code() == grpc.StatusCode.UNAVAILABLE
        else:
            assert reply.status == health_pb2.HealthCheckResponse.NOT_SERVING
