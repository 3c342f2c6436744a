"""The AWS side: checkpoints signed by a KMS Ed25519 key, archived under S3 Object Lock.

moto has no Ed25519 KMS keys (only RSA/ECDSA), so the KMS signer is checked against botocore's
Stubber: the calls are validated against the real KMS API model, and the stubbed signature is
a genuine Ed25519 signature the offline verifier checks. S3 Object Lock runs on moto."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import boto3
import botocore.exceptions
import psycopg
import pytest
from botocore.stub import Stubber
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from insurance_agent.transparency import bundle as bundles
from insurance_agent.transparency import log, merkle
from insurance_agent.transparency.archive import CheckpointArchive, object_key
from insurance_agent.transparency.note import Checkpoint, open_checkpoint
from insurance_agent.transparency.sealer import run_once
from insurance_agent.transparency.signer import KmsEd25519Signer, verifier_key
from moto import mock_aws

from tests.transparency.conftest import ORIGIN

KEY_ARN = "arn:aws:kms:us-east-1:123456789012:key/11111111-2222-3333-4444-555555555555"


class StubbedKms:
    """A KMS client whose answers come from a real Ed25519 key, checked call by call."""

    def __init__(self) -> None:
        self.private = Ed25519PrivateKey.generate()
        self.client = boto3.client(
            "kms", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x"
        )
        self.stubber = Stubber(self.client)
        self.stubber.add_response(
            "get_public_key",
            {
                "KeyId": KEY_ARN,
                "KeySpec": "ECC_NIST_EDWARDS25519",
                "KeyUsage": "SIGN_VERIFY",
                "PublicKey": self.private.public_key().public_bytes(
                    Encoding.DER, PublicFormat.SubjectPublicKeyInfo
                ),
                "SigningAlgorithms": ["ED25519_SHA_512", "ED25519_PH_SHA_512"],
            },
            {"KeyId": KEY_ARN},
        )

    def expect_sign(self, message: bytes) -> None:
        self.stubber.add_response(
            "sign",
            {
                "KeyId": KEY_ARN,
                "Signature": self.private.sign(message),
                "SigningAlgorithm": "ED25519_SHA_512",
            },
            {
                "KeyId": KEY_ARN,
                "Message": message,
                "MessageType": "RAW",
                "SigningAlgorithm": "ED25519_SHA_512",
            },
        )


def test_a_kms_signed_checkpoint_verifies_offline(log_db, write_rows):
    ids = write_rows(3)
    kms = StubbedKms()
    signer = KmsEd25519Signer(ORIGIN, KEY_ARN, client=kms.client)
    with kms.stubber:
        assert signer.public_key == kms.private.public_key().public_bytes(
            Encoding.Raw, PublicFormat.Raw
        )
        # What the sealer must sign, computed here from the rows themselves.
        with psycopg.connect(log_db) as conn:
            hashes = conn.execute(
                "SELECT row_hash FROM agent_interactions ORDER BY created_at, id"
            ).fetchall()
        tree = merkle.root([merkle.leaf_hash(bytes.fromhex(h)) for (h,) in hashes])
        kms.expect_sign(Checkpoint(ORIGIN, 3, tree).body().encode())
        with psycopg.connect(log_db, autocommit=True) as conn:
            result = log.seal(conn, signer)
        kms.stubber.assert_no_pending_responses()
    assert result.checkpoint is not None
    key = verifier_key(signer)
    with psycopg.connect(log_db, autocommit=True) as conn:
        made = log.prove(conn, row_id=ids[1])
    assert bundles.verify_entry(made, key).leaf_index == 1


def test_a_kms_key_that_is_not_ed25519_is_refused():
    kms = StubbedKms()
    kms.stubber = Stubber(kms.client)
    kms.stubber.add_response(
        "get_public_key",
        {"KeyId": KEY_ARN, "KeySpec": "ECC_NIST_P256", "PublicKey": b"\x30" * 91},
        {"KeyId": KEY_ARN},
    )
    with kms.stubber, pytest.raises(ValueError, match="not Ed25519"):
        _ = KmsEd25519Signer(ORIGIN, KEY_ARN, client=kms.client).public_key


@pytest.fixture
def locked_bucket(monkeypatch):
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
    }.items():
        monkeypatch.setenv(name, value)
    with mock_aws():
        s3 = boto3.client("s3", region_name="us-east-1")
        s3.create_bucket(Bucket="checkpoints", ObjectLockEnabledForBucket=True)
        s3.put_object_lock_configuration(
            Bucket="checkpoints",
            ObjectLockConfiguration={
                "ObjectLockEnabled": "Enabled",
                "Rule": {"DefaultRetention": {"Mode": "COMPLIANCE", "Days": 400}},
            },
        )
        yield s3


def test_each_checkpoint_is_archived_once_under_compliance_lock(
    log_db, write_rows, signer, locked_bucket
):
    archive = CheckpointArchive("checkpoints", client=locked_bucket)
    write_rows(2)
    with psycopg.connect(log_db, autocommit=True) as conn:
        first = run_once(conn, signer, archive=archive)
        again = run_once(conn, signer, archive=archive)  # nothing new, already archived
    assert first.archived == object_key(2)
    assert again.archived is None
    head = locked_bucket.head_object(Bucket="checkpoints", Key=object_key(2))
    assert head["ObjectLockMode"] == "COMPLIANCE"
    assert head["ObjectLockRetainUntilDate"] > datetime.now(UTC) + timedelta(days=399)
    note = archive.get(2)
    assert open_checkpoint(note, verifier_key(signer)).size == 2
    # Compliance mode: the archived version cannot be deleted, not even by its owner.
    with pytest.raises(botocore.exceptions.ClientError):
        locked_bucket.delete_object(
            Bucket="checkpoints", Key=object_key(2), VersionId=head["VersionId"]
        )


def test_a_checkpoint_committed_but_not_archived_is_archived_by_the_next_run(
    log_db, write_rows, signer, locked_bucket
):
    write_rows(1)
    with psycopg.connect(log_db, autocommit=True) as conn:
        run_once(conn, signer, archive=None)  # the run that died before its copy
        report = run_once(
            conn, signer, archive=CheckpointArchive("checkpoints", client=locked_bucket)
        )
    assert report.appended == 0
    assert report.archived == object_key(1)
