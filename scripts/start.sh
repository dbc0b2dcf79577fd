#!/usr/bin/env bash
# Starts the gateway in development on the local stack: stores up, migrated, built, demo tenant.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)"
cd "$ROOT"

bash scripts/stack.sh up
npm run --silent build

URL="http://${HOST:-127.0.0.1}:${PORT:-8080}"

# Another process on the port would answer the readiness check below in this one's place.
if (exec 3<>"/dev/tcp/${HOST:-127.0.0.1}/${PORT:-8080}") 2>/dev/null; then
  echo "isogate: ${URL} is already in use (another gateway running?); stop it or set PORT" >&2
  exit 1
fi

# Once the gateway answers, make sure the demo tenant exists and say how to call it.
node scripts/demo-tenant.mjs "$URL" &

exec node dist/apps/gateway/src/main.js
