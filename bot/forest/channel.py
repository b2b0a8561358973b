"""The gRPC channel to Forest: address forms, message size, keepalive, retries of reads.

Retries come from the channel's service config, not from code around the calls, and only for
the read methods named in READ_METHODS: a vote or a plan decision is never sent twice by the
client (a retried approve after a lost answer is the user's decision, not ours).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import grpc

# service -> unary methods that only read; retried on UNAVAILABLE.
READ_METHODS: dict[str, tuple[str, ...]] = {
    "grpc.health.v1.Health": ("Check",),
    "forest.v1.ReleaseService": (
        "GetReleaseIntentStates",
        "GetArtifactsByProject",
        "GetPlanOutput",
    ),
    "forest.v1.PolicyService": ("ListPolicies", "EvaluatePolicies"),
    "forest.v1.ReleasePipelineService": ("ListReleasePipelines",),
    "forest.v1.OrganisationService": ("GetOrganisation", "ListMembers"),
    "forest.v1.UsersService": ("GetUser", "ListPersonalAccessTokens"),
}

RETRY_POLICY: dict[str, Any] = {
    "maxAttempts": 4,
    "initialBackoff": "0.05s",
    "maxBackoff": "0.5s",
    "backoffMultiplier": 2,
    "retryableStatusCodes": ["UNAVAILABLE"],
}

# gRPC servers (grpc-core's default policy) answer pings on an idle stream more often than
# every 5 minutes with GOAWAY "too_many_pings"; the durable event stream is often idle, so
# ping a little less often than that, still under common 350 s load-balancer idle timeouts.
KEEPALIVE_TIME_MS = 330_000
KEEPALIVE_TIMEOUT_MS = 20_000


def service_config() -> str:
    """The channel's service config: READ_METHODS get RETRY_POLICY, nothing else is retried."""
    names = [
        {"service": service, "method": method}
        for service, methods in READ_METHODS.items()
        for method in methods
    ]
    return json.dumps({"methodConfig": [{"name": names, "retryPolicy": RETRY_POLICY}]})


def channel_options(max_message_bytes: int) -> list[tuple[str, Any]]:
    return [
        ("grpc.max_receive_message_length", max_message_bytes),
        ("grpc.max_send_message_length", max_message_bytes),
        ("grpc.keepalive_time_ms", KEEPALIVE_TIME_MS),
        ("grpc.keepalive_timeout_ms", KEEPALIVE_TIMEOUT_MS),
        # pings only while a call (the event stream) is open, and not capped when it is idle
        ("grpc.keepalive_permit_without_calls", 0),
        ("grpc.http2.max_pings_without_data", 0),
        ("grpc.enable_retries", 1),
        ("grpc.service_config", service_config()),
        # our service config, not one a DNS TXT record might carry
        ("grpc.service_config_disable_resolution", 1),
    ]


@dataclass(frozen=True, slots=True)
class Target:
    """Where to connect and whether with TLS."""

    target: str
    tls: bool


def parse_address(address: str) -> Target:
    """`host:port` (plain), `http://host[:port]` (plain, port 80) or `https://host[:port]`
    (TLS with the system's roots, port 443). Other gRPC target forms (`dns:///...`,
    `unix:...`) are passed through, plain."""
    address = address.strip()
    if not address:
        raise ValueError("the Forest address is empty: give host:port or https://host")
    scheme = address.split("://", 1)[0].lower() if "://" in address else ""
    if scheme not in ("http", "https"):
        return Target(address, tls=False)
    parts = urlsplit(address)
    if parts.path not in ("", "/") or parts.query or parts.fragment or not parts.hostname:
        raise ValueError(f"the Forest address {address!r} must be scheme://host[:port]")
    host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    tls = scheme == "https"
    port = parts.port or (443 if tls else 80)
    return Target(f"{host}:{port}", tls=tls)


def open_channel(address: str, max_message_bytes: int) -> grpc.aio.Channel:
    """A new channel in the running event loop."""
    target = parse_address(address)
    options = channel_options(max_message_bytes)
    if target.tls:
        return grpc.aio.secure_channel(
            target.target, grpc.ssl_channel_credentials(), options=options
        )
    return grpc.aio.insecure_channel(target.target, options=options)
