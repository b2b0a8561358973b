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
from bot.store import AuditRecord, Store
from forest.v1 import policies_pb2, releases_pb2

READS_IN_FLIGHT = 8  # Forest evaluations at once: a burst of reads must not starve Forest's votes


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
        self._reads = asyncio.Semaphore(READS_IN_FLIGHT)

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
        """The view model of each named intent in the listing (others are skipped): every
        gate evaluated (at most `READS_IN_FLIGHT` Forest reads at once), then one store read for
        the linked Slack ids and one for the audit entries of them all."""
        intents = [listing.intents[i] for i in intent_ids if i in listing.intents]
        if not intents:
            return {}
        await self._load_artifacts(listing, intents)
        evaluations = await asyncio.gather(*(self._evaluations(listing, i) for i in intents))
        people = {
            d.user_id
            for responses in evaluations
            for r in responses.values()
            for e in r.evaluations
            if e.HasField("external_approval_state")
            for d in e.external_approval_state.decisions
        }
        people |= {a.author_id for i in intents if (a := self._artifacts.get(i.artifact_id))}
        people.discard("")
        slack_ids = await self._store.slack_ids_for(team_id, people) if people else {}
        decided: dict[str, list[AuditRecord]] = {}
        for entry in await self._store.audit_entries_for([i.release_intent_id for i in intents]):
            if entry.result == "recorded":
                decided.setdefault(entry.intent_id, []).append(entry)
        return {
            intent.release_intent_id: self._release(
                listing, intent, responses, slack_ids, decided.get(intent.release_intent_id, [])
            )
            for intent, responses in zip(intents, evaluations, strict=True)
        }

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

    async def _evaluations(
        self, listing: ProjectListing, intent: releases_pb2.ReleaseIntentState
    ) -> dict[str, policies_pb2.EvaluatePoliciesResponse]:
        envs = sorted(intent_environments(intent) & listing.gated_environments)
        artifact = self._artifacts.get(intent.artifact_id)
        # Forest evaluates branch rules on the request's branch, not the intent's: pass it.
        branch = artifact.commit.branch if artifact and artifact.commit.branch else None

        async def evaluate(env: str) -> policies_pb2.EvaluatePoliciesResponse:
            async with self._reads:
                return await self._forest.evaluate(
                    listing.organisation,
                    listing.project,
                    env,
                    intent.release_intent_id,
                    branch=branch,
                )

        responses = await asyncio.gather(*(evaluate(env) for env in envs))
        return dict(zip(envs, responses, strict=True))

    def _release(
        self,
        listing: ProjectListing,
        intent: releases_pb2.ReleaseIntentState,
        evaluations: dict[str, policies_pb2.EvaluatePoliciesResponse],
        slack_ids: dict[str, str],
        decided: list[AuditRecord],
    ) -> Release:
        artifact = self._artifacts.get(intent.artifact_id)
        author: Person | None = None
        if artifact is not None and artifact.author_id:
            name = artifact.author_name or _known_name(evaluations.values(), artifact.author_id)
            author = Person(artifact.author_id, name)
        return release_from_forest(
            intent,
            organisation=listing.organisation,
            evaluations=evaluations,
            commit=artifact.commit if artifact else None,
            author=author,
            slack_ids=slack_ids,
            # from the bot's audit log: Forest keeps neither bypasses nor plan deciders
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
