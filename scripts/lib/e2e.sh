#!/usr/bin/env bash
# End-to-end tests: the built example against the real dev IdP, driven by Playwright
# in Debian's Chromium. Uses its own ports and database so a running demo is untouched.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$ROOT"
# shellcheck source=services.sh
source scripts/lib/services.sh
trap stop_services EXIT

APP_PORT="${E2E_APP_PORT:-3100}"
IDP_PORT="${E2E_IDP_PORT:-9100}"
DIST="$ROOT/target/e2e-dist"
rm -rf "$DIST" && cp -r "$ROOT/dist" "$DIST"
write_app_config "$DIST" "http://localhost:$IDP_PORT"
DB="$ROOT/target/e2e-todo.db"
rm -f "$DB" "$DB-wal" "$DB-shm"

# Short-lived access tokens (4 s; the client renews at half their lifetime), so API
# calls after the first seconds go through refresh-token rotation for real. The app is
# reachable as localhost (same site as the IdP) and as 127.0.0.1 (another site).
export IDP_ACCESS_TOKEN_TTL=4
# The minimal example (examples/minimal, built into target/minimal-dist) on its own
# port, served by the same static file server.
MINIMAL_PORT="${E2E_MINIMAL_PORT:-3300}"
MINIMAL_DIST="$ROOT/target/e2e-minimal-dist"
rm -rf "$MINIMAL_DIST" && cp -r "$ROOT/target/minimal-dist" "$MINIMAL_DIST"
write_app_config "$MINIMAL_DIST" "http://localhost:$IDP_PORT"
MINIMAL_DB="$ROOT/target/e2e-minimal.db"
rm -f "$MINIMAL_DB" "$MINIMAL_DB-wal" "$MINIMAL_DB-shm"

start_idp "$IDP_PORT" "http://localhost:$APP_PORT,http://127.0.0.1:$APP_PORT,http://localhost:$MINIMAL_PORT"
start_backend "127.0.0.1:$APP_PORT" "http://localhost:$IDP_PORT" "$DIST" "$DB"
start_backend "127.0.0.1:$MINIMAL_PORT" "http://localhost:$IDP_PORT" "$MINIMAL_DIST" "$MINIMAL_DB"

# The same front end in mock mode, on its own port: no IdP listens at its issuer.
MOCK_PORT="${E2E_MOCK_PORT:-3200}"
MOCK_ISSUER="http://localhost:${E2E_MOCK_IDP_PORT:-9199}"
MOCK_DIST="$ROOT/target/e2e-mock-dist"
rm -rf "$MOCK_DIST" && cp -r "$ROOT/dist" "$MOCK_DIST"
write_mock_app_config "$MOCK_DIST" "$MOCK_ISSUER"
MOCK_DB="$ROOT/target/e2e-mock-todo.db"
rm -f "$MOCK_DB" "$MOCK_DB-wal" "$MOCK_DB-shm"
MOCK_AUTH=1 start_backend "127.0.0.1:$MOCK_PORT" "$MOCK_ISSUER" "$MOCK_DIST" "$MOCK_DB"

(cd tests/e2e && APP_URL="http://localhost:$APP_PORT" IDP_ISSUER="http://localhost:$IDP_PORT" \
  MINIMAL_APP_URL="http://localhost:$MINIMAL_PORT" \
  MOCK_APP_URL="http://localhost:$MOCK_PORT" MOCK_ISSUER="$MOCK_ISSUER" \
  MOCK_API_LOG="$LOG_DIR/backend-$MOCK_PORT.log" npm test)
