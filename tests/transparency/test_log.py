"""The sealer and proofs over a real PostgreSQL trail, checked by the offline verifier; and
every kind of tampering an administrator could do, caught by that verifier alone."""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path

import psycopg
import pytest
from insurance_agent.transparency import bundle as bundles
from insurance_agent.transparency import log
from insurance_agent.transparency.note import Checkpoint, VerifierKey, sign
from insurance_agent.transparency.signer import LocalEd25519Signer, verifier_key

from tests.transparency.conftest import ORIGIN, rewrite_history
from tests.trust.conftest import as_migrator


def _seal(url: str, signer: LocalEd25519Signer, **kw: object) -> log.SealResult:
    with psycopg.connect(url, autocommit=True) as conn:
        return log.seal(conn, signer, **kw)  # type: ignore[arg-type]


def _prove(url: str, **kw: object) -> dict:
    with psycopg.connect(url, autocommit=True) as conn:
        return log.prove(conn, **kw)  # type: ignore[arg-type]


def test_every_row_is_sealed_once_and_proves_offline(log_db, write_rows, signer):
    ids = write_rows(5)
    first = _seal(log_db, signer)
    assert first.appended == 5
    assert first.checkpoint is not None
    assert first.checkpoint.size == 5
    key = verifier_key(signer)
    for row_id in ids:
        found = bundles.verify_entry(_prove(log_db, row_id=row_id), key)
        assert found.row_id == str(row_id)
    # Nothing new: no new checkpoint, the same root.
    again = _seal(log_db, signer)
    assert again.appended == 0
    assert again.checkpoint == first.checkpoint
    more = write_rows(3, "conv-other")
    second = _seal(log_db, signer)
    assert second.appended == 3
    assert second.checkpoint.size == 8
    found = bundles.verify_entry(_prove(log_db, row_id=more[-1]), key)
    assert found.leaf_index == 7
    # An old bundle still verifies against its own checkpoint, and the new tree extends it.
    old = _prove(log_db, row_id=ids[0], tree_size=5)
    new = _prove(log_db, row_id=ids[0], consistency_from=5)
    bundles.verify_entry(old, key)
    old_cp, new_cp = bundles.verify_consistency(old, new, key)
    assert (old_cp.size, new_cp.size) == (5, 8)
    with psycopg.connect(log_db) as conn:
        leaves = conn.execute("SELECT count(*), count(DISTINCT row_id) FROM transparency_leaves")
        assert leaves.fetchone() == (8, 8)


def test_the_log_refuses_update_delete_and_truncate(log_db, write_rows, signer):
    write_rows(2)
    _seal(log_db, signer)
    for sql in (
        "UPDATE transparency_leaves SET leaf_hash = leaf_hash",
        "DELETE FROM transparency_checkpoints",
        "TRUNCATE transparency_leaves",
    ):
        with psycopg.connect(log_db) as conn, pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute(sql)


def test_a_late_row_inside_the_lookback_is_appended_later(log_db, write_rows, signer):
    write_rows(3)
    _seal(log_db, signer)
    # A row whose transaction began before the last seal but committed after it.
    late = write_rows(1)[0]
    as_migrator(
        log_db,
        "UPDATE agent_interactions SET created_at = created_at - interval '1 minute' WHERE id = %s",
        (late,),
    )
    # (the migrator's update changed created_at only; its row_hash is the chain's as written)
    result = _seal(log_db, signer)
    assert result.appended == 1
    assert _prove(log_db, row_id=late)["entry"]["leaf_index"] == 3


def test_the_cli_proves_and_verifies_offline(log_db, write_rows, key_file, run_ops, tmp_path):
    ids = write_rows(4)
    code, out = run_ops("seal", "--database-url", log_db)
    assert code == 0
    assert json.loads(out)["tree_size"] == 4
    code, key = run_ops("transparency-key")
    key = key.strip()
    assert code == 0
    assert VerifierKey.parse(key).name == ORIGIN
    code, out = run_ops("prove", "--row", str(ids[2]), "--database-url", log_db)
    assert code == 0
    proof_file = tmp_path / "row.json"
    proof_file.write_text(out)
    code, out = run_ops("verify-proof", str(proof_file), "--public-key", key)
    assert code == 0, out
    assert f"row {ids[2]} is leaf 2 of the tree of 4" in out
    # The archive's bare note is an "old checkpoint" too.
    old = tmp_path / "old.note"
    old.write_text(json.loads(proof_file.read_text())["checkpoint"])
    write_rows(2)
    run_ops("seal", "--database-url", log_db)
    code, out = run_ops("prove", "--consistency-from", "4", "--database-url", log_db)
    new = tmp_path / "new.json"
    new.write_text(out)
    key_path = tmp_path / "log.vkey"
    key_path.write_text(key + "\n")
    code, out = run_ops("verify-consistency", str(old), str(new), "--public-key", str(key_path))
    assert code == 0
    assert "the tree of 6 extends the tree of 4" in out
    # Offline means offline: a broken bundle fails with exit 1 and says why.
    tampered = json.loads(proof_file.read_text())
    tampered["entry"]["leaf_index"] = 1
    proof_file.write_text(json.dumps(tampered))
    code, out = run_ops("verify-proof", str(proof_file), "--public-key", key)
    assert code == 1
    assert out.startswith("FAILED")


def test_prove_of_an_unsealed_row_says_so(log_db, write_rows, key_file, run_ops):
    write_rows(1)
    run_ops("seal", "--database-url", log_db)
    late = write_rows(1)[0]
    code, _ = run_ops("prove", "--row", str(late), "--database-url", log_db)
    assert code == 1


# -- tampering ---------------------------------------------------------------------------


def test_a_row_edited_after_sealing_fails_verification(log_db, write_rows, signer):
    ids = write_rows(4)
    _seal(log_db, signer)
    key = verifier_key(signer)
    as_migrator(
        log_db,
        'UPDATE agent_interactions SET payload = \'{"policy_number": "POL-99999"}\' WHERE id = %s',
        (ids[1],),
    )
    with pytest.raises(bundles.VerificationError, match="edited"):
        bundles.verify_entry(_prove(log_db, row_id=ids[1]), key)
    # Edited with its chain hash recomputed too: the leaf no longer matches the signed tree.
    as_migrator(
        log_db,
        "UPDATE agent_interactions a SET row_hash = encode(sha256(convert_to("
        "a.prev_hash || agent_interactions_canonical_v2(a), 'UTF8')), 'hex') WHERE id = %s",
        (ids[1],),
    )
    with pytest.raises(bundles.VerificationError, match="inclusion proof"):
        bundles.verify_entry(_prove(log_db, row_id=ids[1]), key)
    # The other rows still verify.
    bundles.verify_entry(_prove(log_db, row_id=ids[0]), key)


def _held(url: str, row_id: object) -> dict:
    """What an outsider kept: a row's bundle from before the rewrite."""
    return _prove(url, row_id=row_id)


@pytest.mark.parametrize("kind", ["removed", "inserted", "reordered"])
def test_a_rewritten_history_is_caught_by_an_older_checkpoint(kind, log_db, write_rows, signer):
    ids = write_rows(6)
    _seal(log_db, signer)
    key = verifier_key(signer)
    held = _held(log_db, ids[4])
    if kind == "removed":
        statements = [("DELETE FROM agent_interactions WHERE id = %s", (ids[2],))]
    elif kind == "inserted":
        statements = [
            (
                "INSERT INTO agent_interactions SELECT (jsonb_populate_record(NULL::"
                "agent_interactions, to_jsonb(a) || jsonb_build_object('id', gen_random_uuid(),"
                " 'created_at', a.created_at + interval '1 microsecond',"
                " 'chain_key', 'conversation:conv-inserted', 'conversation_id', 'conv-inserted',"
                " 'chain_seq', 1))).* "
                "FROM agent_interactions a WHERE id = %s",
                (ids[2],),
            )
        ]
    else:
        statements = [
            (
                "UPDATE agent_interactions SET created_at = created_at + interval '1 hour'"
                " WHERE id = %s",
                (ids[1],),
            )
        ]
    rewrite_history(log_db, *statements)
    _seal(log_db, signer, full=True)
    current = _prove(log_db, consistency_from=6) if kind != "removed" else _prove(log_db)
    with pytest.raises(bundles.VerificationError):
        bundles.verify_consistency(held, current, key)
    # The held row's inclusion proof does not fit the rewritten tree either.
    held_against_new = dict(held, checkpoint=current["checkpoint"])
    with pytest.raises(bundles.VerificationError):
        bundles.verify_entry(held_against_new, key)


def test_a_checkpoint_resigned_with_another_key_fails(log_db, write_rows, signer):
    ids = write_rows(3)
    _seal(log_db, signer)
    key = verifier_key(signer)
    made = _prove(log_db, row_id=ids[0])
    body = made["checkpoint"][: made["checkpoint"].rfind("\n\n") + 1]
    impostor = LocalEd25519Signer.generate(ORIGIN)
    with pytest.raises(bundles.VerificationError, match="no signature by"):
        bundles.verify_entry(dict(made, checkpoint=sign(body, impostor)), key)
    # Another key's signature presented under our key's name and id: it does not verify.
    stamp = sign(body, impostor).rstrip("\n").rsplit(" ", 1)[1]
    forged_stamp = bundles.b64(key.key_id + base64.b64decode(stamp)[4:])
    forged = f"{body}\n\u2014 {ORIGIN} {forged_stamp}\n"
    with pytest.raises(bundles.VerificationError, match="does not verify"):
        bundles.verify_entry(dict(made, checkpoint=forged), key)
    # A root changed under the genuine signature.
    cp = Checkpoint.parse(body)
    other_root = Checkpoint(cp.origin, cp.size, hashlib.sha256(b"x").digest()).body()
    genuine_sig = made["checkpoint"][len(body) :]
    with pytest.raises(bundles.VerificationError, match="does not verify"):
        bundles.verify_entry(dict(made, checkpoint=other_root + genuine_sig), key)


def test_a_fork_two_signed_roots_for_one_size_is_caught(log_db, write_rows, signer):
    ids = write_rows(4)
    _seal(log_db, signer)
    key = verifier_key(signer)
    held = _held(log_db, ids[0])
    # The operator signs another tree of the same size (with its genuine key).
    rewrite_history(
        log_db,
        (
            "UPDATE agent_interactions SET created_at = created_at + interval '1 day'"
            " WHERE id = %s",
            (ids[0],),
        ),
    )
    _seal(log_db, signer, full=True)
    forked = _prove(log_db)
    assert Checkpoint.parse(forked["checkpoint"].split("\n\n")[0] + "\n").size == 4
    with pytest.raises(bundles.VerificationError, match="fork"):
        bundles.verify_consistency(held, forked, key)


def test_bundles_written_to_disk_verify_with_a_key_file(log_db, write_rows, signer, tmp_path):
    ids = write_rows(2)
    _seal(log_db, signer)
    path: Path = tmp_path / "vkey"
    path.write_text(str(verifier_key(signer)))
    from ops.prove import verify_proof

    bundle_path = tmp_path / "b.json"
    bundle_path.write_text(json.dumps(_prove(log_db, row_id=ids[1])))
    assert verify_proof(bundle_path, str(path))[0].startswith("OK")
