"""RFC 9162 (RFC 6962) Merkle tree hashes, inclusion and consistency proofs.

Hashes are SHA-256 with the RFC's domain separation: a leaf is ``SHA-256(0x00 || data)``, an
interior node ``SHA-256(0x01 || left || right)``, the empty tree ``SHA-256()``. The tree over
``n`` leaves splits at the largest power of two below ``n``, so it only ever grows on the
right: that is what lets a consistency proof show that an old tree is a prefix of a new one.

Proof generation here works from the list of leaf hashes (``O(n)`` hashing per proof); the
verifiers (``verify_inclusion``, ``verify_consistency``) are the RFC's iterative algorithms,
``O(log n)``, and need nothing but the proof, the sizes and the roots.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

HASH_SIZE = 32
EMPTY_ROOT = hashlib.sha256(b"").digest()


class ProofError(ValueError):
    """A proof that does not prove what it claims."""


def leaf_hash(data: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def _split(n: int) -> int:
    """The largest power of two strictly below ``n`` (``n`` >= 2)."""
    return 1 << ((n - 1).bit_length() - 1)


def root(leaves: Sequence[bytes]) -> bytes:
    """MTH over leaf hashes (not leaf data)."""
    n = len(leaves)
    if n == 0:
        return EMPTY_ROOT
    if n == 1:
        return leaves[0]
    k = _split(n)
    return node_hash(root(leaves[:k]), root(leaves[k:]))


def inclusion_proof(leaves: Sequence[bytes], index: int) -> list[bytes]:
    """PATH(index, D[n]) over leaf hashes, ``n = len(leaves)``."""
    if not 0 <= index < len(leaves):
        raise ValueError(f"leaf {index} is not in a tree of {len(leaves)}")
    return _path(leaves, index)


def _path(leaves: Sequence[bytes], m: int) -> list[bytes]:
    n = len(leaves)
    if n == 1:
        return []
    k = _split(n)
    if m < k:
        return [*_path(leaves[:k], m), root(leaves[k:])]
    return [*_path(leaves[k:], m - k), root(leaves[:k])]


def inclusion_proofs(leaves: Sequence[bytes], indexes: Iterable[int]) -> dict[int, list[bytes]]:
    """PATH(m, D[n]) for many ``m`` at once: each subtree's hash is computed once and kept, so
    proving every leaf of an export costs O(n + k log n) hashes, not k times O(n)."""
    n = len(leaves)
    subtree: dict[tuple[int, int], bytes] = {}

    def mth(lo: int, hi: int) -> bytes:
        found = subtree.get((lo, hi))
        if found is None:
            if hi - lo == 1:
                found = leaves[lo]
            else:
                k = _split(hi - lo)
                found = node_hash(mth(lo, lo + k), mth(lo + k, hi))
            subtree[(lo, hi)] = found
        return found

    proofs: dict[int, list[bytes]] = {}
    for m in indexes:
        if not 0 <= m < n:
            raise ValueError(f"leaf {m} is not in a tree of {n}")
        lo, hi, path = 0, n, []
        while hi - lo > 1:
            k = _split(hi - lo)
            if m < lo + k:
                path.append(mth(lo + k, hi))
                hi = lo + k
            else:
                path.append(mth(lo, lo + k))
                lo += k
        path.reverse()  # the leaf's sibling first, as PATH orders it
        proofs[m] = path
    return proofs


def consistency_proof(leaves: Sequence[bytes], old_size: int) -> list[bytes]:
    """PROOF(old_size, D[n]): shows the tree of ``old_size`` leaves is a prefix of this one."""
    n = len(leaves)
    if not 0 <= old_size <= n:
        raise ValueError(f"no tree of {old_size} inside a tree of {n}")
    if old_size in (0, n):
        return []
    return _subproof(leaves, old_size, complete=True)


def _subproof(leaves: Sequence[bytes], m: int, *, complete: bool) -> list[bytes]:
    n = len(leaves)
    if m == n:
        return [] if complete else [root(leaves)]
    k = _split(n)
    if m <= k:
        return [*_subproof(leaves[:k], m, complete=complete), root(leaves[k:])]
    return [*_subproof(leaves[k:], m - k, complete=False), root(leaves[:k])]


def root_from_inclusion(hashed_leaf: bytes, index: int, size: int, proof: Sequence[bytes]) -> bytes:
    """The root an inclusion proof leads to (RFC 9162 section 2.1.3.2)."""
    if not 0 <= index < size:
        raise ProofError(f"leaf {index} cannot be in a tree of {size}")
    fn, sn, r = index, size - 1, hashed_leaf
    for p in proof:
        _check_hash(p)
        if sn == 0:
            raise ProofError("inclusion proof is too long")
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise ProofError("inclusion proof is too short")
    return r


def verify_inclusion(
    hashed_leaf: bytes, index: int, size: int, proof: Sequence[bytes], expected_root: bytes
) -> None:
    """Raises ``ProofError`` unless the leaf is at ``index`` in the tree of that root."""
    if root_from_inclusion(hashed_leaf, index, size, proof) != expected_root:
        raise ProofError("inclusion proof does not lead to the checkpoint's root")


def verify_consistency(
    old_size: int, new_size: int, old_root: bytes, new_root: bytes, proof: Sequence[bytes]
) -> None:
    """Raises ``ProofError`` unless the tree of ``old_root`` is a prefix of the tree of
    ``new_root`` (RFC 9162 section 2.1.4.2)."""
    if old_size < 0 or new_size < old_size:
        raise ProofError(f"a tree of {new_size} cannot extend a tree of {old_size}")
    if old_size == new_size:
        if proof:
            raise ProofError("trees of one size need an empty proof")
        if old_root != new_root:
            raise ProofError(f"two different roots for a tree of {old_size}: a fork")
        return
    if old_size == 0:
        if proof:
            raise ProofError("the empty tree needs an empty proof")
        return
    if not proof:
        raise ProofError("consistency proof is empty")
    for c in proof:
        _check_hash(c)
    path = list(proof)
    if old_size & (old_size - 1) == 0:  # an exact power of two: the old root is a node
        path.insert(0, old_root)
    fn, sn = old_size - 1, new_size - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            raise ProofError("consistency proof is too long")
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise ProofError("consistency proof is too short")
    if fr != old_root:
        raise ProofError("consistency proof does not lead to the old root")
    if sr != new_root:
        raise ProofError("consistency proof does not lead to the new root")


def _check_hash(value: bytes) -> None:
    if len(value) != HASH_SIZE:
        raise ProofError(f"a proof hash has {len(value)} bytes, not {HASH_SIZE}")


@dataclass
class Frontier:
    """The right edge of a tree: the roots of its perfect subtrees, largest first.

    Enough to append leaves and compute the new root without reading old leaves; at most
    ``log2(n) + 1`` hashes, so the sealer keeps it with each checkpoint.
    """

    size: int = 0
    nodes: list[bytes] = field(default_factory=list)

    def append(self, hashed_leaf: bytes) -> None:
        self.nodes.append(hashed_leaf)
        self.size += 1
        # Two subtrees of equal size merge once per trailing zero bit of the new size.
        merges = (self.size & -self.size).bit_length() - 1
        for _ in range(merges):
            right = self.nodes.pop()
            left = self.nodes.pop()
            self.nodes.append(node_hash(left, right))

    def root(self) -> bytes:
        if not self.nodes:
            return EMPTY_ROOT
        r = self.nodes[-1]
        for left in reversed(self.nodes[:-1]):
            r = node_hash(left, r)
        return r

    def check(self) -> None:
        if len(self.nodes) != self.size.bit_count() or any(len(h) != HASH_SIZE for h in self.nodes):
            raise ValueError(f"not the frontier of a tree of {self.size}")
