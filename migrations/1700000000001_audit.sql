-- Up Migration

-- The audit trail's integrity in the database (libs/audit computes the hashes; the database
-- refuses anything that would break a chain, whoever asks):
--   * tenant chains in audit_events (created by the tenancy migration), one per tenant;
--   * control chains in audit_control_events: one per MSP for operator calls (scope = msp id)
--     and the platform stream (scope '.platform', which no token can name: ids never start
--     with a dot) for calls without a trusted tenant or MSP, such as a token that failed
--     verification;
--   * the head of each chain, moved only by the insert trigger, which refuses any event that
--     does not extend the head by exactly one (seq + 1, prev_hash = head hash): no fork and no
--     gap can be committed, even by a buggy or concurrent writer;
--   * signed checkpoints (seq, head hash) from which verification may start after pruning.
-- UPDATE, DELETE and TRUNCATE are refused by triggers for every role, the owner included. The
-- only deletion is audit_prune(), which removes a prefix covered by a signed checkpoint.

CREATE TABLE audit_heads (
  tenant_id text PRIMARY KEY,
  seq       bigint NOT NULL CHECK (seq >= 1),
  hash      text NOT NULL CHECK (hash ~ '^[0-9a-f]{64}$')
);

CREATE TABLE audit_control_events (
  scope      text NOT NULL,
  seq        bigint NOT NULL CHECK (seq >= 1),
  id         uuid NOT NULL,
  ts         timestamptz NOT NULL,
  tenant_id  text,
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
  PRIMARY KEY (scope, seq),
  CHECK (scope = '.platform' OR scope = msp_id)
);
CREATE UNIQUE INDEX audit_control_events_id ON audit_control_events (scope, id);
CREATE INDEX audit_control_events_ts ON audit_control_events (scope, ts);

CREATE TABLE audit_control_heads (
  scope text PRIMARY KEY,
  seq   bigint NOT NULL CHECK (seq >= 1),
  hash  text NOT NULL CHECK (hash ~ '^[0-9a-f]{64}$')
);

-- A signed statement "the chain of tenant_id had head_hash at seq". `prune` checkpoints mark
-- where a chain was cut; verification starts from the latest one.
CREATE TABLE audit_checkpoints (
  tenant_id   text NOT NULL,
  seq         bigint NOT NULL CHECK (seq >= 1),
  head_hash   text NOT NULL CHECK (head_hash ~ '^[0-9a-f]{64}$'),
  ts          timestamptz NOT NULL,
  kind        text NOT NULL CHECK (kind IN ('periodic', 'prune')),
  key_id      text NOT NULL,
  signature   text NOT NULL,
  archive_key text,
  PRIMARY KEY (tenant_id, seq, kind)
);

ALTER TABLE audit_heads ENABLE ROW LEVEL SECURITY;
ALTER TABLE audit_heads FORCE ROW LEVEL SECURITY;
CREATE POLICY audit_heads_tenant ON audit_heads FOR ALL
  USING (tenant_id = current_setting('app.tenant_id', true))
  WITH CHECK (tenant_id = current_setting('app.tenant_id', true));
ALTER TABLE audit_checkpoints ENABLE ROW LEVEL SECURITY;
ALTER TABLE audit_checkpoints FORCE ROW LEVEL SECURITY;
CREATE POLICY audit_checkpoints_tenant ON audit_checkpoints FOR ALL
  USING (tenant_id = current_setting('app.tenant_id', true))
  WITH CHECK (tenant_id = current_setting('app.tenant_id', true));
ALTER TABLE audit_control_events ENABLE ROW LEVEL SECURITY;
ALTER TABLE audit_control_events FORCE ROW LEVEL SECURITY;
CREATE POLICY audit_control_events_scope ON audit_control_events FOR ALL
  USING (scope = current_setting('app.msp_id', true))
  WITH CHECK (scope = current_setting('app.msp_id', true));
ALTER TABLE audit_control_heads ENABLE ROW LEVEL SECURITY;
ALTER TABLE audit_control_heads FORCE ROW LEVEL SECURITY;
CREATE POLICY audit_control_heads_scope ON audit_control_heads FOR ALL
  USING (scope = current_setting('app.msp_id', true))
  WITH CHECK (scope = current_setting('app.msp_id', true));

-- Refuses a change to an audit row. Deleting is allowed only inside audit_prune(), and only
-- for a prefix that a prune checkpoint covers.
CREATE FUNCTION audit_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  -- Nested so that OLD is read only in row-level DELETE triggers (TRUNCATE has none).
  IF TG_OP = 'DELETE' AND TG_TABLE_NAME = 'audit_events' THEN
    IF current_setting('isogate.audit_prune', true) = OLD.tenant_id
       AND EXISTS (SELECT 1 FROM audit_checkpoints c
                    WHERE c.tenant_id = OLD.tenant_id AND c.kind = 'prune' AND c.seq >= OLD.seq) THEN
      RETURN OLD;
    END IF;
  END IF;
  RAISE EXCEPTION 'audit records are append-only: % on % is refused', TG_OP, TG_TABLE_NAME
    USING ERRCODE = 'insufficient_privilege';
END $$;

DO $$
DECLARE t text;
BEGIN
  FOREACH t IN ARRAY ARRAY['audit_events', 'audit_control_events', 'audit_checkpoints'] LOOP
    EXECUTE format('CREATE TRIGGER %I BEFORE UPDATE OR DELETE ON %I FOR EACH ROW '
                   'EXECUTE FUNCTION audit_refuse_change()', t || '_immutable', t);
    EXECUTE format('CREATE TRIGGER %I BEFORE TRUNCATE ON %I FOR EACH STATEMENT '
                   'EXECUTE FUNCTION audit_refuse_change()', t || '_no_truncate', t);
  END LOOP;
  FOREACH t IN ARRAY ARRAY['audit_heads', 'audit_control_heads'] LOOP
    EXECUTE format('CREATE TRIGGER %I BEFORE DELETE ON %I FOR EACH ROW '
                   'EXECUTE FUNCTION audit_refuse_change()', t || '_immutable', t);
    EXECUTE format('CREATE TRIGGER %I BEFORE TRUNCATE ON %I FOR EACH STATEMENT '
                   'EXECUTE FUNCTION audit_refuse_change()', t || '_no_truncate', t);
  END LOOP;
END $$;

-- Links a new event to its chain's head, or refuses it. Runs as the owner (the gateway role
-- only reads heads), under the row-level policy of the caller's transaction.
CREATE FUNCTION audit_link_tenant_event() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE head audit_heads%ROWTYPE;
BEGIN
  SELECT * INTO head FROM audit_heads WHERE tenant_id = NEW.tenant_id FOR UPDATE;
  IF NOT FOUND THEN
    IF NEW.seq <> 1 OR NEW.prev_hash <> repeat('0', 64) THEN
      RAISE EXCEPTION 'audit chain of % must start at seq 1', NEW.tenant_id USING ERRCODE = 'check_violation';
    END IF;
    INSERT INTO audit_heads (tenant_id, seq, hash) VALUES (NEW.tenant_id, NEW.seq, NEW.hash);
  ELSIF NEW.seq <> head.seq + 1 OR NEW.prev_hash <> head.hash THEN
    RAISE EXCEPTION 'audit event % does not extend the chain of % at seq %', NEW.seq, NEW.tenant_id, head.seq
      USING ERRCODE = 'check_violation';
  ELSE
    UPDATE audit_heads SET seq = NEW.seq, hash = NEW.hash WHERE tenant_id = NEW.tenant_id;
  END IF;
  RETURN NEW;
END $$;
CREATE TRIGGER audit_events_link BEFORE INSERT ON audit_events
  FOR EACH ROW EXECUTE FUNCTION audit_link_tenant_event();

CREATE FUNCTION audit_link_control_event() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE head audit_control_heads%ROWTYPE;
BEGIN
  SELECT * INTO head FROM audit_control_heads WHERE scope = NEW.scope FOR UPDATE;
  IF NOT FOUND THEN
    IF NEW.seq <> 1 OR NEW.prev_hash <> repeat('0', 64) THEN
      RAISE EXCEPTION 'audit chain of % must start at seq 1', NEW.scope USING ERRCODE = 'check_violation';
    END IF;
    INSERT INTO audit_control_heads (scope, seq, hash) VALUES (NEW.scope, NEW.seq, NEW.hash);
  ELSIF NEW.seq <> head.seq + 1 OR NEW.prev_hash <> head.hash THEN
    RAISE EXCEPTION 'audit event % does not extend the chain of % at seq %', NEW.seq, NEW.scope, head.seq
      USING ERRCODE = 'check_violation';
  ELSE
    UPDATE audit_control_heads SET seq = NEW.seq, hash = NEW.hash WHERE scope = NEW.scope;
  END IF;
  RETURN NEW;
END $$;
CREATE TRIGGER audit_control_events_link BEFORE INSERT ON audit_control_events
  FOR EACH ROW EXECUTE FUNCTION audit_link_control_event();

-- Takes the chain's append lock for the rest of the transaction and answers its head. The lock
-- comes first and the head is read by a later statement (a fresh snapshot), so the head read is
-- never older than the lock. Writers to other chains do not wait.
CREATE FUNCTION audit_tenant_head(OUT seq bigint, OUT hash text) LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_advisory_xact_lock(hashtextextended('isogate:audit:t:' || current_setting('app.tenant_id', true), 0));
  SELECT h.seq, h.hash INTO seq, hash FROM audit_heads h
   WHERE h.tenant_id = current_setting('app.tenant_id', true);
END $$;

CREATE FUNCTION audit_control_head(OUT seq bigint, OUT hash text) LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_advisory_xact_lock(hashtextextended('isogate:audit:c:' || current_setting('app.msp_id', true), 0));
  SELECT h.seq, h.hash INTO seq, hash FROM audit_control_heads h
   WHERE h.scope = current_setting('app.msp_id', true);
END $$;

-- Owner-side retention: removes the prefix of a tenant's chain up to `cut_seq`, only after a
-- signed prune checkpoint at exactly that seq, whose head hash is the event's own hash, has been
-- written (libs/audit signs it; the database cannot). Events younger than the tenant's
-- retention period stay. Interactions past retention lose their content and keep their hashes.
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

GRANT SELECT ON audit_heads, audit_control_heads TO isogate_gateway;
GRANT SELECT, INSERT ON audit_control_events, audit_checkpoints TO isogate_gateway;
GRANT EXECUTE ON FUNCTION audit_tenant_head(), audit_control_head() TO isogate_gateway;

-- Down Migration
DROP FUNCTION IF EXISTS audit_prune(text, bigint);
DROP TABLE IF EXISTS audit_checkpoints, audit_control_heads, audit_control_events, audit_heads;
DROP TRIGGER IF EXISTS audit_events_link ON audit_events;
DROP TRIGGER IF EXISTS audit_events_immutable ON audit_events;
DROP TRIGGER IF EXISTS audit_events_no_truncate ON audit_events;
DROP FUNCTION IF EXISTS audit_link_tenant_event(), audit_link_control_event(), audit_refuse_change(),
  audit_tenant_head(), audit_control_head();
