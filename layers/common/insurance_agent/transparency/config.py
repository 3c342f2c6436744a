"""The log's name and signing key, from the environment.

TRANSPARENCY_ORIGIN          the log's origin line and key name (default below)
TRANSPARENCY_KMS_KEY_ID      in AWS: the KMS Ed25519 key that signs checkpoints
TRANSPARENCY_SIGNING_KEY_FILE  in development: a file holding an Ed25519 seed in hex, made on
                             first use (default .local/transparency/ed25519.seed)
TRANSPARENCY_BUCKET          in AWS: the Object Lock bucket that receives each checkpoint
"""

from __future__ import annotations

import os
from pathlib import Path

from insurance_agent.errors import ConfigurationError
from insurance_agent.transparency.signer import KmsEd25519Signer, LocalEd25519Signer, Signer

DEFAULT_ORIGIN = "insurance-agent-api.local/audit"
DEFAULT_KEY_FILE = Path(".local/transparency/ed25519.seed")


def origin() -> str:
    return os.environ.get("TRANSPARENCY_ORIGIN") or DEFAULT_ORIGIN


def signer_from_environment() -> Signer:
    kms_key = os.environ.get("TRANSPARENCY_KMS_KEY_ID")
    if kms_key:
        return KmsEd25519Signer(origin(), kms_key, region=os.environ.get("AWS_REGION"))
    if os.environ.get("AWS_LAMBDA_FUNCTION_NAME"):
        # A key file in a Lambda container would be made afresh by every cold start.
        raise ConfigurationError("TRANSPARENCY_KMS_KEY_ID is required in AWS")
    path = Path(os.environ.get("TRANSPARENCY_SIGNING_KEY_FILE") or DEFAULT_KEY_FILE)
    return LocalEd25519Signer.from_file(origin(), path, create=True)


def bucket() -> str | None:
    return os.environ.get("TRANSPARENCY_BUCKET") or None
