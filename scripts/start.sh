#!/usr/bin/env bash
# `npm start`: the whole pipeline on the embedded local stack. Brings the stack up if it is not
# (scripts/stack/stack.sh), creates topics and registers schemas, then runs the services.
set -euo pipefail
cd "$(dirname "$0")/.."
eval "$(bash scripts/stack/stack.sh up)"
export KAFKA_BROKERS SCHEMA_REGISTRY_URL DATABASE_URL
npx tsx scripts/topics-create.ts
exec npx tsx scripts/run-local.ts
