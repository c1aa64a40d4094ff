#!/usr/bin/env bash
# Starts and stops the example's services (dev IdP, API + front end) for the demo and
# the end-to-end tests. Sourced; expects ROOT to be set.

SERVICE_PIDS=()
LOG_DIR="${LOG_DIR:-$ROOT/target/logs}"
mkdir -p "$LOG_DIR"

stop_services() {
  local pid
  for pid in "${SERVICE_PIDS[@]:-}"; do
    [ -n "$pid" ] || continue
    kill "$pid" 2>/dev/null || true
  done
  for pid in "${SERVICE_PIDS[@]:-}"; do
    [ -n "$pid" ] || continue
    wait "$pid" 2>/dev/null || true
  done
  SERVICE_PIDS=()
}

# wait_http URL NAME LOGFILE: waits up to 60 s for URL to answer.
wait_http() {
  local url="$1" name="$2" log="$3" i
  for i in $(seq 1 120); do
    if curl -fsS -o /dev/null "$url" 2>/dev/null; then
      return 0
    fi
    sleep 0.5
  done
  echo "$name did not come up at $url; its log:" >&2
  tail -n 50 "$log" >&2 || true
  return 1
}

# start_idp PORT APP_ORIGIN
start_idp() {
  local port="$1" app_origin="$2" log="$LOG_DIR/idp-$1.log"
  (cd "$ROOT/examples/todo/idp" && IDP_PORT="$port" IDP_ISSUER="http://localhost:$port" \
    APP_ORIGIN="$app_origin" exec node server.mjs) >"$log" 2>&1 &
  SERVICE_PIDS+=("$!")
  wait_http "http://localhost:$port/.well-known/openid-configuration" "the dev IdP" "$log"
}

# start_backend LISTEN_ADDR ISSUER STATIC_DIR DATABASE_URL
start_backend() {
  local addr="$1" issuer="$2" static_dir="$3" db="$4" log="$LOG_DIR/backend-${1##*:}.log"
  LISTEN_ADDR="$addr" OIDC_ISSUER="$issuer" OIDC_AUDIENCE="todo-api" STATIC_DIR="$static_dir" \
    DATABASE_URL="$db" "${CARGO_TARGET_DIR:-$ROOT/target}/debug/todo-backend" >"$log" 2>&1 &
  SERVICE_PIDS+=("$!")
  wait_http "http://$addr/config.json" "the API" "$log"
}

# write_app_config DIST_DIR ISSUER: points a built front end at an IdP.
write_app_config() {
  cat >"$1/config.json" <<JSON
{
  "issuer": "$2",
  "client_id": "todo-spa",
  "scopes": ["profile", "email", "offline_access"],
  "api_base": ""
}
JSON
}

# write_mock_app_config DIST_DIR ISSUER: the front end in mock mode (no IdP is
# contacted; the API must run with MOCK_AUTH=1 and the same issuer).
write_mock_app_config() {
  cat >"$1/config.json" <<JSON
{
  "issuer": "$2",
  "client_id": "todo-spa",
  "scopes": ["profile", "email"],
  "api_base": "",
  "mock": {
    "sub": "mock-user",
    "name": "Mock User",
    "email": "mock.user@example.com",
    "roles": ["admin"],
    "audience": "todo-api"
  }
}
JSON
}
