-- Up Migration

-- A tenant's compliance policy, set by its operator: which model upstreams may receive its
-- prompts, chunks and texts (data class, regions, required attributes, allowed models). '{}'
-- means that its MSP's default policy alone applies.
ALTER TABLE tenants ADD COLUMN policy jsonb NOT NULL DEFAULT '{}'::jsonb;

-- Each MSP's default policy, which a tenant's own policy can add requirements to.
CREATE TABLE msp_policies (
  msp_id     text PRIMARY KEY,
  policy     jsonb NOT NULL,
  updated_at timestamptz NOT NULL DEFAULT now()
);
ALTER TABLE msp_policies ENABLE ROW LEVEL SECURITY;
ALTER TABLE msp_policies FORCE ROW LEVEL SECURITY;
CREATE POLICY msp_policies_operator ON msp_policies FOR ALL
  USING (msp_id = current_setting('app.msp_id', true))
  WITH CHECK (msp_id = current_setting('app.msp_id', true));
-- A tenant's requests read its own MSP's default (never another's), through its own row.
CREATE POLICY msp_policies_tenant_read ON msp_policies FOR SELECT
  USING (msp_id IN (SELECT msp_id FROM tenants WHERE id = current_setting('app.tenant_id', true)));
GRANT SELECT, INSERT, UPDATE ON msp_policies TO isogate_gateway;

-- Down Migration
DROP TABLE IF EXISTS msp_policies;
ALTER TABLE tenants DROP COLUMN IF EXISTS policy;
