"""Our RFC 9162 tree against hashes we did not compute: the RFC 6962 test vectors published
with Certificate Transparency.

Vector data copied from google/certificate-transparency, python/ct/crypto/merkle_test.py
(commit 4bfca4952a090a76a0755fb0ddc6d288088b83ed: TreeHasherTest, MerkleVerifierTest, "lifted
from the C++ branch"), and the inclusion paths with leaf indices from transparency-dev/merkle's
Go tests (the same eight-leaf tree). Only the data is copied; the code under test is ours.
"""

from __future__ import annotations

import hashlib
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from insurance_agent.transparency import merkle

H = bytes.fromhex

EMPTY_ROOT = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
LEAVES = [
    b"",
    b"\x00",
    b"\x10",
    b"\x20\x21",
    b"\x30\x31",
    b"\x40\x41\x42\x43",
    b"\x50\x51\x52\x53\x54\x55\x56\x57",
    b"\x60\x61\x62\x63\x64\x65\x66\x67\x68\x69\x6a\x6b\x6c\x6d\x6e\x6f",
]
# Root of the tree of the first 1..8 leaves.
ROOTS = [
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
]
LEAF_HASHES = [
    ("", "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"),
    (
        "101112131415161718191a1b1c1d1e1f",
        "3bfb960453ebaebf33727da7a1f4db38acc051d381b6da20d6d4e88f0eabfd7a",
    ),
]
NODE = (
    "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f",
    "202122232425262728292a2b2c2d2e2f303132333435363738393a3b3c3d3e3f",
    "1a378704c17da31e2d05b6d121c2bb2c7d76f6ee6fa8f983e596c2d034963c57",
)
# (leaf index, tree size, path)
INCLUSION = [
    (0, 1, []),
    (0, 2, ["96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7"]),
    (1, 2, ["6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"]),
    (2, 3, ["fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"]),
    (
        1,
        5,
        [
            "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        ],
    ),
    (
        0,
        8,
        [
            "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
        ],
    ),
    (
        5,
        8,
        [
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ],
    ),
]
# (old size, new size, proof)
CONSISTENCY = [
    (1, 1, []),
    (
        1,
        8,
        [
            "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
        ],
    ),
    (
        6,
        8,
        [
            "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ],
    ),
    (
        2,
        5,
        [
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        ],
    ),
]
# A real CT log's audit path: leaf 848049 of a tree of 3630887 (MerkleVerifierTest).
CT_LEAF_HASH = "7a395c866d5ecdb0cccb623e011dbc392cd348d1d1d72776174e127a24b09c78"
CT_LEAF_INDEX, CT_TREE_SIZE = 848049, 3630887
CT_ROOT = "78316a05c9bcf14a3a4548f5b854a9adfcd46a4c034401b3ce7eb7ac2f1d0ecb"
CT_PATH = [
    "1a208aeebcd1b39fe2de247ee8db9454e1e93a312d206b87f6ca9cc6ec6f1ddd",
    "0a1b78b383f580856f433c01a5741e160d451c185910027f6cc9f828687a40c4",
    "3d1745789bc63f2da15850de1c12a5bf46ed81e1cc90f086148b1662e79aab3d",
    "9095b61e14d8990acf390905621e62b1714fb8e399fbb71de5510e0aef45affe",
    "0a332b91b8fab564e6afd1dd452449e04619b18accc0ff9aa8393cd4928451f2",
    "2336f0181d264aed6d8f3a6507ca14a8d3b3c3a23791ac263e845d208c1ee330",
    "b4ce56e300590500360c146c6452edbede25d4ed83919278749ee5dbe178e048",
    "933f6ddc848ea562e4f9c5cfb5f176941301dad0c6fdb9d1fbbe34fac1be6966",
    "b95a6222958a86f74c030be27c44f57dbe313e5e7c7f4ffb98bcbd3a03bb52f2",
    "daeeb3ce5923defd0faeb8e0c210b753b85b809445d7d3d3cd537a9aabaa9c45",
    "7fadd0a13e9138a2aa6c3fdec4e2275af233b94812784f66bcca9aa8e989f2bc",
    "1864e6ba3e32878610546539734fb5eeae2529991f130c575c73a7e25a2a7c56",
    "12842d1202b1dc6828a17ab253c02e7ce9409b5192430feba44189f39cc02d66",
    "29af64b16fa3053c13d02ac63aa75b23aa468506e44c3a2315edc85d2dc22b11",
    "b527b99934a0bd9edd154e449b0502e2c499bba783f3bc3dfe23364b6b532009",
    "4584db8ae8e351ace08e01f306378a92bfd43611714814f3d834a2842d69faa8",
    "86a9a41573b0d6e4292f01e93243d6cc65b30f06606fc6fa57390e7e90ed580f",
    "a88b98fbe84d4c6aae8db9d1605dfac059d9f03fe0fcb0d5dff1295dacba09e6",
    "06326dc617a6d1f7021dc536026dbfd5fffc6f7c5531d48ef6ccd1ed1569f2a1",
    "f41fe8fdc3a2e4e8345e30216e7ebecffee26ff266eeced208a6c2a3cf08f960",
    "40cf5bde8abb76983f3e98ba97aa36240402975674e120f234b3448911090f8d",
    "b3222dc8658538079883d980d7fdc2bef9285344ea34338968f736b04aeb387a",
]

HASHED = [merkle.leaf_hash(d) for d in LEAVES]


def test_empty_leaf_and_node_hashes():
    assert merkle.root([]).hex() == EMPTY_ROOT
    for data, want in LEAF_HASHES:
        assert merkle.leaf_hash(H(data)).hex() == want
    assert merkle.node_hash(H(NODE[0]), H(NODE[1])).hex() == NODE[2]


@pytest.mark.parametrize("size", range(1, 9))
def test_roots_of_every_prefix(size):
    assert merkle.root(HASHED[:size]).hex() == ROOTS[size - 1]
    frontier = merkle.Frontier()
    for h in HASHED[:size]:
        frontier.append(h)
    frontier.check()
    assert frontier.root().hex() == ROOTS[size - 1]


@pytest.mark.parametrize(("index", "size", "path"), INCLUSION)
def test_inclusion_proofs(index, size, path):
    assert [h.hex() for h in merkle.inclusion_proof(HASHED[:size], index)] == path
    merkle.verify_inclusion(HASHED[index], index, size, [H(p) for p in path], H(ROOTS[size - 1]))


@pytest.mark.parametrize(("old", "new", "path"), CONSISTENCY)
def test_consistency_proofs(old, new, path):
    assert [h.hex() for h in merkle.consistency_proof(HASHED[:new], old)] == path
    merkle.verify_consistency(old, new, H(ROOTS[old - 1]), H(ROOTS[new - 1]), [H(p) for p in path])


def test_a_real_ct_logs_audit_path_verifies():
    path = [H(p) for p in CT_PATH]
    merkle.verify_inclusion(H(CT_LEAF_HASH), CT_LEAF_INDEX, CT_TREE_SIZE, path, H(CT_ROOT))
    with pytest.raises(merkle.ProofError):
        merkle.verify_inclusion(H(CT_LEAF_HASH), CT_LEAF_INDEX + 1, CT_TREE_SIZE, path, H(CT_ROOT))
    with pytest.raises(merkle.ProofError):
        merkle.verify_inclusion(H(CT_LEAF_HASH), CT_LEAF_INDEX, CT_TREE_SIZE, path[:-1], H(CT_ROOT))


def test_the_vectors_own_failure_cases_fail():
    r6, r8 = H(ROOTS[5]), H(ROOTS[7])
    proof = [H(p) for p in CONSISTENCY[2][2]]
    flipped = bytes([r8[0] ^ 1]) + r8[1:]
    for args in [
        (6, 8, r6, flipped, proof),  # bad second hash
        (6, 8, bytes([r6[0] ^ 1]) + r6[1:], r8, proof),  # bad first hash
        (6, 8, r6, r8, proof[:2]),  # proof too short
        (6, 8, r6, r8, [*proof, proof[0]]),  # too long
        (3, 3, H(ROOTS[0]), H(ROOTS[2]), []),  # same size, different roots: a fork
        (5, 2, H(ROOTS[4]), H(ROOTS[1]), proof),  # newer is smaller
    ]:
        with pytest.raises(merkle.ProofError):
            merkle.verify_consistency(*args)
    with pytest.raises(merkle.ProofError):
        merkle.verify_inclusion(HASHED[0], 0, 4, [H("00" * 32)] * 3, H(ROOTS[3]))


def _tree(n: int, seed: int) -> list[bytes]:
    rng = random.Random(seed)
    return [merkle.leaf_hash(rng.randbytes(rng.randrange(0, 40))) for _ in range(n)]


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 70), st.data())
def test_every_proof_we_make_verifies_and_no_other_leaf_passes(n, data):
    leaves = _tree(n, n)
    root = merkle.root(leaves)
    i = data.draw(st.integers(0, n - 1))
    proof = merkle.inclusion_proof(leaves, i)
    merkle.verify_inclusion(leaves[i], i, n, proof, root)
    other = data.draw(st.integers(0, n - 1).filter(lambda j: j != i)) if n > 1 else None
    if other is not None and leaves[other] != leaves[i]:
        with pytest.raises(merkle.ProofError):
            merkle.verify_inclusion(leaves[other], i, n, proof, root)
    m = data.draw(st.integers(0, n))
    proof_m = merkle.consistency_proof(leaves, m)
    merkle.verify_consistency(m, n, merkle.root(leaves[:m]), root, proof_m)
    if 0 < m < n:
        forged = list(leaves[:m])
        forged[data.draw(st.integers(0, m - 1))] = hashlib.sha256(b"forged").digest()
        with pytest.raises(merkle.ProofError):
            merkle.verify_consistency(m, n, merkle.root(forged), root, proof_m)
