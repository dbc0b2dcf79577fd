-- Up Migration

-- Document metadata sealed with the tenant's data key, like title and text (AES-256-GCM, the
-- tenant id as associated data): the sealed JSON object of the document's metadata. Additive:
-- a row written before keeps its clear `metadata` (and no `metadata_enc`) until the document is
-- next written; from then on the gateway keeps `metadata` empty. The key lives outside the
-- database, so the rows already there cannot be sealed here.
ALTER TABLE documents ADD COLUMN metadata_enc bytea;

-- Down Migration
ALTER TABLE documents DROP COLUMN IF EXISTS metadata_enc;
