"""What every call looks like on the wire (token, deadline, retries), against a small real
gRPC server on 127.0.0.1:0 that records each call and answers as a test tells it to."""

from __future__ import annotations

import asyncio
import functools
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import grpc
import pytest
from google.protobuf import descriptor_pool
from grpc_health.v1 import health_pb2

from bot.forest import ForestClient, ForestError
from bot.forest.channel import READ_METHODS, parse_address
from forest.v1 import (
    events_pb2,
    organisations_pb2,
    policies_pb2,
    releases_pb2,  # noqa: F401  (registers ReleaseService, which READ_METHODS names)
    users_pb2,
)
from sandbox.testing import eventually

SERVICE = "service-token"
USER = "fpat_the-clickers-token"
READ_TIMEOUT = 3.0
WRITE_TIMEOUT = 30.0
SLACK = 0.5
INTENT = "0f3e9d6a-5b7c-4e2a-9f10-2a3b4c5d6e7f"
ORG_ID = "9d1c2b3a-0000-4000-8000-000000000001"
USER_ID = "9d1c2b3a-0000-4000-8000-000000000002"


@dataclass(frozen=True)
class Seen:
    method: str
    authorization: str | None
    time_remaining: float | None
    request: bytes


@dataclass
class Recorder(grpc.GenericRpcHandler):
    """Answers every method with `code` (after `answers` for the methods named there)."""

    code: grpc.StatusCode = grpc.StatusCode.UNIMPLEMENTED
    details: str = "recorded"
    answers: dict[str, bytes] = field(default_factory=dict)
    hang: bool = False
    seen: list[Seen] = field(default_factory=list)

    def service(self, handler_call_details: grpc.HandlerCallDetails) -> grpc.RpcMethodHandler:
        method = handler_call_details.method
        behaviour = functools.partial(self._answer, method)
        if method.endswith("/SubscribeDurable"):
            return grpc.unary_stream_rpc_method_handler(behaviour)
        return grpc.unary_unary_rpc_method_handler(behaviour)

    async def _answer(self, method: str, request: bytes, context: grpc.aio.ServicerContext) -> Any:
        metadata = dict(context.invocation_metadata() or ())
        self.seen.append(
            Seen(method, metadata.get("authorization"), context.time_remaining(), request)
        )
        if self.hang:
            await asyncio.Event().wait()
        if method in self.answers:
            return self.answers[method]
        await context.abort(self.code, self.details)

    def methods(self) -> list[str]:
        return [s.method for s in self.seen]


@pytest.fixture
async def serve() -> AsyncIterator[Callable[[Recorder], Awaitable[str]]]:
    servers: list[grpc.aio.Server] = []

    async def start(recorder: Recorder) -> str:
        server = grpc.aio.server()
        server.add_generic_rpc_handlers([recorder])
        port = server.add_insecure_port("127.0.0.1:0")
        await server.start()
        servers.append(server)
        return f"127.0.0.1:{port}"

    yield start
    for server in servers:
        await server.stop(grace=None)


def client_for(
    address: str, *, read_timeout: float = READ_TIMEOUT, write_timeout: float = WRITE_TIMEOUT
) -> ForestClient:
    return ForestClient(address, SERVICE, read_timeout=read_timeout, write_timeout=write_timeout)


Call = Callable[[ForestClient], Awaitable[Any]]
REL = "/forest.v1.ReleaseService/"
POL = "/forest.v1.PolicyService/"
ORGS = "/forest.v1.OrganisationService/"
USERS = "/forest.v1.UsersService/"
EVENTS = "/forest.v1.EventService/"
SUBS = "/forest.v1.EventSubscriptionService/"

# (call, [(method, token, "read"/"write"), ...] in the order the client makes them)
CALLS: dict[str, tuple[Call, list[tuple[str, str, str]]]] = {
    "check_health": (
        lambda c: c.check_health(),
        [("/grpc.health.v1.Health/Check", SERVICE, "read")],
    ),
    "intent_states": (
        lambda c: c.intent_states("acme", "api"),
        [(REL + "GetReleaseIntentStates", SERVICE, "read")],
    ),
    "evaluate": (
        lambda c: c.evaluate("acme", "api", "production", INTENT),
        [(POL + "EvaluatePolicies", SERVICE, "read")],
    ),
    "list_policies": (
        lambda c: c.list_policies("acme", "api"),
        [(POL + "ListPolicies", SERVICE, "read")],
    ),
    "artifacts": (
        lambda c: c.artifacts("acme", "api"),
        [(REL + "GetArtifactsByProject", SERVICE, "read")],
    ),
    "plan_output": (
        lambda c: c.plan_output(INTENT, "plan-production"),
        [(REL + "GetPlanOutput", SERVICE, "read")],
    ),
    "project_exists": (
        lambda c: c.project_exists("acme", "api"),
        [(POL + "ListPolicies", SERVICE, "read")],
    ),
    "organisation_id": (
        lambda c: c.organisation_id("acme"),
        [(ORGS + "GetOrganisation", SERVICE, "read")],
    ),
    "role": (
        lambda c: c.role("acme", USER_ID),
        [
            (ORGS + "GetOrganisation", SERVICE, "read"),
            (ORGS + "ListMembers", SERVICE, "read"),
        ],
    ),
    "approve": (
        lambda c: c.approve(USER, "acme", "api", INTENT, "production"),
        [(POL + "ExternalApproveRelease", USER, "write")],
    ),
    "reject": (
        lambda c: c.reject(USER, "acme", "api", INTENT, "production"),
        [(POL + "ExternalRejectRelease", USER, "write")],
    ),
    "approve_plan": (
        lambda c: c.approve_plan(USER, INTENT, "plan-production"),
        [(REL + "ApprovePlanStage", USER, "write")],
    ),
    "reject_plan": (
        lambda c: c.reject_plan(USER, INTENT, "plan-production"),
        [(REL + "RejectPlanStage", USER, "write")],
    ),
    "verify_personal_token": (
        lambda c: c.verify_personal_token(USER, "bob"),
        [
            (USERS + "GetUser", USER, "read"),
            (USERS + "ListPersonalAccessTokens", USER, "read"),
        ],
    ),
    "ensure_event_subscription": (
        lambda c: c.ensure_event_subscription("acme", "bot", ["api"]),
        [(SUBS + "CreateEventSubscription", SERVICE, "write")],
    ),
    "ack_events": (
        lambda c: c.ack_events("acme", "bot", 7),
        [(EVENTS + "AcknowledgeEvents", SERVICE, "write")],
    ),
}

# what the first call of a two-step method gets, so that the second one is made too
ANSWERS = {
    ORGS + "GetOrganisation": organisations_pb2.GetOrganisationResponse(
        organisation=organisations_pb2.Organisation(organisation_id=ORG_ID, name="acme")
    ).SerializeToString(),
    USERS + "GetUser": users_pb2.GetUserResponse(
        user=users_pb2.User(user_id=USER_ID, username="bob")
    ).SerializeToString(),
}


@pytest.mark.parametrize("name", CALLS)
async def test_each_call_has_its_token_and_deadline(
    serve: Callable[[Recorder], Awaitable[str]], name: str
) -> None:
    call, expected = CALLS[name]
    recorder = Recorder(answers=ANSWERS if len(expected) > 1 else {})
    async with client_for(await serve(recorder)) as client:
        with pytest.raises(ForestError) as caught:
            await call(client)
    assert caught.value.code == grpc.StatusCode.UNIMPLEMENTED
    assert recorder.methods() == [method for method, _, _ in expected]
    for seen, (_, token, kind) in zip(recorder.seen, expected, strict=True):
        assert seen.authorization == f"Bearer {token}"
        assert seen.time_remaining is not None
        # the grpc-timeout header is rounded up a little on its way
        if kind == "read":
            assert 0 < seen.time_remaining <= READ_TIMEOUT + SLACK
        else:
            assert READ_TIMEOUT + SLACK < seen.time_remaining <= WRITE_TIMEOUT + SLACK


@pytest.mark.parametrize("name", CALLS)
async def test_reads_are_retried_on_unavailable_and_writes_are_not(
    serve: Callable[[Recorder], Awaitable[str]], name: str
) -> None:
    call, expected = CALLS[name]
    method, _, kind = expected[0]
    recorder = Recorder(code=grpc.StatusCode.UNAVAILABLE, details="restarting")
    async with client_for(await serve(recorder)) as client:
        with pytest.raises(ForestError) as caught:
            await call(client)
    assert caught.value.unreachable
    assert str(caught.value) == "Forest is unreachable (UNAVAILABLE: restarting)"
    assert recorder.methods() == [method] * (4 if kind == "read" else 1)


async def test_the_event_stream_has_the_service_token_and_no_deadline(
    serve: Callable[[Recorder], Awaitable[str]],
) -> None:
    recorder = Recorder(code=grpc.StatusCode.UNAVAILABLE)
    async with client_for(await serve(recorder)) as client:
        with pytest.raises(ForestError) as caught:
            async for _ in client.durable_events("acme", "bot"):
                pass
    assert caught.value.unreachable
    (seen,) = recorder.seen  # not retried by the channel: the caller reconnects
    assert seen.method == EVENTS + "SubscribeDurable"
    assert seen.authorization == f"Bearer {SERVICE}"
    assert seen.time_remaining is None
    request = events_pb2.SubscribeDurableRequest.FromString(seen.request)
    assert (request.organisation, request.subscription_name) == ("acme", "bot")


async def test_requests_carry_what_was_asked(serve: Callable[[Recorder], Awaitable[str]]) -> None:
    recorder = Recorder()
    async with client_for(await serve(recorder)) as client:
        for call in (
            client.evaluate("acme", "api", "production", INTENT, branch="main"),
            client.evaluate("acme", "api", "production", INTENT),
            client.approve(USER, "acme", "api", INTENT, "production", comment="ok"),
            client.approve(USER, "acme", "api", INTENT, "production", force_bypass=True),
            client.reject(USER, "acme", "api", INTENT, "production"),
        ):
            with pytest.raises(ForestError):
                await call
    branch, no_branch, approve, bypass, reject = (s.request for s in recorder.seen)
    with_branch = policies_pb2.EvaluatePoliciesRequest.FromString(branch)
    assert (with_branch.branch, with_branch.release_intent_id) == ("main", INTENT)
    assert with_branch.project.organisation == "acme" and with_branch.project.project == "api"
    assert not policies_pb2.EvaluatePoliciesRequest.FromString(no_branch).HasField("branch")
    approved = policies_pb2.ExternalApproveReleaseRequest.FromString(approve)
    assert (approved.comment, approved.force_bypass, approved.target_environment) == (
        "ok",
        False,
        "production",
    )
    assert policies_pb2.ExternalApproveReleaseRequest.FromString(bypass).force_bypass
    assert not policies_pb2.ExternalRejectReleaseRequest.FromString(reject).HasField("comment")


@pytest.mark.parametrize(
    ("code", "details", "exists"),
    [
        (grpc.StatusCode.NOT_FOUND, "project acme/api does not exist", False),  # forestd
        (grpc.StatusCode.NOT_FOUND, "organisation not found", False),  # Forest, unknown org
        (grpc.StatusCode.INTERNAL, "resolve project", False),  # Forest, unknown project
        (grpc.StatusCode.INTERNAL, "list policies", None),  # Forest, a real failure
        (grpc.StatusCode.PERMISSION_DENIED, "not a member of this organisation", None),
    ],
)
async def test_project_exists_reads_forest_and_forestd_answers(
    serve: Callable[[Recorder], Awaitable[str]],
    code: grpc.StatusCode,
    details: str,
    exists: bool | None,
) -> None:
    async with client_for(await serve(Recorder(code=code, details=details))) as client:
        if exists is not None:
            assert await client.project_exists("acme", "api") is exists
            return
        with pytest.raises(ForestError) as caught:
            await client.project_exists("acme", "api")
    assert caught.value.code == code


async def test_a_server_that_never_answers_hits_the_deadline(
    serve: Callable[[Recorder], Awaitable[str]],
) -> None:
    address = await serve(Recorder(hang=True))
    async with client_for(address, read_timeout=0.2, write_timeout=0.2) as client:
        for call in (client.check_health(), client.approve(USER, "a", "b", INTENT, "prod")):
            with pytest.raises(ForestError) as caught:
                await call
            assert caught.value.code == grpc.StatusCode.DEADLINE_EXCEEDED
            assert caught.value.unreachable


async def test_a_health_check_that_is_not_serving_is_unreachable(
    serve: Callable[[Recorder], Awaitable[str]],
) -> None:
    not_serving = health_pb2.HealthCheckResponse(status=health_pb2.HealthCheckResponse.NOT_SERVING)
    recorder = Recorder(answers={"/grpc.health.v1.Health/Check": not_serving.SerializeToString()})
    async with client_for(await serve(recorder)) as client:
        with pytest.raises(ForestError) as caught:
            await client.check_health()
    assert caught.value.unreachable
    assert "NOT_SERVING" in str(caught.value)


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


async def test_a_closed_port_is_unreachable() -> None:
    async with client_for(f"127.0.0.1:{closed_port()}") as client:
        for call in (client.check_health(), client.approve(USER, "a", "b", INTENT, "prod")):
            with pytest.raises(ForestError) as caught:
                await call
            assert caught.value.unreachable
            assert str(caught.value).startswith("Forest is unreachable (")


async def test_a_closed_client_is_unreachable(serve: Callable[[Recorder], Awaitable[str]]) -> None:
    recorder = Recorder()
    client = client_for(await serve(recorder))
    await client.start()
    await client.close()
    with pytest.raises(ForestError) as caught:
        await client.list_policies("acme", "api")
    assert caught.value.unreachable and caught.value.channel_closed
    assert recorder.seen == []


async def test_closing_the_client_ends_calls_in_flight_as_unreachable(
    serve: Callable[[Recorder], Awaitable[str]],
) -> None:
    recorder = Recorder(hang=True)
    client = client_for(await serve(recorder))
    waiting = asyncio.create_task(client.check_health())
    await eventually(lambda: _arrived(recorder))

    await client.close()

    with pytest.raises(ForestError) as caught:
        await waiting
    assert caught.value.unreachable and caught.value.channel_closed


async def _arrived(recorder: Recorder) -> bool:
    return bool(recorder.seen)


def test_read_methods_name_real_methods() -> None:
    pool = descriptor_pool.Default()
    for service, methods in READ_METHODS.items():
        descriptor = pool.FindServiceByName(service)
        for method in methods:
            assert descriptor.methods_by_name[method].server_streaming is False


@pytest.mark.parametrize(
    ("address", "target", "tls"),
    [
        ("127.0.0.1:50051", "127.0.0.1:50051", False),
        ("http://forest.internal:8080", "forest.internal:8080", False),
        ("http://forest.internal", "forest.internal:80", False),
        ("https://forest.example.com", "forest.example.com:443", True),
        ("https://forest.example.com:8443/", "forest.example.com:8443", True),
        ("https://[::1]:9000", "[::1]:9000", True),
        ("dns:///forest:50051", "dns:///forest:50051", False),
    ],
)
def test_addresses(address: str, target: str, tls: bool) -> None:
    parsed = parse_address(address)
    assert (parsed.target, parsed.tls) == (target, tls)


@pytest.mark.parametrize(
    ("address", "token", "read_timeout", "write_timeout", "max_bytes"),
    [
        ("", SERVICE, 1.0, 1.0, 1024),
        ("https://forest.example.com/api", SERVICE, 1.0, 1.0, 1024),
        ("127.0.0.1:1", "", 1.0, 1.0, 1024),
        ("127.0.0.1:1", SERVICE, 0.0, 1.0, 1024),
        ("127.0.0.1:1", SERVICE, 1.0, -1.0, 1024),
        ("127.0.0.1:1", SERVICE, 1.0, 1.0, 0),
    ],
)
def test_bad_settings_fail_at_construction(
    address: str, token: str, read_timeout: float, write_timeout: float, max_bytes: int
) -> None:
    with pytest.raises(ValueError):
        ForestClient(
            address,
            token,
            read_timeout=read_timeout,
            write_timeout=write_timeout,
            max_message_bytes=max_bytes,
        )


def test_error_messages_are_one_line() -> None:
    error = ForestError(grpc.StatusCode.PERMISSION_DENIED, "cannot approve\nyour own release")
    assert str(error) == (
        "Forest refused the request (PERMISSION_DENIED: cannot approve your own release)"
    )
    assert not error.unreachable
    assert ForestError(grpc.StatusCode.DEADLINE_EXCEEDED, "").unreachable
    assert str(ForestError(grpc.StatusCode.DATA_LOSS, "x")) == (
        "Forest answered with an error (DATA_LOSS: x)"
    )
