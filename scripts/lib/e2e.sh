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
# The minimal example (examples/minimal, built into target/minimal-dist), on its own
# port and served by the same static file server.
MINIMAL_PORT="${E2E_MINIMAL_PORT:-3300}"

# fresh_copy NAME SOURCE: a copy of a built front end and an empty database for one app
# under test, in $COPY_DIST and $COPY_DB.
fresh_copy() {
  COPY_DIST="$ROOT/target/e2e-$1-dist"
  COPY_DB="$ROOT/target/e2e-$1.db"
  rm -rf "$COPY_DIST" && cp -r "$2" "$COPY_DIST"
  rm -f "$COPY_DB" "$COPY_DB-wal" "$COPY_DB-shm"
}

# Short-lived access tokens (4 s; the client renews at half their lifetime), so API
# calls after the first seconds go through refresh-token rotation for real. The app is
# reachable as localhost (same site as the IdP) and as 127.0.0.1 (another site).
export IDP_ACCESS_TOKEN_TTL=4
start_idp "$IDP_PORT" "http://localhost:$APP_PORT,http://127.0.0.1:$APP_PORT,http://localhost:$MINIMAL_PORT"

fresh_copy todo "$ROOT/dist"
write_app_config "$COPY_DIST" "http://localhost:$IDP_PORT"
start_backend "127.0.0.1:$APP_PORT" "http://localhost:$IDP_PORT" "$COPY_DIST" "$COPY_DB"

fresh_copy minimal "$ROOT/target/minimal-dist"
write_app_config "$COPY_DIST" "http://localhost:$IDP_PORT"
start_backend "127.0.0.1:$MINIMAL_PORT" "http://localhost:$IDP_PORT" "$COPY_DIST" "$COPY_DB"

# The TODO front end in mock mode, on its own port: no IdP listens at its issuer.
MOCK_PORT="${E2E_MOCK_PORT:-3200}"
MOCK_ISSUER="http://localhost:${E2E_MOCK_IDP_PORT:-9199}"
fresh_copy mock "$ROOT/dist"
write_mock_app_config "$COPY_DIST" "$MOCK_ISSUER"
MOCK_AUTH=1 start_backend "127.0.0.1:$MOCK_PORT" "$MOCK_ISSUER" "$COPY_DIST" "$COPY_DB"

# The long run (tests/e2e/long: two tabs at work for two minutes) mostly waits: it
# goes beside the other specs, against an IdP and an API of its own, so neither the
# IdP's counters it reads nor the outage another spec causes are shared.
LONG_APP_PORT="${E2E_LONG_APP_PORT:-3101}"
LONG_IDP_PORT="${E2E_LONG_IDP_PORT:-9101}"
start_idp "$LONG_IDP_PORT" "http://localhost:$LONG_APP_PORT"
fresh_copy long "$ROOT/dist"
write_app_config "$COPY_DIST" "http://localhost:$LONG_IDP_PORT"
start_backend "127.0.0.1:$LONG_APP_PORT" "http://localhost:$LONG_IDP_PORT" "$COPY_DIST" "$COPY_DB"

LONG_LOG="$LOG_DIR/e2e-long.log"
(cd tests/e2e && APP_URL="http://localhost:$LONG_APP_PORT" \
  IDP_ISSUER="http://localhost:$LONG_IDP_PORT" exec npm run --silent test:long) >"$LONG_LOG" 2>&1 &
long_pid=$!
# On an early exit the long run stops too: npm, the test runner under it, the browser.
stop_tree() {
  local child
  for child in $(pgrep -P "$1" 2>/dev/null || true); do stop_tree "$child"; done
  kill "$1" 2>/dev/null || true
}
trap 'stop_tree "$long_pid"; stop_services' EXIT

status=0
(cd tests/e2e && APP_URL="http://localhost:$APP_PORT" IDP_ISSUER="http://localhost:$IDP_PORT" \
  MINIMAL_APP_URL="http://localhost:$MINIMAL_PORT" \
  MOCK_APP_URL="http://localhost:$MOCK_PORT" MOCK_ISSUER="$MOCK_ISSUER" \
  MOCK_API_LOG="$LOG_DIR/backend-$MOCK_PORT.log" npm test) || status=$?

long_status=0
wait "$long_pid" || long_status=$?
trap stop_services EXIT
echo
echo "# tests/e2e/long (ran beside the specs above):"
cat "$LONG_LOG"
if [ "$status" -ne 0 ] || [ "$long_status" -ne 0 ]; then
  echo "end-to-end tests failed (specs: exit $status; long: exit $long_status)" >&2
  exit 1
fi
