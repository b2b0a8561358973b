"""Rate limits answer 429 + Retry-After, which slack_sdk's retry handler obeys; faults inject."""

from __future__ import annotations

import copy
import time

import aiohttp
import pytest
from hypothesis import given
from hypothesis import strategies as st
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_async_handlers import AsyncRateLimitErrorRetryHandler

from sandbox.server import Sandbox
from sandbox.throttle import Faults, Limit, RateLimits


async def test_per_method_limit_answers_429_with_retry_after() -> None:
    limits = RateLimits({"chat.update": Limit(2, 60)})
    async with Sandbox(rate_limits=limits) as sandbox:
        client = sandbox.client()
        posted = await client.chat_postMessage(channel="deploys", text="m")
        for _ in range(2):
            await client.chat_update(channel=posted["channel"], ts=posted["ts"], text="u")
        with pytest.raises(SlackApiError) as exc:
            await client.chat_update(channel=posted["channel"], ts=posted["ts"], text="u")
        response = exc.value.response
        assert response.status_code == 429
        assert response["error"] == "ratelimited"
        assert 1 <= int(response.headers["Retry-After"]) <= 60
        # other methods are not affected
        await client.chat_postMessage(channel="deploys", text="still fine")


async def test_slack_sdk_retry_handler_waits_retry_after_and_succeeds() -> None:
    limits = RateLimits({"chat.postMessage": Limit(1, 1.0, per_channel=True)})
    async with Sandbox(rate_limits=limits) as sandbox:
        client = sandbox.client(retry_handlers=[AsyncRateLimitErrorRetryHandler(max_retry_count=2)])
        await client.chat_postMessage(channel="deploys", text="first")
        started = time.monotonic()
        # "#deploys" is the same channel as "deploys": same window
        second = await client.chat_postMessage(channel="#deploys", text="second")
        waited = time.monotonic() - started
        assert second["ok"] is True
        assert waited >= 1.0, "the handler must sleep at least Retry-After (1 s)"
        # per-channel: another channel is not limited by #deploys' window (a client without
        # the retry handler would raise on a 429)
        await sandbox.client().chat_postMessage(channel="U0BOB00001", text="dm")


def test_sliding_window_arithmetic() -> None:
    limits = RateLimits({"m": Limit(2, 10)})
    assert limits.check("m", now=100.0) == 0
    assert limits.check("m", now=101.0) == 0
    assert limits.check("m", now=102.0) == 8  # oldest call leaves the window at 110
    assert limits.check("m", now=110.5) == 0
    assert limits.check("unlimited", now=0) == 0
    slack = RateLimits.slack(**{"chat.update": Limit(5, 1)})
    assert slack.limits["chat.update"] == Limit(5, 1)
    assert slack.limits["views.open"].calls == 100


async def test_injected_faults_are_seeded_and_reachable_over_http() -> None:
    async with Sandbox(faults=Faults(ratelimit_fraction=0.3, error_fraction=0.2, seed=7)) as sb:
        client = sb.client()
        outcomes: dict[str, int] = {}
        for _ in range(100):
            try:
                await client.auth_test()
                key = "ok"
            except SlackApiError as exc:
                key = str(exc.response.status_code)
            outcomes[key] = outcomes.get(key, 0) + 1
        assert set(outcomes) == {"ok", "429", "503"}
        assert 15 <= outcomes["429"] <= 45 and 8 <= outcomes["503"] <= 35

        async with aiohttp.ClientSession() as http:
            control = sb.base_url + "_sandbox/control"
            async with http.post(control, json={"faults": {"ratelimit_fraction": 0,
                                                           "error_fraction": 0,
                                                           "latency": 0.2}}) as r:
                assert (await r.json())["faults"]["latency"] == 0.2
        started = time.monotonic()
        await client.auth_test()
        assert time.monotonic() - started >= 0.2
        async with aiohttp.ClientSession() as http:
            async with http.post(control, json={"faults": {"bogus": 1}}) as r:
                assert r.status == 400
            async with http.post(control, json={"rate_limits": "slack"}) as r:
                limits = (await r.json())["rate_limits"]
                assert limits["chat.update"] == [50, 60.0]
                assert limits["chat.postMessage"] == [5, 5.0, "per_channel"]
            # a per-method change keeps the method's per-channel keying
            async with http.post(control,
                                 json={"rate_limits": {"chat.postMessage": [2, 1]}}) as r:
                assert (await r.json())["rate_limits"]["chat.postMessage"] == [
                    2, 1.0, "per_channel"]
            # what cannot be applied is refused, and nothing changes
            for bad in ("none", {"chat.update": ["x"]}, {"chat.update": [0, 1]}, ["off"]):
                async with http.post(control, json={"rate_limits": bad}) as r:
                    assert r.status == 400, bad
                    assert "bad rate_limits" in (await r.json())["error"]
            async with http.get(control) as r:
                assert (await r.json())["rate_limits"]["chat.update"] == [50, 60.0]


@given(
    calls=st.integers(1, 5),
    per=st.floats(0.5, 60),
    gaps=st.lists(st.floats(0, 10, allow_nan=False), min_size=1, max_size=60),
)
def test_limiter_never_allows_more_than_the_limit_in_any_window(
    calls: int, per: float, gaps: list[float]
) -> None:
    limits = RateLimits({"m": Limit(calls, per)})
    now, allowed = 0.0, []
    for gap in gaps:
        now += gap
        wait = limits.check("m", now=now)
        if wait == 0:
            allowed.append(now)
        else:
            assert wait >= 1
            # waiting as told is enough: the call then goes through
            assert copy.deepcopy(limits).check("m", now=now + wait) == 0
    for i, start in enumerate(allowed):
        in_window = [t for t in allowed[i:] if t < start + per]
        assert len(in_window) <= calls
