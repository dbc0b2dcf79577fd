-- Up Migration

-- A tenant's model usage per day, per logical model and the upstream that served it: tokens
-- in and out, and their cost from the catalog's prices (in millionths of a US dollar).
CREATE TABLE usage_model_daily (
  tenant_id      text   NOT NULL,
  day            date   NOT NULL,
  model          text   NOT NULL,
  upstream       text   NOT NULL,
  tokens_in      bigint NOT NULL DEFAULT 0,
  tokens_out     bigint NOT NULL DEFAULT 0,
  cost_micro_usd bigint NOT NULL DEFAULT 0,
  PRIMARY KEY (tenant_id, day, model, upstream)
);
ALTER TABLE usage_model_daily ENABLE ROW LEVEL SECURITY;
ALTER TABLE usage_model_daily FORCE ROW LEVEL SECURITY;
CREATE POLICY usage_model_daily_tenant ON usage_model_daily FOR ALL
  USING (tenant_id = current_setting('app.tenant_id', true))
  WITH CHECK (tenant_id = current_setting('app.tenant_id', true));
-- Operators read their tenants' usage (never their content) through app.msp_id.
CREATE POLICY usage_model_daily_operator ON usage_model_daily FOR SELECT
  USING (tenant_id IN (SELECT id FROM tenants WHERE msp_id = current_setting('app.msp_id', true)));
GRANT SELECT, INSERT, UPDATE, DELETE ON usage_model_daily TO isogate_gateway;

-- Down Migration
DROP TABLE IF EXISTS usage_model_daily;
