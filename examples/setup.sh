#!/usr/bin/env bash
# Creates the demo database, its roles (from `seesaw setup-sql`) and the
# file store for examples/demo.yaml, starting over if they exist.
#
# Needs a PostgreSQL superuser reachable as `psql -h 127.0.0.1 -U postgres`
# (set PGPASSWORD if it asks for one) and a built seesaw (cargo build).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
seesaw=${SEESAW:-$here/../target/debug/seesaw}
export PGOPTIONS="-c client_min_messages=warning"
psql=(psql -v ON_ERROR_STOP=1 -q -h "${PGHOST:-127.0.0.1}" -p "${PGPORT:-5432}" -U "${PGUSER:-postgres}")
admin_password=${SEESAW_ADMIN_PASSWORD:-demo-admin-password}

"${psql[@]}" -d postgres <<'SQL'
DROP DATABASE IF EXISTS seesaw_demo WITH (FORCE);
DROP ROLE IF EXISTS demo_a;
DROP ROLE IF EXISTS demo_b;
DROP ROLE IF EXISTS seesaw_demo_owner;
DROP ROLE IF EXISTS seesaw_demo_admin;
CREATE DATABASE seesaw_demo;
SQL
"$seesaw" --config "$here/demo.yaml" setup-sql demo | "${psql[@]}" -d seesaw_demo
# Demo passwords only: in production set them with psql's \password, which
# sends a verifier, so the plaintext never reaches the server log.
"${psql[@]}" -d seesaw_demo -c "ALTER ROLE seesaw_demo_admin PASSWORD '$admin_password'" \
  -c "ALTER ROLE demo_a PASSWORD 'demo-initial-password'"
umask 077
cat > "$here/demo-secret.json" <<JSON
{"current": {"username": "demo_a", "password": "demo-initial-password"}}
JSON
echo "demo ready: SEESAW_ADMIN_PASSWORD=$admin_password $seesaw --config $here/demo.yaml rotate demo"
