"""`python -m ops prove | verify-proof | verify-consistency`: proofs an outsider checks.

`prove` reads the database; the two verifiers read only files and a public key (no database,
no AWS): hand an auditor this module's verifier, a bundle and the key, nothing else.
"""

from __future__ import annotations

import json
from pathlib import Path
from uuid import UUID

import psycopg
from insurance_agent.transparency import bundle as bundles
from insurance_agent.transparency import export, log
from insurance_agent.transparency.note import NoteError, VerifierKey


def prove(
    url: str,
    *,
    row_id: UUID | None,
    consistency_from: int | None = None,
    tree_size: int | None = None,
) -> str:
    with psycopg.connect(url, autocommit=True) as conn:
        made = log.prove(
            conn, row_id=row_id, consistency_from=consistency_from, tree_size=tree_size
        )
    return json.dumps(made, indent=2) + "\n"


def read_key(value: str) -> VerifierKey:
    """A verifier key given inline or as the path of a file holding it."""
    path = Path(value)
    text = path.read_text() if "+" not in value and path.exists() else value
    return VerifierKey.parse(text)


def verify_proof(bundle_path: Path, key_text: str) -> list[str]:
    """Lines to print; raises ``VerificationError`` (or ``NoteError``) when the proof fails."""
    key = read_key(key_text)
    found = bundles.verify_entry(bundles.load(bundle_path.read_text()), key)
    return [
        f"OK: row {found.row_id} is leaf {found.leaf_index} of the tree of "
        f"{found.checkpoint.size} signed by {key.name}+{key.key_id.hex()}",
        f"root {found.checkpoint.root_hash.hex()}",
    ]


def verify_consistency(old_path: Path, new_path: Path, key_text: str) -> list[str]:
    key = read_key(key_text)
    old = bundles.load(old_path.read_text())
    new = bundles.load(new_path.read_text())
    old_cp, new_cp = bundles.verify_consistency(old, new, key)
    return [
        f"OK: the tree of {new_cp.size} extends the tree of {old_cp.size} "
        f"(signed by {key.name}+{key.key_id.hex()})"
    ]


def verify_exports(paths: list[Path], key_text: str) -> list[str]:
    """Partition exports (``ops retire``), checked together so chains link across days."""
    key = read_key(key_text)
    return export.verify_export(paths, key).lines(key)


FAILURES = (bundles.VerificationError, NoteError)
