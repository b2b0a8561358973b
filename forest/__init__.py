"""Generated forest.v1 protobuf/gRPC stubs live in forest.v1."""
