import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class OAuthProvider(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    OAUTH_PROVIDER_UNSPECIFIED: _ClassVar[OAuthProvider]
    OAUTH_PROVIDER_GITHUB: _ClassVar[OAuthProvider]
    OAUTH_PROVIDER_GOOGLE: _ClassVar[OAuthProvider]
    OAUTH_PROVIDER_GITLAB: _ClassVar[OAuthProvider]
    OAUTH_PROVIDER_MICROSOFT: _ClassVar[OAuthProvider]
    OAUTH_PROVIDER_MAGIC_LINK: _ClassVar[OAuthProvider]

class DeviceLoginStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    DEVICE_LOGIN_STATUS_UNSPECIFIED: _ClassVar[DeviceLoginStatus]
    DEVICE_LOGIN_STATUS_PENDING: _ClassVar[DeviceLoginStatus]
    DEVICE_LOGIN_STATUS_APPROVED: _ClassVar[DeviceLoginStatus]
    DEVICE_LOGIN_STATUS_DENIED: _ClassVar[DeviceLoginStatus]
    DEVICE_LOGIN_STATUS_EXPIRED: _ClassVar[DeviceLoginStatus]
    DEVICE_LOGIN_STATUS_SLOW_DOWN: _ClassVar[DeviceLoginStatus]
OAUTH_PROVIDER_UNSPECIFIED: OAuthProvider
OAUTH_PROVIDER_GITHUB: OAuthProvider
OAUTH_PROVIDER_GOOGLE: OAuthProvider
OAUTH_PROVIDER_GITLAB: OAuthProvider
OAUTH_PROVIDER_MICROSOFT: OAuthProvider
OAUTH_PROVIDER_MAGIC_LINK: OAuthProvider
DEVICE_LOGIN_STATUS_UNSPECIFIED: DeviceLoginStatus
DEVICE_LOGIN_STATUS_PENDING: DeviceLoginStatus
DEVICE_LOGIN_STATUS_APPROVED: DeviceLoginStatus
DEVICE_LOGIN_STATUS_DENIED: DeviceLoginStatus
DEVICE_LOGIN_STATUS_EXPIRED: DeviceLoginStatus
DEVICE_LOGIN_STATUS_SLOW_DOWN: DeviceLoginStatus

class User(_message.Message):
    __slots__ = ("user_id", "username", "emails", "oauth_connections", "mfa_enabled", "created_at", "updated_at", "profile_picture_url")
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    USERNAME_FIELD_NUMBER: _ClassVar[int]
    EMAILS_FIELD_NUMBER: _ClassVar[int]
    OAUTH_CONNECTIONS_FIELD_NUMBER: _ClassVar[int]
    MFA_ENABLED_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    UPDATED_AT_FIELD_NUMBER: _ClassVar[int]
    PROFILE_PICTURE_URL_FIELD_NUMBER: _ClassVar[int]
    user_id: str
    username: str
    emails: _containers.RepeatedCompositeFieldContainer[UserEmail]
    oauth_connections: _containers.RepeatedCompositeFieldContainer[OAuthConnection]
    mfa_enabled: bool
    created_at: _timestamp_pb2.Timestamp
    updated_at: _timestamp_pb2.Timestamp
    profile_picture_url: str
    def __init__(self, user_id: _Optional[str] = ..., username: _Optional[str] = ..., emails: _Optional[_Iterable[_Union[UserEmail, _Mapping]]] = ..., oauth_connections: _Optional[_Iterable[_Union[OAuthConnection, _Mapping]]] = ..., mfa_enabled: _Optional[bool] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., updated_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., profile_picture_url: _Optional[str] = ...) -> None: ...

class UserEmail(_message.Message):
    __slots__ = ("email", "verified")
    EMAIL_FIELD_NUMBER: _ClassVar[int]
    VERIFIED_FIELD_NUMBER: _ClassVar[int]
    email: str
    verified: bool
    def __init__(self, email: _Optional[str] = ..., verified: _Optional[bool] = ...) -> None: ...

class OAuthConnection(_message.Message):
    __slots__ = ("provider", "provider_user_id", "provider_email", "linked_at", "provider_display_name", "provider_data_json")
    PROVIDER_FIELD_NUMBER: _ClassVar[int]
    PROVIDER_USER_ID_FIELD_NUMBER: _ClassVar[int]
    PROVIDER_EMAIL_FIELD_NUMBER: _ClassVar[int]
    LINKED_AT_FIELD_NUMBER: _ClassVar[int]
    PROVIDER_DISPLAY_NAME_FIELD_NUMBER: _ClassVar[int]
    PROVIDER_DATA_JSON_FIELD_NUMBER: _ClassVar[int]
    provider: OAuthProvider
    provider_user_id: str
    provider_email: str
    linked_at: _timestamp_pb2.Timestamp
    provider_display_name: str
    provider_data_json: str
    def __init__(self, provider: _Optional[_Union[OAuthProvider, str]] = ..., provider_user_id: _Optional[str] = ..., provider_email: _Optional[str] = ..., linked_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., provider_display_name: _Optional[str] = ..., provider_data_json: _Optional[str] = ...) -> None: ...

class RefreshTokenRequest(_message.Message):
    __slots__ = ("refresh_token",)
    REFRESH_TOKEN_FIELD_NUMBER: _ClassVar[int]
    refresh_token: str
    def __init__(self, refresh_token: _Optional[str] = ...) -> None: ...

class RefreshTokenResponse(_message.Message):
    __slots__ = ("tokens",)
    TOKENS_FIELD_NUMBER: _ClassVar[int]
    tokens: AuthTokens
    def __init__(self, tokens: _Optional[_Union[AuthTokens, _Mapping]] = ...) -> None: ...

class AuthTokens(_message.Message):
    __slots__ = ("access_token", "refresh_token", "expires_in_seconds")
    ACCESS_TOKEN_FIELD_NUMBER: _ClassVar[int]
    REFRESH_TOKEN_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_IN_SECONDS_FIELD_NUMBER: _ClassVar[int]
    access_token: str
    refresh_token: str
    expires_in_seconds: int
    def __init__(self, access_token: _Optional[str] = ..., refresh_token: _Optional[str] = ..., expires_in_seconds: _Optional[int] = ...) -> None: ...

class GetUserRequest(_message.Message):
    __slots__ = ("user_id", "username", "email")
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    USERNAME_FIELD_NUMBER: _ClassVar[int]
    EMAIL_FIELD_NUMBER: _ClassVar[int]
    user_id: str
    username: str
    email: str
    def __init__(self, user_id: _Optional[str] = ..., username: _Optional[str] = ..., email: _Optional[str] = ...) -> None: ...

class GetUserResponse(_message.Message):
    __slots__ = ("user",)
    USER_FIELD_NUMBER: _ClassVar[int]
    user: User
    def __init__(self, user: _Optional[_Union[User, _Mapping]] = ...) -> None: ...

class TokenInfoRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class TokenInfoResponse(_message.Message):
    __slots__ = ("user_id", "expires_at")
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_AT_FIELD_NUMBER: _ClassVar[int]
    user_id: str
    expires_at: int
    def __init__(self, user_id: _Optional[str] = ..., expires_at: _Optional[int] = ...) -> None: ...

class PersonalAccessToken(_message.Message):
    __slots__ = ("token_id", "name", "scopes", "expires_at", "last_used", "created_at")
    TOKEN_ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    SCOPES_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_AT_FIELD_NUMBER: _ClassVar[int]
    LAST_USED_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    token_id: str
    name: str
    scopes: _containers.RepeatedScalarFieldContainer[str]
    expires_at: _timestamp_pb2.Timestamp
    last_used: _timestamp_pb2.Timestamp
    created_at: _timestamp_pb2.Timestamp
    def __init__(self, token_id: _Optional[str] = ..., name: _Optional[str] = ..., scopes: _Optional[_Iterable[str]] = ..., expires_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., last_used: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class CreatePersonalAccessTokenRequest(_message.Message):
    __slots__ = ("user_id", "name", "scopes", "expires_in_seconds")
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    SCOPES_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_IN_SECONDS_FIELD_NUMBER: _ClassVar[int]
    user_id: str
    name: str
    scopes: _containers.RepeatedScalarFieldContainer[str]
    expires_in_seconds: int
    def __init__(self, user_id: _Optional[str] = ..., name: _Optional[str] = ..., scopes: _Optional[_Iterable[str]] = ..., expires_in_seconds: _Optional[int] = ...) -> None: ...

class CreatePersonalAccessTokenResponse(_message.Message):
    __slots__ = ("token", "raw_token")
    TOKEN_FIELD_NUMBER: _ClassVar[int]
    RAW_TOKEN_FIELD_NUMBER: _ClassVar[int]
    token: PersonalAccessToken
    raw_token: str
    def __init__(self, token: _Optional[_Union[PersonalAccessToken, _Mapping]] = ..., raw_token: _Optional[str] = ...) -> None: ...

class ListPersonalAccessTokensRequest(_message.Message):
    __slots__ = ("user_id",)
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    user_id: str
    def __init__(self, user_id: _Optional[str] = ...) -> None: ...

class ListPersonalAccessTokensResponse(_message.Message):
    __slots__ = ("tokens",)
    TOKENS_FIELD_NUMBER: _ClassVar[int]
    tokens: _containers.RepeatedCompositeFieldContainer[PersonalAccessToken]
    def __init__(self, tokens: _Optional[_Iterable[_Union[PersonalAccessToken, _Mapping]]] = ...) -> None: ...

class DeletePersonalAccessTokenRequest(_message.Message):
    __slots__ = ("token_id",)
    TOKEN_ID_FIELD_NUMBER: _ClassVar[int]
    token_id: str
    def __init__(self, token_id: _Optional[str] = ...) -> None: ...

class DeletePersonalAccessTokenResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class InitiateDeviceLoginRequest(_message.Message):
    __slots__ = ("client_name", "client_version", "scopes")
    CLIENT_NAME_FIELD_NUMBER: _ClassVar[int]
    CLIENT_VERSION_FIELD_NUMBER: _ClassVar[int]
    SCOPES_FIELD_NUMBER: _ClassVar[int]
    client_name: str
    client_version: str
    scopes: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, client_name: _Optional[str] = ..., client_version: _Optional[str] = ..., scopes: _Optional[_Iterable[str]] = ...) -> None: ...

class InitiateDeviceLoginResponse(_message.Message):
    __slots__ = ("device_code", "user_code", "verification_uri", "verification_uri_complete", "expires_in_seconds", "interval_seconds")
    DEVICE_CODE_FIELD_NUMBER: _ClassVar[int]
    USER_CODE_FIELD_NUMBER: _ClassVar[int]
    VERIFICATION_URI_FIELD_NUMBER: _ClassVar[int]
    VERIFICATION_URI_COMPLETE_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_IN_SECONDS_FIELD_NUMBER: _ClassVar[int]
    INTERVAL_SECONDS_FIELD_NUMBER: _ClassVar[int]
    device_code: str
    user_code: str
    verification_uri: str
    verification_uri_complete: str
    expires_in_seconds: int
    interval_seconds: int
    def __init__(self, device_code: _Optional[str] = ..., user_code: _Optional[str] = ..., verification_uri: _Optional[str] = ..., verification_uri_complete: _Optional[str] = ..., expires_in_seconds: _Optional[int] = ..., interval_seconds: _Optional[int] = ...) -> None: ...

class PollDeviceLoginRequest(_message.Message):
    __slots__ = ("device_code",)
    DEVICE_CODE_FIELD_NUMBER: _ClassVar[int]
    device_code: str
    def __init__(self, device_code: _Optional[str] = ...) -> None: ...

class PollDeviceLoginResponse(_message.Message):
    __slots__ = ("status", "user", "tokens")
    STATUS_FIELD_NUMBER: _ClassVar[int]
    USER_FIELD_NUMBER: _ClassVar[int]
    TOKENS_FIELD_NUMBER: _ClassVar[int]
    status: DeviceLoginStatus
    user: User
    tokens: AuthTokens
    def __init__(self, status: _Optional[_Union[DeviceLoginStatus, str]] = ..., user: _Optional[_Union[User, _Mapping]] = ..., tokens: _Optional[_Union[AuthTokens, _Mapping]] = ...) -> None: ...

class ApproveDeviceLoginRequest(_message.Message):
    __slots__ = ("user_code", "user_id", "approving_ip", "approving_user_agent")
    USER_CODE_FIELD_NUMBER: _ClassVar[int]
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    APPROVING_IP_FIELD_NUMBER: _ClassVar[int]
    APPROVING_USER_AGENT_FIELD_NUMBER: _ClassVar[int]
    user_code: str
    user_id: str
    approving_ip: str
    approving_user_agent: str
    def __init__(self, user_code: _Optional[str] = ..., user_id: _Optional[str] = ..., approving_ip: _Optional[str] = ..., approving_user_agent: _Optional[str] = ...) -> None: ...

class ApproveDeviceLoginResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class DenyDeviceLoginRequest(_message.Message):
    __slots__ = ("user_code", "user_id")
    USER_CODE_FIELD_NUMBER: _ClassVar[int]
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    user_code: str
    user_id: str
    def __init__(self, user_code: _Optional[str] = ..., user_id: _Optional[str] = ...) -> None: ...

class DenyDeviceLoginResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...
