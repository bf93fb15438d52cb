-- min-server: 23.8
-- Migration 004: billing records name their change detector for what it is.
--
-- 003 called the column content_sha256; the digest written there is now a 106-bit
-- non-cryptographic hash (reconcile/billing.ts): it only tells a re-run whether a record's content
-- changed, and computing SHA-256 over a million records cost more than the rest of the write.
-- A stored value from before stays valid as "different from any new digest", so an unexported
-- record is rewritten once at its version and an exported one gets a new version: the same rule
-- as any other change. IF EXISTS keeps the rename idempotent.
ALTER TABLE {db}.billing_record RENAME COLUMN IF EXISTS content_sha256 TO content_digest;
ALTER TABLE {db}.billing_export RENAME COLUMN IF EXISTS content_sha256 TO content_digest;
