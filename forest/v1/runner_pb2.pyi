from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class ReleaseMode(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    RELEASE_MODE_UNSPECIFIED: _ClassVar[ReleaseMode]
    RELEASE_MODE_DEPLOY: _ClassVar[ReleaseMode]
    RELEASE_MODE_PLAN: _ClassVar[ReleaseMode]

class ReleaseOutcome(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    RELEASE_OUTCOME_UNSPECIFIED: _ClassVar[ReleaseOutcome]
    RELEASE_OUTCOME_SUCCESS: _ClassVar[ReleaseOutcome]
    RELEASE_OUTCOME_FAILURE: _ClassVar[ReleaseOutcome]
RELEASE_MODE_UNSPECIFIED: ReleaseMode
RELEASE_MODE_DEPLOY: ReleaseMode
RELEASE_MODE_PLAN: ReleaseMode
RELEASE_OUTCOME_UNSPECIFIED: ReleaseOutcome
RELEASE_OUTCOME_SUCCESS: ReleaseOutcome
RELEASE_OUTCOME_FAILURE: ReleaseOutcome

class DestinationCapability(_message.Message):
    __slots__ = ("organisation", "name", "version")
    ORGANISATION_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    organisation: str
    name: str
    version: int
    def __init__(self, organisation: _Optional[str] = ..., name: _Optional[str] = ..., version: _Optional[int] = ...) -> None: ...

class DestinationInfo(_message.Message):
    __slots__ = ("name", "environment", "metadata", "type", "organisation")
    class MetadataEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    NAME_FIELD_NUMBER: _ClassVar[int]
    ENVIRONMENT_FIELD_NUMBER: _ClassVar[int]
    METADATA_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    ORGANISATION_FIELD_NUMBER: _ClassVar[int]
    name: str
    environment: str
    metadata: _containers.ScalarMap[str, str]
    type: DestinationCapability
    organisation: str
    def __init__(self, name: _Optional[str] = ..., environment: _Optional[str] = ..., metadata: _Optional[_Mapping[str, str]] = ..., type: _Optional[_Union[DestinationCapability, _Mapping]] = ..., organisation: _Optional[str] = ...) -> None: ...

class WorkAssignment(_message.Message):
    __slots__ = ("release_token", "release_id", "release_intent_id", "artifact_id", "destination_id", "destination", "mode")
    RELEASE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    RELEASE_ID_FIELD_NUMBER: _ClassVar[int]
    RELEASE_INTENT_ID_FIELD_NUMBER: _ClassVar[int]
    ARTIFACT_ID_FIELD_NUMBER: _ClassVar[int]
    DESTINATION_ID_FIELD_NUMBER: _ClassVar[int]
    DESTINATION_FIELD_NUMBER: _ClassVar[int]
    MODE_FIELD_NUMBER: _ClassVar[int]
    release_token: str
    release_id: str
    release_intent_id: str
    artifact_id: str
    destination_id: str
    destination: DestinationInfo
    mode: ReleaseMode
    def __init__(self, release_token: _Optional[str] = ..., release_id: _Optional[str] = ..., release_intent_id: _Optional[str] = ..., artifact_id: _Optional[str] = ..., destination_id: _Optional[str] = ..., destination: _Optional[_Union[DestinationInfo, _Mapping]] = ..., mode: _Optional[_Union[ReleaseMode, str]] = ...) -> None: ...

class CompleteReleaseRequest(_message.Message):
    __slots__ = ("release_token", "outcome", "error_message", "plan_output")
    RELEASE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    OUTCOME_FIELD_NUMBER: _ClassVar[int]
    ERROR_MESSAGE_FIELD_NUMBER: _ClassVar[int]
    PLAN_OUTPUT_FIELD_NUMBER: _ClassVar[int]
    release_token: str
    outcome: ReleaseOutcome
    error_message: str
    plan_output: str
    def __init__(self, release_token: _Optional[str] = ..., outcome: _Optional[_Union[ReleaseOutcome, str]] = ..., error_message: _Optional[str] = ..., plan_output: _Optional[str] = ...) -> None: ...

class CompleteReleaseResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...
