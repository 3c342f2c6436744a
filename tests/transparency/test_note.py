"""Signed notes and checkpoints against an implementation we did not write: the example of
Go's golang.org/x/mod/sumdb/note (its package documentation and note_test.go). Ed25519 is
deterministic, so our signer must reproduce Go's note byte for byte."""

from __future__ import annotations

import base64

import pytest
from insurance_agent.transparency.note import (
    Checkpoint,
    NoteError,
    VerifierKey,
    open_checkpoint,
    open_note,
    sign,
)
from insurance_agent.transparency.signer import LocalEd25519Signer, verifier_key

# Vector data from golang.org/x/mod/sumdb/note (doc.go example, note_test.go).
GO_SIGNER_KEY = "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz"
GO_VERIFIER_KEY = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
GO_TEXT = (
    "If you think cryptography is the answer to your problem,\n"
    "then you don't know what your problem is.\n"
)
GO_NOTE = (
    GO_TEXT + "\n\u2014 PeterNeumann "
    "x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n"
)


def go_signer() -> LocalEd25519Signer:
    raw = base64.b64decode(GO_SIGNER_KEY.split("+", 4)[4])
    assert raw[0] == 0x01
    return LocalEd25519Signer("PeterNeumann", raw[1:])


def test_our_signer_reproduces_gos_signed_note_and_key():
    signer = go_signer()
    assert str(verifier_key(signer)) == GO_VERIFIER_KEY
    assert sign(GO_TEXT, signer) == GO_NOTE


def test_gos_note_opens_with_gos_key_and_not_when_changed():
    key = VerifierKey.parse(GO_VERIFIER_KEY)
    assert open_note(GO_NOTE, key) == GO_TEXT
    with pytest.raises(NoteError, match="does not verify"):
        open_note(GO_NOTE.replace("cryptography", "cryptographY"), key)
    other = verifier_key(LocalEd25519Signer.generate("PeterNeumann"))
    with pytest.raises(NoteError, match="no signature by"):
        open_note(GO_NOTE, other)


def test_a_key_whose_base64_holds_a_plus_parses():
    # transparency-dev/formats note tests: the base64 of this key contains a '+'.
    key = VerifierKey.parse("TEST+7997405c+AQcC+FTVKf0jlTdHDY3rbevmnKxxPjigCXlVtGe6RIr6")
    assert key.name == "TEST"
    assert key.key_id.hex() == "7997405c"


@pytest.mark.parametrize(
    "bad",
    [
        "PeterNeumann+c74f20a4+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",  # wrong id
        "PeterNeumann+c74f20a3+AhQpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10T",  # wrong type
        "Peter Neumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",  # space
        "PeterNeumann+c74f20a3",
    ],
)
def test_malformed_verifier_keys_are_refused(bad):
    with pytest.raises(NoteError):
        VerifierKey.parse(bad)


def test_checkpoint_text_and_origin():
    signer = LocalEd25519Signer.generate("example.com/log")
    checkpoint = Checkpoint("example.com/log", 12, bytes(range(32)))
    body = checkpoint.body()
    assert body == ("example.com/log\n12\n" + base64.b64encode(bytes(range(32))).decode() + "\n")
    assert open_checkpoint(sign(body, signer), verifier_key(signer)) == checkpoint
    # A checkpoint of another log, signed by a key of this name: refused.
    stranger = LocalEd25519Signer("example.com/log", b"\x07" * 32)
    foreign = Checkpoint("example.com/other", 12, bytes(32)).body()
    with pytest.raises(NoteError, match="origin"):
        open_checkpoint(sign(foreign, stranger), verifier_key(stranger))
    for broken in ("example.com/log\n012\nAAAA\n", "example.com/log\n12\n", "x\n1\n!!!\n"):
        with pytest.raises(NoteError):
            Checkpoint.parse(broken)
