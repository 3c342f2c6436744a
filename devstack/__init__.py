"""Local development and test tooling: Postgres discovery, migrations, a Lambda-like loader,
the local HTTP API on :3000, and `make run`. None of it is deployed."""
