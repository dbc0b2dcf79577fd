#!/usr/bin/env bash
# First start of the postgres container: the roles and databases the local stack creates.
# The owner runs migrations and owns the schema; the gateway role owns nothing and cannot
# bypass row-level security.
set -euo pipefail
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname postgres \
  -v owner_pw="$ISOGATE_OWNER_PASSWORD" -v gateway_pw="$ISOGATE_GATEWAY_PASSWORD" <<'SQL'
CREATE ROLE isogate_owner LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOBYPASSRLS PASSWORD :'owner_pw';
CREATE ROLE isogate_gateway LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOBYPASSRLS NOINHERIT PASSWORD :'gateway_pw';
CREATE DATABASE isogate OWNER isogate_owner;
REVOKE ALL ON DATABASE isogate FROM PUBLIC;
GRANT CONNECT ON DATABASE isogate TO isogate_gateway;
SQL
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname isogate <<'SQL'
REVOKE CREATE ON SCHEMA public FROM PUBLIC;
ALTER SCHEMA public OWNER TO isogate_owner;
GRANT USAGE ON SCHEMA public TO isogate_gateway;
SQL
