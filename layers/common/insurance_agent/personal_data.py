"""Personal data at rest, erasable: fields sealed under a per-customer data key (migration 0006).

The audit trail is append-only and hash-chained, so a person's data cannot be deleted from it.
Instead the personal fields of a row are stored sealed -- XChaCha20-Poly1305 (libsodium, through
PyNaCl) under a data key of the row's customer -- and the keys are kept outside the rows, in
``customer_keys``. Erasing a customer (``python -m ops erase``) destroys their keys: the rows,
and the hash chain over their ciphertext, stay as they were and keep verifying; the personal
fields cannot be read again.

Which fields are personal: ``PERSONAL_FIELDS``, matched by key anywhere in a row's payload or
result (the claim's description and loss location are a person's own words about an event in
their life; the other names are there for fields a model may add). Ids, amounts, dates, perils
and policy numbers stay readable: a regulator needs them to follow what the agents did, and they
identify nobody without the insurer's own records (which erasure handles in the system of record).

A sealed field is ``{"sealed_v1": {"key": "<key id>", "ct": "<base64 nonce|ciphertext>"}}``: a
JSON object, so no caller-supplied string (every personal field is a string in the models) can
pass for one. The associated data binds the ciphertext to its key and field name.

Data keys are wrapped at rest by a ``KeyWrapper``: AWS KMS in AWS (``AUDIT_KMS_KEY_ID``), an
key from the environment in development (``AUDIT_WRAPPING_KEY``), or not at all.

Round trips: a container caches its customers' unwrapped keys (bounded), so writing a row is one
statement; that statement inserts only while the key is still live (``KEY_IS_LIVE``), so a key
erased meanwhile is noticed on the next write, never used for new data. A customer's first row in
a container costs one more statement (two for a new customer) and one KMS call.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import threading
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol
from uuid import UUID

from uuid6 import uuid7

from insurance_agent.errors import ConfigurationError

if TYPE_CHECKING:
    import psycopg

    from insurance_agent.settings import Settings

PERSONAL_FIELDS = frozenset(
    {
        "description",
        "loss_location",
        "name",
        "full_name",
        "email",
        "phone",
        "address",
        "date_of_birth",
    }
)
SEALED = "sealed_v1"
ERASED = "[erased]"
UNKEYED = "[withheld: no customer to key it to]"
KEY_BYTES = 32
NONCE_BYTES = 24  # XChaCha20: random nonces are safe at this size

# Appended to the audit insert: the row goes in only while the key that sealed it is live.
KEY_IS_LIVE = (
    "EXISTS (SELECT 1 FROM customer_keys WHERE key_id = %(key_id)s::uuid AND erased_at IS NULL)"
)
LIVE_KEY_SQL = (
    "SELECT key_id, wrapped_key, wrapping FROM customer_keys "
    "WHERE customer_id = %s AND erased_at IS NULL"
)
NEW_KEY_SQL = """
INSERT INTO customer_keys (key_id, customer_id, wrapped_key, wrapping)
VALUES (%s, %s, %s, %s)
ON CONFLICT (customer_id) WHERE erased_at IS NULL DO NOTHING
RETURNING key_id
"""
KEYS_BY_ID_SQL = (
    "SELECT key_id, customer_id, wrapped_key, wrapping FROM customer_keys WHERE key_id = ANY(%s)"
)


class _Aead:
    """XChaCha20-Poly1305 (IETF) with a 256-bit key. libsodium through PyNaCl rather than the
    ``cryptography`` package: the same AEAD guarantees for ~1 MB of the layer instead of ~15 MB
    (the layer must stay within 30 MB unzipped). Failure to open raises ``SealBroken``."""

    def __init__(self, key: bytes) -> None:
        self._key = key

    def encrypt(self, nonce: bytes, plain: bytes, aad: bytes) -> bytes:
        from nacl.bindings import crypto_aead_xchacha20poly1305_ietf_encrypt

        return bytes(crypto_aead_xchacha20poly1305_ietf_encrypt(plain, aad, nonce, self._key))

    def decrypt(self, nonce: bytes, sealed: bytes, aad: bytes) -> bytes:
        from nacl.bindings import crypto_aead_xchacha20poly1305_ietf_decrypt
        from nacl.exceptions import CryptoError

        try:
            return bytes(crypto_aead_xchacha20poly1305_ietf_decrypt(sealed, aad, nonce, self._key))
        except CryptoError:
            raise SealBroken("a sealed value does not open with its key") from None


class SealBroken(ValueError):
    """A sealed value or wrapped key that does not open: altered, or another key's."""


def _aead(key: bytes) -> _Aead:
    # Imported on first use: only rows with personal fields pay for loading libsodium.
    return _Aead(key)


# -- wrapping the data keys -----------------------------------------------------------------


class KeyWrapper(Protocol):
    name: str

    def new_key(self, customer_id: str) -> tuple[bytes, bytes]:
        """A fresh data key: (plaintext, wrapped)."""

    def unwrap(self, wrapped: bytes, customer_id: str) -> bytes: ...


class NoWrapping:
    """Development without a wrapping key: the data key stored as is (erasure still works)."""

    name = "none"

    def new_key(self, customer_id: str) -> tuple[bytes, bytes]:
        key = os.urandom(KEY_BYTES)
        return key, key

    def unwrap(self, wrapped: bytes, customer_id: str) -> bytes:
        return bytes(wrapped)


class LocalWrapping:
    """An AEAD under a wrapping key from the environment (development, tests)."""

    name = "local"

    def __init__(self, wrapping_key: bytes) -> None:
        if len(wrapping_key) != KEY_BYTES:
            raise ConfigurationError("AUDIT_WRAPPING_KEY must be 32 bytes, base64-encoded")
        self._key = wrapping_key

    def new_key(self, customer_id: str) -> tuple[bytes, bytes]:
        key = os.urandom(KEY_BYTES)
        nonce = os.urandom(NONCE_BYTES)
        return key, nonce + _aead(self._key).encrypt(nonce, key, customer_id.encode())

    def unwrap(self, wrapped: bytes, customer_id: str) -> bytes:
        blob = bytes(wrapped)
        return bytes(
            _aead(self._key).decrypt(blob[:NONCE_BYTES], blob[NONCE_BYTES:], customer_id.encode())
        )


class KmsWrapping:
    """AWS KMS envelope encryption: GenerateDataKey and Decrypt under one KMS key, the customer
    in the encryption context (so a wrapped key only unwraps for its own customer, and
    CloudTrail shows whose key was used)."""

    name = "kms"

    def __init__(self, kms_key_id: str, region: str, client: Any = None) -> None:
        self._key_id = kms_key_id
        self._region = region
        self._client = client

    @property
    def client(self) -> Any:
        if self._client is None:
            import boto3  # the Lambda runtime's

            self._client = boto3.client("kms", region_name=self._region)
        return self._client

    @staticmethod
    def _context(customer_id: str) -> dict[str, str]:
        return {"purpose": "insurance-agent-customer-key", "customer_id": customer_id}

    def new_key(self, customer_id: str) -> tuple[bytes, bytes]:
        made = self.client.generate_data_key(
            KeyId=self._key_id, KeySpec="AES_256", EncryptionContext=self._context(customer_id)
        )
        return bytes(made["Plaintext"]), bytes(made["CiphertextBlob"])

    def unwrap(self, wrapped: bytes, customer_id: str) -> bytes:
        opened = self.client.decrypt(
            CiphertextBlob=bytes(wrapped),
            KeyId=self._key_id,
            EncryptionContext=self._context(customer_id),
        )
        return bytes(opened["Plaintext"])


def unwrap_with(wrapper: KeyWrapper, wrapping: str, wrapped: bytes, customer_id: str) -> bytes:
    """Unwrap a stored key: one stored unwrapped (made before a wrapping key was configured)
    opens anywhere; any other needs the wrapping it was made with."""
    if wrapping == NoWrapping.name:
        return NoWrapping().unwrap(wrapped, customer_id)
    if wrapping != wrapper.name:
        raise ConfigurationError(
            f"customer keys are wrapped with {wrapping!r}; this process has {wrapper.name!r}"
        )
    return wrapper.unwrap(wrapped, customer_id)


def wrapper_for(
    kms_key_id: str | None, wrapping_key: str | None, region: str = "us-east-1"
) -> KeyWrapper:
    if kms_key_id:
        return KmsWrapping(kms_key_id, region)
    if wrapping_key:
        try:
            raw = base64.b64decode(wrapping_key, validate=True)
        except binascii.Error:
            raise ConfigurationError("AUDIT_WRAPPING_KEY must be base64") from None
        return LocalWrapping(raw)
    return NoWrapping()


def wrapper_from_settings(settings: Settings) -> KeyWrapper:
    key = settings.audit_wrapping_key
    return wrapper_for(
        settings.audit_kms_key_id, key.get_secret_value() if key else None, settings.aws_region
    )


def wrapper_from_environment() -> KeyWrapper:
    """For the operator's tools, which read the same variables as the functions."""
    from insurance_agent.settings import from_environment

    env = from_environment(["audit_kms_key_id", "audit_wrapping_key", "aws_region"])
    return wrapper_for(
        env.get("audit_kms_key_id"),
        env.get("audit_wrapping_key"),
        env.get("aws_region", "us-east-1"),
    )


# -- sealing and opening fields ------------------------------------------------------------


@dataclass(frozen=True)
class DataKey:
    key_id: UUID
    key: bytes


def _aad(key_id: str, field: str) -> bytes:
    return f"{key_id}\n{field}".encode()


def seal_value(value: Any, field: str, key: DataKey) -> dict[str, Any]:
    nonce = os.urandom(NONCE_BYTES)
    plain = json.dumps(value, ensure_ascii=False).encode()
    sealed = nonce + _aead(key.key).encrypt(nonce, plain, _aad(str(key.key_id), field))
    return {SEALED: {"key": str(key.key_id), "ct": base64.b64encode(sealed).decode()}}


def has_personal_fields(value: Any) -> bool:
    # Asked of every audit row: plain loops that descend only into containers, rather than
    # a generator and a call per scalar.
    if isinstance(value, dict):
        for k, v in value.items():
            if k in PERSONAL_FIELDS and v is not None:
                return True
            if isinstance(v, dict | list) and has_personal_fields(v):
                return True
        return False
    if isinstance(value, list):
        for v in value:
            if isinstance(v, dict | list) and has_personal_fields(v):
                return True
    return False


def seal_personal(value: Any, key: DataKey | None) -> Any:
    """``value`` with every personal field sealed under ``key`` (withheld without one)."""
    if isinstance(value, dict):
        return {
            k: (
                (seal_value(v, k, key) if key is not None else UNKEYED)
                if k in PERSONAL_FIELDS and v is not None
                # Only containers can hold a personal field: no call per scalar.
                else seal_personal(v, key)
                if isinstance(v, dict | list)
                else v
            )
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [seal_personal(v, key) if isinstance(v, dict | list) else v for v in value]
    return value


def _sealed(value: Any) -> dict[str, str] | None:
    if isinstance(value, dict) and set(value) == {SEALED} and isinstance(value[SEALED], dict):
        inner: dict[str, str] = value[SEALED]
        return inner
    return None


def sealed_key_ids(value: Any) -> set[str]:
    if (sealed := _sealed(value)) is not None:
        return {sealed["key"]}
    if isinstance(value, dict):
        return set().union(*(sealed_key_ids(v) for v in value.values()))
    if isinstance(value, list):
        return set().union(*(sealed_key_ids(v) for v in value))
    return set()


def open_personal(value: Any, keys: dict[str, bytes | None], field: str = "") -> Any:
    """``value`` with sealed fields opened where ``keys`` holds their key, ``ERASED`` where the
    key is gone."""
    if (sealed := _sealed(value)) is not None:
        key = keys.get(sealed["key"])
        if key is None:
            return ERASED
        blob = base64.b64decode(sealed["ct"])
        plain = _aead(key).decrypt(
            blob[:NONCE_BYTES], blob[NONCE_BYTES:], _aad(sealed["key"], field)
        )
        return json.loads(plain)
    if isinstance(value, dict):
        return {k: open_personal(v, keys, k) for k, v in value.items()}
    if isinstance(value, list):
        return [open_personal(v, keys, field) for v in value]
    return value


def read_keys(
    conn: psycopg.Connection[Any], key_ids: Iterable[str], wrapper: KeyWrapper
) -> dict[str, bytes | None]:
    """The data keys of ``key_ids``, unwrapped; None for an erased (or unknown) key."""
    wanted = sorted(set(key_ids))
    found: dict[str, bytes | None] = dict.fromkeys(wanted)
    if not wanted:
        return found
    from psycopg.rows import tuple_row

    with conn.cursor(row_factory=tuple_row) as cursor:  # whatever rows ``conn`` makes
        rows = cursor.execute(KEYS_BY_ID_SQL, ([UUID(k) for k in wanted],)).fetchall()
    for key_id, customer_id, wrapped, wrapping in rows:
        if wrapped is None:
            continue
        found[str(key_id)] = unwrap_with(wrapper, wrapping, wrapped, customer_id)
    return found


def open_rows(
    conn: psycopg.Connection[Any],
    rows: list[dict[str, Any]],
    wrapper: KeyWrapper,
    columns: tuple[str, ...] = ("payload", "result"),
) -> list[dict[str, Any]]:
    """Rows read from ``agent_interactions`` with their personal fields opened (or erased)."""
    ids = set().union(*(sealed_key_ids(r.get(c)) for r in rows for c in columns)) if rows else set()
    keys = read_keys(conn, ids, wrapper)
    return [r | {c: open_personal(r.get(c), keys) for c in columns if c in r} for r in rows]


# -- the writer's keys -------------------------------------------------------------------------


class CustomerKeys:
    """A container's live data keys, by customer: read or created on first use, then cached."""

    def __init__(self, wrapper: KeyWrapper, *, cache_size: int = 256) -> None:
        self.wrapper = wrapper
        self._cache: OrderedDict[str, DataKey] = OrderedDict()
        self._size = cache_size
        self._lock = threading.Lock()

    def live_key(self, conn: psycopg.Connection[Any], customer_id: str) -> DataKey:
        with self._lock:
            cached = self._cache.get(customer_id)
            if cached is not None:
                self._cache.move_to_end(customer_id)
                return cached
        key = self._fetch(conn, customer_id)
        with self._lock:
            self._cache[customer_id] = key
            while len(self._cache) > self._size:
                self._cache.popitem(last=False)
        return key

    def forget(self, customer_id: str) -> None:
        """The key was erased: the next use reads (or makes) the customer's new one."""
        with self._lock:
            self._cache.pop(customer_id, None)

    def _fetch(self, conn: psycopg.Connection[Any], customer_id: str) -> DataKey:
        for _ in range(3):
            row = conn.execute(LIVE_KEY_SQL, (customer_id,)).fetchone()
            if row is not None:
                key_id, wrapped, wrapping = row
                return DataKey(key_id, unwrap_with(self.wrapper, wrapping, wrapped, customer_id))
            plain, wrapped = self.wrapper.new_key(customer_id)
            key_id = UUID(bytes=uuid7().bytes)
            made = conn.execute(
                NEW_KEY_SQL, (key_id, customer_id, wrapped, self.wrapper.name)
            ).fetchone()
            if made is not None:
                return DataKey(key_id, plain)
            # Another container made the customer's key first: read theirs.
        raise RuntimeError(f"no live key for customer {customer_id} after three attempts")
