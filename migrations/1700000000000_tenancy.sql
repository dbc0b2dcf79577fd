-- Up Migration

-- The tenant registry. Operators reach their MSP's rows through app.msp_id; a tenant's own
-- callers may read (never change) their tenant's row through app.tenant_id.
CREATE TABLE tenants (
  id             text PRIMARY KEY CONSTRAINT tenants_id_format CHECK (id ~ '^[a-z0-9][a-z0-9-]{2,62}$'),
  msp_id         text NOT NULL CHECK (msp_id ~ '^[a-z0-9][a-z0-9-]{2,62}$'),
  name           text NOT NULL CHECK (char_length(name) BETWEEN 1 AND 200),
  status         text NOT NULL DEFAULT 'provisioning'
                 CHECK (status IN ('provisioning', 'active', 'suspended', 'deleting')),
  quotas         jsonb NOT NULL DEFAULT '{}'::jsonb CHECK (jsonb_typeof(quotas) = 'object'),
  retention_days integer NOT NULL DEFAULT 2190 CHECK (retention_days BETWEEN 1 AND 36500),
  pii            text NOT NULL DEFAULT 'redact' CHECK (pii IN ('off', 'redact', 'pseudonymize')),
  pii_patterns   jsonb NOT NULL DEFAULT '[]'::jsonb CHECK (jsonb_typeof(pii_patterns) = 'array'),
  created_at     timestamptz NOT NULL DEFAULT now(),
  updated_at     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX tenants_by_msp ON tenants (msp_id, id);

-- Each tenant's data key, wrapped (AES-256-GCM) by the master key. Destroying the row makes
-- whatever the tenant left encrypted elsewhere unreadable.
CREATE TABLE tenant_keys (
  tenant_id   text NOT NULL,
  version     integer NOT NULL DEFAULT 1,
  wrapped_key bytea NOT NULL,
  created_at  timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, version)
);

-- Bumped on every document change; part of every response-cache key.
CREATE TABLE corpus_versions (
  tenant_id text PRIMARY KEY,
  version   bigint NOT NULL DEFAULT 0
);

CREATE TABLE documents (
  tenant_id      text NOT NULL,
  id             text NOT NULL CHECK (char_length(id) BETWEEN 1 AND 200),
  title_enc      bytea NOT NULL,
  text_enc       bytea NOT NULL,
  metadata       jsonb NOT NULL DEFAULT '{}'::jsonb CHECK (jsonb_typeof(metadata) = 'object'),
  chunks         integer NOT NULL DEFAULT 0,
  tokens         integer NOT NULL DEFAULT 0,
  bytes          integer NOT NULL DEFAULT 0,
  content_sha256 text NOT NULL,
  state          text NOT NULL DEFAULT 'writing' CHECK (state IN ('writing', 'ready', 'deleting')),
  created_at     timestamptz NOT NULL DEFAULT now(),
  updated_at     timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, id)
);
CREATE INDEX documents_page ON documents (tenant_id, created_at, id);

-- The append-only, hash-chained audit trail, one chain per tenant.
CREATE TABLE audit_events (
  tenant_id  text NOT NULL,
  seq        bigint NOT NULL CHECK (seq >= 1),
  id         uuid NOT NULL,
  ts         timestamptz NOT NULL,
  msp_id     text,
  actor      text NOT NULL,
  roles      text[] NOT NULL,
  action     text NOT NULL,
  resource   text,
  outcome    text NOT NULL CHECK (outcome IN ('ok', 'denied', 'error')),
  status     integer NOT NULL,
  request_id text NOT NULL,
  details    jsonb NOT NULL DEFAULT '{}'::jsonb,
  prev_hash  text NOT NULL CHECK (prev_hash ~ '^[0-9a-f]{64}$'),
  hash       text NOT NULL CHECK (hash ~ '^[0-9a-f]{64}$'),
  PRIMARY KEY (tenant_id, seq)
);
CREATE UNIQUE INDEX audit_events_id ON audit_events (tenant_id, id);
CREATE INDEX audit_events_ts ON audit_events (tenant_id, ts);

-- What chat and retrieve saw and answered, encrypted with the tenant's data key.
CREATE TABLE interactions (
  tenant_id     text NOT NULL,
  id            uuid NOT NULL,
  ts            timestamptz NOT NULL DEFAULT now(),
  request_id    text NOT NULL,
  kind          text NOT NULL CHECK (kind IN ('chat', 'retrieve')),
  content_enc   bytea,
  content_sha256 text NOT NULL,
  model         text,
  tokens_in     integer NOT NULL DEFAULT 0,
  tokens_out    integer NOT NULL DEFAULT 0,
  PRIMARY KEY (tenant_id, id)
);
CREATE INDEX interactions_ts ON interactions (tenant_id, ts);

CREATE TABLE usage_daily (
  tenant_id text NOT NULL,
  day       date NOT NULL,
  requests  bigint NOT NULL DEFAULT 0,
  tokens    bigint NOT NULL DEFAULT 0,
  PRIMARY KEY (tenant_id, day)
);

-- Row-level security: no setting means no rows. current_setting(..., true) answers NULL or ''
-- when nothing is set, and no tenant id equals either.
ALTER TABLE tenants ENABLE ROW LEVEL SECURITY;
ALTER TABLE tenants FORCE ROW LEVEL SECURITY;
CREATE POLICY tenants_self_read ON tenants FOR SELECT
  USING (id = current_setting('app.tenant_id', true));
CREATE POLICY tenants_operator ON tenants FOR ALL
  USING (msp_id = current_setting('app.msp_id', true))
  WITH CHECK (msp_id = current_setting('app.msp_id', true));

DO $$
DECLARE t text;
BEGIN
  FOREACH t IN ARRAY ARRAY['tenant_keys', 'corpus_versions', 'documents', 'audit_events', 'interactions', 'usage_daily'] LOOP
    EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
    EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', t);
    EXECUTE format(
      'CREATE POLICY %I ON %I FOR ALL USING (tenant_id = current_setting(''app.tenant_id'', true)) '
      'WITH CHECK (tenant_id = current_setting(''app.tenant_id'', true))', t || '_tenant', t);
  END LOOP;
END $$;

-- Operators read their tenants' usage (never their content) through app.msp_id.
CREATE POLICY usage_daily_operator ON usage_daily FOR SELECT
  USING (tenant_id IN (SELECT id FROM tenants WHERE msp_id = current_setting('app.msp_id', true)));

-- The gateway role owns nothing; it gets exactly the privileges the gateway needs.
GRANT SELECT, INSERT, UPDATE, DELETE ON tenants, tenant_keys, corpus_versions, documents, usage_daily TO isogate_gateway;
GRANT SELECT, INSERT, DELETE ON interactions TO isogate_gateway;
GRANT SELECT, INSERT ON audit_events TO isogate_gateway;

-- Down Migration
DROP TABLE usage_daily, interactions, audit_events, documents, corpus_versions, tenant_keys, tenants;
