"""Our compiled forest.v1 descriptors match Forest's wire contract, field by field."""

from __future__ import annotations

import pytest
from google.protobuf import descriptor_pool
from google.protobuf.descriptor import Descriptor, FieldDescriptor

import forest.v1.events_pb2
import forest.v1.organisations_pb2
import forest.v1.policies_pb2
import forest.v1.release_pipelines_pb2
import forest.v1.releases_pb2
import forest.v1.runner_pb2
import forest.v1.users_pb2  # noqa: F401  (registers the descriptors in the default pool)

from .forest_v1_contract import ENUMS, MESSAGES, SERVICES

POOL = descriptor_pool.Default()
SCALARS = {
    "string": FieldDescriptor.TYPE_STRING,
    "int32": FieldDescriptor.TYPE_INT32,
    "int64": FieldDescriptor.TYPE_INT64,
    "uint64": FieldDescriptor.TYPE_UINT64,
    "bool": FieldDescriptor.TYPE_BOOL,
}


def _qualified(name: str) -> str:
    return name if "." in name else f"forest.v1.{name}"


def _describe(field: FieldDescriptor) -> str:
    """Render a compiled field in the contract table's notation."""
    if field.message_type is not None and field.message_type.GetOptions().map_entry:
        key, value = field.message_type.fields_by_name["key"], field.message_type.fields_by_name[
            "value"
        ]
        names = {v: k for k, v in SCALARS.items()}
        return f"{field.name} {field.number} map<{names[key.type]},{names[value.type]}>"
    if field.message_type is not None:
        type_name = field.message_type.full_name
    elif field.enum_type is not None:
        type_name = field.enum_type.full_name
    else:
        type_name = {v: k for k, v in SCALARS.items()}[field.type]
    type_name = type_name.removeprefix("forest.v1.")
    label = ""
    if field.is_repeated:
        label = " rep"
    elif field.containing_oneof is not None:
        label = (
            " opt"
            if field.containing_oneof.name == f"_{field.name}"  # proto3 optional = synthetic oneof
            else f" oneof:{field.containing_oneof.name}"
        )
    return f"{field.name} {field.number} {type_name}{label}"


def _message(name: str) -> Descriptor:
    return POOL.FindMessageTypeByName(_qualified(name))


@pytest.mark.parametrize("name", sorted(MESSAGES))
def test_message_fields_match_contract(name: str) -> None:
    described = sorted(_describe(f) for f in _message(name).fields)
    assert described == sorted(MESSAGES[name])


def test_proto3_optional_is_a_real_optional_not_a_oneof() -> None:
    # A proto3 `optional` must compile to a synthetic oneof (has-presence), exactly as Forest's.
    comment = _message("ExternalApprovalDecisionEntry").fields_by_name["comment"]
    assert comment.has_presence
    assert comment.containing_oneof is not None and comment.containing_oneof.name == "_comment"


@pytest.mark.parametrize("name", sorted(ENUMS))
def test_enum_values_match_contract(name: str) -> None:
    enum = POOL.FindEnumTypeByName(_qualified(name))
    assert {v.name: v.number for v in enum.values} == ENUMS[name]


@pytest.mark.parametrize("service", sorted(SERVICES))
def test_service_methods_match_contract(service: str) -> None:
    compiled = POOL.FindServiceByName(_qualified(service))
    rendered = set()
    for method in compiled.methods:
        server_stream = "stream " if method.server_streaming else ""
        client_stream = "stream " if method.client_streaming else ""
        rendered.add(
            f"{method.name} {client_stream}{method.input_type.full_name.removeprefix('forest.v1.')}"
            f" -> {server_stream}{method.output_type.full_name.removeprefix('forest.v1.')}"
        )
    expected = set(SERVICES[service])
    assert expected <= rendered, f"missing or different: {sorted(expected - rendered)}"


def test_every_service_lives_in_package_forest_v1() -> None:
    for service in SERVICES:
        assert POOL.FindServiceByName(f"forest.v1.{service}").file.package == "forest.v1"


def test_rpc_paths_are_forests() -> None:
    from forest.v1 import policies_pb2_grpc

    class Recorder:
        def __init__(self) -> None:
            self.paths: list[str] = []

        def unary_unary(self, path: str, **_: object) -> None:
            self.paths.append(path)

    recorder = Recorder()
    policies_pb2_grpc.PolicyServiceStub(recorder)
    assert "/forest.v1.PolicyService/ExternalApproveRelease" in recorder.paths


def test_a_message_encoded_by_field_numbers_decodes_as_forest_sent_it() -> None:
    # Hand-encoded bytes as Forest would put them on the wire: field 2 (string) = intent id,
    # field 3 (string) = env, field 5 (varint) = force_bypass true.
    from forest.v1 import policies_pb2

    wire = b"\x12\x03abc" + b"\x1a\x0aproduction" + b"\x28\x01"
    request = policies_pb2.ExternalApproveReleaseRequest.FromString(wire)
    assert request.release_intent_id == "abc"
    assert request.target_environment == "production"
    assert request.force_bypass is True
    assert not request.HasField("comment")
