from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class LogChannel(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    LOG_CHANNEL_UNSPECIFIED: _ClassVar[LogChannel]
    LOG_CHANNEL_STDOUT: _ClassVar[LogChannel]
    LOG_CHANNEL_STDERR: _ClassVar[LogChannel]

class PipelineRunStageType(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    PIPELINE_RUN_STAGE_TYPE_UNSPECIFIED: _ClassVar[PipelineRunStageType]
    PIPELINE_RUN_STAGE_TYPE_DEPLOY: _ClassVar[PipelineRunStageType]
    PIPELINE_RUN_STAGE_TYPE_WAIT: _ClassVar[PipelineRunStageType]
    PIPELINE_RUN_STAGE_TYPE_PLAN: _ClassVar[PipelineRunStageType]

class PipelineRunStageStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    PIPELINE_RUN_STAGE_STATUS_UNSPECIFIED: _ClassVar[PipelineRunStageStatus]
    PIPELINE_RUN_STAGE_STATUS_PENDING: _ClassVar[PipelineRunStageStatus]
    PIPELINE_RUN_STAGE_STATUS_ACTIVE: _ClassVar[PipelineRunStageStatus]
    PIPELINE_RUN_STAGE_STATUS_SUCCEEDED: _ClassVar[PipelineRunStageStatus]
    PIPELINE_RUN_STAGE_STATUS_FAILED: _ClassVar[PipelineRunStageStatus]
    PIPELINE_RUN_STAGE_STATUS_CANCELLED: _ClassVar[PipelineRunStageStatus]
    PIPELINE_RUN_STAGE_STATUS_AWAITING_APPROVAL: _ClassVar[PipelineRunStageStatus]
LOG_CHANNEL_UNSPECIFIED: LogChannel
LOG_CHANNEL_STDOUT: LogChannel
LOG_CHANNEL_STDERR: LogChannel
PIPELINE_RUN_STAGE_TYPE_UNSPECIFIED: PipelineRunStageType
PIPELINE_RUN_STAGE_TYPE_DEPLOY: PipelineRunStageType
PIPELINE_RUN_STAGE_TYPE_WAIT: PipelineRunStageType
PIPELINE_RUN_STAGE_TYPE_PLAN: PipelineRunStageType
PIPELINE_RUN_STAGE_STATUS_UNSPECIFIED: PipelineRunStageStatus
PIPELINE_RUN_STAGE_STATUS_PENDING: PipelineRunStageStatus
PIPELINE_RUN_STAGE_STATUS_ACTIVE: PipelineRunStageStatus
PIPELINE_RUN_STAGE_STATUS_SUCCEEDED: PipelineRunStageStatus
PIPELINE_RUN_STAGE_STATUS_FAILED: PipelineRunStageStatus
PIPELINE_RUN_STAGE_STATUS_CANCELLED: PipelineRunStageStatus
PIPELINE_RUN_STAGE_STATUS_AWAITING_APPROVAL: PipelineRunStageStatus

class Project(_message.Message):
    __slots__ = ("organisation", "project", "readme", "description", "metadata")
    ORGANISATION_FIELD_NUMBER: _ClassVar[int]
    PROJECT_FIELD_NUMBER: _ClassVar[int]
    README_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    METADATA_FIELD_NUMBER: _ClassVar[int]
    organisation: str
    project: str
    readme: str
    description: str
    metadata: ProjectMetadata
    def __init__(self, organisation: _Optional[str] = ..., project: _Optional[str] = ..., readme: _Optional[str] = ..., description: _Optional[str] = ..., metadata: _Optional[_Union[ProjectMetadata, _Mapping]] = ...) -> None: ...

class ProjectMetadata(_message.Message):
    __slots__ = ("git_url", "homepage", "docs_url", "support_url", "domain", "owner")
    GIT_URL_FIELD_NUMBER: _ClassVar[int]
    HOMEPAGE_FIELD_NUMBER: _ClassVar[int]
    DOCS_URL_FIELD_NUMBER: _ClassVar[int]
    SUPPORT_URL_FIELD_NUMBER: _ClassVar[int]
    DOMAIN_FIELD_NUMBER: _ClassVar[int]
    OWNER_FIELD_NUMBER: _ClassVar[int]
    git_url: str
    homepage: str
    docs_url: str
    support_url: str
    domain: str
    owner: str
    def __init__(self, git_url: _Optional[str] = ..., homepage: _Optional[str] = ..., docs_url: _Optional[str] = ..., support_url: _Optional[str] = ..., domain: _Optional[str] = ..., owner: _Optional[str] = ...) -> None: ...

class ReleaseRequest(_message.Message):
    __slots__ = ("artifact_id", "destinations", "environments", "force", "use_pipeline", "prepare_only")
    ARTIFACT_ID_FIELD_NUMBER: _ClassVar[int]
    DESTINATIONS_FIELD_NUMBER: _ClassVar[int]
    ENVIRONMENTS_FIELD_NUMBER: _ClassVar[int]
    FORCE_FIELD_NUMBER: _ClassVar[int]
    USE_PIPELINE_FIELD_NUMBER: _ClassVar[int]
    PREPARE_ONLY_FIELD_NUMBER: _ClassVar[int]
    artifact_id: str
    destinations: _containers.RepeatedScalarFieldContainer[str]
    environments: _containers.RepeatedScalarFieldContainer[str]
    force: bool
    use_pipeline: bool
    prepare_only: bool
    def __init__(self, artifact_id: _Optional[str] = ..., destinations: _Optional[_Iterable[str]] = ..., environments: _Optional[_Iterable[str]] = ..., force: _Optional[bool] = ..., use_pipeline: _Optional[bool] = ..., prepare_only: _Optional[bool] = ...) -> None: ...

class ReleaseResponse(_message.Message):
    __slots__ = ("intents",)
    INTENTS_FIELD_NUMBER: _ClassVar[int]
    intents: _containers.RepeatedCompositeFieldContainer[ReleaseIntent]
    def __init__(self, intents: _Optional[_Iterable[_Union[ReleaseIntent, _Mapping]]] = ...) -> None: ...

class ReleaseIntent(_message.Message):
    __slots__ = ("release_intent_id", "destination", "environment")
    RELEASE_INTENT_ID_FIELD_NUMBER: _ClassVar[int]
    DESTINATION_FIELD_NUMBER: _ClassVar[int]
    ENVIRONMENT_FIELD_NUMBER: _ClassVar[int]
    release_intent_id: str
    destination: str
    environment: str
    def __init__(self, release_intent_id: _Optional[str] = ..., destination: _Optional[str] = ..., environment: _Optional[str] = ...) -> None: ...

class WaitReleaseRequest(_message.Message):
    __slots__ = ("release_intent_id",)
    RELEASE_INTENT_ID_FIELD_NUMBER: _ClassVar[int]
    release_intent_id: str
    def __init__(self, release_intent_id: _Optional[str] = ...) -> None: ...

class WaitReleaseEvent(_message.Message):
    __slots__ = ("status_update", "log_line", "stage_update")
    STATUS_UPDATE_FIELD_NUMBER: _ClassVar[int]
    LOG_LINE_FIELD_NUMBER: _ClassVar[int]
    STAGE_UPDATE_FIELD_NUMBER: _ClassVar[int]
    status_update: ReleaseStatusUpdate
    log_line: ReleaseLogLine
    stage_update: PipelineStageUpdate
    def __init__(self, status_update: _Optional[_Union[ReleaseStatusUpdate, _Mapping]] = ..., log_line: _Optional[_Union[ReleaseLogLine, _Mapping]] = ..., stage_update: _Optional[_Union[PipelineStageUpdate, _Mapping]] = ...) -> None: ...

class PipelineStageUpdate(_message.Message):
    __slots__ = ("stage_id", "stage_type", "status", "queued_at", "started_at", "completed_at", "wait_until", "error_message", "approval_status")
    STAGE_ID_FIELD_NUMBER: _ClassVar[int]
    STAGE_TYPE_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    QUEUED_AT_FIELD_NUMBER: _ClassVar[int]
    STARTED_AT_FIELD_NUMBER: _ClassVar[int]
    COMPLETED_AT_FIELD_NUMBER: _ClassVar[int]
    WAIT_UNTIL_FIELD_NUMBER: _ClassVar[int]
    ERROR_MESSAGE_FIELD_NUMBER: _ClassVar[int]
    APPROVAL_STATUS_FIELD_NUMBER: _ClassVar[int]
    stage_id: str
    stage_type: str
    status: str
    queued_at: str
    started_at: str
    completed_at: str
    wait_until: str
    error_message: str
    approval_status: str
    def __init__(self, stage_id: _Optional[str] = ..., stage_type: _Optional[str] = ..., status: _Optional[str] = ..., queued_at: _Optional[str] = ..., started_at: _Optional[str] = ..., completed_at: _Optional[str] = ..., wait_until: _Optional[str] = ..., error_message: _Optional[str] = ..., approval_status: _Optional[str] = ...) -> None: ...

class ReleaseStatusUpdate(_message.Message):
    __slots__ = ("destination", "status")
    DESTINATION_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    destination: str
    status: str
    def __init__(self, destination: _Optional[str] = ..., status: _Optional[str] = ...) -> None: ...

class ReleaseLogLine(_message.Message):
    __slots__ = ("destination", "line", "timestamp", "channel")
    DESTINATION_FIELD_NUMBER: _ClassVar[int]
    LINE_FIELD_NUMBER: _ClassVar[int]
    TIMESTAMP_FIELD_NUMBER: _ClassVar[int]
    CHANNEL_FIELD_NUMBER: _ClassVar[int]
    destination: str
    line: str
    timestamp: str
    channel: LogChannel
    def __init__(self, destination: _Optional[str] = ..., line: _Optional[str] = ..., timestamp: _Optional[str] = ..., channel: _Optional[_Union[LogChannel, str]] = ...) -> None: ...

class GetReleasesByActorRequest(_message.Message):
    __slots__ = ("actor_id", "actor_type", "page_size", "page_token")
    ACTOR_ID_FIELD_NUMBER: _ClassVar[int]
    ACTOR_TYPE_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    actor_id: str
    actor_type: str
    page_size: int
    page_token: str
    def __init__(self, actor_id: _Optional[str] = ..., actor_type: _Optional[str] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class GetReleasesByActorResponse(_message.Message):
    __slots__ = ("releases", "next_page_token")
    RELEASES_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    releases: _containers.RepeatedCompositeFieldContainer[ReleaseIntentSummary]
    next_page_token: str
    def __init__(self, releases: _Optional[_Iterable[_Union[ReleaseIntentSummary, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class ReleaseIntentSummary(_message.Message):
    __slots__ = ("release_intent_id", "artifact_id", "project", "destinations", "created_at")
    RELEASE_INTENT_ID_FIELD_NUMBER: _ClassVar[int]
    ARTIFACT_ID_FIELD_NUMBER: _ClassVar[int]
    PROJECT_FIELD_NUMBER: _ClassVar[int]
    DESTINATIONS_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    release_intent_id: str
    artifact_id: str
    project: Project
    destinations: _containers.RepeatedCompositeFieldContainer[ReleaseDestinationStatus]
    created_at: str
    def __init__(self, release_intent_id: _Optional[str] = ..., artifact_id: _Optional[str] = ..., project: _Optional[_Union[Project, _Mapping]] = ..., destinations: _Optional[_Iterable[_Union[ReleaseDestinationStatus, _Mapping]]] = ..., created_at: _Optional[str] = ...) -> None: ...

class ReleaseDestinationStatus(_message.Message):
    __slots__ = ("destination", "environment", "status")
    DESTINATION_FIELD_NUMBER: _ClassVar[int]
    ENVIRONMENT_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    destination: str
    environment: str
    status: str
    def __init__(self, destination: _Optional[str] = ..., environment: _Optional[str] = ..., status: _Optional[str] = ...) -> None: ...

class GetReleaseIntentStatesRequest(_message.Message):
    __slots__ = ("organisation", "project", "include_completed")
    ORGANISATION_FIELD_NUMBER: _ClassVar[int]
    PROJECT_FIELD_NUMBER: _ClassVar[int]
    INCLUDE_COMPLETED_FIELD_NUMBER: _ClassVar[int]
    organisation: str
    project: str
    include_completed: bool
    def __init__(self, organisation: _Optional[str] = ..., project: _Optional[str] = ..., include_completed: _Optional[bool] = ...) -> None: ...

class GetReleaseIntentStatesResponse(_message.Message):
    __slots__ = ("release_intents",)
    RELEASE_INTENTS_FIELD_NUMBER: _ClassVar[int]
    release_intents: _containers.RepeatedCompositeFieldContainer[ReleaseIntentState]
    def __init__(self, release_intents: _Optional[_Iterable[_Union[ReleaseIntentState, _Mapping]]] = ...) -> None: ...

class ReleaseIntentState(_message.Message):
    __slots__ = ("release_intent_id", "artifact_id", "project", "created_at", "stages", "steps")
    RELEASE_INTENT_ID_FIELD_NUMBER: _ClassVar[int]
    ARTIFACT_ID_FIELD_NUMBER: _ClassVar[int]
    PROJECT_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    STAGES_FIELD_NUMBER: _ClassVar[int]
    STEPS_FIELD_NUMBER: _ClassVar[int]
    release_intent_id: str
    artifact_id: str
    project: str
    created_at: str
    stages: _containers.RepeatedCompositeFieldContainer[PipelineStageState]
    steps: _containers.RepeatedCompositeFieldContainer[ReleaseStepState]
    def __init__(self, release_intent_id: _Optional[str] = ..., artifact_id: _Optional[str] = ..., project: _Optional[str] = ..., created_at: _Optional[str] = ..., stages: _Optional[_Iterable[_Union[PipelineStageState, _Mapping]]] = ..., steps: _Optional[_Iterable[_Union[ReleaseStepState, _Mapping]]] = ...) -> None: ...

class PipelineStageState(_message.Message):
    __slots__ = ("stage_id", "depends_on", "stage_type", "status", "queued_at", "started_at", "completed_at", "error_message", "environment", "duration_seconds", "wait_until", "release_ids", "approval_status", "auto_approve")
    STAGE_ID_FIELD_NUMBER: _ClassVar[int]
    DEPENDS_ON_FIELD_NUMBER: _ClassVar[int]
    STAGE_TYPE_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    QUEUED_AT_FIELD_NUMBER: _ClassVar[int]
    STARTED_AT_FIELD_NUMBER: _ClassVar[int]
    COMPLETED_AT_FIELD_NUMBER: _ClassVar[int]
    ERROR_MESSAGE_FIELD_NUMBER: _ClassVar[int]
    ENVIRONMENT_FIELD_NUMBER: _ClassVar[int]
    DURATION_SECONDS_FIELD_NUMBER: _ClassVar[int]
    WAIT_UNTIL_FIELD_NUMBER: _ClassVar[int]
    RELEASE_IDS_FIELD_NUMBER: _ClassVar[int]
    APPROVAL_STATUS_FIELD_NUMBER: _ClassVar[int]
    AUTO_APPROVE_FIELD_NUMBER: _ClassVar[int]
    stage_id: str
    depends_on: _containers.RepeatedScalarFieldContainer[str]
    stage_type: PipelineRunStageType
    status: PipelineRunStageStatus
    queued_at: str
    started_at: str
    completed_at: str
    error_message: str
    environment: str
    duration_seconds: int
    wait_until: str
    release_ids: _containers.RepeatedScalarFieldContainer[str]
    approval_status: str
    auto_approve: bool
    def __init__(self, stage_id: _Optional[str] = ..., depends_on: _Optional[_Iterable[str]] = ..., stage_type: _Optional[_Union[PipelineRunStageType, str]] = ..., status: _Optional[_Union[PipelineRunStageStatus, str]] = ..., queued_at: _Optional[str] = ..., started_at: _Optional[str] = ..., completed_at: _Optional[str] = ..., error_message: _Optional[str] = ..., environment: _Optional[str] = ..., duration_seconds: _Optional[int] = ..., wait_until: _Optional[str] = ..., release_ids: _Optional[_Iterable[str]] = ..., approval_status: _Optional[str] = ..., auto_approve: _Optional[bool] = ...) -> None: ...

class ReleaseStepState(_message.Message):
    __slots__ = ("release_id", "stage_id", "destination_name", "environment", "status", "queued_at", "assigned_at", "started_at", "completed_at", "error_message")
    RELEASE_ID_FIELD_NUMBER: _ClassVar[int]
    STAGE_ID_FIELD_NUMBER: _ClassVar[int]
    DESTINATION_NAME_FIELD_NUMBER: _ClassVar[int]
    ENVIRONMENT_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    QUEUED_AT_FIELD_NUMBER: _ClassVar[int]
    ASSIGNED_AT_FIELD_NUMBER: _ClassVar[int]
    STARTED_AT_FIELD_NUMBER: _ClassVar[int]
    COMPLETED_AT_FIELD_NUMBER: _ClassVar[int]
    ERROR_MESSAGE_FIELD_NUMBER: _ClassVar[int]
    release_id: str
    stage_id: str
    destination_name: str
    environment: str
    status: str
    queued_at: str
    assigned_at: str
    started_at: str
    completed_at: str
    error_message: str
    def __init__(self, release_id: _Optional[str] = ..., stage_id: _Optional[str] = ..., destination_name: _Optional[str] = ..., environment: _Optional[str] = ..., status: _Optional[str] = ..., queued_at: _Optional[str] = ..., assigned_at: _Optional[str] = ..., started_at: _Optional[str] = ..., completed_at: _Optional[str] = ..., error_message: _Optional[str] = ...) -> None: ...

class PipelineRunState(_message.Message):
    __slots__ = ("release_intent_id", "artifact_id", "created_at", "stages")
    RELEASE_INTENT_ID_FIELD_NUMBER: _ClassVar[int]
    ARTIFACT_ID_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    STAGES_FIELD_NUMBER: _ClassVar[int]
    release_intent_id: str
    artifact_id: str
    created_at: str
    stages: _containers.RepeatedCompositeFieldContainer[PipelineRunStage]
    def __init__(self, release_intent_id: _Optional[str] = ..., artifact_id: _Optional[str] = ..., created_at: _Optional[str] = ..., stages: _Optional[_Iterable[_Union[PipelineRunStage, _Mapping]]] = ...) -> None: ...

class PipelineRunStage(_message.Message):
    __slots__ = ("stage_id", "depends_on", "stage_type", "status", "environment", "duration_seconds", "queued_at", "started_at", "completed_at", "error_message", "wait_until", "release_ids", "approval_status", "auto_approve")
    STAGE_ID_FIELD_NUMBER: _ClassVar[int]
    DEPENDS_ON_FIELD_NUMBER: _ClassVar[int]
    STAGE_TYPE_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    ENVIRONMENT_FIELD_NUMBER: _ClassVar[int]
    DURATION_SECONDS_FIELD_NUMBER: _ClassVar[int]
    QUEUED_AT_FIELD_NUMBER: _ClassVar[int]
    STARTED_AT_FIELD_NUMBER: _ClassVar[int]
    COMPLETED_AT_FIELD_NUMBER: _ClassVar[int]
    ERROR_MESSAGE_FIELD_NUMBER: _ClassVar[int]
    WAIT_UNTIL_FIELD_NUMBER: _ClassVar[int]
    RELEASE_IDS_FIELD_NUMBER: _ClassVar[int]
    APPROVAL_STATUS_FIELD_NUMBER: _ClassVar[int]
    AUTO_APPROVE_FIELD_NUMBER: _ClassVar[int]
    stage_id: str
    depends_on: _containers.RepeatedScalarFieldContainer[str]
    stage_type: PipelineRunStageType
    status: PipelineRunStageStatus
    environment: str
    duration_seconds: int
    queued_at: str
    started_at: str
    completed_at: str
    error_message: str
    wait_until: str
    release_ids: _containers.RepeatedScalarFieldContainer[str]
    approval_status: str
    auto_approve: bool
    def __init__(self, stage_id: _Optional[str] = ..., depends_on: _Optional[_Iterable[str]] = ..., stage_type: _Optional[_Union[PipelineRunStageType, str]] = ..., status: _Optional[_Union[PipelineRunStageStatus, str]] = ..., environment: _Optional[str] = ..., duration_seconds: _Optional[int] = ..., queued_at: _Optional[str] = ..., started_at: _Optional[str] = ..., completed_at: _Optional[str] = ..., error_message: _Optional[str] = ..., wait_until: _Optional[str] = ..., release_ids: _Optional[_Iterable[str]] = ..., approval_status: _Optional[str] = ..., auto_approve: _Optional[bool] = ...) -> None: ...

class ApprovePlanStageRequest(_message.Message):
    __slots__ = ("release_intent_id", "stage_id")
    RELEASE_INTENT_ID_FIELD_NUMBER: _ClassVar[int]
    STAGE_ID_FIELD_NUMBER: _ClassVar[int]
    release_intent_id: str
    stage_id: str
    def __init__(self, release_intent_id: _Optional[str] = ..., stage_id: _Optional[str] = ...) -> None: ...

class ApprovePlanStageResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class RejectPlanStageRequest(_message.Message):
    __slots__ = ("release_intent_id", "stage_id", "reason")
    RELEASE_INTENT_ID_FIELD_NUMBER: _ClassVar[int]
    STAGE_ID_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    release_intent_id: str
    stage_id: str
    reason: str
    def __init__(self, release_intent_id: _Optional[str] = ..., stage_id: _Optional[str] = ..., reason: _Optional[str] = ...) -> None: ...

class RejectPlanStageResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class GetPlanOutputRequest(_message.Message):
    __slots__ = ("release_intent_id", "stage_id")
    RELEASE_INTENT_ID_FIELD_NUMBER: _ClassVar[int]
    STAGE_ID_FIELD_NUMBER: _ClassVar[int]
    release_intent_id: str
    stage_id: str
    def __init__(self, release_intent_id: _Optional[str] = ..., stage_id: _Optional[str] = ...) -> None: ...

class GetPlanOutputResponse(_message.Message):
    __slots__ = ("plan_output", "status", "outputs")
    PLAN_OUTPUT_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    OUTPUTS_FIELD_NUMBER: _ClassVar[int]
    plan_output: str
    status: str
    outputs: _containers.RepeatedCompositeFieldContainer[PlanDestinationOutput]
    def __init__(self, plan_output: _Optional[str] = ..., status: _Optional[str] = ..., outputs: _Optional[_Iterable[_Union[PlanDestinationOutput, _Mapping]]] = ...) -> None: ...

class PlanDestinationOutput(_message.Message):
    __slots__ = ("destination_id", "destination_name", "plan_output", "status")
    DESTINATION_ID_FIELD_NUMBER: _ClassVar[int]
    DESTINATION_NAME_FIELD_NUMBER: _ClassVar[int]
    PLAN_OUTPUT_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    destination_id: str
    destination_name: str
    plan_output: str
    status: str
    def __init__(self, destination_id: _Optional[str] = ..., destination_name: _Optional[str] = ..., plan_output: _Optional[str] = ..., status: _Optional[str] = ...) -> None: ...

class Ref(_message.Message):
    __slots__ = ("commit_sha", "branch", "commit_message", "version", "repo_url")
    COMMIT_SHA_FIELD_NUMBER: _ClassVar[int]
    BRANCH_FIELD_NUMBER: _ClassVar[int]
    COMMIT_MESSAGE_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    REPO_URL_FIELD_NUMBER: _ClassVar[int]
    commit_sha: str
    branch: str
    commit_message: str
    version: str
    repo_url: str
    def __init__(self, commit_sha: _Optional[str] = ..., branch: _Optional[str] = ..., commit_message: _Optional[str] = ..., version: _Optional[str] = ..., repo_url: _Optional[str] = ...) -> None: ...

class Source(_message.Message):
    __slots__ = ("user", "email", "source_type", "run_url", "user_id")
    USER_FIELD_NUMBER: _ClassVar[int]
    EMAIL_FIELD_NUMBER: _ClassVar[int]
    SOURCE_TYPE_FIELD_NUMBER: _ClassVar[int]
    RUN_URL_FIELD_NUMBER: _ClassVar[int]
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    user: str
    email: str
    source_type: str
    run_url: str
    user_id: str
    def __init__(self, user: _Optional[str] = ..., email: _Optional[str] = ..., source_type: _Optional[str] = ..., run_url: _Optional[str] = ..., user_id: _Optional[str] = ...) -> None: ...

class ArtifactContext(_message.Message):
    __slots__ = ("title", "description", "web", "pr")
    TITLE_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    WEB_FIELD_NUMBER: _ClassVar[int]
    PR_FIELD_NUMBER: _ClassVar[int]
    title: str
    description: str
    web: str
    pr: str
    def __init__(self, title: _Optional[str] = ..., description: _Optional[str] = ..., web: _Optional[str] = ..., pr: _Optional[str] = ...) -> None: ...

class ArtifactDestination(_message.Message):
    __slots__ = ("name", "environment", "type_organisation", "type_name", "type_version", "status")
    NAME_FIELD_NUMBER: _ClassVar[int]
    ENVIRONMENT_FIELD_NUMBER: _ClassVar[int]
    TYPE_ORGANISATION_FIELD_NUMBER: _ClassVar[int]
    TYPE_NAME_FIELD_NUMBER: _ClassVar[int]
    TYPE_VERSION_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    name: str
    environment: str
    type_organisation: str
    type_name: str
    type_version: int
    status: str
    def __init__(self, name: _Optional[str] = ..., environment: _Optional[str] = ..., type_organisation: _Optional[str] = ..., type_name: _Optional[str] = ..., type_version: _Optional[int] = ..., status: _Optional[str] = ...) -> None: ...

class Artifact(_message.Message):
    __slots__ = ("id", "artifact_id", "slug", "metadata", "source", "context", "project", "destinations", "created_at", "ref")
    class MetadataEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    ID_FIELD_NUMBER: _ClassVar[int]
    ARTIFACT_ID_FIELD_NUMBER: _ClassVar[int]
    SLUG_FIELD_NUMBER: _ClassVar[int]
    METADATA_FIELD_NUMBER: _ClassVar[int]
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    CONTEXT_FIELD_NUMBER: _ClassVar[int]
    PROJECT_FIELD_NUMBER: _ClassVar[int]
    DESTINATIONS_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    REF_FIELD_NUMBER: _ClassVar[int]
    id: str
    artifact_id: str
    slug: str
    metadata: _containers.ScalarMap[str, str]
    source: Source
    context: ArtifactContext
    project: Project
    destinations: _containers.RepeatedCompositeFieldContainer[ArtifactDestination]
    created_at: str
    ref: Ref
    def __init__(self, id: _Optional[str] = ..., artifact_id: _Optional[str] = ..., slug: _Optional[str] = ..., metadata: _Optional[_Mapping[str, str]] = ..., source: _Optional[_Union[Source, _Mapping]] = ..., context: _Optional[_Union[ArtifactContext, _Mapping]] = ..., project: _Optional[_Union[Project, _Mapping]] = ..., destinations: _Optional[_Iterable[_Union[ArtifactDestination, _Mapping]]] = ..., created_at: _Optional[str] = ..., ref: _Optional[_Union[Ref, _Mapping]] = ...) -> None: ...

class AnnotateReleaseRequest(_message.Message):
    __slots__ = ("artifact_id", "metadata", "source", "context", "project", "ref", "annotation_only")
    class MetadataEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    ARTIFACT_ID_FIELD_NUMBER: _ClassVar[int]
    METADATA_FIELD_NUMBER: _ClassVar[int]
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    CONTEXT_FIELD_NUMBER: _ClassVar[int]
    PROJECT_FIELD_NUMBER: _ClassVar[int]
    REF_FIELD_NUMBER: _ClassVar[int]
    ANNOTATION_ONLY_FIELD_NUMBER: _ClassVar[int]
    artifact_id: str
    metadata: _containers.ScalarMap[str, str]
    source: Source
    context: ArtifactContext
    project: Project
    ref: Ref
    annotation_only: bool
    def __init__(self, artifact_id: _Optional[str] = ..., metadata: _Optional[_Mapping[str, str]] = ..., source: _Optional[_Union[Source, _Mapping]] = ..., context: _Optional[_Union[ArtifactContext, _Mapping]] = ..., project: _Optional[_Union[Project, _Mapping]] = ..., ref: _Optional[_Union[Ref, _Mapping]] = ..., annotation_only: _Optional[bool] = ...) -> None: ...

class AnnotateReleaseResponse(_message.Message):
    __slots__ = ("artifact",)
    ARTIFACT_FIELD_NUMBER: _ClassVar[int]
    artifact: Artifact
    def __init__(self, artifact: _Optional[_Union[Artifact, _Mapping]] = ...) -> None: ...

class GetArtifactBySlugRequest(_message.Message):
    __slots__ = ("slug",)
    SLUG_FIELD_NUMBER: _ClassVar[int]
    slug: str
    def __init__(self, slug: _Optional[str] = ...) -> None: ...

class GetArtifactBySlugResponse(_message.Message):
    __slots__ = ("artifact",)
    ARTIFACT_FIELD_NUMBER: _ClassVar[int]
    artifact: Artifact
    def __init__(self, artifact: _Optional[_Union[Artifact, _Mapping]] = ...) -> None: ...

class GetArtifactsByProjectRequest(_message.Message):
    __slots__ = ("project",)
    PROJECT_FIELD_NUMBER: _ClassVar[int]
    project: Project
    def __init__(self, project: _Optional[_Union[Project, _Mapping]] = ...) -> None: ...

class GetArtifactsByProjectResponse(_message.Message):
    __slots__ = ("artifact",)
    ARTIFACT_FIELD_NUMBER: _ClassVar[int]
    artifact: _containers.RepeatedCompositeFieldContainer[Artifact]
    def __init__(self, artifact: _Optional[_Iterable[_Union[Artifact, _Mapping]]] = ...) -> None: ...
