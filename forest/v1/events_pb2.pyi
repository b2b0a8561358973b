from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class SubscribeEventsRequest(_message.Message):
    __slots__ = ("organisation", "project", "resource_types", "actions", "since_sequence")
    ORGANISATION_FIELD_NUMBER: _ClassVar[int]
    PROJECT_FIELD_NUMBER: _ClassVar[int]
    RESOURCE_TYPES_FIELD_NUMBER: _ClassVar[int]
    ACTIONS_FIELD_NUMBER: _ClassVar[int]
    SINCE_SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    organisation: str
    project: str
    resource_types: _containers.RepeatedScalarFieldContainer[str]
    actions: _containers.RepeatedScalarFieldContainer[str]
    since_sequence: int
    def __init__(self, organisation: _Optional[str] = ..., project: _Optional[str] = ..., resource_types: _Optional[_Iterable[str]] = ..., actions: _Optional[_Iterable[str]] = ..., since_sequence: _Optional[int] = ...) -> None: ...

class SubscribeDurableRequest(_message.Message):
    __slots__ = ("organisation", "subscription_name")
    ORGANISATION_FIELD_NUMBER: _ClassVar[int]
    SUBSCRIPTION_NAME_FIELD_NUMBER: _ClassVar[int]
    organisation: str
    subscription_name: str
    def __init__(self, organisation: _Optional[str] = ..., subscription_name: _Optional[str] = ...) -> None: ...

class AcknowledgeEventsRequest(_message.Message):
    __slots__ = ("organisation", "subscription_name", "sequence")
    ORGANISATION_FIELD_NUMBER: _ClassVar[int]
    SUBSCRIPTION_NAME_FIELD_NUMBER: _ClassVar[int]
    SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    organisation: str
    subscription_name: str
    sequence: int
    def __init__(self, organisation: _Optional[str] = ..., subscription_name: _Optional[str] = ..., sequence: _Optional[int] = ...) -> None: ...

class AcknowledgeEventsResponse(_message.Message):
    __slots__ = ("cursor",)
    CURSOR_FIELD_NUMBER: _ClassVar[int]
    cursor: int
    def __init__(self, cursor: _Optional[int] = ...) -> None: ...

class OrgEvent(_message.Message):
    __slots__ = ("sequence", "event_id", "timestamp", "organisation", "project", "resource_type", "action", "resource_id", "metadata")
    class MetadataEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    EVENT_ID_FIELD_NUMBER: _ClassVar[int]
    TIMESTAMP_FIELD_NUMBER: _ClassVar[int]
    ORGANISATION_FIELD_NUMBER: _ClassVar[int]
    PROJECT_FIELD_NUMBER: _ClassVar[int]
    RESOURCE_TYPE_FIELD_NUMBER: _ClassVar[int]
    ACTION_FIELD_NUMBER: _ClassVar[int]
    RESOURCE_ID_FIELD_NUMBER: _ClassVar[int]
    METADATA_FIELD_NUMBER: _ClassVar[int]
    sequence: int
    event_id: str
    timestamp: str
    organisation: str
    project: str
    resource_type: str
    action: str
    resource_id: str
    metadata: _containers.ScalarMap[str, str]
    def __init__(self, sequence: _Optional[int] = ..., event_id: _Optional[str] = ..., timestamp: _Optional[str] = ..., organisation: _Optional[str] = ..., project: _Optional[str] = ..., resource_type: _Optional[str] = ..., action: _Optional[str] = ..., resource_id: _Optional[str] = ..., metadata: _Optional[_Mapping[str, str]] = ...) -> None: ...

class EventSubscription(_message.Message):
    __slots__ = ("id", "organisation", "name", "resource_types", "actions", "projects", "status", "cursor", "created_at", "updated_at")
    ID_FIELD_NUMBER: _ClassVar[int]
    ORGANISATION_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    RESOURCE_TYPES_FIELD_NUMBER: _ClassVar[int]
    ACTIONS_FIELD_NUMBER: _ClassVar[int]
    PROJECTS_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    CURSOR_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    UPDATED_AT_FIELD_NUMBER: _ClassVar[int]
    id: str
    organisation: str
    name: str
    resource_types: _containers.RepeatedScalarFieldContainer[str]
    actions: _containers.RepeatedScalarFieldContainer[str]
    projects: _containers.RepeatedScalarFieldContainer[str]
    status: str
    cursor: int
    created_at: str
    updated_at: str
    def __init__(self, id: _Optional[str] = ..., organisation: _Optional[str] = ..., name: _Optional[str] = ..., resource_types: _Optional[_Iterable[str]] = ..., actions: _Optional[_Iterable[str]] = ..., projects: _Optional[_Iterable[str]] = ..., status: _Optional[str] = ..., cursor: _Optional[int] = ..., created_at: _Optional[str] = ..., updated_at: _Optional[str] = ...) -> None: ...

class CreateEventSubscriptionRequest(_message.Message):
    __slots__ = ("organisation", "name", "resource_types", "actions", "projects")
    ORGANISATION_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    RESOURCE_TYPES_FIELD_NUMBER: _ClassVar[int]
    ACTIONS_FIELD_NUMBER: _ClassVar[int]
    PROJECTS_FIELD_NUMBER: _ClassVar[int]
    organisation: str
    name: str
    resource_types: _containers.RepeatedScalarFieldContainer[str]
    actions: _containers.RepeatedScalarFieldContainer[str]
    projects: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, organisation: _Optional[str] = ..., name: _Optional[str] = ..., resource_types: _Optional[_Iterable[str]] = ..., actions: _Optional[_Iterable[str]] = ..., projects: _Optional[_Iterable[str]] = ...) -> None: ...

class CreateEventSubscriptionResponse(_message.Message):
    __slots__ = ("subscription",)
    SUBSCRIPTION_FIELD_NUMBER: _ClassVar[int]
    subscription: EventSubscription
    def __init__(self, subscription: _Optional[_Union[EventSubscription, _Mapping]] = ...) -> None: ...

class UpdateEventSubscriptionRequest(_message.Message):
    __slots__ = ("organisation", "name", "status", "update_filters", "resource_types", "actions", "projects")
    ORGANISATION_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    UPDATE_FILTERS_FIELD_NUMBER: _ClassVar[int]
    RESOURCE_TYPES_FIELD_NUMBER: _ClassVar[int]
    ACTIONS_FIELD_NUMBER: _ClassVar[int]
    PROJECTS_FIELD_NUMBER: _ClassVar[int]
    organisation: str
    name: str
    status: str
    update_filters: bool
    resource_types: _containers.RepeatedScalarFieldContainer[str]
    actions: _containers.RepeatedScalarFieldContainer[str]
    projects: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, organisation: _Optional[str] = ..., name: _Optional[str] = ..., status: _Optional[str] = ..., update_filters: _Optional[bool] = ..., resource_types: _Optional[_Iterable[str]] = ..., actions: _Optional[_Iterable[str]] = ..., projects: _Optional[_Iterable[str]] = ...) -> None: ...

class UpdateEventSubscriptionResponse(_message.Message):
    __slots__ = ("subscription",)
    SUBSCRIPTION_FIELD_NUMBER: _ClassVar[int]
    subscription: EventSubscription
    def __init__(self, subscription: _Optional[_Union[EventSubscription, _Mapping]] = ...) -> None: ...

class DeleteEventSubscriptionRequest(_message.Message):
    __slots__ = ("organisation", "name")
    ORGANISATION_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    organisation: str
    name: str
    def __init__(self, organisation: _Optional[str] = ..., name: _Optional[str] = ...) -> None: ...

class DeleteEventSubscriptionResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ListEventSubscriptionsRequest(_message.Message):
    __slots__ = ("organisation",)
    ORGANISATION_FIELD_NUMBER: _ClassVar[int]
    organisation: str
    def __init__(self, organisation: _Optional[str] = ...) -> None: ...

class ListEventSubscriptionsResponse(_message.Message):
    __slots__ = ("subscriptions",)
    SUBSCRIPTIONS_FIELD_NUMBER: _ClassVar[int]
    subscriptions: _containers.RepeatedCompositeFieldContainer[EventSubscription]
    def __init__(self, subscriptions: _Optional[_Iterable[_Union[EventSubscription, _Mapping]]] = ...) -> None: ...
