"""A transparency log over the audit trail: an RFC 9162 Merkle tree of every audit row, signed
C2SP checkpoints, and proof bundles an outsider verifies offline (see docs/transparency.md).

``merkle``, ``note`` and ``bundle`` are pure (the offline verifier needs only them and
``cryptography``); ``log`` keeps the tree in PostgreSQL; ``signer`` and ``archive`` reach AWS
(KMS, S3) through boto3 imported on first use.
"""
