"""forestd: a self-contained, Forest-compatible service (forest.v1 over gRPC).

Policies, release intents walking their pipeline, the external approval gate, plan stages with an
in-process runner, and the organisation event log, on SQLAlchemy (SQLite or PostgreSQL) with
core-NATS nudges, speaking Forest's wire format. `forest-bot forest serve` runs it.
"""
