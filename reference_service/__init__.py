"""Reference insurance service: the upstream system of record for development and tests.

A real FastAPI service with its own schema in PostgreSQL, Bearer API key auth, seeded data,
claims that persist, idempotent claim filing, and an admin surface (enabled only in dev and
tests) for fault injection and connection counting.
"""
