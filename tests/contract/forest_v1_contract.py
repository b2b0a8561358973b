"""Forest's forest.v1 wire contract, transcribed from shared/forest-contract.md §1.

Independent of our .proto files on purpose: the test compares our compiled descriptors with
this table. One line per field: "name number type [label]" where type is a scalar
(string, int32, int64, uint64, bool), `map<string,string>`, or a message/enum name (in
forest.v1 unless qualified), and label is `opt` (proto3 optional), `rep` (repeated) or
`oneof:NAME`. Services: "Method Request -> Response" with `stream` before a streamed type.
"""

from __future__ import annotations

TS = "google.protobuf.Timestamp"

MESSAGES: dict[str, list[str]] = {
    # ---- policies.proto (complete) ----
    "SoakTimeConfig": [
        "source_environment 1 string", "target_environment 2 string", "duration_seconds 3 int64",
    ],
    "BranchRestrictionConfig": ["target_environment 1 string", "branch_pattern 2 string"],
    "ExternalApprovalConfig": ["target_environment 1 string", "required_approvals 2 int32"],
    "ExternalApprovalState": [
        "required_approvals 1 int32", "current_approvals 2 int32",
        "decisions 3 ExternalApprovalDecisionEntry rep",
    ],
    "ExternalApprovalDecisionEntry": [
        "user_id 1 string", "username 2 string", "decision 3 string", "decided_at 4 string",
        "comment 5 string opt",
    ],
    "Policy": [
        "id 1 string", "name 2 string", "enabled 3 bool", "policy_type 4 PolicyType",
        "soak_time 10 SoakTimeConfig oneof:config",
        "branch_restriction 11 BranchRestrictionConfig oneof:config",
        "external_approval 12 ExternalApprovalConfig oneof:config",
        "created_at 20 string", "updated_at 21 string",
    ],
    "PolicyEvaluation": [
        "policy_name 1 string", "policy_type 2 PolicyType", "passed 3 bool", "reason 4 string",
        "external_approval_state 10 ExternalApprovalState opt",
    ],
    "EvaluatePoliciesRequest": [
        "project 1 Project", "target_environment 2 string", "branch 3 string opt",
        "release_intent_id 4 string opt",
    ],
    "EvaluatePoliciesResponse": ["evaluations 1 PolicyEvaluation rep", "all_passed 2 bool"],
    "ExternalApproveReleaseRequest": [
        "project 1 Project", "release_intent_id 2 string", "target_environment 3 string",
        "comment 4 string opt", "force_bypass 5 bool",
    ],
    "ExternalRejectReleaseRequest": [
        "project 1 Project", "release_intent_id 2 string", "target_environment 3 string",
        "comment 4 string opt",
    ],
    "GetExternalApprovalStateRequest": [
        "project 1 Project", "release_intent_id 2 string", "target_environment 3 string",
    ],
    "CreatePolicyRequest": [
        "project 1 Project", "name 2 string", "policy_type 3 PolicyType",
        "soak_time 10 SoakTimeConfig oneof:config",
        "branch_restriction 11 BranchRestrictionConfig oneof:config",
        "external_approval 12 ExternalApprovalConfig oneof:config",
    ],
    "UpdatePolicyRequest": [
        "project 1 Project", "name 2 string", "enabled 3 bool opt",
        "soak_time 10 SoakTimeConfig oneof:config",
        "branch_restriction 11 BranchRestrictionConfig oneof:config",
        "external_approval 12 ExternalApprovalConfig oneof:config",
    ],
    "DeletePolicyRequest": ["project 1 Project", "name 2 string"],
    "ListPoliciesRequest": ["project 1 Project"],
    "CreatePolicyResponse": ["policy 1 Policy"],
    "UpdatePolicyResponse": ["policy 1 Policy"],
    "DeletePolicyResponse": [],
    "ListPoliciesResponse": ["policies 1 Policy rep"],
    "ExternalApproveReleaseResponse": ["state 1 ExternalApprovalState"],
    "ExternalRejectReleaseResponse": ["state 1 ExternalApprovalState"],
    "GetExternalApprovalStateResponse": ["state 1 ExternalApprovalState"],
    # ---- releases.proto ----
    "Project": [
        "organisation 1 string", "project 2 string", "readme 3 string", "description 4 string",
        "metadata 5 ProjectMetadata",
    ],
    "ProjectMetadata": [
        "git_url 1 string", "homepage 2 string", "docs_url 3 string", "support_url 4 string",
        "domain 5 string", "owner 6 string",
    ],
    "ReleaseRequest": [
        "artifact_id 1 string", "destinations 2 string rep", "environments 3 string rep",
        "force 4 bool", "use_pipeline 5 bool", "prepare_only 6 bool",
    ],
    "ReleaseResponse": ["intents 1 ReleaseIntent rep"],
    # artifacts (Forest's AnnotateRelease / GetArtifact*; not in the contract page: read off
    # Forest's releases.proto)
    "Ref": [
        "commit_sha 1 string", "branch 2 string opt", "commit_message 3 string opt",
        "version 4 string opt", "repo_url 5 string opt",
    ],
    "Source": [
        "user 1 string opt", "email 2 string opt", "source_type 3 string opt",
        "run_url 4 string opt", "user_id 5 string opt",
    ],
    "ArtifactContext": [
        "title 1 string", "description 2 string opt", "web 3 string opt", "pr 4 string opt",
    ],
    "ArtifactDestination": [
        "name 1 string", "environment 2 string", "type_organisation 3 string",
        "type_name 4 string", "type_version 5 uint64", "status 6 string",
    ],
    "Artifact": [
        "id 1 string", "artifact_id 2 string", "slug 3 string", "metadata 4 map<string,string>",
        "source 5 Source", "context 6 ArtifactContext", "project 7 Project",
        "destinations 8 ArtifactDestination rep", "created_at 9 string", "ref 10 Ref",
    ],
    "AnnotateReleaseRequest": [
        "artifact_id 1 string", "metadata 2 map<string,string>", "source 3 Source",
        "context 4 ArtifactContext", "project 5 Project", "ref 6 Ref", "annotation_only 7 bool",
    ],
    "AnnotateReleaseResponse": ["artifact 1 Artifact"],
    "GetArtifactBySlugRequest": ["slug 1 string"],
    "GetArtifactBySlugResponse": ["artifact 1 Artifact"],
    "GetArtifactsByProjectRequest": ["project 1 Project"],
    "GetArtifactsByProjectResponse": ["artifact 1 Artifact rep"],
    "ReleaseIntent": [
        "release_intent_id 1 string", "destination 2 string", "environment 3 string",
    ],
    "GetReleaseIntentStatesRequest": [
        "organisation 1 string", "project 2 string opt", "include_completed 3 bool",
    ],
    "GetReleaseIntentStatesResponse": ["release_intents 1 ReleaseIntentState rep"],
    "ReleaseIntentState": [
        "release_intent_id 1 string", "artifact_id 2 string", "project 3 string",
        "created_at 4 string", "stages 5 PipelineStageState rep", "steps 6 ReleaseStepState rep",
    ],
    "PipelineStageState": [
        "stage_id 1 string", "depends_on 2 string rep", "stage_type 3 PipelineRunStageType",
        "status 4 PipelineRunStageStatus", "queued_at 5 string opt", "started_at 6 string opt",
        "completed_at 7 string opt", "error_message 8 string opt", "environment 9 string opt",
        "duration_seconds 10 int64 opt", "wait_until 11 string opt", "release_ids 12 string rep",
        "approval_status 13 string opt", "auto_approve 14 bool opt",
    ],
    "ReleaseStepState": [
        "release_id 1 string", "stage_id 2 string opt", "destination_name 3 string",
        "environment 4 string", "status 5 string", "queued_at 6 string opt",
        "assigned_at 7 string opt", "started_at 8 string opt", "completed_at 9 string opt",
        "error_message 10 string opt",
    ],
    "ApprovePlanStageRequest": ["release_intent_id 1 string", "stage_id 2 string"],
    "ApprovePlanStageResponse": [],
    "RejectPlanStageRequest": [
        "release_intent_id 1 string", "stage_id 2 string", "reason 3 string opt",
    ],
    "RejectPlanStageResponse": [],
    "GetPlanOutputRequest": ["release_intent_id 1 string", "stage_id 2 string"],
    "GetPlanOutputResponse": [
        "plan_output 1 string", "status 2 string", "outputs 3 PlanDestinationOutput rep",
    ],
    "PlanDestinationOutput": [
        "destination_id 1 string", "destination_name 2 string", "plan_output 3 string",
        "status 4 string",
    ],
    "WaitReleaseRequest": ["release_intent_id 1 string"],
    "WaitReleaseEvent": [
        "status_update 1 ReleaseStatusUpdate oneof:event", "log_line 2 ReleaseLogLine oneof:event",
        "stage_update 3 PipelineStageUpdate oneof:event",
    ],
    "PipelineStageUpdate": [
        "stage_id 1 string", "stage_type 2 string", "status 3 string", "queued_at 4 string opt",
        "started_at 5 string opt", "completed_at 6 string opt", "wait_until 7 string opt",
        "error_message 8 string opt", "approval_status 9 string opt",
    ],
    "ReleaseStatusUpdate": ["destination 1 string", "status 2 string"],
    "ReleaseLogLine": [
        "destination 1 string", "line 2 string", "timestamp 3 string", "channel 4 LogChannel",
    ],
    "GetReleasesByActorRequest": [
        "actor_id 1 string", "actor_type 2 string", "page_size 3 int32", "page_token 4 string",
    ],
    "GetReleasesByActorResponse": [
        "releases 1 ReleaseIntentSummary rep", "next_page_token 2 string",
    ],
    "ReleaseIntentSummary": [
        "release_intent_id 1 string", "artifact_id 2 string", "project 3 Project",
        "destinations 4 ReleaseDestinationStatus rep", "created_at 5 string",
    ],
    "ReleaseDestinationStatus": ["destination 1 string", "environment 2 string", "status 3 string"],
    "PipelineRunState": [
        "release_intent_id 1 string", "artifact_id 2 string", "created_at 3 string",
        "stages 4 PipelineRunStage rep",
    ],
    "PipelineRunStage": [
        "stage_id 1 string", "depends_on 2 string rep", "stage_type 3 PipelineRunStageType",
        "status 4 PipelineRunStageStatus", "environment 5 string opt",
        "duration_seconds 6 int64 opt", "queued_at 7 string opt", "started_at 8 string opt",
        "completed_at 9 string opt", "error_message 10 string opt", "wait_until 11 string opt",
        "release_ids 12 string rep", "approval_status 13 string opt", "auto_approve 14 bool opt",
    ],
    # ---- release_pipelines.proto ----
    "DeployStageConfig": ["environment 1 string"],
    "WaitStageConfig": ["duration_seconds 1 int64"],
    "PlanStageConfig": ["environment 1 string", "auto_approve 2 bool"],
    "PipelineStage": [
        "id 1 string", "depends_on 2 string rep", "deploy 10 DeployStageConfig oneof:config",
        "wait 11 WaitStageConfig oneof:config", "plan 12 PlanStageConfig oneof:config",
    ],
    "ReleasePipeline": [
        "id 1 string", "name 2 string", "enabled 3 bool", "stages 4 PipelineStage rep",
        "created_at 5 string", "updated_at 6 string",
    ],
    "CreateReleasePipelineRequest": [
        "project 1 Project", "name 2 string", "stages 3 PipelineStage rep",
    ],
    "UpdateReleasePipelineRequest": [
        "project 1 Project", "name 2 string", "enabled 3 bool opt", "stages 4 PipelineStage rep",
        "update_stages 5 bool",
    ],
    "DeleteReleasePipelineRequest": ["project 1 Project", "name 2 string"],
    "ListReleasePipelinesRequest": ["project 1 Project"],
    "ListReleasePipelinesResponse": ["pipelines 1 ReleasePipeline rep"],
    "CreateReleasePipelineResponse": ["pipeline 1 ReleasePipeline"],
    "UpdateReleasePipelineResponse": ["pipeline 1 ReleasePipeline"],
    # ---- events.proto ----
    "OrgEvent": [
        "sequence 1 int64", "event_id 2 string", "timestamp 3 string", "organisation 4 string",
        "project 5 string", "resource_type 6 string", "action 7 string", "resource_id 8 string",
        "metadata 9 map<string,string>",
    ],
    "SubscribeEventsRequest": [
        "organisation 1 string", "project 2 string", "resource_types 3 string rep",
        "actions 4 string rep", "since_sequence 5 int64",
    ],
    "SubscribeDurableRequest": ["organisation 1 string", "subscription_name 2 string"],
    "AcknowledgeEventsRequest": [
        "organisation 1 string", "subscription_name 2 string", "sequence 3 int64",
    ],
    "AcknowledgeEventsResponse": ["cursor 1 int64"],
    "CreateEventSubscriptionRequest": [
        "organisation 1 string", "name 2 string", "resource_types 3 string rep",
        "actions 4 string rep", "projects 5 string rep",
    ],
    "EventSubscription": [
        "id 1 string", "organisation 2 string", "name 3 string", "resource_types 4 string rep",
        "actions 5 string rep", "projects 6 string rep", "status 7 string", "cursor 8 int64",
        "created_at 9 string", "updated_at 10 string",
    ],
    # ---- runner.proto (subset) ----
    "WorkAssignment": [
        "release_token 1 string", "release_id 2 string", "release_intent_id 3 string",
        "artifact_id 4 string", "destination_id 5 string", "destination 6 DestinationInfo",
        "mode 7 ReleaseMode",
    ],
    "CompleteReleaseRequest": [
        "release_token 1 string", "outcome 2 ReleaseOutcome", "error_message 3 string",
        "plan_output 4 string opt",
    ],
    # ---- users.proto / organisations.proto (identity subset) ----
    "GetUserRequest": [
        "user_id 1 string oneof:identifier", "username 2 string oneof:identifier",
        "email 3 string oneof:identifier",
    ],
    "GetUserResponse": ["user 1 User"],
    "User": [
        "user_id 1 string", "username 2 string", "emails 3 UserEmail rep",
        "oauth_connections 4 OAuthConnection rep", "mfa_enabled 5 bool",
        f"created_at 6 {TS}", f"updated_at 7 {TS}", "profile_picture_url 8 string opt",
    ],
    "UserEmail": ["email 1 string", "verified 2 bool"],
    "TokenInfoRequest": [],
    "TokenInfoResponse": ["user_id 1 string", "expires_at 2 int64"],
    "AuthTokens": [
        "access_token 1 string", "refresh_token 2 string", "expires_in_seconds 3 int64",
    ],
    "RefreshTokenRequest": ["refresh_token 1 string"],
    "RefreshTokenResponse": ["tokens 1 AuthTokens"],
    "Organisation": ["organisation_id 1 string", "name 2 string", f"created_at 3 {TS}"],
    "GetOrganisationRequest": [
        "organisation_id 1 string oneof:identifier", "name 2 string oneof:identifier",
    ],
    "GetOrganisationResponse": ["organisation 1 Organisation"],
    "ListMembersRequest": ["organisation_id 1 string", "page_size 2 int32", "page_token 3 string"],
    "ListMembersResponse": [
        "members 1 OrganisationMember rep", "next_page_token 2 string", "total_count 3 int32",
    ],
    "OrganisationMember": [
        "user_id 1 string", "username 2 string", "role 3 string", f"joined_at 4 {TS}",
    ],
    "ListMyOrganisationsRequest": ["role 1 string"],
    "ListMyOrganisationsResponse": ["organisations 1 Organisation rep", "roles 2 string rep"],
}  # fmt: skip

ENUMS: dict[str, dict[str, int]] = {
    "PolicyType": {
        "POLICY_TYPE_UNSPECIFIED": 0, "POLICY_TYPE_SOAK_TIME": 1,
        "POLICY_TYPE_BRANCH_RESTRICTION": 2, "POLICY_TYPE_EXTERNAL_APPROVAL": 3,
    },
    "PipelineRunStageType": {
        f"PIPELINE_RUN_STAGE_TYPE_{n}": i
        for i, n in enumerate(["UNSPECIFIED", "DEPLOY", "WAIT", "PLAN"])
    },
    "PipelineRunStageStatus": {
        f"PIPELINE_RUN_STAGE_STATUS_{n}": i
        for i, n in enumerate(
            ["UNSPECIFIED", "PENDING", "ACTIVE", "SUCCEEDED", "FAILED", "CANCELLED",
             "AWAITING_APPROVAL"]
        )
    },
    "LogChannel": {"LOG_CHANNEL_UNSPECIFIED": 0, "LOG_CHANNEL_STDOUT": 1, "LOG_CHANNEL_STDERR": 2},
    "StageType": {
        f"STAGE_TYPE_{n}": i for i, n in enumerate(["UNSPECIFIED", "DEPLOY", "WAIT", "PLAN"])
    },
    "PipelineStageStatus": {
        f"PIPELINE_STAGE_STATUS_{n}": i
        for i, n in enumerate(
            ["UNSPECIFIED", "PENDING", "ACTIVE", "SUCCEEDED", "FAILED", "CANCELLED",
             "AWAITING_APPROVAL"]
        )
    },
    "ReleaseMode": {
        "RELEASE_MODE_UNSPECIFIED": 0, "RELEASE_MODE_DEPLOY": 1, "RELEASE_MODE_PLAN": 2,
    },
    "ReleaseOutcome": {
        "RELEASE_OUTCOME_UNSPECIFIED": 0, "RELEASE_OUTCOME_SUCCESS": 1,
        "RELEASE_OUTCOME_FAILURE": 2,
    },
}  # fmt: skip

SERVICES: dict[str, list[str]] = {
    "PolicyService": [
        "CreatePolicy CreatePolicyRequest -> CreatePolicyResponse",
        "UpdatePolicy UpdatePolicyRequest -> UpdatePolicyResponse",
        "DeletePolicy DeletePolicyRequest -> DeletePolicyResponse",
        "ListPolicies ListPoliciesRequest -> ListPoliciesResponse",
        "EvaluatePolicies EvaluatePoliciesRequest -> EvaluatePoliciesResponse",
        "ExternalApproveRelease ExternalApproveReleaseRequest -> ExternalApproveReleaseResponse",
        "ExternalRejectRelease ExternalRejectReleaseRequest -> ExternalRejectReleaseResponse",
        "GetExternalApprovalState GetExternalApprovalStateRequest"
        " -> GetExternalApprovalStateResponse",
    ],
    "ReleaseService": [
        "Release ReleaseRequest -> ReleaseResponse",
        "GetReleaseIntentStates GetReleaseIntentStatesRequest -> GetReleaseIntentStatesResponse",
        "ApprovePlanStage ApprovePlanStageRequest -> ApprovePlanStageResponse",
        "RejectPlanStage RejectPlanStageRequest -> RejectPlanStageResponse",
        "GetPlanOutput GetPlanOutputRequest -> GetPlanOutputResponse",
        "WaitRelease WaitReleaseRequest -> stream WaitReleaseEvent",
        "GetReleasesByActor GetReleasesByActorRequest -> GetReleasesByActorResponse",
        "AnnotateRelease AnnotateReleaseRequest -> AnnotateReleaseResponse",
        "GetArtifactBySlug GetArtifactBySlugRequest -> GetArtifactBySlugResponse",
        "GetArtifactsByProject GetArtifactsByProjectRequest -> GetArtifactsByProjectResponse",
    ],
    "ReleasePipelineService": [
        "CreateReleasePipeline CreateReleasePipelineRequest -> CreateReleasePipelineResponse",
        "UpdateReleasePipeline UpdateReleasePipelineRequest -> UpdateReleasePipelineResponse",
        "DeleteReleasePipeline DeleteReleasePipelineRequest -> DeleteReleasePipelineResponse",
        "ListReleasePipelines ListReleasePipelinesRequest -> ListReleasePipelinesResponse",
    ],
    "EventService": [
        "Subscribe SubscribeEventsRequest -> stream OrgEvent",
        "SubscribeDurable SubscribeDurableRequest -> stream OrgEvent",
        "AcknowledgeEvents AcknowledgeEventsRequest -> AcknowledgeEventsResponse",
    ],
    "EventSubscriptionService": [
        "CreateEventSubscription CreateEventSubscriptionRequest"
        " -> CreateEventSubscriptionResponse",
        "UpdateEventSubscription UpdateEventSubscriptionRequest"
        " -> UpdateEventSubscriptionResponse",
        "DeleteEventSubscription DeleteEventSubscriptionRequest"
        " -> DeleteEventSubscriptionResponse",
        "ListEventSubscriptions ListEventSubscriptionsRequest -> ListEventSubscriptionsResponse",
    ],
    "UsersService": [
        "RefreshToken RefreshTokenRequest -> RefreshTokenResponse",
        "GetUser GetUserRequest -> GetUserResponse",
        "TokenInfo TokenInfoRequest -> TokenInfoResponse",
        "CreatePersonalAccessToken CreatePersonalAccessTokenRequest"
        " -> CreatePersonalAccessTokenResponse",
        "ListPersonalAccessTokens ListPersonalAccessTokensRequest"
        " -> ListPersonalAccessTokensResponse",
        "DeletePersonalAccessToken DeletePersonalAccessTokenRequest"
        " -> DeletePersonalAccessTokenResponse",
        "InitiateDeviceLogin InitiateDeviceLoginRequest -> InitiateDeviceLoginResponse",
        "PollDeviceLogin PollDeviceLoginRequest -> PollDeviceLoginResponse",
        "ApproveDeviceLogin ApproveDeviceLoginRequest -> ApproveDeviceLoginResponse",
        "DenyDeviceLogin DenyDeviceLoginRequest -> DenyDeviceLoginResponse",
    ],
    "OrganisationService": [
        "GetOrganisation GetOrganisationRequest -> GetOrganisationResponse",
        "ListMembers ListMembersRequest -> ListMembersResponse",
        "ListMyOrganisations ListMyOrganisationsRequest -> ListMyOrganisationsResponse",
        "AddMember AddMemberRequest -> AddMemberResponse",
        "RemoveMember RemoveMemberRequest -> RemoveMemberResponse",
        "UpdateMemberRole UpdateMemberRoleRequest -> UpdateMemberRoleResponse",
    ],
}
