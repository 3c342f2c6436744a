"""Local development and test tooling: Postgres discovery, migrations, a Lambda-like loader,
the local HTTP API on :3000, and `make run`. None of it is deployed."""

import warnings

# pgserver asks platformdirs for a runtime directory when imported; without XDG_RUNTIME_DIR
# (root shells, CI, containers) platformdirs warns on every start and falls back to
# /tmp/runtime-<uid>, which serves. The warning tells a newcomer nothing they can act on.
warnings.filterwarnings("ignore", message="XDG_RUNTIME_DIR is not set")
