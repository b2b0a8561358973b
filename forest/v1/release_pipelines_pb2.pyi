from forest.v1 import releases_pb2 as _releases_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class StageType(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    STAGE_TYPE_UNSPECIFIED: _ClassVar[StageType]
    STAGE_TYPE_DEPLOY: _ClassVar[StageType]
    STAGE_TYPE_WAIT: _ClassVar[StageType]
    STAGE_TYPE_PLAN: _ClassVar[StageType]

class PipelineStageStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    PIPELINE_STAGE_STATUS_UNSPECIFIED: _ClassVar[PipelineStageStatus]
    PIPELINE_STAGE_STATUS_PENDING: _ClassVar[PipelineStageStatus]
    PIPELINE_STAGE_STATUS_ACTIVE: _ClassVar[PipelineStageStatus]
    PIPELINE_STAGE_STATUS_SUCCEEDED: _ClassVar[PipelineStageStatus]
    PIPELINE_STAGE_STATUS_FAILED: _ClassVar[PipelineStageStatus]
    PIPELINE_STAGE_STATUS_CANCELLED: _ClassVar[PipelineStageStatus]
    PIPELINE_STAGE_STATUS_AWAITING_APPROVAL: _ClassVar[PipelineStageStatus]
STAGE_TYPE_UNSPECIFIED: StageType
STAGE_TYPE_DEPLOY: StageType
STAGE_TYPE_WAIT: StageType
STAGE_TYPE_PLAN: StageType
PIPELINE_STAGE_STATUS_UNSPECIFIED: PipelineStageStatus
PIPELINE_STAGE_STATUS_PENDING: PipelineStageStatus
PIPELINE_STAGE_STATUS_ACTIVE: PipelineStageStatus
PIPELINE_STAGE_STATUS_SUCCEEDED: PipelineStageStatus
PIPELINE_STAGE_STATUS_FAILED: PipelineStageStatus
PIPELINE_STAGE_STATUS_CANCELLED: PipelineStageStatus
PIPELINE_STAGE_STATUS_AWAITING_APPROVAL: PipelineStageStatus

class DeployStageConfig(_message.Message):
    __slots__ = ("environment",)
    ENVIRONMENT_FIELD_NUMBER: _ClassVar[int]
    environment: str
    def __init__(self, environment: _Optional[str] = ...) -> None: ...

class WaitStageConfig(_message.Message):
    __slots__ = ("duration_seconds",)
    DURATION_SECONDS_FIELD_NUMBER: _ClassVar[int]
    duration_seconds: int
    def __init__(self, duration_seconds: _Optional[int] = ...) -> None: ...

class PlanStageConfig(_message.Message):
    __slots__ = ("environment", "auto_approve")
    ENVIRONMENT_FIELD_NUMBER: _ClassVar[int]
    AUTO_APPROVE_FIELD_NUMBER: _ClassVar[int]
    environment: str
    auto_approve: bool
    def __init__(self, environment: _Optional[str] = ..., auto_approve: _Optional[bool] = ...) -> None: ...

class PipelineStage(_message.Message):
    __slots__ = ("id", "depends_on", "deploy", "wait", "plan")
    ID_FIELD_NUMBER: _ClassVar[int]
    DEPENDS_ON_FIELD_NUMBER: _ClassVar[int]
    DEPLOY_FIELD_NUMBER: _ClassVar[int]
    WAIT_FIELD_NUMBER: _ClassVar[int]
    PLAN_FIELD_NUMBER: _ClassVar[int]
    id: str
    depends_on: _containers.RepeatedScalarFieldContainer[str]
    deploy: DeployStageConfig
    wait: WaitStageConfig
    plan: PlanStageConfig
    def __init__(self, id: _Optional[str] = ..., depends_on: _Optional[_Iterable[str]] = ..., deploy: _Optional[_Union[DeployStageConfig, _Mapping]] = ..., wait: _Optional[_Union[WaitStageConfig, _Mapping]] = ..., plan: _Optional[_Union[PlanStageConfig, _Mapping]] = ...) -> None: ...

class ReleasePipeline(_message.Message):
    __slots__ = ("id", "name", "enabled", "stages", "created_at", "updated_at")
    ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    ENABLED_FIELD_NUMBER: _ClassVar[int]
    STAGES_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    UPDATED_AT_FIELD_NUMBER: _ClassVar[int]
    id: str
    name: str
    enabled: bool
    stages: _containers.RepeatedCompositeFieldContainer[PipelineStage]
    created_at: str
    updated_at: str
    def __init__(self, id: _Optional[str] = ..., name: _Optional[str] = ..., enabled: _Optional[bool] = ..., stages: _Optional[_Iterable[_Union[PipelineStage, _Mapping]]] = ..., created_at: _Optional[str] = ..., updated_at: _Optional[str] = ...) -> None: ...

class CreateReleasePipelineRequest(_message.Message):
    __slots__ = ("project", "name", "stages")
    PROJECT_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    STAGES_FIELD_NUMBER: _ClassVar[int]
    project: _releases_pb2.Project
    name: str
    stages: _containers.RepeatedCompositeFieldContainer[PipelineStage]
    def __init__(self, project: _Optional[_Union[_releases_pb2.Project, _Mapping]] = ..., name: _Optional[str] = ..., stages: _Optional[_Iterable[_Union[PipelineStage, _Mapping]]] = ...) -> None: ...

class CreateReleasePipelineResponse(_message.Message):
    __slots__ = ("pipeline",)
    PIPELINE_FIELD_NUMBER: _ClassVar[int]
    pipeline: ReleasePipeline
    def __init__(self, pipeline: _Optional[_Union[ReleasePipeline, _Mapping]] = ...) -> None: ...

class UpdateReleasePipelineRequest(_message.Message):
    __slots__ = ("project", "name", "enabled", "stages", "update_stages")
    PROJECT_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    ENABLED_FIELD_NUMBER: _ClassVar[int]
    STAGES_FIELD_NUMBER: _ClassVar[int]
    UPDATE_STAGES_FIELD_NUMBER: _ClassVar[int]
    project: _releases_pb2.Project
    name: str
    enabled: bool
    stages: _containers.RepeatedCompositeFieldContainer[PipelineStage]
    update_stages: bool
    def __init__(self, project: _Optional[_Union[_releases_pb2.Project, _Mapping]] = ..., name: _Optional[str] = ..., enabled: _Optional[bool] = ..., stages: _Optional[_Iterable[_Union[PipelineStage, _Mapping]]] = ..., update_stages: _Optional[bool] = ...) -> None: ...

class UpdateReleasePipelineResponse(_message.Message):
    __slots__ = ("pipeline",)
    PIPELINE_FIELD_NUMBER: _ClassVar[int]
    pipeline: ReleasePipeline
    def __init__(self, pipeline: _Optional[_Union[ReleasePipeline, _Mapping]] = ...) -> None: ...

class DeleteReleasePipelineRequest(_message.Message):
    __slots__ = ("project", "name")
    PROJECT_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    project: _releases_pb2.Project
    name: str
    def __init__(self, project: _Optional[_Union[_releases_pb2.Project, _Mapping]] = ..., name: _Optional[str] = ...) -> None: ...

class DeleteReleasePipelineResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ListReleasePipelinesRequest(_message.Message):
    __slots__ = ("project",)
    PROJECT_FIELD_NUMBER: _ClassVar[int]
    project: _releases_pb2.Project
    def __init__(self, project: _Optional[_Union[_releases_pb2.Project, _Mapping]] = ...) -> None: ...

class ListReleasePipelinesResponse(_message.Message):
    __slots__ = ("pipelines",)
    PIPELINES_FIELD_NUMBER: _ClassVar[int]
    pipelines: _containers.RepeatedCompositeFieldContainer[ReleasePipeline]
    def __init__(self, pipelines: _Optional[_Iterable[_Union[ReleasePipeline, _Mapping]]] = ...) -> None: ...
