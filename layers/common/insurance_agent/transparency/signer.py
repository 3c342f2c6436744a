"""Who signs checkpoints: a local Ed25519 key in development, an AWS KMS key in AWS.

Both sign pure Ed25519 (RFC 8032) over the note text, so a checkpoint signed by KMS is a
standard ``signed-note`` any C2SP verifier reads. KMS has had Ed25519 keys since 2025
(key spec ``ECC_NIST_EDWARDS25519``, algorithm ``ED25519_SHA_512`` with ``MessageType=RAW``);
one Sign call per checkpoint, never per row, keeps well within KMS request quotas.
boto3 and cryptography are imported only by the signer that needs them.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Protocol

from insurance_agent.transparency.note import VerifierKey

# DER SubjectPublicKeyInfo of an Ed25519 key (RFC 8410): this prefix, then the 32 key bytes.
_ED25519_SPKI_PREFIX = bytes.fromhex("302a300506032b6570032100")
KMS_KEY_SPEC = "ECC_NIST_EDWARDS25519"
KMS_SIGNING_ALGORITHM = "ED25519_SHA_512"


class Signer(Protocol):
    @property
    def name(self) -> str:
        """The key name: the log's origin."""

    @property
    def public_key(self) -> bytes:
        """32 raw Ed25519 bytes."""

    def sign(self, message: bytes) -> bytes:
        """A 64-byte Ed25519 signature of ``message``."""


def verifier_key(signer: Signer) -> VerifierKey:
    return VerifierKey(signer.name, signer.public_key)


class LocalEd25519Signer:
    """An Ed25519 key held in memory (development, tests)."""

    def __init__(self, name: str, seed: bytes) -> None:
        from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
        from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

        if len(seed) != 32:
            raise ValueError("an Ed25519 seed is 32 bytes")
        self._name = name
        self._key = Ed25519PrivateKey.from_private_bytes(seed)
        self._public = self._key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)

    @classmethod
    def generate(cls, name: str) -> LocalEd25519Signer:
        return cls(name, os.urandom(32))

    @classmethod
    def from_file(cls, name: str, path: Path, *, create: bool = False) -> LocalEd25519Signer:
        """The seed kept in ``path`` (hex); with ``create``, a new one written there if absent."""
        if create and not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as f:
                f.write(os.urandom(32).hex() + "\n")
        return cls(name, bytes.fromhex(path.read_text().strip()))

    @property
    def name(self) -> str:
        return self._name

    @property
    def public_key(self) -> bytes:
        return self._public

    def sign(self, message: bytes) -> bytes:
        return self._key.sign(message)


class KmsEd25519Signer:
    """An AWS KMS asymmetric key (``ECC_NIST_EDWARDS25519``, usage ``SIGN_VERIFY``)."""

    def __init__(self, name: str, key_id: str, *, client: Any = None, region: str | None = None):
        self._name = name
        self._key_id = key_id
        if client is None:
            import boto3

            client = boto3.client("kms", region_name=region)
        self._client = client
        self._public: bytes | None = None

    @property
    def name(self) -> str:
        return self._name

    @property
    def public_key(self) -> bytes:
        if self._public is None:
            answer = self._client.get_public_key(KeyId=self._key_id)
            if answer.get("KeySpec") != KMS_KEY_SPEC:
                raise ValueError(f"KMS key {self._key_id} is {answer.get('KeySpec')}, not Ed25519")
            der = bytes(answer["PublicKey"])
            if len(der) != 44 or not der.startswith(_ED25519_SPKI_PREFIX):
                raise ValueError(f"KMS key {self._key_id} has no Ed25519 public key")
            self._public = der[len(_ED25519_SPKI_PREFIX) :]
        return self._public

    def sign(self, message: bytes) -> bytes:
        answer = self._client.sign(
            KeyId=self._key_id,
            Message=message,
            MessageType="RAW",
            SigningAlgorithm=KMS_SIGNING_ALGORITHM,
        )
        signature = bytes(answer["Signature"])
        if len(signature) != 64:
            raise ValueError("KMS returned a signature that is not Ed25519")
        return signature
