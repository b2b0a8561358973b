"""Read what a release message must show, fresh from Forest, batched per project.

One GetReleaseIntentStates serves every intent of a project; ListPolicies says which
environments are gated; EvaluatePolicies (with the intent id) gives each gate's requirements and
votes. Artifacts (commit, author) never change, so they are cached by id. Who is who in Slack and
which approvals were bypasses come from the bot's own store.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from dataclasses import dataclass

from blocks.from_forest import release_from_forest
from blocks.model import Bypass, Commit, Person, Release
from bot.forest_client import ForestClient
from bot.store import Store
from forest.v1 import policies_pb2, releases_pb2


@dataclass(frozen=True, slots=True)
class ProjectListing:
    organisation: str
    project: str
    intents: dict[str, releases_pb2.ReleaseIntentState]  # newest 50, by intent id
    policies: tuple[policies_pb2.Policy, ...]

    @property
    def gated_environments(self) -> frozenset[str]:
        envs: set[str] = set()
        for policy in self.policies:
            if not policy.enabled:
                continue
            config = policy.WhichOneof("config")
            if config is not None:
                envs.add(getattr(policy, config).target_environment)
        return frozenset(e for e in envs if e)


@dataclass(frozen=True, slots=True)
class _Artifact:
    commit: Commit
    author_id: str
    author_name: str


def intent_environments(intent: releases_pb2.ReleaseIntentState) -> set[str]:
    envs = {s.environment for s in intent.stages if s.environment}
    envs |= {s.environment for s in intent.steps if s.environment}
    return envs


class ReleaseReader:
    def __init__(self, forest: ForestClient, store: Store) -> None:
        self._forest = forest
        self._store = store
        self._artifacts: dict[str, _Artifact] = {}

    async def listing(
        self, organisation: str, project: str, *, also: Iterable[str] = ()
    ) -> ProjectListing:
        """The project's newest 50 intents (Forest lists no more). Intents named in `also`
        (open messages) that fell off that page are looked for among the live ones."""
        states, policies = await asyncio.gather(
            self._forest.intent_states(organisation, project, include_completed=True),
            self._forest.list_policies(organisation, project),
        )
        intents = {s.release_intent_id: s for s in states}
        if any(i not in intents for i in also):
            live = await self._forest.intent_states(organisation, project, include_completed=False)
            for state in live:
                intents.setdefault(state.release_intent_id, state)
        return ProjectListing(organisation, project, intents, tuple(policies))

    async def releases(
        self, listing: ProjectListing, intent_ids: Iterable[str], team_id: str
    ) -> dict[str, Release]:
        """The view model of each named intent in the listing (others are skipped)."""
        intents = [listing.intents[i] for i in intent_ids if i in listing.intents]
        if not intents:
            return {}
        await self._load_artifacts(listing, intents)
        built = await asyncio.gather(*(self._release(listing, i, team_id) for i in intents))
        return {r.intent_id: r for r in built}

    async def _load_artifacts(
        self, listing: ProjectListing, intents: list[releases_pb2.ReleaseIntentState]
    ) -> None:
        if all(i.artifact_id in self._artifacts for i in intents):
            return
        for artifact in await self._forest.artifacts(listing.organisation, listing.project):
            self._artifacts[artifact.id] = _Artifact(
                Commit(
                    branch=artifact.ref.branch,
                    sha=artifact.ref.commit_sha,
                    title=artifact.context.title or artifact.ref.commit_message.split("\n", 1)[0],
                ),
                artifact.source.user_id,
                artifact.source.user,
            )

    async def _release(
        self, listing: ProjectListing, intent: releases_pb2.ReleaseIntentState, team_id: str
    ) -> Release:
        envs = sorted(intent_environments(intent) & listing.gated_environments)
        artifact = self._artifacts.get(intent.artifact_id)
        # Forest evaluates branch rules on the request's branch, not the intent's: pass it.
        branch = artifact.commit.branch if artifact and artifact.commit.branch else None
        responses = await asyncio.gather(
            *(
                self._forest.evaluate(
                    listing.organisation,
                    listing.project,
                    env,
                    intent.release_intent_id,
                    branch=branch,
                )
                for env in envs
            )
        )
        evaluations = dict(zip(envs, responses, strict=True))
        people = {
            d.user_id
            for r in responses
            for e in r.evaluations
            if e.HasField("external_approval_state")
            for d in e.external_approval_state.decisions
        }
        author: Person | None = None
        if artifact is not None and artifact.author_id:
            people.add(artifact.author_id)
            author = Person(artifact.author_id, artifact.author_name)
        slack_ids = await self._store.slack_ids_for(team_id, people) if people else {}
        if author is not None and not author.username:
            author = Person(author.forest_user_id, _known_name(responses, author.forest_user_id))
        decided = [
            e
            for e in await self._store.audit_entries(intent.release_intent_id)
            if e.result == "recorded"
        ]
        return release_from_forest(
            intent,
            organisation=listing.organisation,
            evaluations=evaluations,
            commit=artifact.commit if artifact else None,
            author=author,
            slack_ids=slack_ids,
            # from the bot's audit log, one read: Forest keeps neither bypasses nor plan deciders
            bypasses=[
                Bypass(e.environment, e.forest_user_id, e.comment)
                for e in decided
                if e.action == "bypass"
            ],
            policies=listing.policies,
            plan_deciders={
                e.stage_id: Person(e.forest_user_id, "", e.slack_user_id)
                for e in decided
                if e.action in ("plan_approve", "plan_reject")
            },
        )


def _known_name(responses: Iterable[policies_pb2.EvaluatePoliciesResponse], user_id: str) -> str:
    for response in responses:
        for evaluation in response.evaluations:
            for decision in evaluation.external_approval_state.decisions:
                if decision.user_id == user_id:
                    return decision.username
    return ""
