from forest.v1 import releases_pb2 as _releases_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class PolicyType(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    POLICY_TYPE_UNSPECIFIED: _ClassVar[PolicyType]
    POLICY_TYPE_SOAK_TIME: _ClassVar[PolicyType]
    POLICY_TYPE_BRANCH_RESTRICTION: _ClassVar[PolicyType]
    POLICY_TYPE_EXTERNAL_APPROVAL: _ClassVar[PolicyType]
POLICY_TYPE_UNSPECIFIED: PolicyType
POLICY_TYPE_SOAK_TIME: PolicyType
POLICY_TYPE_BRANCH_RESTRICTION: PolicyType
POLICY_TYPE_EXTERNAL_APPROVAL: PolicyType

class SoakTimeConfig(_message.Message):
    __slots__ = ("source_environment", "target_environment", "duration_seconds")
    SOURCE_ENVIRONMENT_FIELD_NUMBER: _ClassVar[int]
    TARGET_ENVIRONMENT_FIELD_NUMBER: _ClassVar[int]
    DURATION_SECONDS_FIELD_NUMBER: _ClassVar[int]
    source_environment: str
    target_environment: str
    duration_seconds: int
    def __init__(self, source_environment: _Optional[str] = ..., target_environment: _Optional[str] = ..., duration_seconds: _Optional[int] = ...) -> None: ...

class BranchRestrictionConfig(_message.Message):
    __slots__ = ("target_environment", "branch_pattern")
    TARGET_ENVIRONMENT_FIELD_NUMBER: _ClassVar[int]
    BRANCH_PATTERN_FIELD_NUMBER: _ClassVar[int]
    target_environment: str
    branch_pattern: str
    def __init__(self, target_environment: _Optional[str] = ..., branch_pattern: _Optional[str] = ...) -> None: ...

class ExternalApprovalConfig(_message.Message):
    __slots__ = ("target_environment", "required_approvals")
    TARGET_ENVIRONMENT_FIELD_NUMBER: _ClassVar[int]
    REQUIRED_APPROVALS_FIELD_NUMBER: _ClassVar[int]
    target_environment: str
    required_approvals: int
    def __init__(self, target_environment: _Optional[str] = ..., required_approvals: _Optional[int] = ...) -> None: ...

class ExternalApprovalState(_message.Message):
    __slots__ = ("required_approvals", "current_approvals", "decisions")
    REQUIRED_APPROVALS_FIELD_NUMBER: _ClassVar[int]
    CURRENT_APPROVALS_FIELD_NUMBER: _ClassVar[int]
    DECISIONS_FIELD_NUMBER: _ClassVar[int]
    required_approvals: int
    current_approvals: int
    decisions: _containers.RepeatedCompositeFieldContainer[ExternalApprovalDecisionEntry]
    def __init__(self, required_approvals: _Optional[int] = ..., current_approvals: _Optional[int] = ..., decisions: _Optional[_Iterable[_Union[ExternalApprovalDecisionEntry, _Mapping]]] = ...) -> None: ...

class ExternalApprovalDecisionEntry(_message.Message):
    __slots__ = ("user_id", "username", "decision", "decided_at", "comment")
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    USERNAME_FIELD_NUMBER: _ClassVar[int]
    DECISION_FIELD_NUMBER: _ClassVar[int]
    DECIDED_AT_FIELD_NUMBER: _ClassVar[int]
    COMMENT_FIELD_NUMBER: _ClassVar[int]
    user_id: str
    username: str
    decision: str
    decided_at: str
    comment: str
    def __init__(self, user_id: _Optional[str] = ..., username: _Optional[str] = ..., decision: _Optional[str] = ..., decided_at: _Optional[str] = ..., comment: _Optional[str] = ...) -> None: ...

class Policy(_message.Message):
    __slots__ = ("id", "name", "enabled", "policy_type", "soak_time", "branch_restriction", "external_approval", "created_at", "updated_at")
    ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    ENABLED_FIELD_NUMBER: _ClassVar[int]
    POLICY_TYPE_FIELD_NUMBER: _ClassVar[int]
    SOAK_TIME_FIELD_NUMBER: _ClassVar[int]
    BRANCH_RESTRICTION_FIELD_NUMBER: _ClassVar[int]
    EXTERNAL_APPROVAL_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    UPDATED_AT_FIELD_NUMBER: _ClassVar[int]
    id: str
    name: str
    enabled: bool
    policy_type: PolicyType
    soak_time: SoakTimeConfig
    branch_restriction: BranchRestrictionConfig
    external_approval: ExternalApprovalConfig
    created_at: str
    updated_at: str
    def __init__(self, id: _Optional[str] = ..., name: _Optional[str] = ..., enabled: _Optional[bool] = ..., policy_type: _Optional[_Union[PolicyType, str]] = ..., soak_time: _Optional[_Union[SoakTimeConfig, _Mapping]] = ..., branch_restriction: _Optional[_Union[BranchRestrictionConfig, _Mapping]] = ..., external_approval: _Optional[_Union[ExternalApprovalConfig, _Mapping]] = ..., created_at: _Optional[str] = ..., updated_at: _Optional[str] = ...) -> None: ...

class PolicyEvaluation(_message.Message):
    __slots__ = ("policy_name", "policy_type", "passed", "reason", "external_approval_state")
    POLICY_NAME_FIELD_NUMBER: _ClassVar[int]
    POLICY_TYPE_FIELD_NUMBER: _ClassVar[int]
    PASSED_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    EXTERNAL_APPROVAL_STATE_FIELD_NUMBER: _ClassVar[int]
    policy_name: str
    policy_type: PolicyType
    passed: bool
    reason: str
    external_approval_state: ExternalApprovalState
    def __init__(self, policy_name: _Optional[str] = ..., policy_type: _Optional[_Union[PolicyType, str]] = ..., passed: _Optional[bool] = ..., reason: _Optional[str] = ..., external_approval_state: _Optional[_Union[ExternalApprovalState, _Mapping]] = ...) -> None: ...

class CreatePolicyRequest(_message.Message):
    __slots__ = ("project", "name", "policy_type", "soak_time", "branch_restriction", "external_approval")
    PROJECT_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    POLICY_TYPE_FIELD_NUMBER: _ClassVar[int]
    SOAK_TIME_FIELD_NUMBER: _ClassVar[int]
    BRANCH_RESTRICTION_FIELD_NUMBER: _ClassVar[int]
    EXTERNAL_APPROVAL_FIELD_NUMBER: _ClassVar[int]
    project: _releases_pb2.Project
    name: str
    policy_type: PolicyType
    soak_time: SoakTimeConfig
    branch_restriction: BranchRestrictionConfig
    external_approval: ExternalApprovalConfig
    def __init__(self, project: _Optional[_Union[_releases_pb2.Project, _Mapping]] = ..., name: _Optional[str] = ..., policy_type: _Optional[_Union[PolicyType, str]] = ..., soak_time: _Optional[_Union[SoakTimeConfig, _Mapping]] = ..., branch_restriction: _Optional[_Union[BranchRestrictionConfig, _Mapping]] = ..., external_approval: _Optional[_Union[ExternalApprovalConfig, _Mapping]] = ...) -> None: ...

class CreatePolicyResponse(_message.Message):
    __slots__ = ("policy",)
    POLICY_FIELD_NUMBER: _ClassVar[int]
    policy: Policy
    def __init__(self, policy: _Optional[_Union[Policy, _Mapping]] = ...) -> None: ...

class UpdatePolicyRequest(_message.Message):
    __slots__ = ("project", "name", "enabled", "soak_time", "branch_restriction", "external_approval")
    PROJECT_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    ENABLED_FIELD_NUMBER: _ClassVar[int]
    SOAK_TIME_FIELD_NUMBER: _ClassVar[int]
    BRANCH_RESTRICTION_FIELD_NUMBER: _ClassVar[int]
    EXTERNAL_APPROVAL_FIELD_NUMBER: _ClassVar[int]
    project: _releases_pb2.Project
    name: str
    enabled: bool
    soak_time: SoakTimeConfig
    branch_restriction: BranchRestrictionConfig
    external_approval: ExternalApprovalConfig
    def __init__(self, project: _Optional[_Union[_releases_pb2.Project, _Mapping]] = ..., name: _Optional[str] = ..., enabled: _Optional[bool] = ..., soak_time: _Optional[_Union[SoakTimeConfig, _Mapping]] = ..., branch_restriction: _Optional[_Union[BranchRestrictionConfig, _Mapping]] = ..., external_approval: _Optional[_Union[ExternalApprovalConfig, _Mapping]] = ...) -> None: ...

class UpdatePolicyResponse(_message.Message):
    __slots__ = ("policy",)
    POLICY_FIELD_NUMBER: _ClassVar[int]
    policy: Policy
    def __init__(self, policy: _Optional[_Union[Policy, _Mapping]] = ...) -> None: ...

class DeletePolicyRequest(_message.Message):
    __slots__ = ("project", "name")
    PROJECT_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    project: _releases_pb2.Project
    name: str
    def __init__(self, project: _Optional[_Union[_releases_pb2.Project, _Mapping]] = ..., name: _Optional[str] = ...) -> None: ...

class DeletePolicyResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ListPoliciesRequest(_message.Message):
    __slots__ = ("project",)
    PROJECT_FIELD_NUMBER: _ClassVar[int]
    project: _releases_pb2.Project
    def __init__(self, project: _Optional[_Union[_releases_pb2.Project, _Mapping]] = ...) -> None: ...

class ListPoliciesResponse(_message.Message):
    __slots__ = ("policies",)
    POLICIES_FIELD_NUMBER: _ClassVar[int]
    policies: _containers.RepeatedCompositeFieldContainer[Policy]
    def __init__(self, policies: _Optional[_Iterable[_Union[Policy, _Mapping]]] = ...) -> None: ...

class EvaluatePoliciesRequest(_message.Message):
    __slots__ = ("project", "target_environment", "branch", "release_intent_id")
    PROJECT_FIELD_NUMBER: _ClassVar[int]
    TARGET_ENVIRONMENT_FIELD_NUMBER: _ClassVar[int]
    BRANCH_FIELD_NUMBER: _ClassVar[int]
    RELEASE_INTENT_ID_FIELD_NUMBER: _ClassVar[int]
    project: _releases_pb2.Project
    target_environment: str
    branch: str
    release_intent_id: str
    def __init__(self, project: _Optional[_Union[_releases_pb2.Project, _Mapping]] = ..., target_environment: _Optional[str] = ..., branch: _Optional[str] = ..., release_intent_id: _Optional[str] = ...) -> None: ...

class EvaluatePoliciesResponse(_message.Message):
    __slots__ = ("evaluations", "all_passed")
    EVALUATIONS_FIELD_NUMBER: _ClassVar[int]
    ALL_PASSED_FIELD_NUMBER: _ClassVar[int]
    evaluations: _containers.RepeatedCompositeFieldContainer[PolicyEvaluation]
    all_passed: bool
    def __init__(self, evaluations: _Optional[_Iterable[_Union[PolicyEvaluation, _Mapping]]] = ..., all_passed: _Optional[bool] = ...) -> None: ...

class ExternalApproveReleaseRequest(_message.Message):
    __slots__ = ("project", "release_intent_id", "target_environment", "comment", "force_bypass")
    PROJECT_FIELD_NUMBER: _ClassVar[int]
    RELEASE_INTENT_ID_FIELD_NUMBER: _ClassVar[int]
    TARGET_ENVIRONMENT_FIELD_NUMBER: _ClassVar[int]
    COMMENT_FIELD_NUMBER: _ClassVar[int]
    FORCE_BYPASS_FIELD_NUMBER: _ClassVar[int]
    project: _releases_pb2.Project
    release_intent_id: str
    target_environment: str
    comment: str
    force_bypass: bool
    def __init__(self, project: _Optional[_Union[_releases_pb2.Project, _Mapping]] = ..., release_intent_id: _Optional[str] = ..., target_environment: _Optional[str] = ..., comment: _Optional[str] = ..., force_bypass: _Optional[bool] = ...) -> None: ...

class ExternalApproveReleaseResponse(_message.Message):
    __slots__ = ("state",)
    STATE_FIELD_NUMBER: _ClassVar[int]
    state: ExternalApprovalState
    def __init__(self, state: _Optional[_Union[ExternalApprovalState, _Mapping]] = ...) -> None: ...

class ExternalRejectReleaseRequest(_message.Message):
    __slots__ = ("project", "release_intent_id", "target_environment", "comment")
    PROJECT_FIELD_NUMBER: _ClassVar[int]
    RELEASE_INTENT_ID_FIELD_NUMBER: _ClassVar[int]
    TARGET_ENVIRONMENT_FIELD_NUMBER: _ClassVar[int]
    COMMENT_FIELD_NUMBER: _ClassVar[int]
    project: _releases_pb2.Project
    release_intent_id: str
    target_environment: str
    comment: str
    def __init__(self, project: _Optional[_Union[_releases_pb2.Project, _Mapping]] = ..., release_intent_id: _Optional[str] = ..., target_environment: _Optional[str] = ..., comment: _Optional[str] = ...) -> None: ...

class ExternalRejectReleaseResponse(_message.Message):
    __slots__ = ("state",)
    STATE_FIELD_NUMBER: _ClassVar[int]
    state: ExternalApprovalState
    def __init__(self, state: _Optional[_Union[ExternalApprovalState, _Mapping]] = ...) -> None: ...

class GetExternalApprovalStateRequest(_message.Message):
    __slots__ = ("project", "release_intent_id", "target_environment")
    PROJECT_FIELD_NUMBER: _ClassVar[int]
    RELEASE_INTENT_ID_FIELD_NUMBER: _ClassVar[int]
    TARGET_ENVIRONMENT_FIELD_NUMBER: _ClassVar[int]
    project: _releases_pb2.Project
    release_intent_id: str
    target_environment: str
    def __init__(self, project: _Optional[_Union[_releases_pb2.Project, _Mapping]] = ..., release_intent_id: _Optional[str] = ..., target_environment: _Optional[str] = ...) -> None: ...

class GetExternalApprovalStateResponse(_message.Message):
    __slots__ = ("state",)
    STATE_FIELD_NUMBER: _ClassVar[int]
    state: ExternalApprovalState
    def __init__(self, state: _Optional[_Union[ExternalApprovalState, _Mapping]] = ...) -> None: ...
