"""Proof bundles: what ``ops prove`` prints and ``ops verify-proof`` checks with only a public key.

A bundle is JSON: the signed checkpoint (a C2SP signed note), and optionally one audit row's
entry (its canonical bytes, its leaf index, the inclusion proof) and a consistency proof from
an older tree size. Leaf data is the row's ``row_hash`` (32 bytes): the hash the database's
chain already computes as ``SHA-256(prev_hash || canonical content)``, whose preimage the entry
carries as ``canonical``. So the verifier checks, with nothing but the bundle and the key:
the note's signature and origin, ``SHA-256(canonical) == row_hash``, that the canonical content
names the row, and that ``leaf_hash(row_hash)`` at ``leaf_index`` leads to the signed root.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from dataclasses import dataclass
from typing import Any

from insurance_agent.transparency import merkle
from insurance_agent.transparency.note import Checkpoint, NoteError, VerifierKey, open_checkpoint

FORMAT = "insurance-agent-api/transparency-proof/v1"
CHAIN_HASH_HEX = 64  # the canonical bytes start with prev_hash in hex


class VerificationError(ValueError):
    """The bundle does not prove what it claims: tampering, a wrong key, or a broken bundle."""


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def unb64(text: Any, what: str) -> bytes:
    if not isinstance(text, str):
        raise VerificationError(f"{what} is not a base64 string")
    try:
        return base64.b64decode(text, validate=True)
    except binascii.Error:
        raise VerificationError(f"{what} is not base64") from None


def leaf_data(row_hash_hex: str) -> bytes:
    """The tree's leaf for a row: its chain hash as 32 raw bytes."""
    data = bytes.fromhex(row_hash_hex)
    if len(data) != 32:
        raise ValueError("a row hash is 32 bytes")
    return data


def fields(text: str, count: int) -> list[str | None]:
    """The first ``count`` length-prefixed fields of canonical content (``~`` is NULL,
    ``<characters>:<value>`` a value), as the database's ``agent_interactions_field`` writes."""
    found: list[str | None] = []
    at = 0
    while len(found) < count and at < len(text):
        if text[at] == "~":
            found.append(None)
            at += 1
            continue
        length, colon, _ = text[at : at + 12].partition(":")
        if not colon or not length.isdigit():
            raise VerificationError("the canonical bytes are not length-prefixed fields")
        start = at + len(length) + 1
        found.append(text[start : start + int(length)])
        at = start + int(length)
    return found


def _named_rows(canonical: bytes) -> set[str]:
    """The row id the canonical bytes name: content version 1 (migration 0003) opens with it;
    version 2 (migration 0005) opens with the version ("2") and the chain position, then it."""
    try:
        text = canonical.decode()
    except UnicodeDecodeError:
        raise VerificationError("the canonical bytes are not UTF-8") from None
    first = fields(text[CHAIN_HASH_HEX:], 3)
    named = {first[0]} if first else set()
    if len(first) == 3 and first[0] == "2":
        named.add(first[2])
    return {n for n in named if n is not None}


def make_bundle(
    checkpoint_note: str,
    *,
    entry: dict[str, Any] | None = None,
    consistency: dict[str, Any] | None = None,
) -> dict[str, Any]:
    bundle: dict[str, Any] = {"format": FORMAT, "checkpoint": checkpoint_note}
    if entry is not None:
        bundle["entry"] = entry
    if consistency is not None:
        bundle["consistency"] = consistency
    return bundle


@dataclass(frozen=True)
class VerifiedEntry:
    row_id: str
    leaf_index: int
    row_hash: str
    checkpoint: Checkpoint


def load(text: str) -> dict[str, Any]:
    """A bundle, or a bare signed checkpoint note (what the S3 archive holds)."""
    stripped = text.lstrip()
    if not stripped.startswith("{"):
        return make_bundle(text)
    try:
        bundle = json.loads(text)
    except json.JSONDecodeError as exc:
        raise VerificationError(f"the bundle is not JSON: {exc.msg}") from None
    if not isinstance(bundle, dict) or bundle.get("format") != FORMAT:
        raise VerificationError(f"not a {FORMAT} bundle")
    if not isinstance(bundle.get("checkpoint"), str):
        raise VerificationError("the bundle has no checkpoint")
    return bundle


def checkpoint_of(bundle: dict[str, Any], key: VerifierKey) -> Checkpoint:
    try:
        return open_checkpoint(bundle["checkpoint"], key)
    except NoteError as exc:
        raise VerificationError(f"checkpoint: {exc}") from None


def verify_entry(bundle: dict[str, Any], key: VerifierKey) -> VerifiedEntry:
    """The row's place in the signed tree; ``VerificationError`` if anything fails."""
    return check_entry(bundle.get("entry"), checkpoint_of(bundle, key))


def check_entry(entry: Any, checkpoint: Checkpoint) -> VerifiedEntry:
    """One entry against a checkpoint whose signature was checked already."""
    if not isinstance(entry, dict):
        raise VerificationError("the bundle proves no row (no entry)")
    row_id, index, row_hash = entry.get("row_id"), entry.get("leaf_index"), entry.get("row_hash")
    if not isinstance(row_id, str) or not isinstance(row_hash, str):
        raise VerificationError("the entry has no row_id or row_hash")
    if not isinstance(index, int) or isinstance(index, bool):
        raise VerificationError("the entry's leaf_index is not an integer")
    canonical = unb64(entry.get("canonical"), "the entry's canonical bytes")
    if hashlib.sha256(canonical).hexdigest() != row_hash:
        raise VerificationError("the row's canonical bytes do not hash to its row_hash: edited")
    if row_id not in _named_rows(canonical):
        raise VerificationError(f"the canonical bytes are not those of row {row_id}")
    proof = entry.get("inclusion_proof")
    if not isinstance(proof, list):
        raise VerificationError("the entry has no inclusion_proof")
    hashes = [unb64(p, "an inclusion proof hash") for p in proof]
    try:
        merkle.verify_inclusion(
            merkle.leaf_hash(leaf_data(row_hash)),
            index,
            checkpoint.size,
            hashes,
            checkpoint.root_hash,
        )
    except (merkle.ProofError, ValueError) as exc:
        raise VerificationError(f"row {row_id} at leaf {index}: {exc}") from None
    return VerifiedEntry(row_id, index, row_hash, checkpoint)


def verify_consistency(
    old: dict[str, Any], new: dict[str, Any], key: VerifierKey
) -> tuple[Checkpoint, Checkpoint]:
    """Both checkpoints signed by ``key`` and the newer tree an extension of the older one:
    same size means same root (else a fork), a larger size needs the newer bundle's
    consistency proof from the older size."""
    old_cp, new_cp = checkpoint_of(old, key), checkpoint_of(new, key)
    proof: list[bytes] = []
    if old_cp.size != new_cp.size:
        if new_cp.size < old_cp.size:
            raise VerificationError(
                f"the newer checkpoint ({new_cp.size}) is smaller than the older ({old_cp.size})"
            )
        consistency = new.get("consistency")
        if not isinstance(consistency, dict) or consistency.get("old_size") != old_cp.size:
            raise VerificationError(
                f"the newer bundle carries no consistency proof from size {old_cp.size}: "
                f"ops prove --consistency-from {old_cp.size}"
            )
        raw = consistency.get("proof")
        if not isinstance(raw, list):
            raise VerificationError("the consistency proof is not a list")
        proof = [unb64(p, "a consistency proof hash") for p in raw]
    try:
        merkle.verify_consistency(
            old_cp.size, new_cp.size, old_cp.root_hash, new_cp.root_hash, proof
        )
    except merkle.ProofError as exc:
        raise VerificationError(f"checkpoints {old_cp.size} -> {new_cp.size}: {exc}") from None
    return old_cp, new_cp
