-- Up Migration

-- Checkpoints, archive and retention for the audit trail, and a one-round-trip append:
--   * audit_append(): extends one or more chains in one statement (one round trip, one commit);
--   * audit_checkpoints_due(): which tenant chains need a signed checkpoint, in one statement;
--   * audit_prune() now also needs an archived periodic checkpoint at the cut, and keeps a
--     deleted tenant's events for the retention its last checkpoint recorded;
--   * audit_expire_interactions(): retention removes interaction content and keeps its hashes.

-- The retention in force when a checkpoint was signed: a deleted tenant's row is gone, and its
-- trail must still be kept for as long as the tenant had asked.
ALTER TABLE audit_checkpoints ADD COLUMN retention_days integer CHECK (retention_days BETWEEN 1 AND 36500);

-- Owner-only reads across chains, for the checkpointer's due list and the prune runner. They
-- apply to the owner role alone (the gateway role never sees another tenant's rows) and only
-- while `isogate.audit_scan` is on, so the owner's ordinary tenant-scoped work is unchanged.
CREATE POLICY audit_heads_owner_scan ON audit_heads FOR SELECT TO CURRENT_USER
  USING (current_setting('isogate.audit_scan', true) = 'on');
CREATE POLICY audit_checkpoints_owner_scan ON audit_checkpoints FOR SELECT TO CURRENT_USER
  USING (current_setting('isogate.audit_scan', true) = 'on');
CREATE POLICY audit_events_owner_scan ON audit_events FOR SELECT TO CURRENT_USER
  USING (current_setting('isogate.audit_scan', true) = 'on');

-- Appends batches to their chains in one statement. `p_batches` is a JSON array, sorted by chain
-- so that concurrent callers take the chains' locks in the same order (no deadlock):
--   [{"kind": "t" | "c", "chain": <tenant id | MSP scope>, "expect_seq": n | null,
--     "expect_hash": h | null, "events": [<rows>], "interactions": [<rows>]}]
-- For each chain, under its append lock (the key audit_tenant_head() also takes): when the head
-- is not the one expected, nothing is written and the head is answered ("stale"), so the caller
-- can seal its events again on the right head; otherwise the rows are inserted (the link trigger
-- still checks every one) in a subtransaction, so a failure refuses that chain's batch alone.
-- Runs as the caller: each chain's rows go through that chain's row-level policy.
CREATE FUNCTION audit_append(p_batches jsonb) RETURNS jsonb
LANGUAGE plpgsql SET search_path = public, pg_temp AS $$
DECLARE
  b jsonb;
  tenant boolean;
  head_seq bigint;
  head_hash text;
  results jsonb := '[]'::jsonb;
BEGIN
  -- The caller's answer waits for the events to be on disk, whatever the server's default.
  PERFORM set_config('synchronous_commit', 'on', true);
  FOR b IN SELECT value FROM jsonb_array_elements(p_batches) LOOP
    tenant := b->>'kind' = 't';
    head_seq := NULL;
    head_hash := NULL;
    PERFORM set_config('app.tenant_id', CASE WHEN tenant THEN b->>'chain' ELSE '' END, true),
            set_config('app.msp_id', CASE WHEN tenant THEN '' ELSE b->>'chain' END, true);
    IF tenant THEN
      PERFORM pg_advisory_xact_lock(hashtextextended('isogate:audit:t:' || (b->>'chain'), 0));
      SELECT h.seq, h.hash INTO head_seq, head_hash FROM audit_heads h WHERE h.tenant_id = b->>'chain';
    ELSE
      PERFORM pg_advisory_xact_lock(hashtextextended('isogate:audit:c:' || (b->>'chain'), 0));
      SELECT h.seq, h.hash INTO head_seq, head_hash FROM audit_control_heads h WHERE h.scope = b->>'chain';
    END IF;
    head_seq := COALESCE(head_seq, 0);
    head_hash := COALESCE(head_hash, repeat('0', 64));
    IF jsonb_typeof(b->'expect_seq') IS DISTINCT FROM 'number'
       OR (b->>'expect_seq')::bigint <> head_seq OR b->>'expect_hash' IS DISTINCT FROM head_hash THEN
      results := results || jsonb_build_object('status', 'stale', 'seq', head_seq, 'hash', head_hash);
      CONTINUE;
    END IF;
    BEGIN
      IF tenant THEN
        INSERT INTO audit_events (id, seq, ts, tenant_id, msp_id, actor, roles, action, resource,
                                  outcome, status, request_id, details, prev_hash, hash)
        SELECT e.id, e.seq, e.ts, e.tenant_id, e.msp_id, e.actor, e.roles, e.action, e.resource,
               e.outcome, e.status, e.request_id, e.details, e.prev_hash, e.hash
          FROM jsonb_populate_recordset(NULL::audit_events, b->'events') e ORDER BY e.seq;
        IF jsonb_array_length(COALESCE(b->'interactions', '[]')) > 0 THEN
          INSERT INTO interactions (ts, id, tenant_id, request_id, kind, content_enc, content_sha256,
                                    model, tokens_in, tokens_out)
          SELECT i.ts, i.id, i.tenant_id, i.request_id, i.kind, i.content_enc, i.content_sha256,
                 i.model, i.tokens_in, i.tokens_out
            FROM jsonb_populate_recordset(NULL::interactions, b->'interactions') i;
        END IF;
      ELSE
        INSERT INTO audit_control_events (scope, id, seq, ts, tenant_id, msp_id, actor, roles, action,
                                          resource, outcome, status, request_id, details, prev_hash, hash)
        SELECT e.scope, e.id, e.seq, e.ts, e.tenant_id, e.msp_id, e.actor, e.roles, e.action,
               e.resource, e.outcome, e.status, e.request_id, e.details, e.prev_hash, e.hash
          FROM jsonb_populate_recordset(NULL::audit_control_events, b->'events') e ORDER BY e.seq;
      END IF;
      results := results || jsonb_build_object('status', 'ok');
    EXCEPTION WHEN OTHERS THEN
      results := results || jsonb_build_object('status', 'error', 'code', SQLSTATE, 'message', SQLERRM);
    END;
  END LOOP;
  PERFORM set_config('app.tenant_id', '', true), set_config('app.msp_id', '', true);
  RETURN results;
END $$;
REVOKE ALL ON FUNCTION audit_append(jsonb) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION audit_append(jsonb) TO isogate_gateway;

-- The tenant chains that need a checkpoint: at least `p_every` events since the last one, or a
-- first event not covered by one that is older than `p_age_seconds` (0 turns either rule off).
-- One statement for every chain, so an idle deployment costs one query per tick, not one
-- transaction per tenant. It answers ids and counts only, never an event, and is the one place
-- where the gateway role learns about chains other than the current tenant's.
CREATE FUNCTION audit_checkpoints_due(p_every bigint, p_age_seconds integer, p_limit integer,
                                      p_only text[] DEFAULT NULL)
RETURNS TABLE (tenant_id text, head_seq bigint, checkpoint_seq bigint)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
#variable_conflict use_column
BEGIN
  PERFORM set_config('isogate.audit_scan', 'on', true);
  RETURN QUERY
    SELECT h.tenant_id, h.seq, c.seq
      FROM audit_heads h
      CROSS JOIN LATERAL (SELECT COALESCE(max(k.seq), 0) AS seq FROM audit_checkpoints k
                           WHERE k.tenant_id = h.tenant_id) c
     WHERE h.seq > c.seq
       AND (p_only IS NULL OR h.tenant_id = ANY (p_only))
       AND ((p_every > 0 AND h.seq - c.seq >= p_every)
         OR (p_age_seconds > 0 AND EXISTS (
               SELECT 1 FROM audit_events e
                WHERE e.tenant_id = h.tenant_id AND e.seq = c.seq + 1
                  AND e.ts <= now() - make_interval(secs => p_age_seconds))))
     ORDER BY h.seq - c.seq DESC, h.tenant_id
     LIMIT p_limit;
  PERFORM set_config('isogate.audit_scan', '', true);
END $$;
REVOKE ALL ON FUNCTION audit_checkpoints_due(bigint, integer, integer, text[]) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION audit_checkpoints_due(bigint, integer, integer, text[]) TO isogate_gateway;

-- How long a tenant's trail is kept: its own setting; once the tenant is deleted, the setting
-- its last checkpoint recorded; without either, the default of the tenants table (6 years).
CREATE FUNCTION audit_retention_days(p_tenant text) RETURNS integer
LANGUAGE plpgsql AS $$
BEGIN
  PERFORM set_config('app.tenant_id', p_tenant, true);
  RETURN COALESCE(
    (SELECT t.retention_days FROM tenants t WHERE t.id = p_tenant),
    (SELECT c.retention_days FROM audit_checkpoints c
      WHERE c.tenant_id = p_tenant AND c.retention_days IS NOT NULL ORDER BY c.seq DESC LIMIT 1),
    2190);
END $$;
REVOKE ALL ON FUNCTION audit_retention_days(text) FROM PUBLIC;

-- Owner-side retention: removes the prefix of a tenant's chain up to `cut_seq`. It needs, at
-- exactly that seq and the event's own hash, a periodic checkpoint (archived, unless
-- `allow_unarchived`: the events would then exist nowhere else) and a prune checkpoint, both
-- signed by libs/audit's key (the prune runner checks the signatures; the database cannot).
-- Every event up to the cut must be past the tenant's retention.
DROP FUNCTION audit_prune(text, bigint);
CREATE FUNCTION audit_prune(p_tenant text, cut_seq bigint, allow_unarchived boolean DEFAULT false)
RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
  removed bigint;
  retention integer := audit_retention_days(p_tenant);
  periodic audit_checkpoints%ROWTYPE;
BEGIN
  SELECT c.* INTO periodic FROM audit_checkpoints c JOIN audit_events e
      ON e.tenant_id = c.tenant_id AND e.seq = c.seq AND e.hash = c.head_hash
   WHERE c.tenant_id = p_tenant AND c.kind = 'periodic' AND c.seq = cut_seq;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'no periodic checkpoint of % at seq % matches the chain', p_tenant, cut_seq;
  END IF;
  IF periodic.archive_key IS NULL AND NOT allow_unarchived THEN
    RAISE EXCEPTION 'the checkpoint of % at seq % is not archived', p_tenant, cut_seq;
  END IF;
  IF NOT EXISTS (SELECT 1 FROM audit_checkpoints c
                  WHERE c.tenant_id = p_tenant AND c.kind = 'prune' AND c.seq = cut_seq
                    AND c.head_hash = periodic.head_hash) THEN
    RAISE EXCEPTION 'no prune checkpoint of % at seq %', p_tenant, cut_seq;
  END IF;
  IF EXISTS (SELECT 1 FROM audit_events WHERE tenant_id = p_tenant AND seq <= cut_seq
              AND ts > now() - make_interval(days => retention)) THEN
    RAISE EXCEPTION 'events up to seq % of % are within their retention period', cut_seq, p_tenant;
  END IF;
  PERFORM set_config('isogate.audit_prune', p_tenant, true);
  DELETE FROM audit_events WHERE tenant_id = p_tenant AND seq <= cut_seq;
  GET DIAGNOSTICS removed = ROW_COUNT;
  PERFORM set_config('isogate.audit_prune', '', true);
  RETURN removed;
END $$;
REVOKE ALL ON FUNCTION audit_prune(text, bigint, boolean) FROM PUBLIC;

-- Retention for interactions: the encrypted content of those past the tenant's retention (and
-- older than `p_before`) is removed; the row keeps its content hash (and its event, until
-- pruned, the hashes it carried).
CREATE FUNCTION audit_expire_interactions(p_tenant text, p_before timestamptz DEFAULT now())
RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
  expired bigint;
  retention integer := audit_retention_days(p_tenant);
BEGIN
  UPDATE interactions SET content_enc = NULL
   WHERE tenant_id = p_tenant AND content_enc IS NOT NULL
     AND ts <= LEAST(p_before, now() - make_interval(days => retention));
  GET DIAGNOSTICS expired = ROW_COUNT;
  RETURN expired;
END $$;
REVOKE ALL ON FUNCTION audit_expire_interactions(text, timestamptz) FROM PUBLIC;

-- Down Migration
DROP FUNCTION IF EXISTS audit_expire_interactions(text, timestamptz);
DROP FUNCTION IF EXISTS audit_prune(text, bigint, boolean);
DROP FUNCTION IF EXISTS audit_retention_days(text);
DROP FUNCTION IF EXISTS audit_checkpoints_due(bigint, integer, integer, text[]);
DROP FUNCTION IF EXISTS audit_append(jsonb);
DROP POLICY IF EXISTS audit_events_owner_scan ON audit_events;
DROP POLICY IF EXISTS audit_checkpoints_owner_scan ON audit_checkpoints;
DROP POLICY IF EXISTS audit_heads_owner_scan ON audit_heads;
ALTER TABLE audit_checkpoints DROP COLUMN IF EXISTS retention_days;
CREATE FUNCTION audit_prune(p_tenant text, cut_seq bigint) RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE removed bigint; retention integer;
BEGIN
  PERFORM set_config('app.tenant_id', p_tenant, true);
  IF NOT EXISTS (SELECT 1 FROM audit_checkpoints c JOIN audit_events e
                   ON e.tenant_id = c.tenant_id AND e.seq = c.seq AND e.hash = c.head_hash
                  WHERE c.tenant_id = p_tenant AND c.kind = 'prune' AND c.seq = cut_seq) THEN
    RAISE EXCEPTION 'no prune checkpoint of % at seq % matches the chain', p_tenant, cut_seq;
  END IF;
  SELECT COALESCE((SELECT retention_days FROM tenants WHERE id = p_tenant), 0) INTO retention;
  IF EXISTS (SELECT 1 FROM audit_events WHERE tenant_id = p_tenant AND seq <= cut_seq
              AND ts > now() - make_interval(days => retention)) THEN
    RAISE EXCEPTION 'events up to seq % of % are within their retention period', cut_seq, p_tenant;
  END IF;
  PERFORM set_config('isogate.audit_prune', p_tenant, true);
  DELETE FROM audit_events WHERE tenant_id = p_tenant AND seq <= cut_seq;
  GET DIAGNOSTICS removed = ROW_COUNT;
  PERFORM set_config('isogate.audit_prune', '', true);
  UPDATE interactions SET content_enc = NULL
   WHERE tenant_id = p_tenant AND ts <= now() - make_interval(days => retention);
  RETURN removed;
END $$;
REVOKE ALL ON FUNCTION audit_prune(text, bigint) FROM PUBLIC;
