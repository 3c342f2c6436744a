"""C2SP ``tlog-checkpoint`` bodies and C2SP ``signed-note`` signatures (Ed25519).

A checkpoint body is three lines, each ending in a newline: the log's origin, the tree size in
decimal, the root hash in standard base64 (optional extension lines may follow). A signed note
is that text, a blank line, and signature lines ``— <key name> <base64(key id || sig)>`` where
the key id is the first four bytes of ``SHA-256(key name || 0x0A || 0x01 || public key)`` for
Ed25519 (signature type 0x01) and the signature covers the text including its final newline.
A verifier key is shared as ``<key name>+<hex key id>+<base64(0x01 || public key)>``, the form
Go's ``golang.org/x/mod/sumdb/note`` reads.

Verification imports ``cryptography`` on first use; signing goes through ``signer.Signer``.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from insurance_agent.transparency.signer import Signer

ED25519 = 0x01
SIGNATURE_PREFIX = "\u2014 "  # em dash, space
MAX_SIGNATURES = 100
# A key name is non-empty UTF-8 without spaces or '+'.
_NAME = re.compile(r"^[^\s+]+$")


class NoteError(ValueError):
    """A note or checkpoint that is malformed or whose signature does not verify."""


def key_id(name: str, public_key: bytes) -> bytes:
    return hashlib.sha256(name.encode() + b"\n" + bytes([ED25519]) + public_key).digest()[:4]


@dataclass(frozen=True)
class VerifierKey:
    name: str
    public_key: bytes  # 32 raw Ed25519 bytes

    @property
    def key_id(self) -> bytes:
        return key_id(self.name, self.public_key)

    def __str__(self) -> str:
        encoded = base64.b64encode(bytes([ED25519]) + self.public_key).decode()
        return f"{self.name}+{self.key_id.hex()}+{encoded}"

    @classmethod
    def parse(cls, text: str) -> VerifierKey:
        name, sep1, rest = text.strip().partition("+")
        hex_id, sep2, encoded = rest.partition("+")
        if not (sep1 and sep2 and _NAME.match(name)):
            raise NoteError("a verifier key reads <name>+<hex key id>+<base64 key>")
        try:
            raw = base64.b64decode(encoded, validate=True)
            wanted_id = bytes.fromhex(hex_id)
        except (binascii.Error, ValueError):
            raise NoteError("the verifier key's id or key is not hex/base64") from None
        if len(raw) != 33 or raw[0] != ED25519:
            raise NoteError("only Ed25519 verifier keys (type 0x01, 32 bytes) are supported")
        key = cls(name, raw[1:])
        if key.key_id != wanted_id:
            raise NoteError("the verifier key's id does not match its name and key")
        return key

    def verify(self, message: bytes, signature: bytes) -> bool:
        from cryptography.exceptions import InvalidSignature
        from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

        try:
            Ed25519PublicKey.from_public_bytes(self.public_key).verify(signature, message)
        except InvalidSignature:
            return False
        return True


@dataclass(frozen=True)
class Checkpoint:
    origin: str
    size: int
    root_hash: bytes
    extensions: tuple[str, ...] = ()

    def body(self) -> str:
        lines = [self.origin, str(self.size), base64.b64encode(self.root_hash).decode()]
        return "".join(f"{line}\n" for line in (*lines, *self.extensions))

    @classmethod
    def parse(cls, body: str) -> Checkpoint:
        if not body.endswith("\n"):
            raise NoteError("a checkpoint ends with a newline")
        lines = body[:-1].split("\n")
        if len(lines) < 3 or not lines[0] or any(not line for line in lines):
            raise NoteError("a checkpoint has an origin, a size and a root hash line")
        origin, size_text, root_text, *extensions = lines
        if not re.fullmatch(r"0|[1-9][0-9]*", size_text):
            raise NoteError("the checkpoint's tree size is not a decimal number")
        try:
            root_hash = base64.b64decode(root_text, validate=True)
        except binascii.Error:
            raise NoteError("the checkpoint's root hash is not base64") from None
        if len(root_hash) != 32:
            raise NoteError("the checkpoint's root hash is not 32 bytes")
        return cls(origin, int(size_text), root_hash, tuple(extensions))


def sign(text: str, signer: Signer) -> str:
    """``text`` as a signed note with one signature line by ``signer``."""
    if not text.endswith("\n") or "\n\n" in text:
        raise NoteError("a note's text ends with one newline and has no blank line")
    if not _NAME.match(signer.name):
        raise NoteError(f"bad key name {signer.name!r}")
    signature = signer.sign(text.encode())
    stamp = base64.b64encode(key_id(signer.name, signer.public_key) + signature).decode()
    return f"{text}\n{SIGNATURE_PREFIX}{signer.name} {stamp}\n"


def open_note(note: str, key: VerifierKey) -> str:
    """The note's text if ``key`` signed it; ``NoteError`` otherwise.

    Lines by other keys are ignored (a note may carry a witness's cosignature); a line by this
    key's name and id whose signature fails rejects the whole note, as Go's ``note.Open`` does.
    """
    split = note.rfind("\n\n")
    if split < 0 or not note.endswith("\n"):
        raise NoteError("not a signed note: no blank line before the signatures")
    text, signature_block = note[: split + 1], note[split + 2 :]
    lines = signature_block[:-1].split("\n")
    if len(lines) > MAX_SIGNATURES:
        raise NoteError("too many signatures")
    found = False
    for line in lines:
        if not line.startswith(SIGNATURE_PREFIX):
            raise NoteError("a signature line starts with an em dash and a space")
        name, _, stamp = line[len(SIGNATURE_PREFIX) :].partition(" ")
        try:
            raw = base64.b64decode(stamp, validate=True)
        except binascii.Error:
            raise NoteError("a signature is not base64") from None
        if len(raw) < 5:
            raise NoteError("a signature is too short")
        if name != key.name or raw[:4] != key.key_id:
            continue
        if not key.verify(text.encode(), raw[4:]):
            raise NoteError(f"the signature by {key.name} does not verify")
        found = True
        break
    if not found:
        raise NoteError(f"the note carries no signature by {key.name}+{key.key_id.hex()}")
    return text


def open_checkpoint(note: str, key: VerifierKey) -> Checkpoint:
    """A checkpoint signed by ``key`` whose origin is the key's name."""
    checkpoint = Checkpoint.parse(open_note(note, key))
    if checkpoint.origin != key.name:
        raise NoteError(f"the checkpoint's origin {checkpoint.origin!r} is not {key.name!r}")
    return checkpoint
