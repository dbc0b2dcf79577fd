#!/usr/bin/env bash
# Starts the gateway in development on the local stack: stores up, migrated, built, demo tenant.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)"
cd "$ROOT"

bash scripts/stack.sh up
npm run --silent build

URL="http://${HOST:-127.0.0.1}:${PORT:-8080}"

# Once the gateway answers, make sure the demo tenant exists and say how to call it.
node scripts/demo-tenant.mjs "$URL" &

exec node dist/apps/gateway/src/main.js
