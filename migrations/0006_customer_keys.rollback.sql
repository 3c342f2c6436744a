-- Sealed fields written meanwhile stay sealed (and, without their keys, unreadable).
DROP INDEX idempotency_records_key;
ALTER TABLE idempotency_records DROP COLUMN key_id;
DROP TABLE customer_keys;
DROP FUNCTION public.customer_keys_erase_only();
-- The role itself is cluster-wide: other databases may still use it.
