"""Stubs generated from proto/forest/v1 (do not edit; run scripts/gen-protos)."""
