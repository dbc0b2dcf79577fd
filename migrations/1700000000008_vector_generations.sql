-- Up Migration

-- Which embeddings model a tenant's dense vectors come from, and which generation of its
-- Qdrant collection holds them (0: t_<tenant>, n > 0: t_<tenant>_g<n>). A change of model
-- builds the next generation beside the current one and switches to it once complete, so
-- retrieval never sees vectors of two models at once. NULL: the gateway's default model.
ALTER TABLE tenants ADD COLUMN embeddings_model text;
ALTER TABLE tenants ADD COLUMN vector_generation integer NOT NULL DEFAULT 0;

-- The latest re-embedding of each tenant: the generation being built and how far it got.
CREATE TABLE reembeds (
  tenant_id       text PRIMARY KEY,
  from_model      text,
  to_model        text NOT NULL,
  generation      integer NOT NULL,
  status          text NOT NULL CHECK (status IN ('running', 'completed', 'failed')),
  documents_total integer NOT NULL DEFAULT 0,
  documents_done  integer NOT NULL DEFAULT 0,
  error           text,
  started_at      timestamptz NOT NULL DEFAULT now(),
  updated_at      timestamptz NOT NULL DEFAULT now(),
  finished_at     timestamptz
);
ALTER TABLE reembeds ENABLE ROW LEVEL SECURITY;
ALTER TABLE reembeds FORCE ROW LEVEL SECURITY;
CREATE POLICY reembeds_tenant ON reembeds FOR SELECT
  USING (tenant_id = current_setting('app.tenant_id', true));
-- Only an operator of the tenant's MSP starts, advances and finishes a re-embedding.
CREATE POLICY reembeds_operator ON reembeds FOR ALL
  USING (tenant_id IN (SELECT id FROM tenants WHERE msp_id = current_setting('app.msp_id', true)))
  WITH CHECK (tenant_id IN (SELECT id FROM tenants WHERE msp_id = current_setting('app.msp_id', true)));
GRANT SELECT, INSERT, UPDATE, DELETE ON reembeds TO isogate_gateway;

-- Down Migration
DROP TABLE IF EXISTS reembeds;
ALTER TABLE tenants DROP COLUMN IF EXISTS vector_generation;
ALTER TABLE tenants DROP COLUMN IF EXISTS embeddings_model;
