-- Up Migration

-- Tenant-scoped reads of the request path in one round trip. A transaction of the gateway costs
-- three (BEGIN with the tenant setting, the read, COMMIT); each function below instead sets the
-- tenant itself, transaction-local like every gateway transaction, and reads under the caller's
-- row-level security (SECURITY INVOKER: the gateway role's policies apply, the owner's do not).
-- It then puts back the setting it found, so called inside another transaction it changes
-- nothing there. The gateway calls them as prepared statements.

CREATE FUNCTION scoped_document_versions(p_tenant text, p_ids text[])
RETURNS TABLE (id text, content_sha256 text)
LANGUAGE plpgsql SET search_path = public, pg_temp AS $$
#variable_conflict use_column
DECLARE previous text := COALESCE(current_setting('app.tenant_id', true), '');
BEGIN
  PERFORM set_config('app.tenant_id', p_tenant, true);
  RETURN QUERY
    SELECT d.id, d.content_sha256 FROM documents d WHERE d.state = 'ready' AND d.id = ANY (p_ids);
  PERFORM set_config('app.tenant_id', previous, true);
END $$;

CREATE FUNCTION scoped_corpus_version(p_tenant text) RETURNS text
LANGUAGE plpgsql SET search_path = public, pg_temp AS $$
DECLARE
  previous text := COALESCE(current_setting('app.tenant_id', true), '');
  found_version bigint;
BEGIN
  PERFORM set_config('app.tenant_id', p_tenant, true);
  SELECT c.version INTO found_version FROM corpus_versions c;
  PERFORM set_config('app.tenant_id', previous, true);
  RETURN COALESCE(found_version, 0)::text;
END $$;

REVOKE ALL ON FUNCTION scoped_document_versions(text, text[]), scoped_corpus_version(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION scoped_document_versions(text, text[]), scoped_corpus_version(text)
  TO isogate_gateway;

-- Down Migration
DROP FUNCTION IF EXISTS scoped_document_versions(text, text[]), scoped_corpus_version(text);
