"""A plan of several megabytes arrives whole (the channel's receive limit is raised)."""

from __future__ import annotations

import grpc
import pytest

from bot.forest import ForestClient, ForestError
from forestd.server import ForestServer

from .conftest import PLAN_STAGE, SERVICE_TOKEN, plan_awaiting_approval, release, seed

FIVE_MB = 5 * 1024 * 1024


async def test_a_5_mb_plan_arrives(forestd: ForestServer, client: ForestClient) -> None:
    demo = await seed(forestd, plan_bytes=FIVE_MB)
    _, intent_id = await release(forestd, demo.tokens["bob"])
    await plan_awaiting_approval(client, intent_id)

    output = await client.plan_output(intent_id, PLAN_STAGE)

    assert output.status == "AWAITINGAPPROVAL"
    (destination,) = output.outputs
    assert destination.destination_name == "api-production"
    assert len(destination.plan_output.encode()) >= FIVE_MB
    assert destination.plan_output.rstrip().endswith("to destroy.")

    # gRPC's default 4 MiB cap would refuse it: the option is what makes it arrive
    async with ForestClient(
        forestd.address, SERVICE_TOKEN, max_message_bytes=4 * 1024 * 1024
    ) as capped:
        with pytest.raises(ForestError) as caught:
            await capped.plan_output(intent_id, PLAN_STAGE)
    assert caught.value.code == grpc.StatusCode.RESOURCE_EXHAUSTED
