"""Storage of the Forest-compatible service: models, engine, migrations."""
