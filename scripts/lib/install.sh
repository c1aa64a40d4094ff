#!/usr/bin/env bash
# Installs, idempotently, every tool the project's scripts use.
# Sourced by scripts/demo and scripts/test; safe to run on its own.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
TRUNK_VERSION="0.21.14"
# Must equal the wasm-bindgen version in Cargo.lock.
WASM_BINDGEN_VERSION="$(grep -A1 '^name = "wasm-bindgen"$' "$ROOT/Cargo.lock" 2>/dev/null | sed -n 's/^version = "\(.*\)"/\1/p' | head -n1 || true)"
WASM_BINDGEN_VERSION="${WASM_BINDGEN_VERSION:-0.2.130}"

log() { printf '\033[1;34m[install]\033[0m %s\n' "$*" >&2; }

export PATH="$HOME/.cargo/bin:$PATH"

apt_updated=0
apt_install() {
  local missing=()
  for pkg in "$@"; do
    dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
  done
  if [ "${#missing[@]}" -gt 0 ]; then
    log "apt-get install ${missing[*]}"
    local sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    if [ "$apt_updated" -eq 0 ]; then
      $sudo apt-get update -qq
      apt_updated=1
    fi
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
  fi
}

install_rust_targets() {
  if ! rustup target list --installed | grep -q '^wasm32-unknown-unknown$'; then
    log "rustup target add wasm32-unknown-unknown"
    rustup target add wasm32-unknown-unknown
  fi
  rustup component list --installed | grep -q '^rustfmt' || rustup component add rustfmt
  rustup component list --installed | grep -q '^clippy' || rustup component add clippy
}

install_trunk() {
  if ! trunk --version 2>/dev/null | grep -q "$TRUNK_VERSION"; then
    log "cargo install trunk@$TRUNK_VERSION (several minutes, once)"
    cargo install --locked "trunk@$TRUNK_VERSION"
  fi
}

install_wasm_bindgen() {
  if ! wasm-bindgen --version 2>/dev/null | grep -q " $WASM_BINDGEN_VERSION"; then
    log "cargo install wasm-bindgen-cli@$WASM_BINDGEN_VERSION (a few minutes, once)"
    # Not --locked: one of the CLI's locked dependencies is not on the registry.
    cargo install --force "wasm-bindgen-cli@$WASM_BINDGEN_VERSION"
  fi
}

install_browser() {
  apt_install chromium chromium-driver curl
}

# For the shared DPoP replay store's tests (feature `redis`); they start their own
# server on a free loopback port.
install_redis() {
  apt_install redis-server
}

# wasm-opt comes from npm's binaryen (a current release): Debian's binaryen 108
# predates the externref tables that wasm-bindgen emits and breaks them.
install_wasm_opt() {
  install_node_deps "$ROOT/scripts/tools"
}
export PATH="$ROOT/scripts/tools/node_modules/.bin:$PATH"

install_node_deps() {
  local dir="$1"
  if [ ! -d "$dir/node_modules" ] || [ "$dir/package.json" -nt "$dir/node_modules/.installed" ]; then
    log "npm install in ${dir#"$ROOT"/}"
    (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error && touch node_modules/.installed)
  fi
}

install_all() {
  install_rust_targets
  install_browser
  install_redis
  install_wasm_opt
  install_wasm_bindgen
  install_trunk
  install_node_deps "$ROOT/examples/todo/idp"
  install_node_deps "$ROOT/tests/e2e"
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
  install_all
fi
